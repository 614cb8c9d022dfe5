"""Backups of an environment's database, taken by the worker: before a deployment changes it
(`Environment.backup_before_deploy`) and daily at `Environment.backup_time` (UTC)."""

import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.settings.database import database_from_url
from config.settings.secret_files import read_secret
from core import backups as dumps
from core.backups import BackupError
from notifications import events
from releases.models import Backup, Deployment, Environment

__all__ = ["BackupError", "database_config", "take", "claim_due", "run_claimed", "health"]


def database_config(environment: Environment) -> dict:
    """The environment's DATABASES entry for pg_dump: its DATABASE_DIRECT_URL when it has one
    (a dump is one long session, which a transaction-mode pooler does not keep), else its
    DATABASE_URL — as its containers get them: the worker's variable named in
    deploy_settings.secret_env, or a plain deploy_settings.env value."""
    deploy_settings = environment.deploy_settings or {}
    secret_env = deploy_settings.get("secret_env") or {}
    plain_env = deploy_settings.get("env") or {}
    for key in ("DATABASE_DIRECT_URL", "DATABASE_URL"):
        variable = secret_env.get(key)
        if variable:
            try:
                url = read_secret(variable)
            except OSError as error:
                raise BackupError(f"the worker cannot read {variable}_FILE: {error.strerror}")
            if not url:
                raise BackupError(f"the worker has no {variable} in its environment ({key})")
            break
        if plain_env.get(key):
            url = plain_env[key]
            break
    else:
        raise BackupError(
            f"{environment.name} has no DATABASE_URL in its deploy settings (secret_env or env)"
        )
    try:
        return database_from_url(url, conn_max_age=0, base_dir=settings.BASE_DIR)
    except ImproperlyConfigured as error:
        raise BackupError(str(error))


def runs_a_database(environment: Environment) -> bool:
    """Whether there is a database to back up: every real backend has one; the noop backend
    (the demo) only when its settings name a DATABASE_URL."""
    deploy_settings = environment.deploy_settings or {}
    named = (deploy_settings.get("secret_env") or {}).get("DATABASE_URL") or (
        deploy_settings.get("env") or {}
    ).get("DATABASE_URL")
    return environment.deploy_backend != "noop" or bool(named)


def _running_version(environment: Environment) -> str:
    from releases.deployments import current_deployment

    current = current_deployment(environment)
    return current.build.tag[:12] if current else "none"


def take(environment: Environment, *, trigger: str, deployment=None, log=print, row=None):
    """Back up the environment's database now; the Backup row says how it went. Raises
    BackupError (after recording it) when it fails."""
    row = row or Backup.objects.create(environment=environment, trigger=trigger)
    try:
        manifest = dumps.create_backup(
            database_config(environment),
            environment=environment.slug,
            version=_running_version(environment),
            say=log,
        )
        dumps.apply_retention(
            environment.slug,
            keep=settings.BACKUP_KEEP,
            max_age_days=settings.BACKUP_MAX_AGE_DAYS,
            say=log,
        )
    except BackupError as error:
        _failed(row, str(error))
        raise
    except Exception as error:  # a storage or driver failure is a failed backup too
        _failed(row, repr(error))
        raise BackupError(f"backup crashed: {error!r}") from error
    Backup.objects.filter(pk=row.pk).update(
        succeeded=True,
        name=manifest.name,
        size=manifest.size,
        sha256=manifest.sha256,
        finished_at=timezone.now(),
    )
    if deployment is not None:
        Deployment.objects.filter(pk=deployment.pk).update(backup=row)
    row.refresh_from_db()
    return row


def _failed(row: Backup, error: str) -> None:
    """Record a failed backup and tell whoever listens (backup.failed)."""
    now = timezone.now()
    with transaction.atomic():
        Backup.objects.filter(pk=row.pk).update(error=error, finished_at=now)
        events.emit(
            "backup.failed",
            {
                "backup": {
                    "id": row.pk,
                    "trigger": row.trigger,
                    "started_at": events.iso(row.started_at),
                    "finished_at": events.iso(now),
                    "error": error[:1000],
                    "url": events.absolute(reverse("admin:releases_backup_change", args=[row.pk])),
                },
                "environment": events.environment_data(row.environment),
            },
        )


def scheduled_moment(environment: Environment, now: datetime.datetime):
    """Today's backup time (UTC) for the environment, or None when none is scheduled."""
    try:
        hour, minute = (int(part) for part in environment.backup_time.split(":"))
        return now.astimezone(datetime.UTC).replace(
            hour=hour, minute=minute, second=0, microsecond=0
        )
    except ValueError:
        return None


def claim_due(now=None) -> list[int]:
    """Claim today's scheduled backup of every environment whose time has come and that has
    none yet (a Backup row is the claim: several workers never take it twice)."""
    now = now or timezone.now()
    claimed = []
    for environment_id in Environment.objects.exclude(backup_time="").values_list("pk", flat=True):
        with transaction.atomic():
            environment = (
                Environment.objects.select_for_update(skip_locked=True)
                .filter(pk=environment_id)
                .first()
            )
            if environment is None or not runs_a_database(environment):
                continue
            moment = scheduled_moment(environment, now)
            if moment is None or now < moment:
                continue
            if environment.backups.filter(
                trigger=Backup.Trigger.SCHEDULE, started_at__gte=moment
            ).exists():
                continue
            claimed.append(
                Backup.objects.create(
                    environment=environment, trigger=Backup.Trigger.SCHEDULE, started_at=now
                ).pk
            )
    return claimed


def run_claimed(backup_id: int) -> Backup:
    row = Backup.objects.select_related("environment").get(pk=backup_id)
    try:
        return take(row.environment, trigger=row.trigger, row=row, log=lambda line: None)
    except BackupError:
        row.refresh_from_db()
        return row


def health(environment: Environment, now=None) -> dict:
    """The environment's last backup for the Releases page: name, age, and a warning when it
    is older than its policy or the last attempt failed."""
    now = now or timezone.now()
    last_good = environment.backups.filter(succeeded=True).first()
    last_attempt = environment.backups.first()
    expected = environment.backup_before_deploy or bool(environment.backup_time)
    warning = ""
    if last_attempt is not None and last_attempt.finished_at and not last_attempt.succeeded:
        warning = f"last backup failed: {last_attempt.error[:200]}"
    elif expected and last_good is None:
        warning = "no backup yet"
    elif last_good is not None and now - last_good.started_at > datetime.timedelta(
        hours=environment.backup_max_age_hours
    ):
        warning = f"older than {environment.backup_max_age_hours} h"
    return {
        "last": last_good,
        "age": (now - last_good.started_at) if last_good else None,
        "warning": warning if (expected or last_attempt) else "",
    }
