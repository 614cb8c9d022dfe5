"""Deprecation and Sunset headers (RFC 9745, RFC 8594) on API routes being retired: listed in
API_DEPRECATIONS by URL name, so a deprecation is one settings entry, not code in a view."""

import datetime
from email.utils import format_datetime

from django.conf import settings


def headers_for(url_name: str) -> dict[str, str]:
    """{"Deprecation": "@<unix time>", "Sunset": <HTTP date>, "Link": …} or {}."""
    entry = settings.API_DEPRECATIONS.get(url_name)
    if not entry:
        return {}
    since = _aware(entry["since"])
    headers = {"Deprecation": f"@{int(since.timestamp())}"}
    if entry.get("sunset"):
        headers["Sunset"] = format_datetime(_aware(entry["sunset"]), usegmt=True)
    if entry.get("link"):
        headers["Link"] = f'<{entry["link"]}>; rel="deprecation"; type="text/html"'
    return headers


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


class DeprecationMiddleware:
    """Adds the headers to every answer of a deprecated route (errors included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name and settings.API_DEPRECATIONS:
            for name, value in headers_for(match.url_name).items():
                response[name] = value
        return response
