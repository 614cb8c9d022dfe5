"""The worker's upkeep beside django-tasks-db's loop: its heartbeat (a row and a file), and
recovery of what a dead worker left behind, at start and then on a timer.

Nobody has to act for a crashed worker's deployment to be failed and the queue behind it to
run: every live worker does it within about RELEASES_HEARTBEAT_TIMEOUT.
"""

import datetime
import logging
import os
import socket
import threading
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from releases import backups, deployments
from releases.models import Deployment, DeploymentStatus, WorkerHeartbeat
from releases.tasks import (
    recover_stale_deployments,
    run_environment_queue,
    take_scheduled_backup,
)

logger = logging.getLogger(__name__)
TASK_RUNNING = "RUNNING"


class WorkerLost(Exception):
    """Recorded on a task row whose worker stopped heartbeating (killed, OOM, host lost)."""


def heartbeat_file() -> Path | None:
    path = os.environ.get("WORKER_HEARTBEAT_FILE", "")
    return Path(path) if path else None


def _cutoff(now):
    return now - datetime.timedelta(seconds=settings.RELEASES_HEARTBEAT_TIMEOUT)


def fail_orphaned_tasks(now=None) -> int:
    """Task rows left RUNNING by a worker that no longer heartbeats are marked failed."""
    now = now or timezone.now()
    cutoff = _cutoff(now)
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    failed = 0
    with transaction.atomic():
        running = DBTaskResult.objects.select_for_update(skip_locked=True).filter(
            status=TASK_RUNNING, started_at__lt=cutoff
        )
        for task_result in running:
            worker = (task_result.worker_ids or ["?"])[-1]
            if worker in alive:
                continue
            task_result.set_failed(WorkerLost(f"worker {worker} stopped heartbeating"))
            failed += 1
    return failed


def wake_stalled_queues() -> int:
    """Environments with queued deployments but no task waiting or running get one."""
    queued = set(
        Deployment.objects.filter(status=DeploymentStatus.QUEUED).values_list(
            "environment_id", flat=True
        )
    )
    woken = 0
    for environment_id in queued:
        pending = DBTaskResult.objects.filter(
            status__in=("READY", TASK_RUNNING),
            task_path=run_environment_queue.module_path,
            args_kwargs__args=[environment_id],
        ).exists()
        if not pending:
            run_environment_queue.enqueue(environment_id)
            woken += 1
    return woken


class Upkeep:
    """One worker's heartbeat and recovery loop, on a thread of its own."""

    def __init__(self, worker_id: str, interval: float | None = None):
        self.worker_id = worker_id
        self.interval = interval or settings.RELEASES_WORKER_TICK
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="worker-upkeep", daemon=True)

    def tick(self) -> dict:
        """Beat, then recover: dead workers' deployments and task rows, lapsed approvals,
        queues nobody is working on. The heartbeat file is written last, so it says the
        worker reached its database."""
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "release": settings.GIT_SHA or "",
                "started_at": self.started_at,
                "seen_at": now,
            },
        )
        done = {
            "deployments_recovered": recover_stale_deployments(now),
            "tasks_failed": fail_orphaned_tasks(now),
            "approvals_lapsed": deployments.lapse_expired_approvals(now),
            "approvals_reminded": deployments.remind_expiring_approvals(now),
            "queues_woken": wake_stalled_queues(),
            "backups_started": self.start_due_backups(now),
        }
        WorkerHeartbeat.objects.filter(seen_at__lt=now - datetime.timedelta(days=1)).delete()
        path = heartbeat_file()
        if path is not None:
            path.write_text(f"{self.worker_id} {now.isoformat()}\n")
        if any(done.values()):
            logger.warning("worker upkeep: %s", done)
        return done

    @staticmethod
    def start_due_backups(now) -> int:
        """Scheduled backups whose time has come: claimed here, taken by a task."""
        claimed = backups.claim_due(now)
        for backup_id in claimed:
            take_scheduled_backup.enqueue(backup_id)
        return len(claimed)

    def start(self, background: bool = True) -> None:
        self.tick()  # recovery at start, before the first task is taken
        if background:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                close_old_connections()
                self.tick()
            except Exception:  # the database may be away a while; try again next tick
                logger.exception("worker upkeep failed; retrying in %ss", self.interval)
            finally:
                connection.close()
