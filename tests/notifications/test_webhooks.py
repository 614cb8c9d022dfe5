"""Outbound webhooks against live local receivers: Standard Webhooks signatures checked by
the library's own verifier, retries after a 500 and a timeout, giving up, pausing a failing
subscription, replay from the admin, the chat format — each event fired by the real flow."""

import json

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from core.roles import EDITOR, RELEASE_MANAGER
from notifications.models import Attempt, Delivery, Event, Subscription, new_secret
from releases import deployments as rules
from releases import tasks
from releases.models import DeploymentStatus, Environment
from releases.services import Actor
from tests.factories import UserFactory
from tests.notifications.conftest import send_until_settled, subscribe
from tests.releases.test_deployment_rules import make_build, manager
from tests.support.receivers import HANG, Receiver

SECRET = new_secret()
RELEASE_EVENTS = ["deployment.started", "deployment.succeeded", "environment.frozen"]


def staging():
    return Environment.objects.get(slug="staging")


def freeze(reason="maintenance"):
    from django.utils import timezone

    rules.set_freeze(
        actor=Actor(user=manager()),
        environment=staging(),
        until=timezone.now() + timezone.timedelta(hours=1),
        reason=reason,
    )


@pytest.mark.django_db
def test_a_deployment_by_the_worker_sends_signed_events_the_library_verifies(fast_retries):
    Environment.objects.filter(slug="staging").update(deploy_settings={"check_commit": False})
    with Receiver() as receiver:
        subscription = subscribe(receiver.url, RELEASE_EVENTS)
        deployment, _ = rules.request_deployment(
            actor=Actor(user=manager()), environment=staging(), build=make_build(1), reason="go"
        )
        tasks.run_environment_queue.call(staging().pk)
        deliveries = send_until_settled()
        got = receiver.wait_for(2)
    hooks = [d for d in deliveries if d.channel == Delivery.Channel.WEBHOOK]
    assert [d.status for d in hooks] == ["succeeded", "succeeded"]
    verifier = Webhook(subscription.secret)
    payloads = [verifier.verify(r["body"], r["headers"]) for r in got]
    assert [p["type"] for p in payloads] == ["deployment.started", "deployment.succeeded"]
    assert all(p["version"] == 1 for p in payloads)
    done = payloads[1]["data"]
    assert done["deployment"]["id"] == deployment.pk
    assert done["deployment"]["status"] == "succeeded"
    assert done["deployment"]["url"].endswith(f"/releases/deployment/{deployment.pk}/change/")
    assert done["environment"]["slug"] == "staging"
    assert done["build"]["digest"] == deployment.build.digest
    # The webhook-id is the event's id; a tampered body fails verification.
    assert got[1]["headers"]["webhook-id"] == Event.objects.get(type="deployment.succeeded").uid
    with pytest.raises(Exception):
        verifier.verify(got[1]["body"].replace(b"succeeded", b"failed"), got[1]["headers"])
    attempt = Attempt.objects.get(delivery=hooks[1])
    assert attempt.status_code == 200 and attempt.succeeded and attempt.response_excerpt


@pytest.mark.django_db
def test_a_500_and_a_timeout_are_retried_with_the_same_webhook_id(fast_retries):
    with Receiver(script=[500, HANG, 200]) as receiver:
        subscription = subscribe(receiver.url, RELEASE_EVENTS)
        freeze()
        (delivery,) = send_until_settled()
        got = receiver.wait_for(3)
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 3
    log = list(delivery.attempt_log.values_list("status_code", "succeeded", "error"))
    assert log[0] == (500, False, "HTTP 500")
    assert log[1][0] is None and "timed out" in log[1][2]
    assert log[2] == (200, True, "")
    assert len({r["headers"]["webhook-id"] for r in got}) == 1
    for request in got:  # each attempt is signed afresh and verifies
        Webhook(subscription.secret).verify(request["body"], request["headers"])
    subscription.refresh_from_db()
    assert subscription.failure_streak == 0  # the success reset it


@pytest.mark.django_db
def test_gives_up_after_the_attempt_limit(fast_retries):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 3
    with Receiver(script=[503]) as receiver:
        subscribe(receiver.url, RELEASE_EVENTS)
        freeze()
        (delivery,) = send_until_settled()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3 and len(receiver.requests) == 3
    assert delivery.last_error == "HTTP 503"


@pytest.mark.django_db
def test_a_subscription_that_keeps_failing_is_paused_with_its_reason(fast_retries):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 2
    fast_retries.NOTIFICATIONS_PAUSE_AFTER = 3
    with Receiver(script=[500]) as receiver:
        subscription = subscribe(receiver.url, RELEASE_EVENTS)
        freeze("one")
        freeze("two")
        send_until_settled()
        subscription.refresh_from_db()
        assert subscription.paused_at is not None
        assert "paused after 3 failed attempts in a row" in subscription.paused_reason
        assert "HTTP 500" in subscription.paused_reason
        tried = len(receiver.requests)
        assert tried == 3  # nothing more was tried once paused
        # Held, not lost: the unsent delivery waits, and new events skip a paused endpoint.
        assert Delivery.objects.filter(status="pending").count() == 1
        freeze("three")
        assert Delivery.objects.filter(subscription=subscription).count() == 2
        send_until_settled(rounds=3)
        assert len(receiver.requests) == tried


