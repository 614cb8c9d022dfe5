"""Deployment rules through releases.deployments on PostgreSQL (issue 6, service layer)."""

import datetime
import threading

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import deployments as rules
from releases.models import Build, Deployment, DeploymentStatus, Environment, StageResult
from releases.services import Actor
from tests.factories import UserFactory

S = DeploymentStatus
REQUIRED = ["lint", "test", "security", "build"]


def make_build(n: int, *, passed=True, digest=True) -> Build:
    sha = f"{n:040x}"
    build = Build.objects.create(
        repository="registry.example/blog",
        tag=sha,
        commit_sha=sha,
        digest=f"sha256:{n:064x}" if digest else "",
    )
    for job_id, stage in enumerate(REQUIRED, start=n * 10):
        StageResult.objects.create(
            build=build, stage=stage, job_id=job_id, status="success" if passed else "failed"
        )
    return build


def envs():
    return Environment.objects.get(slug="staging"), Environment.objects.get(slug="production")


def deployed(environment, build, *, smoke=True) -> Deployment:
    """Put `build` in `environment` as the worker would (start, finish with smoke result)."""
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=environment, build=build, reason="test"
    )
    if deployment.status == S.AWAITING_APPROVAL:
        rules.decide(actor=Actor(user=approver()), deployment=deployment, approve=True)
    started = rules.start_next(environment)
    assert started is not None and started.pk == deployment.pk
    return rules.finish(deployment=started, succeeded=True, smoke={"passed": smoke})


def manager():
    return UserFactory(username="manager", roles=[RELEASE_MANAGER])


def approver():
    return UserFactory(username="approver", roles=[RELEASE_APPROVER])


@pytest.fixture
def actor(db):
    return Actor(user=manager())


@pytest.mark.django_db
def test_staging_accepts_only_builds_whose_required_stages_passed(actor):
    staging, _ = envs()
    with pytest.raises(rules.Refused) as refused:
        rules.request_deployment(
            actor=actor, environment=staging, build=make_build(1, passed=False), reason="x"
        )
    assert refused.value.code == "stages_missing"
    with pytest.raises(rules.Refused) as no_digest:
        rules.request_deployment(
            actor=actor, environment=staging, build=make_build(2, digest=False), reason="x"
        )
    assert no_digest.value.code == "no_digest"
    deployment, created = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(3), reason="ship it"
    )
    assert created and deployment.status == S.QUEUED
    assert deployment.image.endswith("@sha256:" + f"{3:064x}")


@pytest.mark.django_db
def test_production_needs_a_build_that_passed_smoke_tests_on_staging(actor):
    staging, production = envs()
    untested, smoky, good = make_build(1), make_build(2), make_build(3)
    with pytest.raises(rules.Refused, match="has not succeeded on Staging"):
        rules.request_deployment(actor=actor, environment=production, build=untested, reason="x")
    deployed(staging, smoky, smoke=False)
    with pytest.raises(rules.Refused):
        rules.request_deployment(actor=actor, environment=production, build=smoky, reason="x")
    deployed(staging, good)
    deployment, _ = rules.promote(actor=actor, environment=production, reason="release")
    assert (deployment.build, deployment.kind, deployment.status) == (
        good,
        "promote",
        S.AWAITING_APPROVAL,
    )
    assert deployment.image == good.image_reference  # the same digest, not a tag


@pytest.mark.django_db
def test_production_waits_for_an_approver_then_queues(actor):
    staging, production = envs()
    deployed(staging, make_build(1))
    request, _ = rules.promote(actor=actor, environment=production, reason="release")
    assert request.status == S.AWAITING_APPROVAL
    with pytest.raises(PermissionDenied):
        rules.decide(actor=actor, deployment=request, approve=True)  # no approve permission
    approved = rules.decide(
        actor=Actor(user=approver()), deployment=request, approve=True, comment="looks good"
    )
    assert approved.status == S.QUEUED
    assert (approved.approval.decided_by.username, approved.approval.comment) == (
        "approver",
        "looks good",
    )
    with pytest.raises(rules.Refused) as twice:
        rules.decide(actor=Actor(user=approver()), deployment=request, approve=True)
    assert twice.value.code == "not_awaiting"
    with pytest.raises(RuntimeError):
        approved.approval.save()  # approvals are immutable


@pytest.mark.django_db
def test_a_rejection_cancels_the_request(actor):
    staging, production = envs()
    deployed(staging, make_build(1))
    request, _ = rules.promote(actor=actor, environment=production, reason="release")
    rejected = rules.decide(actor=Actor(user=approver()), deployment=request, approve=False)
    assert rejected.status == S.CANCELLED
    assert rejected.approval.decision == "rejected"


@pytest.mark.django_db
def test_the_requester_cannot_approve_their_own_request():
    staging, production = envs()
    deployed(staging, make_build(1))
    both = UserFactory(username="both", roles=[RELEASE_MANAGER, RELEASE_APPROVER])
    request, _ = rules.promote(actor=Actor(user=both), environment=production, reason="x")
    with pytest.raises(rules.Refused) as own:
        rules.decide(actor=Actor(user=both), deployment=request, approve=True)
    assert own.value.code == "own_request"
    request.refresh_from_db()
    assert request.status == S.AWAITING_APPROVAL


