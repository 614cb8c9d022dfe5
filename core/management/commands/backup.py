"""Back up this instance's PostgreSQL database into the backups storage, or list backups."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from core import backups


class Command(BaseCommand):
    help = (
        "Dump the database (pg_dump custom format, sha256 manifest) into the backups storage "
        "(BACKUP_DIR or BACKUP_S3_BUCKET), then apply retention (BACKUP_KEEP, "
        "BACKUP_MAX_AGE_DAYS). --list shows the backups, newest first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="List backups; change nothing.")
        parser.add_argument(
            "--environment",
            default=settings.ENVIRONMENT_NAME,
            help="Label in the backup's name (default: ENVIRONMENT_NAME).",
        )
        parser.add_argument("--keep", type=int, default=settings.BACKUP_KEEP)
        parser.add_argument("--max-age-days", type=float, default=settings.BACKUP_MAX_AGE_DAYS)
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, list, environment, keep, max_age_days, database, **options):
        if keep < 1:
            raise CommandError("--keep must be at least 1: the newest backup is always kept.")
        say = self.stdout.write
        try:
            if list:
                for manifest in backups.list_backups():
                    rows = sum(table["rows"] for table in manifest.tables.values())
                    say(
                        f"{manifest.name}  {manifest.size / 1_000_000:.1f} MB  "
                        f"{rows} rows  sha256 {manifest.sha256[:12]}"
                    )
                return
            config = connections[database].settings_dict
            backups.create_backup(
                config, environment=environment, version=settings.APP_VERSION, say=say
            )
            backups.apply_retention(environment, keep=keep, max_age_days=max_age_days, say=say)
        except backups.BackupError as error:
            raise CommandError(str(error))
