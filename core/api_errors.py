"""JSON errors for every API failure a client can cause; never a 500 for bad input."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.errors import Conflict, PreconditionFailed, RetryLater

# Blog workflow refusals that mean "not in this state": 409 Conflict. Other conflicts are
# 409 by their type (core.errors.Conflict: deployment rules, contradicting reports).
CONFLICT_CODES = {"invalid_transition"}


def api_exception_handler(exc, context):
    """DRF's handler, plus the domain errors of the service layer mapped to HTTP."""
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PreconditionFailed):
        set_rollback()
        return Response(
            {"detail": str(exc), "code": "stale", "current_version": exc.current_version},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
    elif isinstance(exc, RetryLater):
        set_rollback()
        return Response(
            {"detail": str(exc), "code": "throttled"},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    elif isinstance(exc, DjangoValidationError):
        set_rollback()
        code = getattr(exc, "code", None)
        conflict = code in CONFLICT_CODES or isinstance(exc, Conflict)
        http_status = status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
        if hasattr(exc, "error_dict"):
            body = {field: messages for field, messages in exc.message_dict.items()}
        else:
            body = {"detail": " ".join(exc.messages)}
        if code:
            body.setdefault("code", code)
        return Response(body, status=http_status)
    elif isinstance(exc, DataError):
        # e.g. a number too large for its column in a filter: the client's input, not a bug.
        set_rollback()
        return Response(
            {"detail": "A value in the request is out of range."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return exception_handler(exc, context)


def json_not_found(request, exception=None):
    """404 for unknown URLs: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    from django.views.defaults import server_error

    return server_error(request)
