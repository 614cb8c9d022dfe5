"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators."""

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
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


@never_cache
@require_safe
def healthz(request):
    """The process is alive and serving; never touches the database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Ready for traffic: the database answers and every migration is applied; else 503."""
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
                    "unapplied": pending,
                },
                status=503,
            )
        _migrations_known_applied = True
    return JsonResponse({"status": "ok", "database": "ok", "migrations": "applied"})
