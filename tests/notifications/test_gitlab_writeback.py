"""GitLab write-back: every deployment the worker runs is mirrored to GitLab's Deployments
API (created with environment, ref and sha; its status updated), GitLab's environment
points at the dashboard; GitLab being down never fails a deployment — it is retried."""

import pytest
from django.urls import reverse

from notifications.models import Delivery, GitLabDeployment
from releases import deployments as rules
from releases import tasks
from releases.models import DeploymentStatus, Environment
from releases.services import Actor
from tests.notifications.conftest import send_until_settled
from tests.releases.test_deployment_rules import make_build, manager
from tests.support.fake_gitlab import FakeGitLab

PROJECT, TOKEN = "lawvriksh/blog", "glpat-test-token"


@pytest.fixture
def gitlab(settings, fast_retries):
    with FakeGitLab(PROJECT, TOKEN) as fake:
        settings.GITLAB_URL, settings.GITLAB_PROJECT = fake.url, PROJECT
        settings.GITLAB_API_TOKEN = TOKEN
        yield fake


def staging():
    return Environment.objects.get(slug="staging")


def request(build):
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging(), build=build, reason="r"
    )
    return deployment


@pytest.mark.django_db
def test_a_deployment_is_created_running_then_updated_with_its_outcome(gitlab, settings):
    build = make_build(1)
    build.ref = "main"
    build.save()
    deployment = request(build)
    started = rules.start_next(staging())
    send_until_settled()
    (mirrored,) = gitlab.deployments.values()
    assert mirrored == {
        "id": mirrored["id"],
        "iid": 1,
        "environment": "Staging",
        "sha": build.commit_sha,
        "ref": "main",
        "tag": False,
        "status": "running",
    }
    (environment,) = gitlab.environments.values()
    assert environment["external_url"] == settings.SITE_URL + reverse("admin:releases_dashboard")
    rules.finish(deployment=started, succeeded=True)
    send_until_settled()
    assert mirrored["status"] == "success"
    assert GitLabDeployment.objects.get(deployment=deployment).gitlab_id == mirrored["id"]
    puts = [r for r in gitlab.requests if r[0] == "PUT" and "deployments" in r[1]]
    assert puts == [("PUT", puts[0][1], {"status": "success"})]


@pytest.mark.django_db
def test_the_worker_failing_then_rolling_back_is_mirrored_too(gitlab, settings):
    good, bad = make_build(2), make_build(3)
    request(good)
    tasks.run_environment_queue.call(staging().pk)
    send_until_settled()
    # The bad build's smoke test fails (nothing answers there); the worker rolls back to the
    # good one by itself, whose smoke test fails the same way: all three reach GitLab.
    Environment.objects.filter(slug="staging").update(
        base_url="http://127.0.0.1:9/", deploy_settings={"check_commit": False}
    )
    settings.RELEASES_SMOKE_ATTEMPTS, settings.RELEASES_SMOKE_BACKOFF = 1, 0.01
    failed = request(bad)
    tasks.run_environment_queue.call(staging().pk)
    failed.refresh_from_db()
    assert failed.status == DeploymentStatus.FAILED
    send_until_settled()
    statuses = [(d["sha"], d["status"]) for d in gitlab.deployments.values()]
    assert statuses == [
        (good.commit_sha, "success"),
        (bad.commit_sha, "failed"),
        (good.commit_sha, "failed"),  # the automatic rollback
    ]


@pytest.mark.django_db
def test_gitlab_down_never_fails_a_deployment_and_catches_up(gitlab):
    gitlab.fail_next = 3
    deployment = request(make_build(4))
    tasks.run_environment_queue.call(staging().pk)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED
    deliveries = [d for d in send_until_settled() if d.channel == Delivery.Channel.GITLAB]
    assert all(d.status == Delivery.Status.SUCCEEDED for d in deliveries)
    assert sum(d.attempts for d in deliveries) > len(deliveries)  # some were retried
    (mirrored,) = gitlab.deployments.values()
    assert mirrored["status"] == "success"


@pytest.mark.django_db
def test_a_wrong_token_is_a_logged_failure(gitlab, settings):
    settings.GITLAB_API_TOKEN = "wrong"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    request(make_build(5))
    rules.start_next(staging())
    (delivery,) = [d for d in send_until_settled() if d.channel == Delivery.Channel.GITLAB]
    assert delivery.status == Delivery.Status.FAILED
    assert "401" in delivery.last_error
    assert not gitlab.deployments
