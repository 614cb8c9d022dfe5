"""A queued deployment wakes a listening worker at once (PostgreSQL LISTEN/NOTIFY), however
long the worker's poll interval: a real `manage.py db_worker` polling every 10 minutes."""

import contextlib

import psycopg
import pytest
from django.db import connection, transaction

from releases import deployments as rules
from releases import tasks
from releases.models import DeploymentStatus, Environment
from releases.services import Actor
from releases.wake import CHANNEL
from tests.releases.test_deployment_rules import make_build, manager
from tests.releases.test_worker_recovery import SIGNAL_WAIT, wait_for, worker_process

# Far longer than SIGNAL_WAIT: a deployment that waited for the poll would fail the test.
POLL_INTERVAL = 600


@contextlib.contextmanager
def Listener():
    """A separate connection LISTENing on the worker's channel, as the worker's does."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        yield listening


def listener_connected() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query = %s",
            [f"LISTEN {CHANNEL}"],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_each_queued_deployment_starts_without_waiting_for_the_poll():
    staging = Environment.objects.get(slug="staging")
    actor = Actor(user=manager())
    with worker_process("listening-worker", interval=POLL_INTERVAL) as worker:
        wait_for("the worker's LISTEN connection", listener_connected, worker)
        # One after the other: each is requested while the worker sleeps on its poll.
        for number in range(1, 4):
            deployment, _ = rules.request_deployment(
                actor=actor, environment=staging, build=make_build(number), reason="wake"
            )

            def succeeded(deployment=deployment):
                deployment.refresh_from_db()
                return deployment.status == DeploymentStatus.SUCCEEDED

            wait_for(f"deployment {number} succeeding", succeeded, worker)


@pytest.mark.django_db(transaction=True)
def test_the_wake_up_is_sent_at_commit_and_never_for_a_rolled_back_enqueue():
    staging = Environment.objects.get(slug="staging")
    with Listener() as listen:
        with pytest.raises(RuntimeError), transaction.atomic():
            dropped = tasks.run_environment_queue.enqueue(staging.pk)
            raise RuntimeError("the request failed after enqueueing")
        kept = tasks.run_environment_queue.enqueue(staging.pk)
        # Notifications arrive in commit order: had the rolled-back one been sent, it
        # would be first.
        first = next(listen.notifies(timeout=SIGNAL_WAIT, stop_after=1))
    assert first.payload == str(kept.id) != str(dropped.id)
