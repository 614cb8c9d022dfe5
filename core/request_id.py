"""Request ids: taken from `X-Request-ID` (or made), returned in the response, and put on
every log line written while the request (or the deployment it started) is handled."""

import contextvars
import logging
import re
import uuid

REQUEST_ID = contextvars.ContextVar("request_id", default="")
DEPLOYMENT_ID = contextvars.ContextVar("deployment_id", default=None)
# What a client may send: short, printable, nothing a log parser could trip on.
ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "X-Request-ID"


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept(given: str) -> str:
    return given if ACCEPTABLE.match(given or "") else new_request_id()


def on_request_started(sender, environ=None, **kwargs) -> None:
    """Django's request_started signal (before any middleware, so Django's own lines about
    the request carry it too, e.g. "Not Found" logged after the middleware returned)."""
    REQUEST_ID.set(accept((environ or {}).get("HTTP_X_REQUEST_ID", "")))


def on_request_finished(sender, **kwargs) -> None:
    REQUEST_ID.set("")  # a thread's next request never inherits it


class RequestIdMiddleware:
    """Puts the request's id on the request and in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = REQUEST_ID.get()
        if not request_id:  # a handler that sent no request_started signal
            request_id = accept(request.headers.get(HEADER, ""))
            REQUEST_ID.set(request_id)
        request.request_id = request_id
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and `deployment_id` in the worker) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = REQUEST_ID.get() or "-"
        deployment = DEPLOYMENT_ID.get()
        if deployment is not None and getattr(record, "deployment_id", None) is None:
            record.deployment_id = deployment
        return True
