"""Request guards for input no view can store or serve: characters PostgreSQL rejects in the
URL, bodies over the size limit (read off the connection, answered 413), and a database that
cannot be reached (503 with Retry-After instead of a 500)."""

import logging
import re

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# NUL (PostgreSQL text cannot hold it) and lone surrogates (not encodable as UTF-8).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
DRAIN_CHUNK = 64 * 1024
RETRY_AFTER_SECONDS = 5


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _answer(request, status: int, message: str, **headers) -> HttpResponse:
    if _is_api(request):
        response = JsonResponse({"detail": message, "code": f"http_{status}"}, status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name] = value
    return response


def body_limit(path: str) -> int:
    """The largest body a path accepts (the CI API is stricter than the rest)."""
    if path.startswith("/api/v1/releases/"):
        return settings.RELEASES_MAX_BODY_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def _drain(request, length: int) -> None:
    """Read the refused body off the connection so the next request on it parses cleanly."""
    stream = request.META.get("wsgi.input")
    if stream is None:
        return
    left = min(length, settings.REQUEST_DRAIN_MAX_BYTES)
    while left > 0:
        chunk = stream.read(min(DRAIN_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)


class RequestGuardMiddleware:
    """Refuse unstorable URLs (400) and oversized bodies (413) before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if UNSTORABLE.search(request.path) or any(
            UNSTORABLE.search(key) or UNSTORABLE.search(value)
            for key, values in request.GET.lists()
            for value in values
        ):
            return _answer(request, 400, "The URL contains a character that is not allowed.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(request, 400, "Content-Length is not a number.")
        limit = body_limit(request.path_info)
        if length > limit:
            _drain(request, length)
            return _answer(request, 413, f"The body is over {limit} bytes.")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """While the database cannot be reached, answer 503 with Retry-After (as /readyz does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error("database unavailable: %s", str(exception).splitlines()[0][:200])
        return _answer(
            request,
            503,
            "The database is unavailable; try again shortly.",
            **{"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
