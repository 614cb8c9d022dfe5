"""Optional error tracking with Sentry (SENTRY_DSN): the deployed commit as the release, the
environment's name, no personal data unless SENTRY_SEND_PII says otherwise."""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration


def init_sentry(*, dsn: str, release: str, environment: str, send_pii: bool, traces: float):
    """Called from settings when a DSN is set; a blank DSN leaves Sentry off."""
    if not dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        send_default_pii=send_pii,
        traces_sample_rate=traces,
        integrations=[DjangoIntegration()],
    )
