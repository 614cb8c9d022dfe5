"""The rules of subscriptions, for the admin and the API alike: who may subscribe to what,
what a valid subscription is, replay and resume."""

import base64
import binascii
import urllib.parse

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from notifications import dispatch, events
from notifications.models import Delivery, Subscription

# The permission that lets a user hear each group of events.
GROUP_PERMISSIONS = {
    events.RELEASE: "releases.add_deployment",  # release managers
    events.CONTENT: "blog.publish_post",  # editors
}
NOT_YOURS = "You may manage subscriptions to {groups} events only."
BAD_SECRET = "A secret is whsec_ followed by at least 24 bytes in base64."
UNKNOWN_EVENTS = "Unknown event type(s): {names}. Known: {known}."


def allowed_groups(user) -> set[str]:
    return {group for group, perm in GROUP_PERMISSIONS.items() if user.has_perm(perm)}


def allowed_events(user) -> list[str]:
    groups = allowed_groups(user)
    return [name for name, (group, _) in events.CATALOGUE.items() if group in groups]


def may_manage(user, subscription: Subscription) -> bool:
    """Whether every event the subscription asks for is one this user may hear."""
    return set(_expand(subscription.events)) <= set(allowed_events(user))


def _expand(names) -> list[str]:
    return list(events.EVENT_TYPES) if "*" in names else list(names)


def clean_events(user, names) -> list[str]:
    """Known, de-duplicated, allowed for this user; "*" means every event the user may hear
    (stored as the list, so a later new event type is never sent unasked)."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValidationError("A list of event types.")
    if not names:
        raise ValidationError("Name at least one event type.")
    allowed = allowed_events(user)
    if "*" in names:
        return allowed
    unknown = sorted(set(names) - set(events.CATALOGUE))
    if unknown:
        raise ValidationError(
            UNKNOWN_EVENTS.format(names=", ".join(unknown), known=", ".join(events.EVENT_TYPES))
        )
    if not set(names) <= set(allowed):
        groups = " and ".join(sorted(allowed_groups(user))) or "no"
        raise PermissionDenied(NOT_YOURS.format(groups=groups))
    return [name for name in events.EVENT_TYPES if name in set(names)]


def clean_secret(value: str) -> str:
    """A Standard Webhooks secret the library can sign with: whsec_ and base64, 24+ bytes."""
    try:
        key = base64.b64decode(value.removeprefix("whsec_") + "==", validate=False)
        Webhook(value)
    except (ValueError, TypeError, binascii.Error, EmptyWebhookSecretError):
        raise ValidationError(BAD_SECRET)
    if len(key) < 24 or not value.startswith("whsec_"):
        raise ValidationError(BAD_SECRET)
    return value


def clean_url(value: str) -> str:
    """http(s) only; plain http only where settings allow it (local receivers, tests)."""
    scheme = urllib.parse.urlsplit(value).scheme.lower()
    if scheme != "https" and not (scheme == "http" and settings.NOTIFICATIONS_ALLOW_HTTP):
        raise ValidationError("The endpoint must be an https:// URL.")
    return value


def check_may_manage(user, subscription: Subscription) -> None:
    if not may_manage(user, subscription):
        groups = " and ".join(sorted(allowed_groups(user))) or "no"
        raise PermissionDenied(NOT_YOURS.format(groups=groups))


@transaction.atomic
def replay(user, delivery: Delivery) -> Delivery:
    """Send an event to the same recipient again (its webhook-id unchanged)."""
    if delivery.subscription is not None:
        check_may_manage(user, delivery.subscription)
    elif not user.is_superuser:
        raise PermissionDenied("Only an administrator may resend email or GitLab deliveries.")
    return dispatch.replay(delivery)


def resume(user, subscription: Subscription) -> None:
    check_may_manage(user, subscription)
    dispatch.resume(subscription)
