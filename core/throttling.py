"""DRF throttles that report their state as RateLimit-* headers (IETF draft names)."""

import re

from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

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
    """After deciding, remember limit / remaining / reset on the request for the headers."""

    def parse_rate(self, rate):
        return parse_rate(rate)

    def allow_request(self, request, view):
        allowed = super().allow_request(request, view)
        if getattr(self, "rate", None) is None or not hasattr(self, "history"):
            return allowed
        remaining = max(0, self.num_requests - len(self.history))
        oldest = self.history[-1] if self.history else self.now
        reset = max(0, int(self.duration - (self.now - oldest)))
        current = getattr(request, "_ratelimit", None)
        if current is None or remaining < current[1]:
            request._ratelimit = (self.num_requests, remaining, reset)
        return allowed


class AnonymousThrottle(_ReportingMixin, AnonRateThrottle):
    """Every anonymous request, by client address (rate "anon")."""


class UserThrottle(_ReportingMixin, UserRateThrottle):
    """Every authenticated request, by user (rate "user")."""


class ScopeThrottle(_ReportingMixin, ScopedRateThrottle):
    """Per-view scopes: "comments" (comment creation) and "auth" (token requests)."""


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
