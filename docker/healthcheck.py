"""The image's HEALTHCHECK: GET /healthz from this container's own gunicorn (on
GUNICORN_HEALTH_BIND when set, else 127.0.0.1:PORT); exit 0 when it answers 200."""

import http.client
import os
import sys


def probe_host() -> str:
    """A host name Django accepts: the first of ALLOWED_HOSTS (a wildcard becomes localhost)."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")


def main() -> int:
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
