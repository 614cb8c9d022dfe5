"""`manage.py db_worker`: django-tasks-db's worker with this project's upkeep beside it
(a heartbeat, and recovery of dead workers' deployments at start and on a timer) and the
notifications dispatcher (webhooks, chat, email, GitLab) on threads of its own."""

import os
import time

from django.conf import settings
from django.db import connection
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker as tasks_db_worker
from django_tasks_db.management.commands.db_worker import Command as TasksDbWorkerCommand

from notifications.dispatch import Dispatcher
from releases.wake import Listener, WakeableClock
from releases.worker import Upkeep


class Command(TasksDbWorkerCommand):
    help = "Run the deployment worker (django-tasks-db's loop, plus heartbeat and recovery)"

    def handle(self, *args, **options):
        # With --reload the parent only watches files; the child process does the work.
        watcher = options.get("reload") and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        upkeep = None if watcher else Upkeep(options["worker_id"])
        dispatcher = None if watcher else Dispatcher()
        listener = None
        if upkeep is not None:
            # A --batch run recovers once at start; a long-running one also on a timer.
            upkeep.start(background=not options.get("batch"))
            dispatcher.start()
            if settings.RELEASES_WORKER_LISTEN and connection.vendor == "postgresql":
                listener = Listener().start()
                # The library's loop sleeps with time.sleep between polls; this clock's
                # sleep ends as soon as a task is queued (releases.wake).
                tasks_db_worker.time = WakeableClock(listener.event)
        try:
            super().handle(*args, **options)
        finally:
            if upkeep is not None:
                if listener is not None:
                    tasks_db_worker.time = time
                    listener.stop()
                dispatcher.stop()
                upkeep.stop()
