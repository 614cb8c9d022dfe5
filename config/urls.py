"""Top-level URL routes: admin, probes, the REST API under /api/v1/, the public site."""

from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from blog.sitemaps import SITEMAPS
from blog.views import media_file, robots_txt
from core import health
from core.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots_txt, name="robots_txt"),
    path("", include("blog.urls")),
]
if settings.MEDIA_SERVE and settings.MEDIA_URL.startswith("/"):
    # Uploaded images from the filesystem storage (a CDN or web server can take over).
    urlpatterns.insert(0, path(f"{settings.MEDIA_URL.lstrip('/')}<path:path>", media_file))

handler404 = "core.api_errors.json_not_found"
handler500 = "core.api_errors.json_server_error"
