"""A build's migration plan: every migration it knows, in order, each classified by
django-migration-linter as backward compatible with the code before it (or not) and
reversible (or not). Computed inside the image (`manage.py migration_plan`)."""

from django.db import connections
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django_migration_linter import MigrationLinter
from django_migration_linter.operations import IgnoreMigration
from django_migration_linter.sql_analyser import analyse_sql_statements

# The linter's warnings (index locks, naming conventions) never break the running code; its
# errors do (drops, renames, NOT NULL without a default, type changes, unique constraints).
PLAN_VERSION = 1


def _issue(issue) -> dict:
    found = {"code": issue.code, "message": issue.message}
    if getattr(issue, "table", None):
        found["table"] = issue.table
    if getattr(issue, "column", None):
        found["column"] = issue.column
    return found


def _sql(executor: MigrationExecutor, migration: Migration) -> list[str]:
    """The statements `sqlmigrate` would print (one loader for the whole plan, not one per
    migration as the linter's own `sqlmigrate` calls build)."""
    statements = executor.loader.collect_sql([(migration, False)])
    if migration.atomic and executor.connection.features.can_rollback_ddl:
        statements = ["BEGIN;", *statements, "COMMIT;"]
    return statements


def classify(linter: MigrationLinter, executor: MigrationExecutor, migration) -> dict:
    """One plan entry: the migration, whether the code before it keeps working once it is
    applied, and whether it can be unapplied."""
    entry = {
        "app": migration.app_label,
        "name": migration.name,
        "reversible": all(operation.reversible for operation in migration.operations),
    }
    if any(isinstance(operation, IgnoreMigration) for operation in migration.operations):
        entry.update(backward_compatible=True, issues=[], warnings=[], ignored=True)
        return entry
    errors, _ignored, warnings = analyse_sql_statements(
        linter.sql_analyser_class, _sql(executor, migration), linter.exclude_migration_tests
    )
    data_errors, _ignored, data_warnings = linter.analyse_data_migration(migration)
    errors, warnings = errors + data_errors, warnings + data_warnings
    entry.update(
        backward_compatible=not errors,
        issues=[_issue(issue) for issue in errors],
        warnings=[_issue(issue) for issue in warnings],
    )
    return entry


def migration_plan(database: str = "default") -> list[dict]:
    """Every migration of every installed app, in the order `migrate` applies them."""
    connection = connections[database]
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    linter = MigrationLinter(database=database, no_cache=True, no_output=True)
    ordered = executor.migration_plan(graph.leaf_nodes(), clean_start=True)
    return [classify(linter, executor, migration) for migration, _backwards in ordered]
