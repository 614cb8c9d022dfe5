"""The deployment worker: a django.tasks task run by `manage.py db_worker` (django-tasks-db).

It starts an environment's queued deployments one at a time (releases.deployments decides
which), applies them through the environment's backend, runs the smoke tests, and on a
failure rolls back to the last good build automatically. Running deployments carry a
heartbeat; one whose heartbeat is stale (a worker died) is marked failed first.
"""

import datetime
import logging
import threading

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.tasks import task
from django.utils import timezone

from core.request_id import DEPLOYMENT_ID, REQUEST_ID
from notifications import events
from releases import backups, deployments, schema, verification
from releases.backends import BackendError, backend_for
from releases.models import Deployment, DeploymentKind, DeploymentStatus, Environment
from releases.services import Actor
from releases.smoke import run_smoke_tests

logger = logging.getLogger(__name__)
WORKER = Actor(oidc_subject="deployment worker", system=True)


def enqueue_after_commit(environment_id: int) -> None:
    """Ask a worker to look at this environment's queue once the transaction commits."""
    transaction.on_commit(lambda: run_environment_queue.enqueue(environment_id))


@task()
def run_environment_queue(environment_id: int) -> int:
    """Run queued deployments of one environment until its queue is empty; how many ran."""
    recover_stale_deployments()
    deployments.lapse_expired_approvals()
    environment = Environment.objects.get(pk=environment_id)
    ran = 0
    while (deployment := deployments.start_next(environment)) is not None:
        execute(deployment)
        ran += 1
    return ran


@task()
def take_scheduled_backup(backup_id: int) -> bool:
    """Take a scheduled backup the upkeep claimed; whether it succeeded (the row says why)."""
    return backups.run_claimed(backup_id).succeeded


def backup_first(deployment: Deployment) -> bool:
    """The environment's backup before this deployment changes anything, when it asks for
    one (rollbacks do not wait for it: they undo; unless they unapply migrations, which
    loses data). False when the backup failed."""
    environment = deployment.environment
    plain_rollback = (
        deployment.kind == DeploymentKind.ROLLBACK and not deployment.reverse_migrations
    )
    if not environment.backup_before_deploy or plain_rollback:
        return True
    if not backups.runs_a_database(environment):
        _log(deployment, "backup: skipped (the noop backend names no DATABASE_URL)")
        return True
    try:
        taken = backups.take(
            environment,
            trigger="deployment",
            deployment=deployment,
            log=lambda line: _log(deployment, line),
        )
    except backups.BackupError as error:
        _log(deployment, f"backup failed: {error}")
        _log(deployment, "stopped before anything changed: the running release keeps serving")
        return False
    _log(deployment, f"backup before this deployment: {taken.name}")
    return True


def migrate_first(deployment: Deployment, cancelled: threading.Event) -> bool:
    """The new image's migrations, once, before any traffic moves; a rollback migrates only
    to unapply the newer migrations it was asked to reverse (from the image that applied
    them). False when that failed: the running release keeps serving."""
    environment = deployment.environment
    changes = deployment.migration_changes or {}
    rollback = deployment.kind == DeploymentKind.ROLLBACK
    if rollback and not deployment.reverse_migrations:
        _log_left_behind(deployment, changes)
        return True
    if not environment.deploy_settings.get("migrate", True):
        _log(deployment, "migrate: off for this environment (deploy setting migrate=false)")
        return True
    options = {}
    if rollback:
        options = {
            "image": schema.image_knowing(environment, changes["leave_behind"]),
            "targets": schema.reverse_targets(deployment.build, changes["leave_behind"]),
        }
    elif changes.get("known"):
        _log(deployment, f"migrate: {len(changes['apply'])} new migration(s) in this build")
        for entry in changes["apply"]:
            compatible = "backward compatible" if entry["backward_compatible"] else "INCOMPATIBLE"
            _log(deployment, f"migrate: {schema.label(entry)}: {compatible}")
        if deployment.migrations_acknowledged:
            _log(deployment, f"migrate: acknowledged: {deployment.migrations_acknowledged}")
    try:
        backend = backend_for(environment)
        backend.cancelled = cancelled.is_set
        backend.migrate(
            deployment,
            log=lambda line: _log(deployment, line),
            timeout=float(environment.deploy_settings.get("migrate_timeout", 600)),
            **options,
        )
    except BackendError as error:
        _log(deployment, str(error))
        _log(deployment, "stopped before the switch: the running release keeps serving")
        return False
    if rollback:
        schema.record_reversed(environment, changes["leave_behind"])
    else:
        schema.record_applied(environment, deployment.build)
    return True


