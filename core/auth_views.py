"""JWT endpoints (simplejwt) with the "auth" throttle and rate-limit headers."""

from rest_framework_simplejwt import views as jwt_views

from core.throttling import RateLimitHeadersMixin, ScopeThrottle


class _Throttled(RateLimitHeadersMixin):
    throttle_scope = "auth"
    throttle_classes = [ScopeThrottle]


class TokenObtainView(_Throttled, jwt_views.TokenObtainPairView):
    """Username + password -> access and refresh tokens."""


class TokenRefreshView(_Throttled, jwt_views.TokenRefreshView):
    """A refresh token -> a new access token and a new refresh token (the old one is
    blacklisted: rotation)."""


class TokenVerifyView(_Throttled, jwt_views.TokenVerifyView):
    """Is this token valid?"""


class LogoutView(_Throttled, jwt_views.TokenBlacklistView):
    """Blacklist a refresh token: it can no longer be refreshed."""
