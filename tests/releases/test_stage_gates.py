"""A failed job never ships: a stage's verdict comes from all its jobs' latest attempts,
through GitLab's webhook (documented payloads) and the CI API alike, and the build's status
and deployable agree in the list, the detail, the dashboard and the gate."""

import copy

import pytest
from django.urls import reverse

from core.roles import RELEASE_MANAGER
from releases.models import Build, Deployment, StageResult
from tests.factories import UserFactory
from tests.releases.test_ci_api import BUILDS, ci_client
from tests.releases.test_gitlab import deliver, fixture

DIGEST = "sha256:" + "d" * 64
DEPLOY = "/api/v1/releases/environments/staging/deploy/"


def job(payload_job, **changes):
    return {**copy.deepcopy(payload_job), **changes}


def pipeline_with_jobs(jobs):
    """GitLab's documented Pipeline Hook, its `builds` replaced by these jobs."""
    payload = fixture("pipeline_hook.json")
    template = payload["builds"][0]
    payload["builds"] = [job(template, **j) for j in jobs]
    return payload


PASSING_STAGES = [
    {"id": 101, "stage": "lint", "name": "black", "status": "success"},
    {"id": 102, "stage": "lint", "name": "flake8", "status": "success"},
    {"id": 110, "stage": "security", "name": "bandit", "status": "success"},
    {"id": 120, "stage": "build", "name": "build-image", "status": "success"},
]


@pytest.fixture
def ci(hook, db):
    """A CI identity that may read builds and ask for a staging deploy."""
    return ci_client("builds:write", "builds:read", "deploy:staging")


def the_build(ci, payload):
    sha = payload["object_attributes"]["sha"]
    build = Build.objects.get(tag=sha)
    Build.objects.filter(pk=build.pk).update(digest=DIGEST)  # the build job reported it
    return build, ci.get(f"{BUILDS}{build.pk}/").json()


@pytest.mark.django_db
def test_a_failed_test_job_with_a_lower_id_blocks_the_stage_and_staging(hook, ci):
    # pytest (id 130) failed; a second test job (id 131, a higher id) passed.
    payload = pipeline_with_jobs(
        PASSING_STAGES
        + [
            {"id": 130, "stage": "test", "name": "pytest", "status": "failed"},
            {"id": 131, "stage": "test", "name": "test-image", "status": "success"},
        ]
    )
    assert deliver(hook, "Pipeline Hook", payload).status_code == 200
    build, detail = the_build(ci, payload)
    stages = {s["stage"]: s for s in detail["stages"]}
    assert stages["test"]["status"] == "failed"
    assert stages["test"]["job_name"] == "pytest"  # the job to open is the failed one
    assert sorted(j["job_name"] for j in stages["test"]["jobs"]) == ["pytest", "test-image"]
    assert (detail["status"], detail["deployable"]) == ("failed", False)
    assert "test" in detail["missing_stages"]
    listed = ci.get(BUILDS, {"deployable": "true"}).json()["results"]
    assert build.pk not in [b["id"] for b in listed]

    refused = ci.post(DEPLOY, {"build": build.tag, "reason": "ship"})
    assert refused.status_code == 409, refused.json()
    assert not Deployment.objects.exists()


@pytest.mark.django_db
def test_a_retried_job_replaces_only_its_own_earlier_attempt(hook, ci):
    jobs = PASSING_STAGES + [
        {"id": 130, "stage": "test", "name": "pytest", "status": "failed"},
        {"id": 131, "stage": "test", "name": "test-image", "status": "success"},
    ]
    deliver(hook, "Pipeline Hook", pipeline_with_jobs(jobs))
    # The retry of pytest: a new job id, same name; the failed attempt stays in the history.
    payload = pipeline_with_jobs(
        jobs + [{"id": 140, "stage": "test", "name": "pytest", "status": "success"}]
    )
    deliver(hook, "Pipeline Hook", payload, HTTP_X_GITLAB_EVENT_UUID="retry")
    build, detail = the_build(ci, payload)
    assert (detail["status"], detail["deployable"]) == ("success", True)
    assert StageResult.objects.filter(build=build, stage="test").count() == 3
    assert ci.post(DEPLOY, {"build": build.tag, "reason": "ship"}).status_code == 201


@pytest.mark.django_db
def test_an_allowed_failure_warns_and_does_not_block(hook, ci):
    payload = pipeline_with_jobs(
        PASSING_STAGES
        + [
            {"id": 130, "stage": "test", "name": "pytest", "status": "success"},
            {
                "id": 131,
                "stage": "test",
                "name": "flaky-e2e",
                "status": "failed",
                "allow_failure": True,
            },
        ]
    )
    deliver(hook, "Pipeline Hook", payload)
    build, detail = the_build(ci, payload)
    test_stage = {s["stage"]: s for s in detail["stages"]}["test"]
    assert test_stage["status"] == "success"
    assert test_stage["warnings"] == ["flaky-e2e: failed"]
    assert (detail["status"], detail["deployable"]) == ("success", True)
    assert ci.post(DEPLOY, {"build": build.tag, "reason": "ship"}).status_code == 201


