"""Routes of the versioned REST API: /api/v1/..."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import auth_views
from core.api import VersionView

urlpatterns = [
    path("version/", VersionView.as_view(), name="api-version"),
    path("auth/token/", auth_views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", auth_views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/verify/", auth_views.TokenVerifyView.as_view(), name="token-verify"),
    path("auth/logout/", auth_views.LogoutView.as_view(), name="token-logout"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("releases/", include("releases.api.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("blog.api.urls")),
]
