"""The image's HEALTHCHECK: GET /healthz from this container's own gunicorn (on
GUNICORN_HEALTH_BIND when set, else 127.0.0.1:PORT); exit 0 when it answers 200.

With --worker: the worker's heartbeat file (WORKER_HEARTBEAT_FILE, written by its upkeep
after each tick that reached the database) is younger than WORKER_HEARTBEAT_MAX_AGE s."""

import http.client
import os
import sys
import time


def probe_host() -> str:
    """A host name Django accepts: the first of ALLOWED_HOSTS (a wildcard becomes localhost)."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")


def worker_alive() -> int:
    path = os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat")  # nosec B108
    max_age = float(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", 60))
    try:
        age = time.time() - os.path.getmtime(path)
    except OSError:
        print("unhealthy: the worker has not written its heartbeat yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: the worker's last heartbeat is {age:.0f}s old", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    if "--worker" in sys.argv[1:]:
        return worker_alive()
    address = os.environ.get("GUNICORN_HEALTH_BIND") or f"127.0.0.1:{os.environ.get('PORT', 8000)}"
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0"):  # nosec
        host = "127.0.0.1"
    connection = http.client.HTTPConnection(
        host, int(port), timeout=float(os.environ.get("HEALTH_TIMEOUT", 2))
    )
    try:
        connection.request("GET", "/healthz", headers={"Host": probe_host()})
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
