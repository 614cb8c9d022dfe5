"""Email: approvers hear of a production request and get a reminder before it lapses, the
requester gets the outcome — through Django's mailers (locmem), and once over real SMTP to
a server started in the test (aiosmtpd)."""

import datetime
import socket

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail

from core.roles import RELEASE_APPROVER
from notifications.models import Delivery, Event
from releases import deployments as rules
from releases import tasks
from releases.models import Environment
from releases.services import Actor
from releases.worker import Upkeep
from tests.factories import UserFactory
from tests.notifications.conftest import send_until_settled
from tests.releases.test_deployment_rules import approver, deployed, make_build, manager


def environments():
    return Environment.objects.get(slug="staging"), Environment.objects.get(slug="production")


def promoted():
    staging, production = environments()
    deployed(staging, make_build(1))
    mail.outbox.clear()
    Event.objects.all().delete()
    deployment, _ = rules.promote(
        actor=Actor(user=manager()), environment=production, reason="ship it"
    )
    return deployment


@pytest.mark.django_db
def test_approvers_get_the_request_and_one_reminder_before_it_lapses(fast_retries):
    approver()
    UserFactory(username="second", roles=[RELEASE_APPROVER])
    UserFactory(username="quiet", roles=[RELEASE_APPROVER], email="")  # no address: skipped
    deployment = promoted()
    send_until_settled()
    (request,) = mail.outbox
    assert sorted(request.to) == ["approver@example.com", "second@example.com"]
    assert "manager@example.com" not in request.to  # not the requester: four eyes
    assert "awaiting approval" in request.subject and "Reason: ship it" in request.subject
    assert f"/releases/deployment/{deployment.pk}/change/" in request.body

    # Two hours before the window ends, every worker tick looks; one reminder goes out.
    soon = deployment.approval_expires_at - datetime.timedelta(minutes=90)
    with time_machine.travel(soon, tick=False):
        Upkeep("worker-a").tick()
        Upkeep("worker-b").tick()
        send_until_settled()
    assert Event.objects.filter(type="approval.expiring").count() == 1
    assert len(mail.outbox) == 2
    assert "lapses at" in mail.outbox[1].subject


@pytest.mark.django_db
def test_the_requester_gets_the_outcome(fast_retries):
    deployment = promoted()
    rules.decide(actor=Actor(user=approver()), deployment=deployment, approve=True)
    tasks.run_environment_queue.call(deployment.environment_id)
    mail.outbox.clear()
    send_until_settled()
    outcome = [m for m in mail.outbox if m.to == ["manager@example.com"]]
    assert len(outcome) == 1 and outcome[0].subject.startswith("[LawVriksh Blog] Deployed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.mark.django_db
def test_over_real_smtp_and_a_refusing_server_is_retried(fast_retries, settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
            }
        }
        approver()
        deployment = promoted()
        (delivery,) = send_until_settled()
    finally:
        controller.stop()
    assert delivery.status == Delivery.Status.SUCCEEDED
    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == ["approver@example.com"]
    assert b"awaiting approval" in envelope.content

    # No server listening: each attempt fails and is logged, then it gives up.
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 2
    Event.objects.all().delete()
    rules.cancel(actor=Actor(user=manager()), deployment=deployment, reason="not today")
    (delivery,) = send_until_settled()
    assert delivery.recipient == "manager@example.com"  # the requester hears the outcome
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 2
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.attempt_log.count() == 2
