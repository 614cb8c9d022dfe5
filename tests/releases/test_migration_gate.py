"""Issue 12: builds carry their migration plan; deploys and rollbacks are gated on it.

The plan's classification is django-migration-linter's, computed by `manage.py
migration_plan` on real PostgreSQL; the gate runs through the service layer, the worker
(noop backend: it records the migrate step), the admin's confirmation pages and the API."""

import json
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import deployments as rules
from releases import services
from releases import tasks
from releases.models import AuditEvent, Deployment, Environment
from releases.services import Actor
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import make_build, manager

API = "/api/v1/releases/"
ACT = reverse("admin:releases_act")


def entry(name, *, compatible=True, reversible=True, code="DROP_COLUMN"):
    issues = [] if compatible else [{"code": code, "message": code.lower(), "table": "blog_post"}]
    return {
        "app": "blog",
        "name": name,
        "backward_compatible": compatible,
        "reversible": reversible,
        "issues": issues,
    }


BASE = [entry("0001_initial")]
ADD = entry("9001_add_subtitle")
DROP = entry("9002_drop_subtitle", compatible=False)
SQUASH = entry("9003_rewrite_bodies", compatible=False, reversible=False, code="NOT_NULL")


def build_with(n, plan):
    build = make_build(n)
    build.migrations = plan
    build.save()
    return build


def run(environment, build, **options):
    """Request, then let the worker run it (noop backend): the finished deployment."""
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=environment, build=build, reason="t", **options
    )
    tasks.run_environment_queue.call(environment.pk)
    deployment.refresh_from_db()
    return deployment


def roll_back(environment, build, **options):
    deployment = rules.rollback(
        actor=Actor(user=manager()), environment=environment, build=build, reason="back", **options
    )
    tasks.run_environment_queue.call(environment.pk)
    deployment.refresh_from_db()
    return deployment


def keys(entries):
    return [f"{e['app']}.{e['name']}" for e in entries]


@pytest.mark.django_db
def test_the_plan_of_this_code_is_classified_by_the_linter_on_postgresql(tmp_path):
    out = tmp_path / "plan.json"
    call_command("migration_plan", output=str(out))
    plan = {f"{e['app']}.{e['name']}": e for e in json.loads(out.read_text())["migrations"]}
    names = list(plan)
    assert names.index("contenttypes.0001_initial") < names.index(
        "contenttypes.0002_remove_content_type_name"
    )
    # A NOT NULL column without a database default breaks the inserts of the code before it.
    allow_failure = plan["releases.0007_stage_allow_failure"]
    assert allow_failure["backward_compatible"] is False
    assert [i["code"] for i in allow_failure["issues"]] == ["NOT_NULL"]
    # This issue's own migration adds its columns with database defaults: compatible.
    assert plan["releases.0010_migration_plans"]["backward_compatible"] is True
    assert plan["contenttypes.0002_remove_content_type_name"]["issues"][0]["code"] == (
        "DROP_COLUMN"
    )
    # A RunPython without reverse code cannot be unapplied.
    assert plan["django_tasks_database.0013_separate_exception_fields"]["reversible"] is False


