"""GitLab's project webhooks: Pipeline and Job events feed the same builds and stages.

GitLab disables a hook that keeps receiving 4xx, so every authenticated, well-formed event
gets a 2xx, "ignored" with the reason when it cannot be used; only a bad secret (or a bad or
stale signature) is refused with 401. Deliveries are deduplicated on their id and stored raw.
"""

import base64
import hashlib
import hmac
import json
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import client_info
from releases import gitlab
from releases.models import WebhookDelivery
from releases.services import Actor, audit

DELIVERY_ID_HEADERS = ("HTTP_IDEMPOTENCY_KEY", "HTTP_X_GITLAB_WEBHOOK_UUID", "HTTP_WEBHOOK_ID")
# Headers kept with a delivery (never the secret itself).
KEPT_HEADERS = (
    "HTTP_X_GITLAB_EVENT",
    "HTTP_X_GITLAB_EVENT_UUID",
    "HTTP_X_GITLAB_WEBHOOK_UUID",
    "HTTP_X_GITLAB_INSTANCE",
    "HTTP_IDEMPOTENCY_KEY",
    "HTTP_WEBHOOK_ID",
    "HTTP_WEBHOOK_TIMESTAMP",
    "HTTP_USER_AGENT",
    "CONTENT_TYPE",
)


def signature_problem(meta, body: bytes) -> str | None:
    """Verify Standard Webhooks headers when present; None when fine or absent."""
    webhook_id = meta.get("HTTP_WEBHOOK_ID")
    timestamp = meta.get("HTTP_WEBHOOK_TIMESTAMP")
    signatures = meta.get("HTTP_WEBHOOK_SIGNATURE")
    if not (webhook_id or timestamp or signatures):
        if settings.GITLAB_WEBHOOK_SIGNING_TOKEN:
            return "unsigned delivery: a signing token is configured, so deliveries must be signed"
        return None
    if not (webhook_id and timestamp and signatures):
        return "incomplete webhook signature headers"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "bad webhook-timestamp"
    if abs(time.time() - sent_at) > settings.GITLAB_WEBHOOK_TOLERANCE:
        return "webhook-timestamp outside the accepted window"
    secret = settings.GITLAB_WEBHOOK_SIGNING_TOKEN or settings.GITLAB_WEBHOOK_SECRET
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode()
    )
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return None
    return "no matching webhook signature"


class GitLabWebhookView(APIView):
    """POST target of a GitLab project webhook (Pipeline and Job events)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="GitLab webhook (Pipeline Hook, Job Hook)",
        request=None,
        responses={200: OpenApiResponse(description="processed, ignored or duplicate"), 401: None},
    )
    def post(self, request):
        meta = request.META
        actor = Actor(ip_address=client_info(request)["ip_address"])
        body = request.body
        secret = settings.GITLAB_WEBHOOK_SECRET
        sent = meta.get("HTTP_X_GITLAB_TOKEN", "")
        problem = None
        if not secret or not hmac.compare_digest(sent.encode(), secret.encode()):
            problem = "bad or missing X-Gitlab-Token"
        else:
            problem = signature_problem(meta, body)
        if problem:
            audit(actor, "gitlab.webhook", outcome="refused", reason=problem)
            return Response({"detail": problem}, status=status.HTTP_401_UNAUTHORIZED)

        try:
            payload = json.loads(body)
            unusable = None if isinstance(payload, dict) else "the body is not a JSON object"
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload, unusable = None, "the body is not JSON"
        event = meta.get("HTTP_X_GITLAB_EVENT", "")
        delivery_id = next((meta[h] for h in DELIVERY_ID_HEADERS if meta.get(h)), None)
        if delivery_id and WebhookDelivery.objects.filter(delivery_id=delivery_id).exists():
            return Response({"status": "duplicate", "delivery_id": delivery_id})
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    event=event,
                    delivery_id=delivery_id,
                    headers={name: meta[name] for name in KEPT_HEADERS if name in meta},
                    # PostgreSQL text cannot hold NUL: kept visible as U+FFFD.
                    body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                    outcome=WebhookDelivery.Outcome.IGNORED,
                    detail=unusable or "",
                )
        except IntegrityError:  # the same delivery arriving twice at once
            return Response({"status": "duplicate", "delivery_id": delivery_id})
        if unusable:
            # Authenticated: a 2xx (GitLab disables hooks that keep getting 4xx), with why.
            audit(actor, "gitlab.webhook", obj=delivery, event=event, outcome_detail=unusable)
            return Response({"status": "ignored", "detail": unusable, "delivery": delivery.pk})
        outcome, detail = process_delivery(delivery, payload, actor)
        return Response({"status": outcome, "detail": detail, "delivery": delivery.pk})


# What an authenticated payload of an unexpected shape or range can raise while it is mapped
# (a string where an object was documented, a number too large for its column, ...).
ODD_PAYLOAD_ERRORS = (
    ValidationError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    DatabaseError,
)


def process_delivery(delivery: WebhookDelivery, payload: dict, actor) -> tuple[str, str]:
    """Apply a stored delivery (also used to replay one from the admin)."""
    try:
        with transaction.atomic():
            detail, build = gitlab.handle(delivery.event, payload, actor)
        delivery.outcome, delivery.detail, delivery.build = "processed", detail, build
    except gitlab.Unmappable as reason:
        delivery.outcome, delivery.detail = "ignored", str(reason)
    except ODD_PAYLOAD_ERRORS as error:
        # Authenticated but contradicting what is recorded (a new digest for a tag) or with
        # values out of range: still a 2xx, so GitLab keeps the hook; the delivery says why.
        delivery.outcome = "failed"
        detail = " ".join(getattr(error, "messages", [str(error)]))
        delivery.detail = detail.replace("\x00", "\ufffd")[:500]
    delivery.save(update_fields=["outcome", "detail", "build"])
    audit(
        actor, "gitlab.webhook", obj=delivery, event=delivery.event, outcome_detail=delivery.detail
    )
    return delivery.outcome, delivery.detail
