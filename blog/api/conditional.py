"""Conditional GET (ETag / Last-Modified -> 304) and a server-side cache of public responses.

Public responses are cached as rendered bytes under the content version (blog.changes), so
any change to public content, including a scheduled post falling due, makes new keys: a
cache per process (locmem) is still correct behind several workers.
"""

import hashlib
from email.utils import format_datetime, parsedate_to_datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified

from core.http import has_credentials
from core.renderers import FastJSONRenderer

_renderer = FastJSONRenderer()


def render_json(data) -> bytes:
    return _renderer.render(data)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:32] + '"'


def is_public_request(request) -> bool:
    """Anonymous and not a preview: the same answer for everyone, so cacheable."""
    return not request.user.is_authenticated and "preview" not in request.query_params


def cache_key(request, version: int) -> str:
    # The raw query string, its parameters sorted: no QueryDict parsing on the hot path (two
    # spellings of one query only cost a second entry).
    query = "&".join(sorted(request.META.get("QUERY_STRING", "").split("&")))
    digest = hashlib.sha1(f"{request.path}?{query}".encode(), usedforsecurity=False).hexdigest()
    return f"api:resp:{version}:{digest}"


def cached_public_response(request, view, version: int, *, allow: str | None = None):
    """A public GET answered straight from the cache, before DRF's dispatch; None on a miss.

    Only for requests that carry no credentials at all (no Authorization header, no session
    cookie) and no preview: DRF would find them anonymous anyway. The anonymous throttle
    still runs; when it refuses, the caller falls back to DRF, which answers 429.
    """
    from core.throttling import AnonymousThrottle

    if (
        request.method not in ("GET", "HEAD")
        or has_credentials(request)
        or "preview" in request.GET
        or not settings.API_RESPONSE_CACHE_SECONDS
    ):
        return None
    entry = cache.get(cache_key(request, version))
    if entry is None:
        return None
    throttle = AnonymousThrottle()
    if not throttle.allow_request(request, view):
        return None
    response = conditional_response(request, *entry, public=True)
    # What DRF and CommonMiddleware add to the view's answer, so both answers read the same.
    response["Allow"] = allow or ", ".join(view.allowed_methods)
    if response.status_code == 200:
        response["Content-Length"] = str(len(response.content))
    state = getattr(request, "_ratelimit", None)
    if state:
        (
            response["RateLimit-Limit"],
            response["RateLimit-Remaining"],
            response["RateLimit-Reset"],
        ) = (str(value) for value in state)
    return response


def respond(request, build, *, version: int):
    """Answer a GET from the cache when public, else from `build()`; honour conditions.

    `build()` returns (data, last_modified datetime or None).
    """
    public = is_public_request(request)
    seconds = settings.API_RESPONSE_CACHE_SECONDS
    key = cache_key(request, version) if public and seconds else None
    entry = cache.get(key) if key else None
    if entry is None:
        data, last_modified = build()
        body = render_json(data)
        entry = (body, etag_of(body), last_modified)
        if key:
            cache.set(key, entry, seconds)
    return conditional_response(request, *entry, public=public)


def conditional_response(request, body: bytes, etag: str, last_modified, *, public: bool):
    headers = {
        "ETag": etag,
        "Cache-Control": (
            f"public, max-age={settings.API_CACHE_MAX_AGE}" if public else "private, no-cache"
        ),
        "Vary": "Accept, Authorization, Cookie",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if not_modified(request, etag, last_modified):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


def not_modified(request, etag: str, last_modified) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since only counts without it."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in candidates or etag in candidates
    if_modified_since = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if if_modified_since and last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def if_match_allows(request, current_etag: str) -> bool:
    """No If-Match, `*`, or one of the listed strong tags equal to the current one."""
    header = request.META.get("HTTP_IF_MATCH")
    if header is None:
        return True
    tags = {tag.strip() for tag in header.split(",")}
    return "*" in tags or current_etag in tags
