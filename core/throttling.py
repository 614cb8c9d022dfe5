"""DRF throttles that report their state as RateLimit-* headers (IETF draft names)."""

import re

from rest_framework.throttling import (
    AnonRateThrottle,
    ScopedRateThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from core.http import has_credentials

_RATE = re.compile(r"^(\d+)/(\d*)\s*([smhd])[a-z]*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    """'100/minute', '5/600s', '5/10m' -> (requests, seconds)."""
    if rate is None:
        return None, None
    match = _RATE.match(rate.strip())
    if not match:
        raise ValueError(f"Bad throttle rate {rate!r}; use e.g. '100/minute' or '5/600s'")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNIT_SECONDS[unit]


class _ReportingMixin:
    """A fixed-window counter (one cache add + incr per request) that reports its state.

    DRF's own throttles keep the time of every request of the window in one cache value,
    which the cache re-pickles on every request: O(limit) work per request. A counter per
    window is O(1), and gives exact RateLimit-Remaining / -Reset values for the headers.
    """

    def parse_rate(self, rate):
        return parse_rate(rate)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        key = f"{self.key}:{window}"
        self.reset = max(1, int((window + 1) * self.duration - self.now))
        self.cache.add(key, 0, self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # evicted between add and incr
            self.cache.set(key, 1, self.duration + 1)
            count = 1
        remaining = max(0, self.num_requests - count)
        current = getattr(request, "_ratelimit", None)
        if current is None or remaining < current[1]:
            request._ratelimit = (self.num_requests, remaining, self.reset)
        return count <= self.num_requests

    def wait(self):
        return self.reset


def machine_identity(request) -> str | None:
    """The key of a machine identity (a CI token, a GitLab id_token's project) that
    authenticated this request, if one did: `request.auth.throttle_key`."""
    return getattr(getattr(request, "auth", None), "throttle_key", None)


class AnonymousThrottle(_ReportingMixin, AnonRateThrottle):
    """Every anonymous request, by client address (rate "anon"). CI identities are not
    anonymous: they have their own limit (MachineThrottle), so many runners behind one
    address do not share the readers' per-address budget."""

    def get_cache_key(self, request, view):
        if machine_identity(request):
            return None
        if not has_credentials(request):  # anonymous for certain: no user to resolve
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return super().get_cache_key(request, view)


class MachineThrottle(_ReportingMixin, SimpleRateThrottle):
    """Every request of a CI identity, per identity (rate "ci"), whatever its address."""

    scope = "ci"

    def get_cache_key(self, request, view):
        identity = machine_identity(request)
        if identity is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": identity}


class UserThrottle(_ReportingMixin, UserRateThrottle):
    """Every authenticated request, by user (rate "user"); anonymous ones are "anon"'s."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class ScopeThrottle(_ReportingMixin, ScopedRateThrottle):
    """Per-view scopes: "comments" (comment creation) and "auth" (token requests)."""

    def allow_request(self, request, view):
        # As ScopedRateThrottle: the rate depends on the view's scope, known only now.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class RateLimitHeadersMixin:
    """Adds RateLimit-Limit / -Remaining / -Reset to responses of throttled views."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request._request, "_ratelimit", None) or getattr(
            request, "_ratelimit", None
        )
        if state:
            limit, remaining, reset = state
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
        return response