@pytest.mark.django_db
def test_an_expired_approval_request_lapses(actor, settings):
    staging, production = envs()
    deployed(staging, make_build(1))
    request, _ = rules.promote(actor=actor, environment=production, reason="x")
    later = timezone.now() + datetime.timedelta(hours=settings.RELEASES_APPROVAL_HOURS + 1)
    with time_machine.travel(later):
        with pytest.raises(rules.Refused) as expired:
            rules.decide(actor=Actor(user=approver()), deployment=request, approve=True)
    assert expired.value.code == "approval_expired"


@pytest.mark.django_db
def test_frozen_environment_refuses_deploys_but_allows_rollback(actor):
    staging, _ = envs()
    first, second = make_build(1), make_build(2)
    deployed(staging, first)
    deployed(staging, second)
    Environment.objects.filter(pk=staging.pk).update(
        frozen_until=timezone.now() + datetime.timedelta(days=1), freeze_reason="launch week"
    )
    with pytest.raises(rules.Refused) as frozen:
        rules.request_deployment(actor=actor, environment=staging, build=make_build(3), reason="x")
    assert frozen.value.code == "frozen" and "launch week" in frozen.value.messages[0]
    rollback = rules.rollback(actor=actor, environment=staging, reason="bad release")
    assert (rollback.build, rollback.kind, rollback.status) == (first, "rollback", S.QUEUED)


@pytest.mark.django_db
def test_rollback_can_mark_the_bad_build_and_pin_the_environment(actor):
    staging, _ = envs()
    good, bad = make_build(1), make_build(2)
    deployed(staging, good)
    deployed(staging, bad)
    rules.rollback(actor=actor, environment=staging, reason="500s", mark_bad=True, pin=True)
    bad.refresh_from_db()
    staging.refresh_from_db()
    assert bad.bad_at is not None and staging.pinned_at is not None
    with pytest.raises(rules.Refused) as pinned:
        rules.request_deployment(actor=actor, environment=staging, build=make_build(3), reason="x")
    assert pinned.value.code == "pinned"
    rules.set_pin(actor=actor, environment=staging, pinned=False)
    with pytest.raises(rules.Refused) as vetoed:
        rules.request_deployment(actor=actor, environment=staging, build=bad, reason="again")
    assert vetoed.value.code == "build_bad"


@pytest.mark.django_db
def test_queue_is_fifo_one_running_and_cancel_and_supersede(actor):
    staging, _ = envs()
    first, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(1), reason="1"
    )
    second, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(2), reason="2"
    )
    third, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(3), reason="3"
    )
    assert rules.start_next(staging).pk == first.pk
    assert rules.start_next(staging) is None  # one at a time
    rules.cancel(actor=actor, deployment=second)
    # A running one is asked to stop; the worker decides when it has stopped.
    asked = rules.cancel(actor=actor, deployment=first)
    assert asked.status == S.RUNNING and asked.cancel_requested_at is not None
    assert "cancel requested" in asked.log
    assert rules.finish(deployment=first, succeeded=False).status == S.CANCELLED
    with pytest.raises(rules.Refused) as finished:
        rules.cancel(actor=actor, deployment=first)
    assert finished.value.code == "cannot_cancel"
    assert rules.start_next(staging).pk == third.pk
    rules.finish(deployment=third, succeeded=True, smoke={"passed": True})
    a, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(4), reason="a"
    )
    b, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(5), reason="b", supersede=True
    )
    a.refresh_from_db()
    assert (a.status, b.status) == (S.SUPERSEDED, S.QUEUED)