@pytest.mark.django_db(transaction=True)
def test_deploy_gate_rollback_gate_and_the_reverse_way_out():
    staging = Environment.objects.get(slug="staging")
    v1, v2 = build_with(1, BASE), build_with(2, [*BASE, ADD])
    v3, v4 = build_with(3, [*BASE, ADD, DROP]), build_with(4, [*BASE, ADD, DROP, SQUASH])

    first = run(staging, v1)
    assert first.status == "succeeded" and first.migration_changes["known"] is False
    assert keys(Environment.objects.get(pk=staging.pk).applied_migrations) == keys(BASE)

    adding = run(staging, v2)
    assert adding.status == "succeeded"
    assert keys(adding.migration_changes["apply"]) == ["blog.9001_add_subtitle"]
    assert "blog.9001_add_subtitle: backward compatible" in adding.log
    assert "noop: would migrate with" in adding.log

    # Back to v1 across a compatible migration: allowed, and the log says so.
    back = roll_back(staging, v1)
    assert back.status == "succeeded"
    assert "left applied, all backward compatible: blog.9001_add_subtitle" in back.log
    assert "noop: would migrate" not in back.log  # a plain rollback never migrates

    # v3 drops a column v1/v2 read: refused, with the rule and the migration named.
    with pytest.raises(rules.Refused) as refused:
        run(staging, v3)
    assert refused.value.code == "migrations_incompatible"
    assert "blog.9002_drop_subtitle (DROP_COLUMN)" in refused.value.messages[0]
    assert not Deployment.objects.filter(build=v3).exists()
    dropping = run(staging, v3, acknowledge="no code reads subtitle since v2")
    assert dropping.status == "succeeded"
    assert dropping.migrations_acknowledged == "no code reads subtitle since v2"
    assert "acknowledged: no code reads subtitle since v2" in dropping.log
    assert AuditEvent.objects.filter(action="deployment.acknowledge_migrations").exists()

    # Rolling back to v2 would leave the drop applied: refused, with the ways out.
    with pytest.raises(rules.Refused) as across:
        rules.rollback(actor=Actor(user=manager()), environment=staging, build=v2, reason="x")
    assert across.value.code == "rollback_across_migrations"
    message = across.value.messages[0]
    assert "reverse them first" in message and "restore a backup" in message
    assert Deployment.objects.filter(kind="rollback").count() == 1  # nothing new queued

    reversing = roll_back(staging, v2, reverse_migrations=True)
    assert reversing.status == "succeeded", reversing.log
    assert "would migrate to blog:9001_add_subtitle with " + v3.image_reference in reversing.log
    assert "blog.9002_drop_subtitle" not in keys(
        Environment.objects.get(pk=staging.pk).applied_migrations
    )

    # A migration that cannot be unapplied: reversing is refused; acknowledging (a restore)
    # is the way left.
    run(staging, v4, acknowledge="bodies rewritten on purpose")
    with pytest.raises(rules.Refused) as stuck:
        rules.rollback(
            actor=Actor(user=manager()),
            environment=staging,
            build=v2,
            reason="x",
            reverse_migrations=True,
        )
    assert stuck.value.code == "migrations_irreversible"
    assert "blog.9003_rewrite_bodies" in stuck.value.messages[0]
    restored = roll_back(staging, v2, acknowledge="restored the backup from before v4")
    assert restored.status == "succeeded"
    assert "may not work with: blog.9002_drop_subtitle (DROP_COLUMN)" in restored.log


@pytest.mark.django_db
def test_too_long_an_acknowledgement_is_refused_and_changes_nothing():
    staging = Environment.objects.get(slug="staging")
    with pytest.raises(rules.Refused) as refused:
        rules.request_deployment(
            actor=Actor(user=manager()),
            environment=staging,
            build=build_with(5, BASE),
            reason="t",
            acknowledge="x" * 501,
        )
    assert refused.value.code == "acknowledgement_too_long"
    assert not Deployment.objects.exists()


@pytest.fixture
def manager_client(jwt_client_for, db):
    return jwt_client_for(UserFactory(username="rm", roles=[RELEASE_MANAGER]))


