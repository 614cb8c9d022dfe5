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
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
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


GITLAB_EVENT_SCHEMA = {
    "type": "object",
    "description": "GitLab's Pipeline Hook or Job Hook body, as its webhook documentation shows "
    "(only the fields used here are listed; the rest are kept and ignored).",
    "properties": {
        "object_kind": {"type": "string", "enum": ["pipeline", "build"]},
        "object_attributes": {
            "type": "object",
            "description": "Pipeline Hook: id, ref, sha, status, created_at, finished_at.",
        },
        "builds": {"type": "array", "items": {"type": "object"}, "description": "Pipeline Hook."},
        "project": {"type": "object", "description": "path_with_namespace, web_url."},
        "commit": {"type": "object"},
        "build_id": {"type": "integer", "description": "Job Hook: the job id."},
        "build_name": {"type": "string"},
        "build_stage": {"type": "string"},
        "build_status": {"type": "string"},
        "build_allow_failure": {"type": "boolean"},
        "sha": {"type": "string", "description": "Job Hook: the commit SHA."},
        "ref": {"type": "string"},
        "pipeline_id": {"type": "integer"},
    },
    "additionalProperties": True,
}
# A Job Hook as GitLab's webhook documentation shows it, trimmed to what is read here.
JOB_HOOK_EXAMPLE = {
    "object_kind": "build",
    "ref": "main",
    "sha": "4094baf8f73bd830a5509d33e8470f0ed7cb7396",
    "build_id": 8812301,
    "build_name": "test",
    "build_stage": "test",
    "build_status": "success",
    "build_allow_failure": False,
    "build_started_at": "2026-11-30 09:02:10 UTC",
    "build_finished_at": "2026-11-30 09:06:41 UTC",
    "build_duration": 271.4,
    "pipeline_id": 1003,
    "project": {
        "path_with_namespace": "lawvriksh/blog",
        "web_url": "https://gitlab.com/lawvriksh/blog",
    },
    "commit": {
        "sha": "4094baf8f73bd830a5509d33e8470f0ed7cb7396",
        "message": "Comments: honeypot and throttle",
        "author_name": "Meera Iyer",
    },
}
DELIVERY_ANSWER = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["processed", "ignored", "failed", "duplicate"]},
        "delivery_id": {"type": ["string", "null"]},
        "delivery": {"type": "integer", "description": "The recorded delivery."},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}


class GitLabWebhookView(APIView):
    """POST target of a GitLab project webhook (Pipeline and Job events)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="GitLab webhook (Pipeline Hook, Job Hook)",
        description="GitLab's documented webhook events; a build's stages are recorded from "
        "them. Authenticated deliveries always get a 2xx (GitLab disables hooks that keep "
        "failing), with what was done; duplicates (same delivery id) change nothing.",
        parameters=[
            OpenApiParameter(
                "X-Gitlab-Token",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="The project webhook's secret token.",
            ),
            OpenApiParameter(
                "X-Gitlab-Event",
                str,
                OpenApiParameter.HEADER,
                enum=["Pipeline Hook", "Job Hook"],
                description="The event kind.",
            ),
            OpenApiParameter(
                "X-Gitlab-Webhook-UUID",
                str,
                OpenApiParameter.HEADER,
                description="GitLab's delivery id (duplicates are recognised).",
            ),
            OpenApiParameter("X-Gitlab-Event-UUID", str, OpenApiParameter.HEADER),
            OpenApiParameter("X-Gitlab-Instance", str, OpenApiParameter.HEADER),
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A delivery id, when GitLab sends one.",
            ),
            OpenApiParameter(
                "webhook-id",
                str,
                OpenApiParameter.HEADER,
                description="Signed webhooks (Standard Webhooks): the message id.",
            ),
            OpenApiParameter("webhook-timestamp", int, OpenApiParameter.HEADER),
            OpenApiParameter(
                "webhook-signature",
                str,
                OpenApiParameter.HEADER,
                description="v1,<base64 HMAC-SHA256>; required when "
                "GITLAB_WEBHOOK_SIGNING_TOKEN is set.",
            ),
        ],
        request={"application/json": GITLAB_EVENT_SCHEMA},
        examples=[
            OpenApiExample("Job Hook", value=JOB_HOOK_EXAMPLE, request_only=True),
            OpenApiExample(
                "Processed",
                value={"status": "processed", "delivery_id": "0ce4b8a2-5d33", "delivery": 77},
                response_only=True,
            ),
        ],
        responses={
            200: OpenApiResponse(
                response=DELIVERY_ANSWER, description="processed, ignored or duplicate"
            ),
            401: OpenApiResponse(description="Bad or missing token or signature."),
        },
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