@pytest.mark.django_db
def test_the_database_refuses_a_second_running_deployment(actor):
    staging, _ = envs()
    one, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(1), reason="1"
    )
    two, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(2), reason="2"
    )
    Deployment.objects.filter(pk=one.pk).update(status=S.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.filter(pk=two.pk).update(status=S.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotes_make_exactly_one_deployment():
    staging, production = envs()
    deployed(staging, make_build(1))
    managers = [UserFactory(username=f"m{n}", roles=[RELEASE_MANAGER]) for n in range(4)]
    barrier = threading.Barrier(len(managers))
    outcomes, errors = [], []

    def click(user):
        try:
            barrier.wait(timeout=10)
            deployment, created = rules.promote(
                actor=Actor(user=user), environment=production, reason="same second"
            )
            outcomes.append((deployment.pk, created))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(user,)) for user in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert production.deployments.count() == 1
    assert len({pk for pk, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False, False, False, True]


@pytest.mark.django_db
def test_recurring_freeze_windows(actor, settings):
    settings.TIME_ZONE = "UTC"
    staging, _ = envs()
    Environment.objects.filter(pk=staging.pk).update(
        freeze_windows=[
            {"weekdays": [5, 6], "start": "00:00", "end": "23:59", "reason": "weekend"}
        ]
    )
    staging.refresh_from_db()
    saturday = datetime.datetime(2026, 11, 28, 10, 0, tzinfo=datetime.UTC)
    monday = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)
    assert "weekend" in staging.freeze_now(saturday)
    assert staging.freeze_now(monday) is None
    with time_machine.travel(saturday, tick=False):
        with pytest.raises(rules.Refused) as refused:
            rules.request_deployment(
                actor=actor, environment=staging, build=make_build(1), reason="x"
            )
        assert refused.value.code == "frozen"
    with time_machine.travel(monday, tick=False):
        deployment, _ = rules.request_deployment(
            actor=actor, environment=staging, build=make_build(2), reason="x"
        )
        assert deployment.status == S.QUEUED


@pytest.mark.django_db
def test_break_glass_through_a_freeze_needs_a_second_person_and_is_audited(actor):
    from releases.models import AuditEvent

    staging, _ = envs()
    Environment.objects.filter(pk=staging.pk).update(
        frozen_until=timezone.now() + datetime.timedelta(days=1), freeze_reason="audit"
    )
    deployment, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(1), reason="hotfix", break_glass=True
    )
    assert deployment.status == S.AWAITING_APPROVAL  # staging needs no approval otherwise
    assert AuditEvent.objects.filter(action="deployment.break_glass").exists()
    approved = rules.decide(actor=Actor(user=approver()), deployment=deployment, approve=True)
    assert approved.status == S.QUEUED


@pytest.mark.django_db
def test_unanswered_requests_lapse(actor, settings):
    staging, production = envs()
    deployed(staging, make_build(1))
    request, _ = rules.promote(actor=actor, environment=production, reason="x")
    later = timezone.now() + datetime.timedelta(hours=settings.RELEASES_APPROVAL_HOURS + 1)
    assert rules.lapse_expired_approvals(now=timezone.now()) == 0
    assert rules.lapse_expired_approvals(now=later) == 1
    request.refresh_from_db()
    assert request.status == S.CANCELLED and "expired" in request.log


@pytest.mark.django_db
def test_a_freeze_must_end_after_it_starts(actor):
    staging, _ = envs()
    now = timezone.now()
    with pytest.raises(rules.Refused) as refused:
        rules.set_freeze(actor=actor, environment=staging, until=now, starts=now, reason="x")
    assert refused.value.code == "freeze_window_invalid"
    staging.refresh_from_db()
    assert staging.frozen_until is None


# ------------------------------------------------------------------ who may act (one place)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "call",
    [
        lambda a, s, p, b: rules.request_deployment(actor=a, environment=s, build=b, reason="x"),
        lambda a, s, p, b: rules.promote(actor=a, environment=p, reason="x"),
        lambda a, s, p, b: rules.rollback(actor=a, environment=s, reason="x"),
        lambda a, s, p, b: rules.set_pin(actor=a, environment=s, pinned=True, reason="x"),
        lambda a, s, p, b: rules.set_bad(actor=a, build=b, bad=True, reason="x"),
        lambda a, s, p, b: rules.set_freeze(
            actor=a, environment=p, until=timezone.now() + datetime.timedelta(hours=1)
        ),
    ],
    ids=["deploy", "promote", "rollback", "pin", "mark_bad", "freeze"],
)
def test_the_services_refuse_a_user_without_the_permission(call):
    staging, production = envs()
    build = make_build(40)
    reader = UserFactory(username="no-release-role")
    with pytest.raises(PermissionDenied):
        call(Actor(user=reader), staging, production, build)
    assert not Deployment.objects.exists()
    staging.refresh_from_db(), production.refresh_from_db(), build.refresh_from_db()
    assert (staging.pinned_at, production.frozen_until, build.bad_at) == (None, None, None)


@pytest.mark.django_db
def test_a_ci_identity_may_only_deploy_to_the_first_environment():
    from releases import services

    staging, production = envs()
    build = make_build(41)
    token, _ = services.ci_token_create(name="ci", scopes=["deploy:staging"])
    ci = Actor(token=token)
    deployment, _ = rules.request_deployment(
        actor=ci, environment=staging, build=build, reason="ci"
    )
    assert deployment.environment == staging
    for call in (
        lambda: rules.request_deployment(
            actor=ci, environment=production, build=build, reason="x"
        ),
        lambda: rules.promote(actor=ci, environment=production, reason="x"),
        lambda: rules.rollback(actor=ci, environment=staging, reason="x"),
        lambda: rules.cancel(actor=ci, deployment=deployment),
    ):
        with pytest.raises(PermissionDenied):
            call()
    reader_token, _ = services.ci_token_create(name="reader", scopes=["builds:read"])
    with pytest.raises(PermissionDenied):
        rules.request_deployment(
            actor=Actor(token=reader_token), environment=staging, build=build, reason="x"
        )
    assert Deployment.objects.count() == 1