@pytest.mark.django_db
def test_the_same_failure_without_allow_failure_blocks(hook, ci):
    payload = pipeline_with_jobs(
        PASSING_STAGES
        + [
            {"id": 130, "stage": "test", "name": "pytest", "status": "success"},
            {"id": 131, "stage": "test", "name": "flaky-e2e", "status": "failed"},
        ]
    )
    deliver(hook, "Pipeline Hook", payload)
    _, detail = the_build(ci, payload)
    assert (detail["status"], detail["deployable"]) == ("failed", False)


@pytest.mark.django_db
def test_job_hooks_of_one_stage_combine_whatever_their_order(hook, ci):
    template = fixture("job_hook.json")
    sha = template["sha"]
    for build_id, name, status in [(501, "pytest", "failed"), (502, "pytest-db", "success")]:
        payload = {
            **template,
            "build_id": build_id,
            "build_name": name,
            "build_stage": "test",
            "build_status": status,
        }
        response = deliver(hook, "Job Hook", payload, HTTP_X_GITLAB_EVENT_UUID=str(build_id))
        assert response.status_code == 200
    build = Build.objects.get(tag=sha)
    assert build.current_results()["test"].status == "failed"
    assert build.overall_status() == "failed"


@pytest.mark.django_db
@pytest.mark.parametrize("waiting", ["skipped", "manual", "created"])
def test_skipped_manual_and_created_jobs_can_move_on(hook, waiting):
    template = fixture("job_hook.json")

    def send(status, uuid):
        payload = {**template, "build_status": status}
        return deliver(hook, "Job Hook", payload, HTTP_X_GITLAB_EVENT_UUID=uuid)

    send(waiting, "1")
    result = StageResult.objects.get(job_id=template["build_id"])
    assert result.status == waiting
    for step, status in enumerate(["pending", "running", "success"], start=2):
        send(status, str(step))
        result.refresh_from_db()
        assert result.status == status
    # A final state never moves back.
    for step, status in enumerate(["running", "skipped", "failed", waiting], start=10):
        assert send(status, str(step)).status_code == 200
        result.refresh_from_db()
        assert result.status == "success"


@pytest.mark.django_db
def test_ci_api_reports_of_two_jobs_in_one_stage(ci):
    sha = "e" * 40
    report = {"repository": "registry.example/blog", "tag": sha, "commit_sha": sha}
    ci.post(BUILDS, {**report, "digest": DIGEST})
    for stage, job_id in [("lint", 1), ("security", 2), ("build", 3)]:
        body = {"stage": stage, "job_name": stage, "job_id": job_id, "status": "success"}
        ci.post(f"{BUILDS}{sha}/stages/", body, format="json")
    stages = f"{BUILDS}{sha}/stages/"
    ci.post(stages, {"stage": "test", "job_name": "unit", "job_id": 10, "status": "failed"})
    ci.post(stages, {"stage": "test", "job_name": "e2e", "job_id": 11, "status": "success"})
    detail = ci.get(f"{BUILDS}{Build.objects.get(tag=sha).pk}/").json()
    assert (detail["status"], detail["deployable"]) == ("failed", False)


@pytest.mark.django_db
def test_status_and_deployable_agree_on_the_dashboard_and_at_the_gate(hook, ci, client):
    # Every required stage passed, but a non-required stage failed.
    payload = pipeline_with_jobs(
        PASSING_STAGES
        + [
            {"id": 130, "stage": "test", "name": "pytest", "status": "success"},
            {"id": 150, "stage": "docs", "name": "docs", "status": "failed"},
        ]
    )
    deliver(hook, "Pipeline Hook", payload)
    build, detail = the_build(ci, payload)
    assert (detail["status"], detail["deployable"], detail["missing_stages"]) == (
        "failed",
        False,
        [],
    )
    client.force_login(UserFactory(username="rm", is_staff=True, roles=[RELEASE_MANAGER]))
    page = client.get(reverse("admin:releases_dashboard")).content.decode()
    row = page[page.index(build.tag[:12]) :]
    row = row[: row.index("</tr>")]
    assert '<span class="badge failed">failed</span>' in row
    assert "Deploy to" not in row
    refused = ci.post(DEPLOY, {"build": build.tag, "reason": "ship"})
    assert refused.status_code == 409
    assert "failed docs" in refused.json()["detail"]
