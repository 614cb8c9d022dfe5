"""Fixtures for outbound notifications: fast retry settings and helpers to send until done."""

import time

import pytest

from notifications import dispatch
from notifications.models import Delivery, Subscription


@pytest.fixture
def fast_retries(settings):
    settings.NOTIFICATIONS_BACKOFF_SECONDS = 0.01
    settings.NOTIFICATIONS_BACKOFF_MAX_SECONDS = 0.05
    settings.NOTIFICATIONS_TIMEOUT = 0.5
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 5
    settings.NOTIFICATIONS_PAUSE_AFTER = 100
    return settings


def send_until_settled(rounds: int = 400) -> list[Delivery]:
    """Send due deliveries until none is pending (each round waits out the short backoff)."""
    for _ in range(rounds):
        dispatch.send_due()
        if not Delivery.objects.filter(status=Delivery.Status.PENDING).exists():
            break
        time.sleep(0.01)
    return list(Delivery.objects.order_by("id"))


def subscribe(url, events, **fields) -> Subscription:
    return Subscription.objects.create(name="receiver", url=url, events=events, **fields)
