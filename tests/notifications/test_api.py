"""The notifications API over DRF's client with JWT: the same rules as the admin."""

import pytest
from standardwebhooks import Webhook

from core.roles import EDITOR, RELEASE_MANAGER
from notifications.models import Delivery, Subscription
from releases import deployments as rules
from releases.models import Environment
from releases.services import Actor
from tests.factories import UserFactory
from tests.notifications.conftest import send_until_settled, subscribe
from tests.releases.test_deployment_rules import manager
from tests.support.receivers import Receiver

pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications/"


@pytest.fixture
def rm_client(jwt_client_for):
    return jwt_client_for(UserFactory(username="rm", roles=[RELEASE_MANAGER]))


@pytest.fixture
def ed_client(jwt_client_for):
    return jwt_client_for(UserFactory(username="ed", roles=[EDITOR]))


def test_a_release_manager_subscribes_and_gets_a_working_secret(rm_client):
    created = rm_client.post(
        URL + "subscriptions/",
        {"name": "ops", "url": "https://hooks.example/ops", "events": ["deployment.failed"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["events"] == ["deployment.failed"] and body["format"] == "standard"
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # the library accepts it
    everything = rm_client.post(
        URL + "subscriptions/",
        {"name": "all", "url": "https://hooks.example/all", "events": ["*"]},
        format="json",
    )
    assert "post.published" not in everything.json()["events"]
    assert "approval.requested" in everything.json()["events"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"events": ["post.published"]}, None),  # not a release manager's to hear: 403
        ({"events": ["nonsense"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "deployment.failed"}, "events"),
        ({"secret": "whsec_c2hvcnQ="}, "secret"),
        ({"secret": "not base64 at all!!"}, "secret"),
        ({"url": "ftp://hooks.example/x"}, "url"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_subscriptions_are_refused_and_change_nothing(rm_client, change, field):
    data = {"name": "x", "url": "https://hooks.example/x", "events": ["deployment.failed"]}
    answer = rm_client.post(URL + "subscriptions/", {**data, **change}, format="json")
    if field is None:
        assert answer.status_code == 403
    else:
        assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not Subscription.objects.exists()


def test_plain_http_endpoints_are_refused_where_https_is_required(rm_client, settings):
    settings.NOTIFICATIONS_ALLOW_HTTP = False
    answer = rm_client.post(
        URL + "subscriptions/",
        {"name": "x", "url": "http://hooks.example/x", "events": ["deployment.failed"]},
        format="json",
    )
    assert answer.status_code == 400 and "https" in answer.json()["url"][0]


def test_each_role_sees_and_manages_its_own_kind(rm_client, ed_client, api_client):
    release = subscribe("https://hooks.example/r", ["deployment.failed"])
    content = subscribe("https://hooks.example/c", ["post.published"])
    assert [s["id"] for s in rm_client.get(URL + "subscriptions/").json()["results"]] == [
        release.pk
    ]
    assert [s["id"] for s in ed_client.get(URL + "subscriptions/").json()["results"]] == [
        content.pk
    ]
    assert ed_client.delete(URL + f"subscriptions/{release.pk}/").status_code == 404
    assert api_client.get(URL + "subscriptions/").status_code == 401
    types = {t["type"]: t["allowed"] for t in ed_client.get(URL + "event-types/").json()}
    assert types["post.published"] is True and types["deployment.failed"] is False


def test_deliveries_show_attempts_and_replay_and_resume(rm_client, fast_retries):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 1
    fast_retries.NOTIFICATIONS_PAUSE_AFTER = 1
    with Receiver(script=[500, 200]) as receiver:
        subscription = subscribe(receiver.url, ["environment.frozen", "environment.unfrozen"])
        rules.set_freeze(
            actor=Actor(user=manager()),
            environment=Environment.objects.get(slug="staging"),
            until=None,
        )
        send_until_settled()
        listed = rm_client.get(URL + "deliveries/?status=failed").json()["results"]
        (failed,) = listed
        assert failed["event_type"] == "environment.unfrozen"
        assert failed["attempt_log"][0]["status_code"] == 500
        paused = rm_client.get(URL + f"subscriptions/{subscription.pk}/").json()
        assert paused["paused_at"] and "HTTP 500" in paused["paused_reason"]
        resumed = rm_client.post(URL + f"subscriptions/{subscription.pk}/resume/")
        assert resumed.status_code == 200 and resumed.json()["paused_at"] is None
        again = rm_client.post(URL + f"deliveries/{failed['id']}/replay/")
        assert again.status_code == 201 and again.json()["event_id"] == failed["event_id"]
        send_until_settled()
        receiver.wait_for(2)
    assert Delivery.objects.get(pk=again.json()["id"]).status == Delivery.Status.SUCCEEDED
    assert rm_client.get(URL + "deliveries/?status=bogus&subscription=x").status_code == 200
