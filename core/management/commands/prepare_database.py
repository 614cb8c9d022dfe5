"""Wait until the database answers; optionally migrate under a lock that holds, pooler or not."""

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from config.settings.database import database_from_url

# Any fixed 64-bit number, the same in every replica and release.
MIGRATION_LOCK_ID = 7_104_220_611


class Command(BaseCommand):
    help = (
        "Wait for the database (up to --timeout seconds); with --migrate, apply migrations, "
        "once, however many processes start at the same time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--migrate", action="store_true")
        parser.add_argument(
            "--target",
            action="append",
            default=[],
            metavar="APP:MIGRATION",
            help="With --migrate: migrate these apps to these migrations (`zero`: none), e.g. "
            "to unapply a newer release's migrations before a rollback; repeatable.",
        )

    def handle(self, *args, timeout, interval, migrate, target, **options):
        self.targets = [self.parse_target(value) for value in target]
        direct = migrate and bool(settings.DATABASE_DIRECT_URL)
        if direct:
            self.use_the_direct_connection()
        connection = connections[DEFAULT_DB_ALIAS]
        self.wait_for(connection, timeout, interval)
        self.stdout.write("database is up")
        if not migrate:
            return
        if connection.vendor != "postgresql":
            self.migrate(DEFAULT_DB_ALIAS)
        elif direct:
            self.migrate_on_a_direct_connection(DEFAULT_DB_ALIAS)
        else:
            self.migrate_in_one_transaction(DEFAULT_DB_ALIAS)

    @staticmethod
    def parse_target(value: str) -> tuple[str, str]:
        app, _, name = value.partition(":")
        if not app or not name:
            raise CommandError(f"--target {value!r}: expected APP:MIGRATION (or APP:zero)")
        return app, name

    def migrate(self, alias):
        """Everything (the default), or each --target in turn."""
        if not self.targets:
            call_command("migrate", database=alias, interactive=False, verbosity=1)
        for app, name in self.targets:
            call_command("migrate", app, name, database=alias, interactive=False, verbosity=1)

    def use_the_direct_connection(self):
        """This process migrates over DATABASE_DIRECT_URL as its *default* connection: data
        migrations (ours and third-party ones) write through the default alias, and on a
        second alias they would wait on the migrating transaction's own locks."""
        connection = connections[DEFAULT_DB_ALIAS]
        connection.close()
        connection.settings_dict.update(
            database_from_url(
                settings.DATABASE_DIRECT_URL, conn_max_age=0, base_dir=settings.BASE_DIR
            )
        )
        self.stdout.write("migrating over DATABASE_DIRECT_URL (a direct connection)")

    def wait_for(self, connection, timeout, interval):
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection.ensure_connection()
                return
            except OperationalError as error:
                if time.monotonic() >= deadline:
                    # One line, without the URL (it may carry a password).
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else "?"
                    raise CommandError(f"database not reachable after {timeout:g}s: {reason}")
                self.stderr.write(f"waiting for the database: {str(error).strip()[:200]}")
                connection.close()
                time.sleep(interval)

    def migrate_on_a_direct_connection(self, alias):
        """A session-level advisory lock: it holds for as long as this connection lives, which
        a direct connection guarantees (a transaction-mode pooler does not)."""
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            try:
                self.migrate(alias)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])

    def migrate_in_one_transaction(self, alias):
        """Behind a transaction-mode pooler (PgBouncer, NeonDB's -pooler endpoint) a session
        lock can be taken on one server connection and released on another, so it neither
        serialises nor ends. A transaction-level lock with every migration inside that one
        transaction does both, on any connection: the pooler pins a transaction to one server
        connection, and the lock ends with it, even if this process dies. All migrations of a
        release then apply together or not at all."""
        connection = connections[alias]
        executor = MigrationExecutor(connection)
        nodes = [(app, None if name == "zero" else name) for app, name in self.targets]
        plan = executor.migration_plan(nodes or executor.loader.graph.leaf_nodes())
        outside = [f"{m.app_label}.{m.name}" for m, _ in plan if not m.atomic]
        if outside:
            raise CommandError(
                f"{', '.join(outside)} cannot run inside a transaction (atomic = False, e.g. "
                "CREATE INDEX CONCURRENTLY), and through a pooler only one transaction holds "
                "the migration lock: set DATABASE_DIRECT_URL to a direct, non-pooled "
                "connection and run again. Nothing was applied."
            )
        with transaction.atomic(using=alias):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK_ID])
            # Planned again inside the lock: another process may have migrated meanwhile.
            self.migrate(alias)
