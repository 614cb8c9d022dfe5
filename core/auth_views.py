"""JWT endpoints (simplejwt) with the "auth" throttle and rate-limit headers."""

from rest_framework_simplejwt import views as jwt_views

from core.lockout import locked_out
from core.throttling import RateLimitHeadersMixin, ScopeThrottle


class _Throttled(RateLimitHeadersMixin):
    throttle_scope = "auth"
    throttle_classes = [ScopeThrottle]


class TokenObtainView(_Throttled, jwt_views.TokenObtainPairView):
    """Username + password -> access and refresh tokens; 429 once django-axes locked the
    username for this address (it marks DRF's request, which its middleware never sees)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if getattr(request, "axes_locked_out", False):
            return locked_out(request, None)
        return response

    def handle_exception(self, exc):
        if getattr(self.request, "axes_locked_out", False):
            return locked_out(self.request, None)
        return super().handle_exception(exc)


class TokenRefreshView(_Throttled, jwt_views.TokenRefreshView):
    """A refresh token -> a new access token and a new refresh token (the old one is
    blacklisted: rotation)."""


class TokenVerifyView(_Throttled, jwt_views.TokenVerifyView):
    """Is this token valid?"""


class LogoutView(_Throttled, jwt_views.TokenBlacklistView):
    """Blacklist a refresh token: it can no longer be refreshed."""