@pytest.mark.django_db(transaction=True)
def test_the_api_reports_plans_previews_changes_and_takes_the_acknowledgement(
    manager_client, api_client
):
    _token, raw = services.ci_token_create(name="ci", scopes=["builds:write", "builds:read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    staging = Environment.objects.get(slug="staging")
    v1 = build_with(6, [*BASE, ADD])
    run(staging, v1)
    v2 = make_build(7)
    report = {"repository": v2.repository, "tag": v2.tag, "commit_sha": v2.commit_sha}
    bad_shape = api_client.post(
        f"{API}builds/", {**report, "migrations": [{"app": "blog"}]}, format="json"
    )
    assert bad_shape.status_code == HTTPStatus.BAD_REQUEST
    twice = api_client.post(f"{API}builds/", {**report, "migrations": [ADD, ADD]}, format="json")
    assert twice.status_code == HTTPStatus.BAD_REQUEST and "twice" in twice.content.decode()
    v2.refresh_from_db()
    assert v2.migrations is None  # refused reports change nothing
    reported = api_client.post(
        f"{API}builds/", {**report, "migrations": [*BASE, ADD, DROP]}, format="json"
    )
    assert reported.status_code == HTTPStatus.OK, reported.content
    detail = manager_client.get(f"{API}builds/{v2.pk}/").json()
    assert keys(detail["migrations"]) == keys([*BASE, ADD, DROP])

    preview = manager_client.get(
        f"{API}environments/staging/migration-changes/", {"build": v2.tag}
    ).json()
    assert preview["known"] is True and keys(preview["apply"]) == ["blog.9002_drop_subtitle"]
    refused = manager_client.post(
        f"{API}environments/staging/deploy/", {"build": v2.tag, "reason": "r"}, format="json"
    )
    assert refused.status_code == HTTPStatus.CONFLICT
    assert refused.json()["code"] == "migrations_incompatible", refused.json()
    accepted = manager_client.post(
        f"{API}environments/staging/deploy/",
        {"build": v2.tag, "reason": "r", "acknowledge_migrations": "expand/contract step 3"},
        format="json",
    )
    assert accepted.status_code == HTTPStatus.CREATED
    body = accepted.json()
    assert body["migrations_acknowledged"] == "expand/contract step 3"
    assert keys(body["migration_changes"]["apply"]) == ["blog.9002_drop_subtitle"]
    tasks.run_environment_queue.call(staging.pk)

    across = manager_client.post(
        f"{API}environments/staging/rollback/", {"build": v1.tag, "reason": "r"}, format="json"
    )
    assert across.status_code == HTTPStatus.CONFLICT
    assert across.json()["code"] == "rollback_across_migrations"
    reverse = manager_client.post(
        f"{API}environments/staging/rollback/",
        {"build": v1.tag, "reason": "r", "reverse_migrations": True},
        format="json",
    )
    assert reverse.status_code == HTTPStatus.CREATED, reverse.content
    assert reverse.json()["reverse_migrations"] is True


@pytest.mark.django_db(transaction=True)
def test_confirmation_pages_list_the_migrations_and_the_approver_sees_the_acknowledgement(
    client,
):
    staging = Environment.objects.get(slug="staging")
    v1, v2 = build_with(8, [*BASE, ADD]), build_with(9, [*BASE, ADD, DROP])
    run(staging, v1)
    run(staging, v2, acknowledge="column unused since v1")
    client.force_login(UserFactory(username="rm", is_staff=True, roles=[RELEASE_MANAGER]))
    promote = client.get(ACT, {"action": "promote", "environment": "production"}).content.decode()
    # Production has never been migrated by the worker and runs nothing: not checked.
    assert "Database migrations" in promote and "Not checked" in promote
    rollback = client.get(
        ACT, {"action": "rollback", "environment": "staging", "build": v1.pk}
    ).content.decode()
    assert "blog.9002_drop_subtitle" in rollback and "NOT compatible" in rollback
    assert 'name="reverse_migrations"' in rollback and "Ways out" in rollback
    assert 'name="acknowledge_migrations"' in rollback

    # Production: the request carries the acknowledgement to the approver's page.
    production = Environment.objects.get(slug="production")
    Environment.objects.filter(pk=production.pk).update(applied_migrations=BASE)
    client.post(
        ACT,
        {
            "action": "promote",
            "environment": "production",
            "reason": "release",
            "acknowledge_migrations": "contract step: column unused",
        },
    )
    request = Deployment.objects.get(environment=production)
    assert request.status == "awaiting_approval"
    assert keys(request.migration_changes["apply"]) == keys([ADD, DROP])
    client.force_login(UserFactory(username="ra", is_staff=True, roles=[RELEASE_APPROVER]))
    approving = client.get(ACT, {"action": "approve", "deployment": request.pk}).content.decode()
    assert "Acknowledged by the requester" in approving
    assert "contract step: column unused" in approving and "blog.9002_drop_subtitle" in approving