@pytest.mark.django_db
def test_replay_from_the_admin_resends_the_same_event(fast_retries, client):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 1
    with Receiver(script=[500, 200]) as receiver:
        subscribe(receiver.url, RELEASE_EVENTS)
        freeze()
        (failed,) = send_until_settled()
        assert failed.status == Delivery.Status.FAILED
        client.force_login(UserFactory(username="rm", is_staff=True, roles=[RELEASE_MANAGER]))
        page = client.get(reverse("admin:notifications_delivery_change", args=[failed.pk]))
        assert page.status_code == 200 and b"HTTP 500" in page.content
        answer = client.post(
            reverse("admin:notifications_delivery_changelist"),
            {"action": "replay", "_selected_action": [failed.pk]},
            follow=True,
        )
        assert b"1 delivery(ies) queued again" in answer.content
        deliveries = send_until_settled()
        got = receiver.wait_for(2)
    assert [d.status for d in deliveries] == ["failed", "succeeded"]
    assert got[0]["headers"]["webhook-id"] == got[1]["headers"]["webhook-id"]


@pytest.mark.django_db
def test_the_chat_format_is_a_short_message_with_a_link_back(fast_retries):
    Environment.objects.filter(slug="staging").update(deploy_settings={"check_commit": False})
    with Receiver() as receiver:
        subscribe(receiver.url, ["deployment.succeeded"], format=Subscription.Format.SLACK)
        deployment, _ = rules.request_deployment(
            actor=Actor(user=manager()), environment=staging(), build=make_build(2), reason="v2"
        )
        tasks.run_environment_queue.call(staging().pk)
        send_until_settled()
        (request,) = receiver.wait_for(1)
    message = json.loads(request["body"])
    assert message["text"].startswith(f"Deployed {deployment.build.tag[:12]} to Staging")
    assert "Reason: v2" in message["text"]
    assert f"/releases/deployment/{deployment.pk}/change/|Open>" in message["text"]
    assert "webhook-signature" not in {k.lower() for k in request["headers"]}


@pytest.mark.django_db
def test_editors_subscribe_to_content_events_only(client):
    editor = UserFactory(username="ed", is_staff=True, roles=[EDITOR])
    client.force_login(editor)
    add = reverse("admin:notifications_subscription_add")
    page = client.get(add).content.decode()
    assert "post.published" in page and "deployment.failed" not in page
    refused = client.post(
        add,
        {
            "name": "x",
            "url": "https://example.invalid/h",
            "format": "standard",
            "events": ["deployment.failed"],
            "active": "on",
            "secret": SECRET,
        },
    )
    assert refused.status_code == 200 and not Subscription.objects.exists()
    saved = client.post(
        add,
        {
            "name": "cdn",
            "url": "https://example.invalid/h",
            "format": "standard",
            "events": ["post.published", "post.updated"],
            "active": "on",
            "secret": SECRET,
        },
    )
    assert saved.status_code == 302
    assert Subscription.objects.get().events == ["post.published", "post.updated"]


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_holds_up_neither_a_deployment_nor_other_endpoints(settings):
    """The worker's dispatcher sends on threads of its own: a deployment runs to the end
    while a receiver holds an earlier delivery open (released only afterwards), and other
    endpoints get their events meanwhile."""
    from notifications.dispatch import Dispatcher

    settings.NOTIFICATIONS_TIMEOUT = 60
    Environment.objects.filter(slug="staging").update(deploy_settings={"check_commit": False})
    with Receiver(script=[HANG, 200]) as receiver, Receiver() as other:
        subscribe(receiver.url, RELEASE_EVENTS)
        subscribe(other.url, RELEASE_EVENTS)
        dispatcher = Dispatcher(threads=2, poll=0.05)
        dispatcher.start()
        try:
            freeze()
            assert receiver.hanging.wait(30), "the receiver never got the first delivery"
            rules.set_freeze(actor=Actor(user=manager()), environment=staging(), until=None)
            deployment, _ = rules.request_deployment(
                actor=Actor(user=manager()), environment=staging(), build=make_build(3), reason="v"
            )
            tasks.run_environment_queue.call(staging().pk)
            deployment.refresh_from_db()
            assert deployment.status == DeploymentStatus.SUCCEEDED
            # Another endpoint gets every event meanwhile: the hanging one holds one sender.
            other.wait_for(3)
            assert not receiver._release.is_set()  # the first delivery is still held open
            assert len(receiver.requests) == 1  # one in flight per endpoint, in order
            receiver.release()
            receiver.wait_for(3)  # frozen (released), then started and succeeded
        finally:
            dispatcher.stop()


@pytest.mark.django_db
def test_metrics_show_deliveries_and_paused_subscriptions(client, fast_retries):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 1
    fast_retries.NOTIFICATIONS_PAUSE_AFTER = 1
    with Receiver(script=[500]) as receiver:
        subscribe(receiver.url, RELEASE_EVENTS)
        freeze()
        send_until_settled()
    text = client.get(reverse("metrics")).content.decode()
    assert 'notifications_deliveries{channel="webhook",status="failed"} 1.0' in text
    assert "notifications_subscriptions_paused 1.0" in text
    assert "notifications_oldest_due_seconds 0.0" in text


@pytest.mark.django_db
def test_endpoints_inside_this_network_are_refused_where_not_allowed(fast_retries):
    fast_retries.NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES = False
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 1
    with Receiver() as receiver:
        subscribe(receiver.url, RELEASE_EVENTS)
        freeze()
        (delivery,) = send_until_settled()
    assert delivery.status == Delivery.Status.FAILED
    assert "resolves to 127.0.0.1, not a public address" in delivery.last_error
    assert receiver.requests == []  # nothing was sent
