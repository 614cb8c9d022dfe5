"""Migrations started at once apply once, through a real PgBouncer in transaction mode (what
NeonDB's pooled endpoint gives), and leave no lock behind; with DATABASE_DIRECT_URL the
session lock is taken on the direct connection instead."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support.processes import PROJECT_ROOT, clean_environment

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "lawvriksh_migration_lock"
MIGRATORS = 3


@pytest.fixture
def fresh_database():
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    yield DATABASE
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def migrate(**env_overrides) -> subprocess.CompletedProcess:
    env = clean_environment(DJANGO_SETTINGS_MODULE="config.settings.test", **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "prepare_database", "--migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def migrate_at_once(**env_overrides) -> list[subprocess.CompletedProcess]:
    with ThreadPoolExecutor(MIGRATORS) as pool:
        return list(pool.map(lambda _: migrate(**env_overrides), range(MIGRATORS)))


def advisory_locks() -> int:
    with psycopg.connect(ADMIN_URL) as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        ).fetchone()[0]


def applied_rows(database: str) -> tuple[int, int]:
    """(rows in django_migrations, distinct (app, name)): equal when each applied once."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as db:
        return db.execute(
            "SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations"
        ).fetchone()


def assert_applied_once(results, database):
    for result in results:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    appliers = [r for r in results if "Applying " in r.stdout]
    assert len(appliers) == 1, [r.stdout[-300:] for r in results]
    others = [r for r in results if r is not appliers[0]]
    assert all("No migrations to apply" in r.stdout for r in others)
    total, distinct = applied_rows(database)
    assert total == distinct > 50
    assert advisory_locks() == 0  # nothing left behind


def test_concurrent_migrations_through_a_transaction_pooler_apply_once(pgbouncer, fresh_database):
    pooled = f"postgres://postgres@127.0.0.1:{pgbouncer}/{fresh_database}"
    assert_applied_once(migrate_at_once(DATABASE_URL=pooled), fresh_database)
    # And the next release's migration step does not hang on a leftover lock.
    again = migrate(DATABASE_URL=pooled)
    assert again.returncode == 0 and "No migrations to apply" in again.stdout


def test_with_a_direct_url_the_lock_is_taken_on_the_direct_connection(pgbouncer, fresh_database):
    pooled = f"postgres://postgres@127.0.0.1:{pgbouncer}/{fresh_database}"
    direct = f"postgres://postgres@127.0.0.1:5432/{fresh_database}"
    results = migrate_at_once(DATABASE_URL=pooled, DATABASE_DIRECT_URL=direct)
    assert_applied_once(results, fresh_database)
    assert all("migrating over DATABASE_DIRECT_URL" in r.stdout for r in results)


@pytest.mark.django_db
def test_a_non_atomic_migration_is_refused_through_a_pooler(monkeypatch, settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db.migrations.executor import MigrationExecutor

    class ConcurrentIndex:
        app_label, name, atomic = "blog", "9999_concurrent_index", False

    settings.DATABASE_DIRECT_URL = ""
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [(ConcurrentIndex(), False)]
    )
    with pytest.raises(CommandError, match="blog.9999_concurrent_index cannot run inside"):
        call_command("prepare_database", "--migrate", "--timeout", "5")
