"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators."""

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Migrations never un-apply under a running process, so a positive answer is kept.
_migrations_known_applied = False


def unapplied_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Names of migrations the database has not applied yet."""
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


_code_migrations: tuple[set, set] | None = None


def _known_to_this_code() -> tuple[set, set]:
    """(apps with migrations, every (app, name) this code knows, squashed-away ones included);
    read from disk once: the code of a process never changes."""
    global _code_migrations
    if _code_migrations is None:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        known = set(loader.disk_migrations)
        for migration in loader.disk_migrations.values():
            known.update(migration.replaces)
        _code_migrations = ({app for app, _ in known}, known)
    return _code_migrations


def migrations_ahead(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Migrations the database has applied that this code does not know: a newer release
    migrated it (e.g. before its switch, or this is a rollback across a migration)."""
    apps, known = _known_to_this_code()
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = cursor.fetchall()
    return sorted(
        f"{app}.{name}" for app, name in applied if app in apps and (app, name) not in known
    )


@never_cache
@require_safe
def healthz(request):
    """The process is alive and serving; never touches the database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Ready for traffic: the database answers and every migration of this code is applied
    (else 503, "behind"); a schema *ahead* of the code (migrations it does not know) is
    reported as such, still 200."""
    global _migrations_known_applied
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver failure means "not ready", never a 500
        logger.warning("readyz: database unreachable: %s", error)
        return JsonResponse(
            {"status": "unavailable", "reason": "database unreachable"}, status=503
        )
    if not _migrations_known_applied:
        try:
            pending = unapplied_migrations()
        except Exception as error:
            logger.warning("readyz: cannot read migration state: %s", error)
            return JsonResponse(
                {"status": "unavailable", "reason": "migration state unreadable"},
                status=503,
            )
        if pending:
            return JsonResponse(
                {
                    "status": "unavailable",
                    "reason": "unapplied migrations",
                    "migrations": "behind",
                    "unapplied": pending,
                },
                status=503,
            )
        _migrations_known_applied = True
    try:
        ahead = migrations_ahead()
    except Exception as error:
        logger.warning("readyz: cannot read applied migrations: %s", error)
        return JsonResponse(
            {"status": "unavailable", "reason": "migration state unreadable"}, status=503
        )
    if ahead:
        # Still ready: with expand/contract, the previous release keeps serving a schema its
        # successor has expanded. Whether that is safe is decided before a rollback, not here.
        return JsonResponse(
            {"status": "ok", "database": "ok", "migrations": "ahead", "unknown_migrations": ahead}
        )
    return JsonResponse({"status": "ok", "database": "ok", "migrations": "applied"})
