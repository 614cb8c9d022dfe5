"""The event catalogue and `emit`: called by the service layer inside the transaction that
changed something, it writes the event and one delivery per recipient (an outbox), so an
event is sent if and only if its change committed, and nothing is sent from the request."""

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, Event, GitLabDeployment, Subscription

PAYLOAD_VERSION = 1

# type -> (group, what it means). The group decides who may subscribe to it.
RELEASE, CONTENT = "release", "content"
CATALOGUE = {
    "approval.requested": (RELEASE, "A deployment waits for a second person's approval."),
    "approval.expiring": (RELEASE, "A request awaiting approval lapses soon."),
    "deployment.started": (RELEASE, "The worker started a deployment."),
    "deployment.succeeded": (RELEASE, "A deployment (or rollback) succeeded."),
    "deployment.failed": (RELEASE, "A deployment failed (an automatic rollback may follow)."),
    "deployment.cancelled": (RELEASE, "A deployment was cancelled by release staff."),
    "deployment.rolled_back": (RELEASE, "A rollback, automatic or manual, succeeded."),
    "verification.failed": (RELEASE, "The new release did worse than the running one."),
    "backup.failed": (RELEASE, "A database backup failed."),
    "environment.frozen": (RELEASE, "An environment was frozen: deploys are refused."),
    "environment.unfrozen": (RELEASE, "An environment's freeze was lifted."),
    "post.published": (CONTENT, "A post became visible to readers."),
    "post.updated": (CONTENT, "A published post changed."),
    "post.unpublished": (CONTENT, "A published post was taken down."),
    "comment.pending": (CONTENT, "A reader's comment awaits moderation."),
}
EVENT_TYPES = tuple(CATALOGUE)
# The release events GitLab's Deployments API mirrors.
GITLAB_EVENTS = {
    "deployment.started",
    "deployment.succeeded",
    "deployment.failed",
    "deployment.cancelled",
}

# Called (with no arguments) after a commit that wrote deliveries: the worker's dispatcher
# registers its wake-up here, so one written by the worker itself goes out at once.
wake_listeners: list = []


def group_of(event_type: str) -> str:
    return CATALOGUE[event_type][0]


def new_uid() -> str:
    return "msg_" + secrets.token_hex(12)


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def emit(event_type: str, data: dict, *, dedupe_key: str | None = None) -> Event | None:
    """Record an event and its deliveries in the caller's transaction; None for a repeat of
    an event with the same `dedupe_key`."""
    if event_type not in CATALOGUE:
        raise ValueError(f"unknown event type {event_type!r}")
    if dedupe_key and Event.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            event = Event.objects.create(
                uid=new_uid(), type=event_type, data=data, created_at=now, dedupe_key=dedupe_key
            )
    except IntegrityError:  # another worker recorded the same once-only event meanwhile
        return None
    deliveries = [
        Delivery(
            event=event, channel=Delivery.Channel.WEBHOOK, subscription=s, next_attempt_at=now
        )
        for s in subscribers(event_type)
    ]
    addresses = email_recipients(event_type, data)
    if addresses:
        deliveries.append(
            Delivery(
                event=event,
                channel=Delivery.Channel.EMAIL,
                recipient=", ".join(addresses),
                next_attempt_at=now,
            )
        )
    # GitLab mirrors deployments that started (a request cancelled before is not one).
    started = (data.get("deployment") or {}).get("started_at")
    if event_type in GITLAB_EVENTS and started and gitlab_configured():
        GitLabDeployment.objects.get_or_create(deployment_id=data["deployment"]["id"])
        deliveries.append(
            Delivery(event=event, channel=Delivery.Channel.GITLAB, next_attempt_at=now)
        )
    Delivery.objects.bulk_create(deliveries)
    if deliveries:
        transaction.on_commit(_wake)
    return event


def _wake() -> None:
    for listener in wake_listeners:
        listener()


def subscribers(event_type: str):
    """Active, unpaused subscriptions that asked for this type (or for every type: "*")."""
    wanted = Q(events__contains=[event_type]) | Q(events__contains=["*"])
    if transaction.get_connection().vendor == "sqlite":  # no JSON containment there
        return [
            s
            for s in Subscription.objects.filter(active=True, paused_at__isnull=True)
            if event_type in s.events or "*" in s.events
        ]
    return list(Subscription.objects.filter(wanted, active=True, paused_at__isnull=True))


def gitlab_configured() -> bool:
    return bool(settings.GITLAB_URL and settings.GITLAB_PROJECT and settings.GITLAB_API_TOKEN)


# --------------------------------------------------------------------------- email


def approvers_emails(exclude_user_id=None) -> list[str]:
    """Active users who may approve deployments (by group, direct permission or superuser)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    may_approve = (
        Q(is_superuser=True)
        | Q(groups__permissions__codename="approve_deployment")
        | Q(user_permissions__codename="approve_deployment")
    )
    found = users.filter(may_approve).exclude(pk=exclude_user_id).distinct()
    return sorted({user.email for user in found})


def email_recipients(event_type: str, data: dict) -> list[str]:
    """Approvers hear of a request (and of its lapse); the requester hears the outcome."""
    if not settings.NOTIFICATIONS_EMAIL:
        return []
    deployment = data.get("deployment") or {}
    if event_type in ("approval.requested", "approval.expiring"):
        return approvers_emails(exclude_user_id=deployment.get("requested_by_id"))
    outcomes = ("deployment.succeeded", "deployment.failed", "deployment.cancelled")
    if event_type in outcomes and deployment.get("requested_by_email"):
        return [deployment["requested_by_email"]]
    return []


# --------------------------------------------------------------------------- payloads


def deployment_data(deployment) -> dict:
    """A deployment as every release event describes it."""
    build, environment = deployment.build, deployment.environment
    user = deployment.requested_by
    requested_by = user.get_username() if user is not None else deployment.requested_by_ci
    return {
        "deployment": {
            "id": deployment.pk,
            "kind": deployment.kind,
            "status": deployment.status,
            "reason": deployment.reason,
            "requested_by": requested_by or None,
            "requested_by_id": user.pk if user is not None else None,
            "requested_by_email": (user.email or None) if user is not None else None,
            "automatic": user is None and deployment.requested_by_ci == "deployment worker",
            "created_at": iso(deployment.created_at),
            "started_at": iso(deployment.started_at),
            "finished_at": iso(deployment.finished_at),
            "approval_expires_at": iso(deployment.approval_expires_at),
            "url": absolute(reverse("admin:releases_deployment_change", args=[deployment.pk])),
        },
        "environment": environment_data(environment),
        "build": {
            "id": build.pk,
            "tag": build.tag,
            "commit_sha": build.commit_sha,
            "commit_message": build.commit_message.splitlines()[0] if build.commit_message else "",
            "ref": build.ref,
            "digest": build.digest or None,
            "image": deployment.image,
            "pipeline_url": build.pipeline_url or None,
        },
    }


def environment_data(environment) -> dict:
    return {
        "slug": environment.slug,
        "name": environment.name,
        "url": environment.base_url or None,
    }


def post_data(post) -> dict:
    return {
        "post": {
            "id": post.pk,
            "title": post.title,
            "slug": post.slug,
            "status": post.status,
            "version": post.version,
            "published_at": iso(post.published_at),
            "updated_at": iso(post.updated_at),
            "url": absolute(post.get_absolute_url()),
            "api_url": absolute(reverse("post-detail", args=[post.slug])),
        }
    }


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
