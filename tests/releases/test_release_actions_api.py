"""Every action of the Releases page has an API equivalent: freeze/unfreeze, pin/unpin,
mark/unmark bad (cancel is in test_deployment_api) — through the same service rules — and a
build is read by its tag as well as its id."""

import datetime

import pytest
from django.utils import timezone

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import services
from releases.models import AuditEvent, Build, Environment
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import make_build

pytestmark = pytest.mark.django_db
ENVIRONMENTS = "/api/v1/releases/environments/"
BUILDS = "/api/v1/releases/builds/"


@pytest.fixture
def manager_client(jwt_client_for):
    return jwt_client_for(UserFactory(username="rm", roles=[RELEASE_MANAGER]))


def staging():
    return Environment.objects.get(slug="staging")


def test_freeze_and_unfreeze_refuse_deploys_meanwhile(manager_client):
    until = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
    frozen = manager_client.post(
        ENVIRONMENTS + "staging/freeze/",
        {"until": until, "reason": "release party"},
        format="json",
    )
    assert frozen.status_code == 200, frozen.content
    assert frozen.json()["frozen"] is True
    assert frozen.json()["freeze_reason"].endswith(": release party")
    build = make_build(1)
    refused = manager_client.post(
        ENVIRONMENTS + "staging/deploy/", {"build": build.tag, "reason": "x"}, format="json"
    )
    assert refused.status_code == 409 and refused.json()["code"] == "frozen"
    thawed = manager_client.post(ENVIRONMENTS + "staging/unfreeze/", {}, format="json")
    assert thawed.status_code == 200 and thawed.json()["frozen"] is False
    assert AuditEvent.objects.filter(action="environment.unfreeze").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "no end"},
        {"until": "2001-01-01T00:00:00Z", "reason": "past"},
        {"until": "not a date", "reason": "x"},
        {"until": "2999-01-01T00:00:00Z"},
    ],
)
def test_bad_freezes_are_refused_and_change_nothing(manager_client, body):
    answer = manager_client.post(ENVIRONMENTS + "staging/freeze/", body, format="json")
    assert answer.status_code == 400
    assert not staging().is_frozen()


def test_pin_refuses_promotion_until_unpinned_and_needs_a_reason(manager_client):
    assert manager_client.post(ENVIRONMENTS + "staging/pin/", {}, format="json").status_code == 400
    pinned = manager_client.post(
        ENVIRONMENTS + "staging/pin/", {"reason": "investigating"}, format="json"
    )
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    refused = manager_client.post(
        ENVIRONMENTS + "staging/deploy/",
        {"build": make_build(2).tag, "reason": "x"},
        format="json",
    )
    assert refused.status_code == 409 and refused.json()["code"] == "pinned"
    unpinned = manager_client.post(ENVIRONMENTS + "staging/unpin/", {}, format="json")
    assert unpinned.json()["pinned"] is False


def test_mark_bad_by_tag_vetoes_the_build_everywhere(manager_client):
    build = make_build(3)
    marked = manager_client.post(
        BUILDS + f"{build.tag}/mark-bad/", {"reason": "corrupts feeds"}, format="json"
    )
    assert marked.status_code == 200, marked.content
    assert Build.objects.get(pk=build.pk).bad_reason == "corrupts feeds"
    refused = manager_client.post(
        ENVIRONMENTS + "staging/deploy/", {"build": build.tag, "reason": "x"}, format="json"
    )
    assert refused.status_code == 409
    manager_client.post(BUILDS + f"{build.pk}/unmark-bad/", {}, format="json")
    assert Build.objects.get(pk=build.pk).bad_at is None


def test_a_build_is_read_by_tag_or_id(manager_client):
    build = make_build(4)
    by_tag = manager_client.get(BUILDS + f"{build.tag}/")
    by_id = manager_client.get(BUILDS + f"{build.pk}/")
    assert by_tag.status_code == by_id.status_code == 200
    assert by_tag.json() == by_id.json()
    assert manager_client.get(BUILDS + "no-such-tag/").status_code == 404


def test_approvers_and_ci_tokens_may_not_freeze_pin_or_veto(jwt_client_for, api_client):
    approver = jwt_client_for(UserFactory(username="ra", roles=[RELEASE_APPROVER]))
    until = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    build = make_build(5)
    for client in (approver, api_client):
        if client is api_client:
            _, raw = services.ci_token_create(
                name="ci", scopes=["builds:read", "builds:write", "deploy:staging"]
            )
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        answers = [
            client.post(ENVIRONMENTS + "staging/freeze/", {"until": until, "reason": "x"}),
            client.post(ENVIRONMENTS + "staging/pin/", {"reason": "x"}),
            client.post(BUILDS + f"{build.tag}/mark-bad/", {"reason": "x"}),
        ]
        assert [a.status_code for a in answers] == [403, 403, 403], [a.content for a in answers]
    assert not staging().is_frozen() and staging().pinned_at is None
    assert Build.objects.get(pk=build.pk).bad_at is None
