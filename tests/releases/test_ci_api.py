"""The build registry's CI API on PostgreSQL: idempotent reports, forward-only stages,
scoped tokens, concurrency, bad input and the audit trail."""

import threading
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from releases import services
from releases.models import AuditEvent, Build, Environment, StageResult
from tests.factories import UserFactory

BUILDS = "/api/v1/releases/builds/"
SHA = "a" * 40
DIGEST = "sha256:" + "b" * 64
REPORT = {
    "repository": "registry.gitlab.com/lawvriksh/blog",
    "tag": SHA,
    "commit_sha": SHA,
    "commit_message": "Add the build registry",
    "ref": "main",
    "pipeline_id": 1234,
    "pipeline_url": "https://gitlab.com/lawvriksh/blog/-/pipelines/1234",
    "project_path": "lawvriksh/blog",
}


def stages_url(key):
    return f"{BUILDS}{key}/stages/"


def stage(name, job_id, status, **extra):
    return {"stage": name, "job_name": name, "job_id": job_id, "status": status, **extra}


def bearer_client(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def ci_client(*scopes):
    token, raw = services.ci_token_create(name="ci", scopes=list(scopes))
    client = bearer_client(raw)
    client.token = token
    return client


@pytest.fixture
def ci(db):
    return ci_client("builds:write", "builds:read")


@pytest.mark.django_db
def test_environments_exist_after_migrate(ci):
    environments = ci.get("/api/v1/releases/environments/").json()["results"]
    assert [(e["slug"], e["requires_approval"]) for e in environments] == [
        ("staging", False),
        ("production", True),
    ]
    assert environments[0]["current_build"] is None
    assert Environment.objects.count() == 2


@pytest.mark.django_db
def test_the_same_build_report_five_times_is_one_build(ci):
    codes = [ci.post(BUILDS, REPORT).status_code for _ in range(5)]
    assert codes == [201, 200, 200, 200, 200]
    assert Build.objects.count() == 1
    completed = ci.post(BUILDS, {**REPORT, "digest": DIGEST})
    assert completed.status_code == 200
    assert completed.json()["digest"] == DIGEST
    assert completed.json()["image"] == f"{REPORT['repository']}@{DIGEST}"


@pytest.mark.django_db
def test_a_tag_never_changes_its_digest(ci):
    ci.post(BUILDS, {**REPORT, "digest": DIGEST})
    response = ci.post(BUILDS, {**REPORT, "digest": "sha256:" + "c" * 64})
    assert response.status_code == HTTPStatus.CONFLICT
    assert "never changes" in response.json()["detail"]
    assert Build.objects.get().digest == DIGEST


@pytest.mark.django_db
def test_stage_reports_are_idempotent_and_only_move_forward(ci):
    build_id = ci.post(BUILDS, REPORT).json()["id"]
    for _ in range(5):
        ci.post(stages_url(build_id), stage("test", 501, "running"))
    assert StageResult.objects.count() == 1
    done = ci.post(stages_url(SHA), stage("test", 501, "success", summary="212 passed"))
    assert done.json()["status"] == "success" and done.json()["applied"] is True
    late = ci.post(stages_url(SHA), stage("test", 501, "running"))
    assert late.status_code == 200
    assert late.json()["applied"] is False
    assert "stale" in late.json()["ignored_reason"]
    result = StageResult.objects.get()
    assert (result.status, result.summary) == ("success", "212 passed")


@pytest.mark.django_db
def test_a_retried_job_replaces_the_current_result_and_keeps_history(ci):
    ci.post(BUILDS, REPORT)
    ci.post(stages_url(SHA), stage("test", 600, "failed"))
    assert ci.get(f"{BUILDS}{Build.objects.get().pk}/").json()["status"] == "failed"
    ci.post(stages_url(SHA), stage("test", 601, "success"))
    build = ci.get(f"{BUILDS}{Build.objects.get().pk}/").json()
    assert [s["job_id"] for s in build["stages"]] == [601]
    assert sorted(h["job_id"] for h in build["history"]) == [600, 601]
    assert build["status"] == "success"


@pytest.mark.django_db
def test_deployable_needs_every_required_stage_and_a_digest(ci, settings):
    settings.RELEASES_REQUIRED_STAGES = ["lint", "test"]
    ci.post(BUILDS, REPORT)
    ci.post(stages_url(SHA), stage("lint", 1, "success"))
    ci.post(stages_url(SHA), stage("test", 2, "success"))
    build = ci.get(BUILDS, {"deployable": "false"}).json()["results"][0]
    assert build["missing_stages"] == [] and build["deployable"] is False  # no digest yet
    ci.post(BUILDS, {**REPORT, "digest": DIGEST})
    assert ci.get(BUILDS, {"deployable": "true"}).json()["count"] == 1
    ci.post(stages_url(SHA), stage("test", 3, "failed"))
    assert ci.get(BUILDS, {"deployable": "true"}).json()["count"] == 0
    assert ci.get(BUILDS, {"status": "failed"}).json()["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_of_one_build_make_exactly_one_row():
    token, raw = services.ci_token_create(name="ci", scopes=["builds:write"])
    barrier = threading.Barrier(6)
    codes, errors = [], []

    def report():
        client = bearer_client(raw)
        try:
            barrier.wait(timeout=10)
            response = client.post(BUILDS, {**REPORT, "digest": DIGEST}, format="json")
            codes.append(response.status_code)
            stage_response = client.post(stages_url(SHA), stage("build", 77, "success"))
            codes.append(stage_response.status_code)
        except Exception as error:  # surfaced by the assertions below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=report) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Build.objects.count() == 1
    assert StageResult.objects.count() == 1
    assert sorted(codes).count(201) == 2  # one build created, one stage created
    assert all(code in (200, 201) for code in codes)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_completing_one_build_lose_no_field():
    """Six jobs each add a different detail to one build at once (six connections): the
    build ends with all of them, and the merged updates never overwrite one another."""
    raw = services.ci_token_create(name="ci", scopes=["builds:write"])[1]
    details = {
        "digest": DIGEST,
        "commit_message": "Six jobs, one build",
        "commit_author": "Asha",
        "ref": "release/1",
        "pipeline_id": 4321,
        "project_path": "lawvriksh/blog-fork",
    }
    base = {"repository": REPORT["repository"], "tag": SHA, "commit_sha": SHA}
    assert bearer_client(raw).post(BUILDS, base, format="json").status_code == 201
    barrier = threading.Barrier(len(details))
    codes, errors = [], []

    def report(name, value):
        client = bearer_client(raw)
        try:
            barrier.wait(timeout=10)
            codes.append(client.post(BUILDS, {**base, name: value}, format="json").status_code)
        except Exception as error:  # surfaced by the assertions below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=item) for item in details.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and codes == [200] * len(details)
    build = Build.objects.get()
    assert {name: getattr(build, name) for name in details} == details
    reports = AuditEvent.objects.filter(action="build.report", outcome="accepted")
    assert reports.count() == 1 + len(details)
    assert set(reports.values_list("object_type", "object_id")) == {("build", str(build.pk))}


@pytest.mark.django_db
def test_a_build_reports_answer_is_the_build_as_read_afterwards(ci):
    created = ci.post(BUILDS, REPORT)
    assert created.status_code == 201
    build_id = created.json()["id"]
    assert created.json() == _without_history(ci.get(f"{BUILDS}{build_id}/").json())
    ci.post(stages_url(SHA), stage("test", 11, "failed"))
    ci.post(stages_url(SHA), stage("test", 12, "success"))
    ci.post(stages_url(SHA), stage("lint", 13, "running"))
    for body in (REPORT, {**REPORT, "digest": DIGEST}):  # unchanged, then completed
        again = ci.post(BUILDS, body)
        assert again.status_code == 200
        assert again.json() == _without_history(ci.get(f"{BUILDS}{build_id}/").json())
    assert [s["job_id"] for s in again.json()["stages"]] == [13, 12]
    assert again.json()["status"] == "running" and again.json()["digest"] == DIGEST


def _without_history(build):
    return {name: value for name, value in build.items() if name not in ("history", "migrations")}


@pytest.mark.django_db(transaction=True)  # outside a test's transaction, as served
def test_a_build_report_costs_few_round_trips(ci, django_assert_max_num_queries):
    """CI's reports are the release side's load: a new build is its token, one insert
    (with the audit row) and the entry stages; a repeated one adds its read and stages."""
    with django_assert_max_num_queries(4):
        assert ci.post(BUILDS, REPORT).status_code == 201
    with django_assert_max_num_queries(6):
        assert ci.post(BUILDS, REPORT).status_code == 200


@pytest.mark.django_db
def test_a_known_build_is_completed_without_repeating_its_commit(ci):
    """Services (the migration plan's report, the admin) may complete a build with only
    what is new; a build that is not there still needs its commit."""
    build_id = ci.post(BUILDS, REPORT).json()["id"]
    actor = services.Actor(ip_address="192.0.2.5")
    plan = [{"app": "blog", "name": "0001_initial", "kind": "safe"}]
    build, created = services.build_report(
        actor=actor, repository=REPORT["repository"], tag=SHA, migrations=plan
    )
    assert (build.pk, created, build.migrations, build.commit_sha) == (build_id, False, plan, SHA)
    assert Build.objects.get().migrations == plan
    with pytest.raises(ValidationError) as refused:
        services.build_report(actor=actor, repository=REPORT["repository"], tag="v9", ref="x")
    assert "commit_sha" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.build_report(actor=actor, repository=REPORT["repository"], tag=SHA, digest="x")
    assert "digest" in refused.value.message_dict
    assert Build.objects.count() == 1 and Build.objects.get().digest == ""


@pytest.mark.django_db
def test_a_digest_given_to_a_known_tag_that_another_tag_has_is_refused(ci):
    ci.post(BUILDS, {**REPORT, "digest": DIGEST})
    other = {**REPORT, "tag": "v2", "commit_sha": "c" * 40}
    assert ci.post(BUILDS, other).status_code == 201
    response = ci.post(BUILDS, {**other, "digest": DIGEST})
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "digest_in_use" and SHA in response.json()["detail"]
    assert Build.objects.get(tag="v2").digest == ""
    assert (
        not AuditEvent.objects.filter(action="build.report", payload__tag="v2")
        .exclude(payload__created=True)
        .exists()
    )


@pytest.mark.django_db
def test_tokens_scopes_and_revocation(api_client):
    read_only = ci_client("builds:read")
    refused = read_only.post(BUILDS, REPORT)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert Build.objects.count() == 0
    assert read_only.get(BUILDS).status_code == 200
    writer = ci_client("builds:write")
    assert writer.post(BUILDS, REPORT).status_code == 201
    services.ci_token_revoke(token=writer.token)
    assert writer.post(BUILDS, REPORT).status_code == HTTPStatus.UNAUTHORIZED
    api_client.credentials(HTTP_AUTHORIZATION="Bearer lvci_not-a-real-token")
    assert api_client.post(BUILDS, REPORT).status_code == HTTPStatus.UNAUTHORIZED
    assert APIClient().get(BUILDS).status_code == HTTPStatus.UNAUTHORIZED
    outcomes = set(AuditEvent.objects.values_list("action", "outcome"))
    assert ("ci.authorize", "refused") in outcomes
    assert ("ci.authenticate", "refused") in outcomes
    assert ("build.report", "accepted") in outcomes


@pytest.mark.django_db
def test_release_staff_read_builds_with_their_jwt(jwt_client_for):
    from core.roles import RELEASE_MANAGER

    manager = UserFactory(roles=[RELEASE_MANAGER])
    assert jwt_client_for(manager).get(BUILDS).status_code == 200
    assert jwt_client_for(UserFactory()).get(BUILDS).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
def test_tokens_are_stored_hashed():
    token, raw = services.ci_token_create(name="hashed", scopes=["builds:write"])
    from releases.models import CIToken

    assert raw not in str(CIToken.objects.values().get(pk=token.pk))
    assert token.token_hash == services.hash_token(raw)
    assert raw.startswith(token.prefix)


@pytest.mark.django_db
def test_create_ci_token_command_prints_the_token_alone_last():
    out, err = StringIO(), StringIO()
    call_command(
        "create_ci_token",
        "gitlab",
        "--scopes",
        "builds:write,deploy:staging",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("lvci_")
    assert services.ci_token_verify(raw).scopes == ["builds:write", "deploy:staging"]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown scopes"):
        call_command("create_ci_token", "bad", "--scopes", "everything", stdout=out, stderr=err)


BAD_BUILD_REPORTS = [
    ({**REPORT, "commit_sha": "xyz"}, "commit_sha"),
    ({**REPORT, "digest": "sha256:short"}, "digest"),
    ({**REPORT, "digest": "md5:" + "a" * 64}, "digest"),
    ({k: v for k, v in REPORT.items() if k != "repository"}, "repository"),
    ({**REPORT, "tag": "has spaces"}, "tag"),
    ({**REPORT, "pipeline_id": "not-a-number"}, "pipeline_id"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", BAD_BUILD_REPORTS)
def test_bad_build_reports_are_400_and_store_nothing(ci, body, field):
    response = ci.post(BUILDS, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()
    assert Build.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        (stage("test", 1, "exploded"), "status"),
        (stage("test", -5, "success"), "job_id"),
        ({"job_id": 1, "status": "success"}, "stage"),
        (stage("test", 1, "success", details={"log": "x" * 5000}), "details"),
    ],
)
def test_bad_stage_reports_are_400_and_store_nothing(ci, body, field):
    ci.post(BUILDS, REPORT)
    response = ci.post(stages_url(SHA), body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()
    assert StageResult.objects.count() == 0


@pytest.mark.django_db
def test_oversized_bodies_are_refused(ci, settings):
    settings.RELEASES_MAX_BODY_BYTES = 500
    response = ci.post(BUILDS, {**REPORT, "commit_message": "x" * 1000})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["detail"] == "The body is over 500 bytes."
    assert Build.objects.count() == 0


@pytest.mark.django_db
def test_stage_report_for_an_unknown_build_is_404(ci):
    assert ci.post(stages_url("f" * 40), stage("test", 1, "success")).status_code == 404


@pytest.fixture
def recorded_builds(db):
    """3,000 builds recorded earlier, with the planner's statistics about them."""
    Build.objects.bulk_create(
        Build(repository=REPORT["repository"], tag=f"old-{n}", commit_sha=SHA) for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE releases_build")


@pytest.mark.django_db
def test_a_stage_report_finds_its_build_by_tag_through_an_index(ci, recorded_builds):
    """Most stage reports name their build by tag alone: with a registry of thousands of
    builds that lookup must not read them all (it did, once per report)."""
    plan = Build.objects.filter(tag="old-1234")[:2].explain()
    assert "build_tag" in plan and "Seq Scan" not in plan
    assert ci.post(BUILDS, {**REPORT, "tag": "old-1234"}).status_code == 200  # found by tag
    assert ci.post(stages_url("old-1234"), stage("test", 1, "success")).status_code == 201


@pytest.mark.django_db
def test_a_page_of_builds_newest_first_reads_only_that_page(ci, recorded_builds):
    """The release page, the API and the admin list builds newest first: through an index,
    not by sorting every build ever recorded."""
    plan = Build.objects.all()[:50].explain()
    assert "build_newest" in plan and "Sort" not in plan and "Seq Scan" not in plan
    assert ci.post(BUILDS, {**REPORT, "tag": "newest"}).status_code == 201
    assert ci.get(BUILDS).json()["results"][0]["tag"] == "newest"


@pytest.mark.django_db(transaction=True)  # prepared only outside a transaction, as served
def test_a_ci_reports_lookups_are_prepared_with_one_generic_plan(ci, fresh_session):
    """The token, the build by tag and the entry stages: planned once per connection."""
    assert ci.post(BUILDS, REPORT).status_code == 201
    for job_id in (1, 2, 3):
        assert ci.post(stages_url(SHA), stage("test", job_id, "success")).status_code == 201
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE name LIKE 'lawvriksh%%'"
        )
        plans = cursor.fetchall()

    def planned_once(table, column, runs):
        found = [row for row in plans if table in row[0] and f'"{column}" = $1' in row[0]]
        assert len(found) == 1, (table, column, plans)
        _, generic, custom = found[0]
        return generic >= runs - 1 and custom == 0  # one run of slack; never a custom plan

    assert planned_once("releases_citoken", "token_hash", runs=4)
    assert planned_once("releases_build", "tag", runs=3)
    assert any("releases_environment" in statement for statement, _, _ in plans)
    assert StageResult.objects.filter(build__tag=SHA).count() == 3


@pytest.mark.django_db
def test_audit_events_are_append_only():
    services.ci_token_create(name="x", scopes=["builds:read"])
    event = AuditEvent.objects.first()
    event.action = "tampered"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


@pytest.mark.django_db
def test_admin_creates_a_token_shown_once_and_lists_builds(admin_client, ci):
    ci.post(BUILDS, REPORT)
    ci.post(stages_url(SHA), stage("test", 1, "failed"))
    listing = admin_client.get("/admin/releases/build/").content.decode()
    assert SHA[:12] in listing and "background:#b02a37" in listing  # a red "test" badge
    response = admin_client.post(
        "/admin/releases/citoken/add/",
        {"name": "from-admin", "scopes": '["builds:read"]'},
        follow=True,
    )
    message = " ".join(str(m) for m in response.context["messages"])
    raw = message.split("Token for from-admin: ")[1].split(" ")[0]
    assert services.ci_token_verify(raw).name == "from-admin"
    from releases.models import CIToken

    assert raw not in str(list(CIToken.objects.values()))


@pytest.mark.django_db
def test_branch_is_an_alias_of_ref(ci):
    ci.post(BUILDS, REPORT)
    ci.post(BUILDS, {**REPORT, "tag": "c" * 40, "commit_sha": "c" * 40, "ref": "feature"})
    assert ci.get(BUILDS, {"branch": "feature"}).json()["count"] == 1
