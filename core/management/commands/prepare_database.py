"""Wait until the database answers; optionally migrate under a lock (the container entrypoint)."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

# Any fixed 64-bit number, the same in every replica: pg_advisory_lock serialises migrations
# when several containers start at once with RUN_MIGRATIONS=1.
MIGRATION_LOCK_ID = 7_104_220_611


class Command(BaseCommand):
    help = "Wait for the database (up to --timeout seconds); with --migrate, apply migrations."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--migrate", action="store_true")

    def handle(self, *args, timeout, interval, migrate, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection.ensure_connection()
                break
            except OperationalError as error:
                if time.monotonic() >= deadline:
                    # One line, without the URL (it may carry a password).
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else "?"
                    raise CommandError(f"database not reachable after {timeout:g}s: {reason}")
                self.stderr.write(f"waiting for the database: {str(error).strip()[:200]}")
                connection.close()
                time.sleep(interval)
        self.stdout.write("database is up")
        if not migrate:
            return
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=1)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            try:
                call_command("migrate", interactive=False, verbosity=1)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
