"""The worker backs up an environment's database (real PostgreSQL, real pg_dump): before a
promotion changes it, and daily on schedule (claimed once across several connections); a
failed backup stops the promotion before anything changes; the Releases page shows it."""

import datetime
import threading

import pytest
import time_machine
from rest_framework.test import APIClient
from django.db import connection
from django.urls import reverse

from core import backups as dumps
from notifications.models import Event
from releases import backups, tasks
from releases.models import Backup, Deployment, DeploymentStatus, Environment
from releases.services import Actor
from releases import deployments as rules
from tests.releases.test_deployment_rules import approver, deployed, make_build, manager
from tests.releases.test_worker_recovery import database_url

S = DeploymentStatus
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production(monkeypatch):
    """Production (backup first: on by default) whose database is the test database; the
    noop backend records the switch, so nothing but the backup touches a real part."""
    monkeypatch.setenv("PRODUCTION_DATABASE_URL", database_url())
    environment = Environment.objects.get(slug="production")
    assert environment.backup_before_deploy, "production backs up first by default"
    environment.deploy_settings = {"secret_env": {"DATABASE_URL": "PRODUCTION_DATABASE_URL"}}
    environment.save()
    return environment


def promote(build, environment) -> Deployment:
    """Ask, approve, and let the worker run the queue (in this process)."""
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=environment, build=build, reason="release"
    )
    if deployment.status == S.AWAITING_APPROVAL:
        rules.decide(actor=Actor(user=approver()), deployment=deployment, approve=True)
    tasks.run_environment_queue.call(environment.pk)
    deployment.refresh_from_db()
    return deployment


def test_a_promotion_to_production_backs_up_first_and_names_the_backup(backup_dir, production):
    staging = Environment.objects.get(slug="staging")
    old, new = make_build(1), make_build(2)
    deployed(staging, old)
    deployed(production, old)
    deployed(staging, new)

    deployment = promote(new, production)

    assert deployment.status == S.SUCCEEDED, deployment.log
    backup = deployment.backup
    assert backup is not None and backup.succeeded and backup.trigger == "deployment"
    assert backup.name.endswith(f"_production_{old.tag[:12]}")  # the data of the old release
    assert (backup_dir / f"{backup.name}.dump").stat().st_size == backup.size
    manifest = dumps.read_manifest(backup.name)
    assert manifest.sha256 == backup.sha256
    assert manifest.tables["releases_deployment"]["rows"] >= 3
    lines = deployment.log.splitlines()
    named = next(
        i
        for i, line in enumerate(lines)
        if f"backup before this deployment: {backup.name}" in line
    )
    switched = next(i for i, line in enumerate(lines) if "noop" in line)
    assert named < switched, deployment.log
    # The API names it too.
    client = APIClient()
    client.force_authenticate(manager())
    answer = client.get(f"/api/v1/releases/deployments/{deployment.pk}/").json()
    assert answer["backup"] == backup.name


def test_a_failed_backup_stops_the_promotion_before_anything_changes(
    backup_dir, production, monkeypatch
):
    staging = Environment.objects.get(slug="staging")
    old, new = make_build(1), make_build(2)
    deployed(staging, old)
    running = deployed(production, old)
    deployed(staging, new)
    # A database that does not exist: pg_dump cannot connect.
    monkeypatch.setenv("PRODUCTION_DATABASE_URL", database_url() + "_missing")

    deployment = promote(new, production)

    assert deployment.status == S.FAILED
    assert "backup failed:" in deployment.log
    assert "stopped before anything changed" in deployment.log
    assert "noop" not in deployment.log  # the backend was never called
    assert rules.current_deployment(production) == running
    # No automatic rollback: nothing changed, so there is nothing to undo.
    assert not production.deployments.filter(kind="rollback").exists()
    failed = Backup.objects.get()
    assert not failed.succeeded and failed.finished_at
    assert "cannot connect" in failed.error and "_missing" in failed.error
    assert deployment.backup is None
    assert not backup_dir.exists() or not any(backup_dir.iterdir())
    # Whoever listens hears of it: backup.failed, then the deployment's own failure.
    told = Event.objects.get(type="backup.failed").data
    assert told["backup"]["id"] == failed.pk and "cannot connect" in told["backup"]["error"]
    assert told["environment"]["slug"] == "production"
    assert Event.objects.filter(type="deployment.failed").exists()


