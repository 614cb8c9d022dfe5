"""Outbound notifications for /metrics, read from the outbox at scrape time: deliveries by
channel and status, paused subscriptions, and how long the oldest due delivery has waited."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from notifications.models import Delivery, Subscription


class NotificationsCollector:
    def collect(self):
        deliveries = GaugeMetricFamily(
            "notifications_deliveries",
            "Outbound deliveries (webhook, email, gitlab) by status.",
            labels=["channel", "status"],
        )
        counted = Delivery.objects.values_list("channel", "status").annotate(n=Count("id"))
        for channel, status, n in counted.order_by():
            deliveries.add_metric([channel, status], n)
        yield deliveries
        yield GaugeMetricFamily(
            "notifications_subscriptions_paused",
            "Webhook subscriptions paused after failing too often.",
            value=Subscription.objects.filter(paused_at__isnull=False, active=True).count(),
        )
        now = timezone.now()
        oldest = Delivery.objects.filter(
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            subscription__paused_at__isnull=True,
        ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
        yield GaugeMetricFamily(
            "notifications_oldest_due_seconds",
            "How long the oldest due delivery has waited to be sent (0: none waits).",
            value=(now - oldest).total_seconds() if oldest else 0,
        )
