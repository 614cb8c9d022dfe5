"""The deployment worker: real db_worker runs, smoke tests against a live server,
automatic rollback, timeouts, and a dead worker's deployment recovered."""

import datetime
import socket

import pytest
from django.core.management import call_command
from django.utils import timezone

from releases import deployments as rules
from releases import tasks
from releases.models import Deployment, DeploymentStatus, Environment
from releases.services import Actor
from tests.releases.test_deployment_rules import deployed, make_build, manager

S = DeploymentStatus


@pytest.fixture
def fast_smoke(settings):
    settings.RELEASES_SMOKE_ATTEMPTS = 2
    settings.RELEASES_SMOKE_BACKOFF = 0.05
    settings.RELEASES_SMOKE_TIMEOUT = 5


@pytest.mark.django_db(transaction=True)
def test_a_queued_deployment_is_run_by_the_real_db_worker():
    staging = Environment.objects.get(slug="staging")
    build = make_build(1)
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=build, reason="worker"
    )
    # The request enqueued a task after commit; the worker command picks it up.
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    deployment.refresh_from_db()
    assert deployment.status == S.SUCCEEDED
    assert "noop:" in deployment.log
    assert deployment.smoke_result["skipped"] == "no base URL"


@pytest.mark.django_db(transaction=True)
def test_smoke_tests_pass_against_the_running_app(live_server, settings, fast_smoke):
    build = make_build(2)
    settings.GIT_SHA = build.commit_sha  # the live server reports the deployed commit
    Environment.objects.filter(slug="staging").update(base_url=live_server.url)
    staging = Environment.objects.get(slug="staging")
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=build, reason="smoke"
    )
    tasks.run_environment_queue.call(staging.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.SUCCEEDED
    assert deployment.smoke_result["passed"] is True
    assert [c["path"] for c in deployment.smoke_result["checks"]] == [
        "/healthz",
        "/readyz",
        "/api/v1/version/",
    ]
    # /readyz's schema state is in the check's detail (ahead/behind name the migrations).
    assert deployment.smoke_result["checks"][1]["detail"] == "HTTP 200, schema applied"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_commit_fails_and_rolls_back_automatically(live_server, settings, fast_smoke):
    staging = Environment.objects.get(slug="staging")
    good = make_build(3)
    deployed(staging, good)  # no base URL yet: recorded as good
    Environment.objects.filter(pk=staging.pk).update(base_url=live_server.url)
    settings.GIT_SHA = good.commit_sha  # the environment still serves the good build
    bad = make_build(4)
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=bad, reason="bad one"
    )
    tasks.run_environment_queue.call(staging.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.FAILED
    assert "expected" in deployment.smoke_result["error"]
    rollback = Deployment.objects.filter(kind="rollback").get()
    assert rollback.build == good
    assert rollback.reason.startswith("smoke tests failed:")
    assert rollback.status == S.SUCCEEDED  # it serves the good commit again
    assert rules.current_deployment(staging).build == good


@pytest.mark.django_db(transaction=True)
def test_a_hanging_environment_times_out_and_never_stays_running(settings, fast_smoke):
    settings.RELEASES_SMOKE_TIMEOUT = 2
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    port = listener.getsockname()[1]
    try:
        Environment.objects.filter(slug="staging").update(base_url=f"http://127.0.0.1:{port}")
        staging = Environment.objects.get(slug="staging")
        deployment, _ = rules.request_deployment(
            actor=Actor(user=manager()), environment=staging, build=make_build(5), reason="hang"
        )
        started = timezone.now()
        tasks.run_environment_queue.call(staging.pk)
        deployment.refresh_from_db()
        assert deployment.status == S.FAILED
        assert (timezone.now() - started).total_seconds() < 15
        assert not Deployment.objects.filter(status=S.RUNNING).exists()
    finally:
        listener.close()


@pytest.mark.django_db
def test_a_dead_workers_deployment_is_recovered_and_the_queue_moves_on(settings):
    staging = Environment.objects.get(slug="staging")
    stuck, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(6), reason="stuck"
    )
    waiting, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(7), reason="next"
    )
    assert rules.start_next(staging).pk == stuck.pk
    Deployment.objects.filter(pk=stuck.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert rules.start_next(staging) is None  # blocked by the dead one
    tasks.run_environment_queue.call(staging.pk)
    stuck.refresh_from_db()
    waiting.refresh_from_db()
    assert stuck.status == S.FAILED and "worker lost" in stuck.log
    assert waiting.status == S.SUCCEEDED


@pytest.mark.django_db
def test_approval_wakes_the_worker(django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    staging, production = Environment.objects.get(slug="staging"), Environment.objects.get(
        slug="production"
    )
    deployed(staging, make_build(8))
    request, _ = rules.promote(actor=Actor(user=manager()), environment=production, reason="x")
    from tests.releases.test_deployment_rules import approver

    with django_capture_on_commit_callbacks(execute=True):
        rules.decide(actor=Actor(user=approver()), deployment=request, approve=True)
    assert DBTaskResult.objects.filter(args_kwargs__args=[production.pk]).exists()
