"""The deployment API (issue 6): roles by JWT, CI limited to staging, refusals named."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import deployments as rules
from releases import services
from releases.models import Deployment, Environment
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import deployed, make_build

API = "/api/v1/releases/"


@pytest.fixture
def manager_client(jwt_client_for, db):
    return jwt_client_for(UserFactory(username="rm", roles=[RELEASE_MANAGER]))


@pytest.fixture
def approver_client(jwt_client_for, db):
    return jwt_client_for(UserFactory(username="ra", roles=[RELEASE_APPROVER]))


@pytest.mark.django_db
def test_deploy_to_staging_then_promote_and_approve(manager_client, approver_client):
    build = make_build(1)
    response = manager_client.post(
        f"{API}environments/staging/deploy/", {"build": build.tag, "reason": "ship"}
    )
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["status"] == "queued"
    staging = Environment.objects.get(slug="staging")
    started = rules.start_next(staging)
    rules.finish(deployment=started, succeeded=True, smoke={"passed": True})
    environments = {
        e["slug"]: e for e in manager_client.get(f"{API}environments/").json()["results"]
    }
    assert environments["staging"]["current_build"]["tag"] == build.tag

    promoted = manager_client.post(f"{API}environments/production/promote/", {"reason": "go"})
    assert promoted.json()["status"] == "awaiting_approval"
    deployment_id = promoted.json()["id"]
    own = manager_client.post(f"{API}deployments/{deployment_id}/approve/", {})
    assert own.status_code == HTTPStatus.FORBIDDEN  # a release manager cannot approve
    approved = approver_client.post(
        f"{API}deployments/{deployment_id}/approve/", {"comment": "ok"}
    )
    assert approved.status_code == 200
    assert approved.json()["approval"]["by"] == "ra"
    assert approved.json()["status"] == "queued"
    queue = manager_client.get(f"{API}environments/production/").json()["queue"]
    assert [item["id"] for item in queue] == [deployment_id]


@pytest.mark.django_db
def test_refusals_are_409_with_the_rule(manager_client):
    failing = make_build(2, passed=False)
    response = manager_client.post(
        f"{API}environments/staging/deploy/", {"build": failing.tag, "reason": "x"}
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "stages_missing"
    Environment.objects.filter(slug="staging").update(
        frozen_until=timezone.now() + timezone.timedelta(hours=1), freeze_reason="audit"
    )
    frozen = manager_client.post(
        f"{API}environments/staging/deploy/", {"build": make_build(3).tag, "reason": "x"}
    )
    assert (frozen.status_code, frozen.json()["code"]) == (409, "frozen")
    unknown = manager_client.post(
        f"{API}environments/staging/deploy/", {"build": "nope", "reason": "x"}
    )
    assert unknown.status_code == HTTPStatus.BAD_REQUEST
    assert Deployment.objects.count() == 0


@pytest.mark.django_db
def test_ci_may_request_staging_but_never_production(api_client):
    token, raw = services.ci_token_create(name="ci", scopes=["deploy:staging", "builds:read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    build = make_build(4)
    staging = api_client.post(
        f"{API}environments/staging/deploy/", {"build": build.tag, "reason": "ci"}
    )
    assert staging.status_code == HTTPStatus.CREATED
    assert staging.json()["requested_by_ci"].startswith("ci")
    production = api_client.post(f"{API}environments/production/promote/", {"reason": "ci"})
    assert production.status_code == HTTPStatus.FORBIDDEN
    assert Deployment.objects.count() == 1


@pytest.mark.django_db
def test_rollback_with_mark_bad_and_pin_then_cancel(manager_client):
    staging = Environment.objects.get(slug="staging")
    good, bad = make_build(5), make_build(6)
    deployed(staging, good)
    deployed(staging, bad)
    response = manager_client.post(
        f"{API}environments/staging/rollback/",
        {"reason": "errors", "mark_bad": True, "pin": True},
    )
    assert response.status_code == HTTPStatus.CREATED
    assert (response.json()["kind"], response.json()["build"]["tag"]) == ("rollback", good.tag)
    environment = manager_client.get(f"{API}environments/staging/").json()
    assert environment["pinned"] is True
    cancelled = manager_client.post(f"{API}deployments/{response.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    listed = manager_client.get(
        f"{API}deployments/", {"environment": "staging", "status": "cancelled"}
    )
    assert listed.json()["count"] == 1


@pytest.mark.django_db
def test_readers_without_release_roles_are_refused(jwt_client_for):
    client = jwt_client_for(UserFactory())
    assert client.get(f"{API}deployments/").status_code == HTTPStatus.FORBIDDEN
    response = client.post(f"{API}environments/staging/deploy/", {"build": "x", "reason": "x"})
    assert response.status_code == HTTPStatus.FORBIDDEN
