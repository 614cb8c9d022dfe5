"""What is sent and to whom: subscriptions, the events that happened (an outbox written in the
transaction that caused them), one delivery per recipient, and every attempt at it."""

import base64
import secrets

from django.conf import settings
from django.db import models


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Subscription(models.Model):
    """An HTTPS endpoint that wants some events, signed (Standard Webhooks) or as chat text."""

    class Format(models.TextChoices):
        STANDARD = "standard", "Standard Webhooks (signed JSON)"
        SLACK = "slack", "Chat (Slack-compatible incoming webhook: Mattermost, Rocket.Chat)"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    secret = models.CharField(
        max_length=100,
        default=new_secret,
        help_text="Receivers verify the webhook-signature header with it (whsec_…).",
    )
    events = models.JSONField(default=list, help_text="Event types, e.g. deployment.failed.")
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.STANDARD)
    active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=500, blank=True)
    failure_streak = models.PositiveIntegerField(
        default=0, help_text="Failed attempts in a row; reset by any success."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def sending(self) -> bool:
        return self.active and self.paused_at is None


class Event(models.Model):
    """Something that happened, with the payload every recipient gets (the envelope's data)."""

    uid = models.CharField(max_length=40, unique=True, help_text="The webhook-id header.")
    type = models.CharField(max_length=50, db_index=True)
    data = models.JSONField()
    created_at = models.DateTimeField(db_index=True)
    # Events that must happen once only (a reminder) carry a key; a second one is dropped.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.uid}"


class Delivery(models.Model):
    """One event to one recipient, retried with backoff until it succeeds or gives up."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "Email"
        GITLAB = "gitlab", "GitLab Deployments API"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.CharField(max_length=2000, blank=True, help_text="Email addresses.")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # A sender's claim: another worker takes the delivery over once this has passed.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self):
        return f"{self.event.type} → {self.target}"

    @property
    def target(self) -> str:
        if self.channel == self.Channel.WEBHOOK and self.subscription_id:
            return self.subscription.url
        if self.channel == self.Channel.GITLAB:
            return "GitLab"
        return self.recipient


class Attempt(models.Model):
    """One try at a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=1000, blank=True)

    # What the admin and the API show of an attempt, in this order.
    SHOWN = [
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "succeeded",
        "error",
        "response_excerpt",
    ]

    class Meta:
        ordering = ["delivery", "number"]


class GitLabDeployment(models.Model):
    """Which GitLab deployment mirrors one of ours, and the status GitLab last accepted."""

    deployment = models.OneToOneField(
        "releases.Deployment", on_delete=models.CASCADE, related_name="gitlab_mirror"
    )
    gitlab_id = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
