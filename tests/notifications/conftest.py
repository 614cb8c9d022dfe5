"""Fixtures for outbound notifications: fast retry settings and helpers to send until done."""

import time

import jsonschema
import pytest

from notifications import dispatch, payloads
from notifications.channels import envelope
from notifications.models import Delivery, Event, Subscription


@pytest.fixture(autouse=True)
def payloads_match_their_documented_schema(db):
    """Every event the real flows wrote in a test is checked against its JSON Schema (after
    the test, before its database is rolled back)."""
    yield
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for event in Event.objects.all():
        jsonschema.validate(
            envelope(event),
            payloads.schema_for(event.type),
            cls=jsonschema.Draft202012Validator,
            format_checker=checker,
        )


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
