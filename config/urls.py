"""Top-level URL routes: admin, probes, the REST API under /api/v1/, the public site."""

from django.contrib import admin
from django.urls import include, path

from core import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
]