def _log_left_behind(deployment: Deployment, changes: dict) -> None:
    """A rollback leaves newer migrations applied: the log says which and why that is safe."""
    behind = changes.get("leave_behind") or []
    if not changes.get("known"):
        _log(deployment, f"migrations: not checked ({changes.get('why', 'no plan')})")
    elif not behind:
        _log(deployment, "migrations: none newer than this build are applied here")
    elif not schema.incompatible(behind):
        names = ", ".join(map(schema.label, behind))
        _log(deployment, f"migrations left applied, all backward compatible: {names}")
    else:
        names = ", ".join(map(schema.label, schema.incompatible(behind)))
        _log(
            deployment,
            f"migrations left applied that this build may not work with: {names} "
            f"(acknowledged: {deployment.migrations_acknowledged})",
        )


class Cancelled(BackendError):
    """Release staff cancelled the running deployment."""


def _log(deployment: Deployment, line: str) -> None:
    logger.info(line, extra={"deployment_id": deployment.pk})
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    deployment.log += f"{stamp} {line}\n"
    # Appended in SQL: a line written meanwhile (a cancel request) is never overwritten.
    Deployment.objects.filter(pk=deployment.pk).update(
        log=Concat(F("log"), Value(f"{stamp} {line}\n")), heartbeat_at=timezone.now()
    )


class KeepAlive:
    """While the backend works (pulls, health waits, smoke tests), refresh the deployment's
    heartbeat on a thread of its own and notice a cancel request."""

    def __init__(self, deployment_id: int):
        self.deployment_id = deployment_id
        self.interval = min(5.0, max(0.5, settings.RELEASES_HEARTBEAT_TIMEOUT / 6))
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deployment-heartbeat")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def beat(self) -> None:
        with transaction.atomic():
            # skip_locked: a state change holding the row is never waited on here.
            row = (
                Deployment.objects.select_for_update(skip_locked=True)
                .filter(pk=self.deployment_id, status=DeploymentStatus.RUNNING)
                .values_list("pk", "cancel_requested_at")
                .first()
            )
            if row is None:
                return  # finished, or locked by a state change right now
            Deployment.objects.filter(pk=self.deployment_id).update(heartbeat_at=timezone.now())
        if row[1] is not None:
            self.cancelled.set()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a lost connection: the next beat tries again
                    logger.exception("heartbeat of deployment %s failed", self.deployment_id)
                    connection.close()
        finally:
            connection.close()


def execute(deployment: Deployment) -> Deployment:
    """Apply one running deployment, smoke-test it, finish it (and roll back on failure).
    Its log lines also go to the worker's log, with the request id that asked for it."""
    request_token = REQUEST_ID.set(deployment.request_id or f"deployment-{deployment.pk}")
    deployment_token = DEPLOYMENT_ID.set(deployment.pk)
    try:
        with KeepAlive(deployment.pk) as keep_alive:
            return _execute(deployment, keep_alive.cancelled)
    finally:
        DEPLOYMENT_ID.reset(deployment_token)
        REQUEST_ID.reset(request_token)


