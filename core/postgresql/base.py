"""Django's PostgreSQL backend, minus the health check on a connection that was just used.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request:
one more round trip on each request that reads the database (a cold API page, a CI report),
although a connection that answered a moment ago is almost never dead. As PgBouncer does
with its `server_check_delay`, the check is skipped when the connection ran a query less
than `HEALTH_CHECK_DELAY` seconds ago; a connection idle for longer (the case the check
exists for: a server that dropped idle clients, a restarted compute) is still checked.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_DELAY = 5.0  # seconds; busy workers never pay the check, quiet ones always do


class DatabaseWrapper(base.DatabaseWrapper):
    last_used_at = float("-inf")  # monotonic time of the last cursor made on this connection

    def create_cursor(self, name=None):
        self.last_used_at = time.monotonic()
        return super().create_cursor(name)

    def connect(self):
        super().connect()
        self.last_used_at = time.monotonic()

    def close_if_health_check_failed(self):
        recently_used = time.monotonic() - self.last_used_at < HEALTH_CHECK_DELAY
        if self.connection is not None and self.health_check_enabled and recently_used:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
