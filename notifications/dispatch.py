"""Sending what the outbox holds: claim due deliveries, send each on a pool of threads,
record every attempt, retry with exponential backoff and full jitter, give up after the
limit, pause a subscription that keeps failing. Runs in the worker beside the deployment
loop, on threads and connections of its own, so no receiver can hold up a deployment."""

import datetime
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import channels, events
from notifications.models import Attempt, Delivery, Subscription

logger = logging.getLogger(__name__)
_random = random.SystemRandom()


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: full jitter over an
    exponentially growing, capped window (so receivers that failed together do not
    come back together)."""
    base = settings.NOTIFICATIONS_BACKOFF_SECONDS
    window = min(settings.NOTIFICATIONS_BACKOFF_MAX_SECONDS, base * 2 ** (attempts - 1))
    return base / 2 + _random.uniform(0, window)


def claim(limit: int, now=None) -> list[int]:
    """Due deliveries nobody else is sending, claimed for one send's time."""
    now = now or timezone.now()
    lease = datetime.timedelta(seconds=settings.NOTIFICATIONS_TIMEOUT * 3 + 30)
    # One delivery in flight per endpoint: a receiver that hangs holds one sender thread,
    # never all of them (the others' deliveries go on), and an endpoint gets its events in
    # order as long as none fails.
    in_flight = Delivery.objects.filter(claimed_until__gte=now, subscription__isnull=False).values(
        "subscription_id"
    )
    with transaction.atomic():
        rows = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(
                Q(subscription__isnull=True)
                | Q(subscription__active=True, subscription__paused_at__isnull=True)
            )
            .exclude(subscription_id__in=in_flight)
            .order_by("next_attempt_at", "id")
            .values_list("pk", "subscription_id")[: limit * 4]
        )
        ids, endpoints = [], set()
        for pk, subscription_id in rows:
            if subscription_id is not None:
                if subscription_id in endpoints:
                    continue
                endpoints.add(subscription_id)
            ids.append(pk)
            if len(ids) == limit:
                break
        Delivery.objects.filter(pk__in=ids).update(claimed_until=now + lease)
    return ids


def deliver(delivery_id: int) -> Delivery:
    """One attempt at one claimed delivery, recorded; the delivery's next state decided."""
    delivery = Delivery.objects.select_related("event", "subscription").get(pk=delivery_id)
    if delivery.subscription_id and not delivery.subscription.sending:
        # Paused (or switched off) since it was claimed: it waits, untried.
        Delivery.objects.filter(pk=delivery.pk).update(claimed_until=None)
        return delivery
    started = timezone.now()
    outcome = channels.send(delivery)
    number = delivery.attempts + 1
    Attempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=started,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        succeeded=outcome.succeeded,
        response_excerpt=outcome.response_excerpt[: channels.EXCERPT],
        error=outcome.error[:1000],
    )
    now = timezone.now()
    delivery.attempts, delivery.claimed_until = number, None
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            Delivery.Status.SUCCEEDED,
            now,
            "",
        )
    else:
        delivery.last_error = outcome.error[:1000] or f"HTTP {outcome.status_code}"
        if number >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            delivery.status = Delivery.Status.FAILED
        else:
            delivery.next_attempt_at = now + datetime.timedelta(seconds=backoff(number))
    delivery.save(
        update_fields=[
            "attempts",
            "claimed_until",
            "status",
            "delivered_at",
            "last_error",
            "next_attempt_at",
        ]
    )
    if delivery.subscription_id:
        _count(delivery.subscription, outcome, delivery.last_error)
    if not outcome.succeeded:
        logger.warning(
            "notification %s to %s failed (attempt %s): %s",
            delivery.event.type,
            delivery.target,
            number,
            delivery.last_error,
        )
    return delivery


def _count(subscription: Subscription, outcome, error: str) -> None:
    """A success resets the failure streak; a long streak pauses the subscription."""
    if outcome.succeeded:
        Subscription.objects.filter(pk=subscription.pk).update(failure_streak=0)
        return
    Subscription.objects.filter(pk=subscription.pk).update(failure_streak=F("failure_streak") + 1)
    limit = settings.NOTIFICATIONS_PAUSE_AFTER
    reason = f"paused after {limit} failed attempts in a row; the last: {error}"[:500]
    Subscription.objects.filter(
        pk=subscription.pk, failure_streak__gte=limit, paused_at__isnull=True
    ).update(paused_at=timezone.now(), paused_reason=reason)


def replay(delivery: Delivery) -> Delivery:
    """Send a delivery again (a new delivery of the same event: same webhook-id, so the
    receiver can tell it is a repeat)."""
    return Delivery.objects.create(
        event=delivery.event,
        channel=delivery.channel,
        subscription=delivery.subscription,
        recipient=delivery.recipient,
        next_attempt_at=timezone.now(),
    )


def resume(subscription: Subscription) -> None:
    """Unpause: its failure streak starts again from zero."""
    Subscription.objects.filter(pk=subscription.pk).update(
        paused_at=None, paused_reason="", failure_streak=0
    )


def send_due(limit: int = 50) -> int:
    """Send what is due now, one after another (the management command and tests)."""
    sent = 0
    for delivery_id in claim(limit):
        deliver(delivery_id)
        sent += 1
    return sent


class Dispatcher:
    """The worker's sender: a polling loop handing due deliveries to a thread pool."""

    def __init__(self, threads: int | None = None, poll: float | None = None):
        self.threads = threads or settings.NOTIFICATIONS_THREADS
        self.poll = poll if poll is not None else settings.NOTIFICATIONS_POLL_SECONDS
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="notify")
        self._busy = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notify-dispatch", daemon=True)

    def start(self) -> None:
        events.wake_listeners.append(self._wake.set)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._wake.set in events.wake_listeners:
            events.wake_listeners.remove(self._wake.set)
        self._thread.join(timeout=self.poll + 5)
        # Sends in flight finish on their own (each is bounded by NOTIFICATIONS_TIMEOUT).
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                close_old_connections()
                free = self.threads - len(self._busy)
                for delivery_id in claim(free) if free > 0 else []:
                    with self._lock:
                        self._busy.add(delivery_id)
                    self._pool.submit(self._send, delivery_id)
            except Exception:  # the database may be away a while; try again next round
                logger.exception("notification dispatch failed; retrying")
            finally:
                connection.close()
            self._wake.wait(self.poll)
            self._wake.clear()

    def _send(self, delivery_id: int) -> None:
        try:
            deliver(delivery_id)
        except Exception:
            logger.exception("notification delivery %s crashed", delivery_id)
        finally:
            connection.close()
            with self._lock:
                self._busy.discard(delivery_id)
            self._wake.set()
