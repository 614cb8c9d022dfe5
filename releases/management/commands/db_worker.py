"""`manage.py db_worker`: django-tasks-db's worker with this project's upkeep beside it
(a heartbeat, and recovery of dead workers' deployments at start and on a timer)."""

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as TasksDbWorkerCommand

from releases.worker import Upkeep


class Command(TasksDbWorkerCommand):
    help = "Run the deployment worker (django-tasks-db's loop, plus heartbeat and recovery)"

    def handle(self, *args, **options):
        # With --reload the parent only watches files; the child process does the work.
        watcher = options.get("reload") and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        upkeep = None if watcher else Upkeep(options["worker_id"])
        if upkeep is not None:
            # A --batch run recovers once at start; a long-running one also on a timer.
            upkeep.start(background=not options.get("batch"))
        try:
            super().handle(*args, **options)
        finally:
            if upkeep is not None:
                upkeep.stop()
