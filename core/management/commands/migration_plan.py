"""Print this code's migration plan as JSON: every migration, classified (core/migration_plan)."""

import json

from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.migration_plan import PLAN_VERSION, migration_plan


class Command(BaseCommand):
    help = (
        "Print every migration this code knows, in order, each classified as backward "
        "compatible (or not) and reversible (or not), as JSON for the build report. Needs a "
        "database connection of the production vendor (an empty database will do: nothing is "
        "applied)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", help="Write the JSON here instead of stdout.")
        parser.add_argument(
            "--wait", type=float, default=0, help="Wait up to this many seconds for the database."
        )

    def handle(self, *args, output, wait, **options):
        if wait:
            call_command("prepare_database", timeout=wait, stdout=self.stderr)
        plan = migration_plan()
        document = json.dumps({"version": PLAN_VERSION, "migrations": plan}, indent=1)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(document + "\n")
            incompatible = sum(1 for entry in plan if not entry["backward_compatible"])
            self.stderr.write(
                f"{len(plan)} migrations ({incompatible} not backward compatible) -> {output}"
            )
        else:
            self.stdout.write(document)
