"""Restore a backup: verified first, into a new database unless --force (typed confirmation)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from core import backups


class Command(BaseCommand):
    help = (
        "Restore a backup (a name from `manage.py backup --list`, or `latest`). The file's "
        "size and sha256 are checked against its manifest first; by default it is restored "
        "into a NEW database and the live one is untouched. --force restores over the live "
        "database, in one transaction, after you type its name (or pass --confirm NAME)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--into", help="Name of the new database (default: generated).")
        parser.add_argument("--force", action="store_true", help="Restore over the live database.")
        parser.add_argument("--confirm", help="With --force: the live database's name.")
        parser.add_argument("--environment", default=settings.ENVIRONMENT_NAME)
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, name, into, force, confirm, environment, database, **options):
        config = connections[database].settings_dict
        say = self.stdout.write
        try:
            backups.require_postgres(config)
            if name == "latest":
                found = backups.list_backups(environment)
                if not found:
                    raise backups.BackupError(f"No backup of {environment!r} to restore.")
                name = found[0].name
            manifest = backups.read_manifest(name)
            if force:
                if into:
                    raise CommandError("--force restores over the live database; drop --into.")
                self.confirm_overwrite(config["NAME"], manifest, confirm)
                # Our own connection would hold locks the restore needs to drop tables.
                connections[database].close()
            result = backups.restore_backup(
                manifest.name, config, into=into, over_live=force, say=say
            )
        except backups.BackupError as error:
            raise CommandError(str(error))
        if not result.matches:
            raise CommandError(
                f"{result.database} does not match the backup's manifest (row counts or "
                "contents differ); inspect it before use."
            )
        if not force:
            say(
                f"The live database is untouched. Point DATABASE_URL at {result.database} "
                "to use it."
            )

    def confirm_overwrite(self, live: str, manifest, confirm: str | None) -> None:
        warning = (
            f"This replaces every table of the LIVE database {live!r} with backup "
            f"{manifest.name} ({manifest.created_at})."
        )
        if confirm is None:
            self.stdout.write(warning)
            try:
                confirm = input(f"Type {live} to continue: ")
            except EOFError:
                confirm = ""
        if confirm != live:
            raise CommandError(f"Not confirmed (expected {live!r}); nothing was changed.")
