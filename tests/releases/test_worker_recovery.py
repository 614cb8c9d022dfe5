"""A worker that cannot get stuck: real `manage.py db_worker` processes on PostgreSQL, one
killed with SIGKILL mid-deployment; the next recovers on its own. Late results, cancelling a
running deployment, and the heartbeat kept alive while a step hangs."""

import contextlib
import datetime
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from releases import deployments as rules
from releases.models import Deployment, DeploymentStatus, Environment, WorkerHeartbeat
from releases.services import Actor
from tests.releases.test_deployment_rules import deployed, make_build, manager
from tests.support.processes import PROJECT_ROOT, clean_environment, stop

S = DeploymentStatus
HEARTBEAT_TIMEOUT = 4
# Generous bounds for a loaded 2-core machine: each wait ends as soon as its signal shows.
SIGNAL_WAIT = 90


def database_url() -> str:
    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def worker_process(name: str, interval: float = 0.2, **extra_env: str):
    """A real db_worker on the test database, with a short heartbeat timeout and tick."""
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url(),
        RELEASES_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
        RELEASES_WORKER_TICK="0.5",
        RELEASES_SMOKE_ATTEMPTS="100",
        RELEASES_SMOKE_BACKOFF="0.2",
        RELEASES_SMOKE_TIMEOUT="600",
        **extra_env,
    )
    command = [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"]
    command += ["--interval", str(interval), "--worker-id", name]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        stop(process, timeout=30)


def wait_for(what: str, check, process=None):
    """Poll `check` until it returns something truthy (the positive signal we wait on)."""
    deadline = time.monotonic() + SIGNAL_WAIT
    while True:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker exited before {what}:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            rows = list(Deployment.objects.values("pk", "status", "log"))
            raise AssertionError(f"no sign of {what} within {SIGNAL_WAIT}s; deployments: {rows}")
        time.sleep(0.1)


@contextlib.contextmanager
def hanging_http_server():
    """Accepts connections and never answers: a smoke test against it hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def in_smoke_tests(deployment):
    deployment.refresh_from_db()
    return deployment.status == S.RUNNING and "recorded as running" in deployment.log


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_recovered_and_the_queue_runs_with_nobody_acting():
    staging = Environment.objects.get(slug="staging")
    with hanging_http_server() as hanging:
        Environment.objects.filter(pk=staging.pk).update(base_url=hanging)
        actor = Actor(user=manager())
        stuck, _ = rules.request_deployment(
            actor=actor, environment=staging, build=make_build(1), reason="stuck"
        )
        waiting, _ = rules.request_deployment(
            actor=actor, environment=staging, build=make_build(2), reason="next"
        )
        with worker_process("first-worker") as first:
            wait_for(
                "the first deployment reaching its smoke tests", lambda: in_smoke_tests(stuck)
            )
            # Nothing is logged while the smoke test hangs, yet the heartbeat moves on.
            log, beat = stuck.log, stuck.heartbeat_at
            wait_for(
                "a heartbeat during the hanging step",
                lambda: Deployment.objects.get(pk=stuck.pk).heartbeat_at > beat,
                first,
            )
            assert Deployment.objects.get(pk=stuck.pk).log == log
            first.send_signal(signal.SIGKILL)
            first.wait()
        killed_task = DBTaskResult.objects.get(worker_ids__contains=["first-worker"])
        assert killed_task.status == "RUNNING"
        Environment.objects.filter(pk=staging.pk).update(base_url="")  # the next one can pass

        with worker_process("second-worker") as second:
            wait_for(
                "the queued deployment succeeding",
                lambda: Deployment.objects.get(pk=waiting.pk).status == S.SUCCEEDED,
                second,
            )
    stuck.refresh_from_db()
    assert stuck.status == S.FAILED
    assert "worker lost" in stuck.log
    killed_task.refresh_from_db()
    assert killed_task.status == "FAILED"
    assert "first-worker stopped heartbeating" in killed_task.traceback
    assert WorkerHeartbeat.objects.filter(worker_id="second-worker").exists()


@pytest.mark.django_db(transaction=True)
def test_release_staff_cancel_a_running_deployment_and_the_previous_release_returns():
    staging = Environment.objects.get(slug="staging")
    good = make_build(3)
    deployed(staging, good)
    with hanging_http_server() as hanging:
        Environment.objects.filter(pk=staging.pk).update(base_url=hanging)
        running, _ = rules.request_deployment(
            actor=Actor(user=manager()), environment=staging, build=make_build(4), reason="new"
        )
        with worker_process("canceller") as worker:
            wait_for("the deployment reaching its smoke tests", lambda: in_smoke_tests(running))
            Environment.objects.filter(pk=staging.pk).update(base_url="")
            rules.cancel(actor=Actor(user=manager()), deployment=running, reason="wrong build")
            wait_for(
                "the cancellation",
                lambda: Deployment.objects.get(pk=running.pk).status == S.CANCELLED,
                worker,
            )
            rollback = wait_for(
                "the automatic rollback succeeding",
                lambda: Deployment.objects.filter(kind="rollback", status=S.SUCCEEDED).first(),
                worker,
            )
    running.refresh_from_db()
    assert "cancel requested by manager: wrong build" in running.log
    assert running.smoke_result["error"] == "cancelled"
    assert rollback.build == good
    assert rollback.reason == "cancelled by release staff after the switch"
    assert rules.current_deployment(staging).build == good


@pytest.mark.django_db
def test_a_late_finish_never_revives_a_recovered_deployment():
    from releases.tasks import recover_stale_deployments

    staging = Environment.objects.get(slug="staging")
    actor = Actor(user=manager())
    presumed_dead, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(5), reason="a"
    )
    following, _ = rules.request_deployment(
        actor=actor, environment=staging, build=make_build(6), reason="b"
    )
    rules.start_next(staging)
    Deployment.objects.filter(pk=presumed_dead.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert recover_stale_deployments() == 1
    assert rules.start_next(staging).pk == following.pk
    # The worker that was presumed dead reports at last.
    late = rules.finish(deployment=presumed_dead, succeeded=True, smoke={"passed": True})
    assert late.late_result and late.status == S.FAILED
    assert "late success report was ignored" in late.log
    assert Deployment.objects.get(pk=following.pk).status == S.RUNNING
    assert rules.current_deployment(staging) is None


@pytest.mark.django_db
def test_a_finished_deployment_cannot_be_cancelled_and_changes_nothing():
    staging = Environment.objects.get(slug="staging")
    done = deployed(staging, make_build(7))
    with pytest.raises(rules.Refused) as refused:
        rules.cancel(actor=Actor(user=manager()), deployment=done)
    assert refused.value.code == "cannot_cancel"
    done.refresh_from_db()
    assert (done.status, done.cancel_requested_at) == (S.SUCCEEDED, None)
