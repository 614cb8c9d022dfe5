"""The worker wakes the moment a task is queued: PostgreSQL LISTEN/NOTIFY on one channel.

Every enqueue (Django's `task_enqueued` signal) sends `NOTIFY` in the enqueuing transaction,
so it is delivered at commit and never for a rolled-back request. The worker keeps one extra
connection listening; a notification ends the library loop's wait between polls, so a
deployment starts within milliseconds instead of on the next poll. The poll stays as the
fallback: on SQLite, behind a transaction-mode pooler (NeonDB's "-pooler" host does not pass
LISTEN through: set DATABASE_DIRECT_URL, core/listen.py), or while the listener reconnects.
"""

import logging
import threading
import time

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from core.listen import listen_connection_params

CHANNEL = "lawvriksh_tasks"
logger = logging.getLogger(__name__)


def notify_worker(sender=None, task_result=None, **kwargs) -> None:
    """`task_enqueued` receiver: tell listening workers (payload: the task's id). PostgreSQL
    delivers it when the enqueuing transaction commits, and drops it on rollback."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(getattr(task_result, "id", ""))])


class Listener:
    """A thread holding `LISTEN` on its own autocommit connection; `event` is set on every
    notification (and when the listener stops)."""

    def __init__(self, alias: str = DEFAULT_DB_ALIAS):
        self.alias = alias
        self.event = threading.Event()
        self.listening = threading.Event()  # set once LISTEN is in place (tests wait on it)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-listener", daemon=True)

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.event.set()
        self._thread.join(timeout=5)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(**listen_connection_params(self.alias), autocommit=True)

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    while not self._stopping.is_set():
                        # Returns every second at the latest, to notice a stop.
                        for _ in connection.notifies(timeout=1.0):
                            self.event.set()
            except psycopg.Error as error:
                self.listening.clear()
                logger.warning("task listener: %s; retrying in %.1f s", error, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30)


class WakeableClock:
    """Stands in for the `time` module inside django-tasks-db's worker loop: its `sleep`
    between polls ends early when the listener hears of a new task."""

    def __init__(self, event: threading.Event):
        self._event = event

    def sleep(self, seconds: float) -> None:
        self._event.wait(seconds)
        self._event.clear()

    def __getattr__(self, name):
        return getattr(time, name)