def test_rollbacks_do_not_wait_for_a_backup(backup_dir, production):
    staging = Environment.objects.get(slug="staging")
    old, new = make_build(1), make_build(2)
    for build in (old, new):
        deployed(staging, build)
        deployed(production, build)
    deployment = rules.rollback(
        actor=Actor(user=manager()), environment=production, build=old, reason="bad release"
    )
    tasks.run_environment_queue.call(production.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.SUCCEEDED, deployment.log
    assert "backup" not in deployment.log and not Backup.objects.exists()


def test_the_daily_backup_is_claimed_once_and_taken(backup_dir, production):
    production.backup_time = "03:00"
    production.save()
    day = datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)
    assert backups.claim_due(day.replace(hour=2, minute=59)) == []
    [claimed] = backups.claim_due(day.replace(hour=3, minute=1))
    assert backups.claim_due(day.replace(hour=3, minute=2)) == []  # today's is taken

    assert tasks.take_scheduled_backup.call(claimed) is True
    backup = Backup.objects.get(pk=claimed)
    assert backup.trigger == "schedule" and backup.succeeded and backup.name
    assert [m.name for m in dumps.list_backups("production")] == [backup.name]
    # The next day's comes due again.
    assert len(backups.claim_due(day + datetime.timedelta(days=1, hours=3, minutes=5))) == 1


def test_several_workers_claim_a_scheduled_backup_once(production):
    production.backup_time = "03:00"
    production.save()
    when = datetime.datetime(2026, 11, 30, 3, 30, tzinfo=datetime.UTC)
    start = threading.Barrier(4)
    claimed, errors = [], []

    def worker():
        try:
            start.wait()
            claimed.extend(backups.claim_due(when))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == 1
    assert Backup.objects.filter(trigger="schedule").count() == 1


def test_the_releases_page_shows_the_last_backup_and_warns(backup_dir, production, admin_client):
    production.backup_time = "03:00"
    production.save()
    page = admin_client.get(reverse("admin:releases_dashboard")).content.decode()
    assert "Backup: no backup yet" in page

    with time_machine.travel(datetime.datetime(2026, 11, 28, 3, 0, tzinfo=datetime.UTC)):
        taken = backups.take(production, trigger="schedule")
    with time_machine.travel(datetime.datetime(2026, 11, 29, 3, 0, tzinfo=datetime.UTC)):
        page = admin_client.get(reverse("admin:releases_dashboard")).content.decode()
        assert taken.name in page and "Backup: " not in page
    with time_machine.travel(datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.UTC)):
        page = admin_client.get(reverse("admin:releases_dashboard")).content.decode()
        assert "Backup: older than 26 h" in page

    Backup.objects.create(
        environment=production,
        trigger="schedule",
        finished_at=datetime.datetime.now(datetime.UTC),
        error="pg_dump failed: disk full",
    )
    page = admin_client.get(reverse("admin:releases_dashboard")).content.decode()
    assert "Backup: last backup failed: pg_dump failed: disk full" in page


def test_a_bad_backup_time_is_refused_with_a_message(production):
    from django.core.exceptions import ValidationError

    production.backup_time = "25:99"
    with pytest.raises(ValidationError) as refused:
        production.full_clean()
    assert "HH:MM" in str(refused.value)


def test_backups_use_the_direct_url_when_the_environment_has_one(production, monkeypatch):
    monkeypatch.setenv("PRODUCTION_DIRECT_URL", "postgres://u@direct.example:5432/blog")
    production.deploy_settings = {
        "secret_env": {
            "DATABASE_URL": "PRODUCTION_DATABASE_URL",
            "DATABASE_DIRECT_URL": "PRODUCTION_DIRECT_URL",
        }
    }
    assert backups.database_config(production)["HOST"] == "direct.example"
    production.deploy_settings = {"secret_env": {"DATABASE_URL": "PRODUCTION_DATABASE_URL"}}
    assert backups.database_config(production)["NAME"] == connection.settings_dict["NAME"]
    production.deploy_settings = {"secret_env": {"DATABASE_URL": "NOT_SET_ANYWHERE"}}
    with pytest.raises(backups.BackupError, match="no NOT_SET_ANYWHERE"):
        backups.database_config(production)
    production.deploy_settings = {}
    with pytest.raises(backups.BackupError, match="no DATABASE_URL"):
        backups.database_config(production)
