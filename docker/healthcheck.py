"""The image's HEALTHCHECK: GET /healthz on the local gunicorn; exit 0 when it answers 200."""

import os
import sys
import urllib.request


def probe_host() -> str:
    """A host name Django accepts: the first of ALLOWED_HOSTS (a wildcard becomes localhost)."""
    first = (os.environ.get("ALLOWED_HOSTS", "").split(",") or [""])[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    request = urllib.request.Request(url, headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("HEALTH_TIMEOUT", 2))):
            return 0
    except Exception as error:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
