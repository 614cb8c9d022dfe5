"""A process's memory of the content version, kept true by PostgreSQL NOTIFY.

Public API reads need the content version (cache keys, ETags) and must publish a scheduled
post the moment it falls due. Reading it costs a database round trip per request; this
module lets a process answer from memory instead, as long as three things hold:

* a listener thread of this process holds `LISTEN` on its own connection and has proven,
  with a probe sent from another connection, that notifications reach it (behind a
  transaction-mode pooler they do not: the memory is then never used);
* nothing changed since the version was read: a trigger (migration 0009) notifies on every
  statement that writes `blog_post` or `blog_contentversion`, delivered at commit; each
  notification, each reconnect and each write made in this process start a new
  *generation*, and a remembered version is only good for the generation it was read in;
* the next scheduled post is not yet due (its time is remembered with the version) and
  the memory is younger than `CONTENT_VERSION_MEMORY_SECONDS` (a bound on the damage of any
  notification that never arrives).

A version read inside a transaction is never remembered (it may be rolled back), so the
test suite's transactions and any request that writes always read the database.
"""

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from core.listen import listen_connection_params

CHANNEL = "lawvriksh_content"
PROBE_PREFIX = "probe:"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Remembered:
    version: int
    next_due: datetime | None  # the earliest scheduled post's publish time
    generation: int
    stored_at: float  # time.monotonic()


class ContentWatch:
    """The listener thread and the generation counter of one process."""

    def __init__(self, alias: str = DEFAULT_DB_ALIAS, probe_every: float = 30.0):
        self.alias = alias
        self.probe_every = probe_every
        self.generation = 0
        self.healthy = False  # notifications proven to arrive (the probe came back)
        self.notifications = 0
        self.failures = 0  # probes that did not come back, and lost connections
        self.sessions = 0  # LISTEN sessions opened (a failed probe opens a new one)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._awaited: dict[str, threading.Event] = {}  # marker payload -> its arrival
        self._thread = threading.Thread(target=self._run, name="content-listener", daemon=True)

    def start(self) -> "ContentWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def changed(self) -> None:
        """Forget what this process remembers (a notification, a local write, a reconnect)."""
        with self._lock:
            self.generation += 1

    def connection_params(self) -> dict:
        return listen_connection_params(self.alias)

    def _send_marker(self, params: dict) -> tuple[str, threading.Event]:
        """NOTIFY a fresh marker from a second connection; the event is set when the listener
        hears it. Only a listener that really hears the database (not a pooler's borrowed
        session) does; and having heard it, it has heard every commit before it."""
        token = PROBE_PREFIX + secrets.token_hex(8)
        arrived = self._awaited[token] = threading.Event()
        with psycopg.connect(**params, autocommit=True) as sender:
            sender.execute("SELECT pg_notify(%s, %s)", [CHANNEL, token])
        return token, arrived

    def sync(self, timeout: float = 30.0) -> bool:
        """Wait until every change committed before this call has been heard."""
        token, arrived = self._send_marker(self.connection_params())
        try:
            return arrived.wait(timeout)
        finally:
            self._awaited.pop(token, None)

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                params = self.connection_params()
                with psycopg.connect(**params, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.sessions += 1
                    self.changed()  # whatever happened while nobody listened
                    if self._listen(connection, params):
                        delay = 0.5  # it worked for a while: come back quickly
            except psycopg.Error as error:
                self.failures += 1
                logger.warning("content listener: %s; retrying in %.1f s", error, delay)
            self._set_healthy(False)
            self._stopping.wait(delay)
            delay = min(delay * 2, 30)

    def _listen(self, connection, params: dict) -> bool:
        """Hear notifications until stopped, or until a probe does not come back (then
        reconnect: a session that went silent is not trusted again). True if the session
        was ever proven to hear."""
        proven = False
        probe, probe_token, probe_sent_at, next_probe = None, "", 0.0, 0.0
        while not self._stopping.is_set():
            if probe is None and time.monotonic() >= next_probe:
                probe_token, probe = self._send_marker(params)
                probe_sent_at = time.monotonic()
            for notify in connection.notifies(timeout=0.5, stop_after=1):
                if notify.payload.startswith(PROBE_PREFIX):
                    marker = self._awaited.get(notify.payload)
                    if marker is not None:
                        marker.set()
                    continue
                self.notifications += 1
                self.changed()
            if probe is None:
                continue
            if probe.is_set():
                self._set_healthy(True)
                proven = True
            elif time.monotonic() - probe_sent_at > 5:
                if self.healthy or self.failures == 0:
                    logger.warning(
                        "content listener: a probe NOTIFY did not arrive (a transaction-mode "
                        "pooler? set DATABASE_DIRECT_URL); the content version is read from "
                        "the database on every request"
                    )
                self.failures += 1
                self._set_healthy(False)
                self._awaited.pop(probe_token, None)
                return proven
            else:
                continue
            self._awaited.pop(probe_token, None)
            probe, next_probe = None, time.monotonic() + self.probe_every
        return proven

    def _set_healthy(self, healthy: bool) -> None:
        if healthy != self.healthy:
            self.changed()
            self.healthy = healthy


_watch: ContentWatch | None = None
_watch_pid: int | None = None
_remembered: Remembered | None = None
_start_lock = threading.Lock()


def enabled() -> bool:
    return bool(settings.CONTENT_VERSION_LISTEN) and (
        connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
    )


def watch() -> ContentWatch | None:
    """This process's watch, started on first use (after a fork too); None when off."""
    global _watch, _watch_pid
    if _watch is not None and _watch_pid == os.getpid():
        return _watch
    if not enabled():
        return None
    with _start_lock:
        if _watch is None or _watch_pid != os.getpid():
            _watch, _watch_pid = ContentWatch().start(), os.getpid()
    return _watch


def generation() -> int | None:
    """The current generation, to pass to `remember` (read it before the database)."""
    current = watch()
    return None if current is None else current.generation


def recall(now: datetime) -> int | None:
    """The remembered version if it may be used at `now`, else None."""
    current, memory = _watch, _remembered
    if current is None or memory is None or not current.healthy:
        return None
    if memory.generation != current.generation or _watch_pid != os.getpid():
        return None
    if memory.next_due is not None and now >= memory.next_due:
        return None
    if time.monotonic() - memory.stored_at > settings.CONTENT_VERSION_MEMORY_SECONDS:
        return None
    return memory.version


def remember(version: int, next_due: datetime | None, read_in_generation: int | None) -> None:
    """Keep a version read from the database in `read_in_generation`, unless something
    changed since, or it was read inside a transaction."""
    global _remembered
    current = _watch
    if current is None or read_in_generation is None or not current.healthy:
        return
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return
    if read_in_generation != current.generation:
        return
    _remembered = Remembered(version, next_due, read_in_generation, time.monotonic())


def changed_here(*args, **kwargs) -> None:
    """A write in this process (also a signal receiver): forget now, and again the moment it
    commits, so this process reads its own writes without waiting for the notification
    (a version read between the two may be the old one)."""
    if _watch is None:
        return
    _watch.changed()
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        connection.on_commit(_watch.changed)


def reset() -> None:
    """Stop the listener and forget (tests, and settings changes)."""
    global _watch, _watch_pid, _remembered
    with _start_lock:
        if _watch is not None and _watch_pid == os.getpid():
            _watch.stop()
        _watch, _watch_pid, _remembered = None, None, None
