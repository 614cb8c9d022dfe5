"""Cached public post answers served early: before the session, CSRF, authentication,
messages and lockout middleware, as Django's own cache middleware does.

Only when nothing in the request needs them: a GET or HEAD of the post list or a post,
without credentials or a preview token, while this process remembers the content version
(blog.content_state: no SQL) and the answer for that version is in the cache. The
anonymous throttle still counts it; the middleware placed before this one (metrics,
request id, security headers, CSP, CORS, X-Frame-Options) still see it. Anything else goes
down the usual way, where the view answers the same bytes and headers.
"""

import functools

from django.urls import Resolver404, get_resolver, get_urlconf
from django.utils import timezone

from blog import content_state
from blog.api import conditional
from blog.api.views import PostViewSet
from core.http import has_credentials

API_PREFIX = "/api/v1/posts/"
ACTIONS = ("list", "retrieve")


class CachedPublicAnswerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self._early(request)
        return response if response is not None else self.get_response(request)

    def _early(self, request):
        if (
            request.method not in ("GET", "HEAD")
            or not request.path_info.startswith(API_PREFIX)
            or has_credentials(request)
            or "preview" in request.GET
        ):
            return None
        version = content_state.recall(timezone.now())
        if version is None:
            return None
        match = route_of(get_resolver(get_urlconf()), request.path_info)
        if match is None:
            return None
        actions = getattr(match.func, "actions", None) or {}
        if (
            getattr(match.func, "cls", None) is not PostViewSet
            or actions.get("get") not in ACTIONS
        ):
            return None
        request.resolver_match = match  # the metrics' route label, deprecation headers
        return conditional.cached_public_response(
            request, PostViewSet(), version, allow=allow_header(actions)
        )


@functools.lru_cache(maxsize=4096)
def route_of(resolver, path: str):
    """The resolver's match for `path` (None: no route), worked out once per path.

    Resolving a post's URL walks the nested URL patterns: a fifth of a cached answer's CPU
    here. A path resolves the same way while its resolver lives (changing ROOT_URLCONF, as
    tests do, makes a new resolver: a new key). The match is shared between requests and
    only read: the answer from the cache needs its view class, actions and route name.
    """
    try:
        return resolver.resolve(path)
    except Resolver404:
        return None


def allow_header(actions: dict) -> str:
    """The Allow header DRF gives a viewset route with these {method: action} bindings."""
    bound = set(actions) | {"options"} | ({"head"} if "get" in actions else set())
    return ", ".join(m.upper() for m in PostViewSet.http_method_names if m in bound)