def _execute(deployment: Deployment, cancelled: threading.Event) -> Deployment:
    environment = deployment.environment
    smoke = None
    switched = False
    if not backup_first(deployment):
        return deployments.finish(deployment=deployment, succeeded=False)
    if not migrate_first(deployment, cancelled):
        return deployments.finish(deployment=deployment, succeeded=False)
    before = verification.baseline(environment, lambda line: _log(deployment, line))
    try:
        backend = backend_for(environment)
        backend.cancelled = cancelled.is_set
        backend.deploy(
            deployment,
            log=lambda line: _log(deployment, line),
            health_timeout=environment.deploy_settings.get(
                "health_timeout", settings.RELEASES_HEALTH_TIMEOUT
            ),
        )
        switched = True
        if cancelled.is_set():
            raise Cancelled("cancelled after the switch: going back to the previous release")
        if environment.base_url:
            check_commit = environment.deploy_settings.get("check_commit", True)
            smoke = run_smoke_tests(
                environment.base_url,
                expected_commit=deployment.build.commit_sha if check_commit else None,
                extra_paths=[tuple(p) for p in environment.deploy_settings.get("smoke_paths", [])],
                attempts=settings.RELEASES_SMOKE_ATTEMPTS,
                backoff=settings.RELEASES_SMOKE_BACKOFF,
                overall_timeout=settings.RELEASES_SMOKE_TIMEOUT,
                cancelled=cancelled,
            )
        else:
            smoke = {"passed": True, "checks": [], "error": "", "skipped": "no base URL"}
        _log(
            deployment, f"smoke tests {'passed' if smoke['passed'] else 'failed'} {smoke['error']}"
        )
        succeeded = smoke["passed"] and not cancelled.is_set()
        if succeeded and environment.base_url and _bakes(deployment):
            verdict = verification.verify(
                environment, before, lambda line: _log(deployment, line), cancelled
            )
            Deployment.objects.filter(pk=deployment.pk).update(verification=verdict)
            if not verdict["passed"]:
                smoke = {**smoke, "error": f"verification failed: {verdict['reason']}"}
                notify_verification_failed(deployment, verdict)
            succeeded = verdict["passed"] and not cancelled.is_set()
    except BackendError as error:
        _log(deployment, f"backend error: {error}")
        succeeded = False
    except Exception as error:  # never leave a deployment running; the log says why
        logger.exception("deployment %s crashed", deployment.pk)
        _log(deployment, f"worker error: {error!r}")
        succeeded = False
    finished = deployments.finish(deployment=deployment, succeeded=succeeded, smoke=smoke)
    if finished.late_result:
        return finished  # someone else decided meanwhile (recovered as failed): leave it
    cancelled_here = finished.status == DeploymentStatus.CANCELLED
    if cancelled_here and not switched:
        _log(finished, "cancelled: what was started is removed; the previous release serves")
        return finished
    if finished.status == DeploymentStatus.SUCCEEDED or deployment.kind == DeploymentKind.ROLLBACK:
        return finished
    # Back to what ran before this attempt: the environment's last good build.
    last_good = deployments.current_deployment(environment)
    if cancelled_here:
        why = "cancelled by release staff after the switch"
    elif (smoke or {}).get("error", "").startswith("verification failed"):
        why = smoke["error"]
    else:
        why = f"smoke tests failed: {(smoke or {}).get('error') or 'the deployment failed'}"
    if last_good is None or last_good.build_id == deployment.build_id:
        _log(finished, "no automatic rollback: no earlier good build here")
        return finished
    try:
        deployments.rollback(
            actor=WORKER, environment=environment, build=last_good.build, reason=why
        )
    except deployments.Refused as refused:
        _log(finished, f"no automatic rollback: {' '.join(refused.messages)}")
    return finished


def notify_verification_failed(deployment: Deployment, verdict: dict) -> None:
    deployment.refresh_from_db()
    events.emit(
        "verification.failed",
        {**events.deployment_data(deployment), "verification": verdict},
    )


def _bakes(deployment: Deployment) -> bool:
    """Whether this deployment is watched after its smoke tests: not a rollback (it returns
    to a build that served here, and is never rolled back itself)."""
    bake = verification.settings_of(deployment.environment)["bake_seconds"]
    if bake and deployment.kind == DeploymentKind.ROLLBACK:
        _log(deployment, "verification: skipped for a rollback")
        return False
    return bool(bake)


def recover_stale_deployments(now=None) -> int:
    """Mark running deployments without a recent heartbeat failed (their worker died)."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.RELEASES_HEARTBEAT_TIMEOUT)
    stale = Deployment.objects.filter(status=DeploymentStatus.RUNNING, heartbeat_at__lt=cutoff)
    recovered = 0
    for deployment in stale:
        _log(deployment, f"worker lost: no heartbeat since {deployment.heartbeat_at:%H:%M:%S}")
        deployments.finish(deployment=deployment, succeeded=False)
        recovered += 1
    return recovered
