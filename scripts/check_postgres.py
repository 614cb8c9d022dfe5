"""Exit 0 when the PostgreSQL in DATABASE_URL answers; else say in one line how to start it."""

import os
import sys
from urllib.parse import urlsplit

START_HINT = (
    "start the local server with: "
    "sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        print(f"DATABASE_URL must be a postgres:// URL for the tests (got {url!r})")
        return 2
    try:
        import psycopg
    except ImportError:
        print("psycopg is not installed: run 'make install' first")
        return 2
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    try:
        # The maintenance database: the named one may not exist yet (pytest creates test_*).
        with psycopg.connect(
            host=host,
            port=port,
            user=parts.username or None,
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ):
            return 0
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        print(f"No PostgreSQL answers at {host}:{port} ({reason}); {START_HINT}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
