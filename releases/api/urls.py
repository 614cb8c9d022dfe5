"""Routes of the CI API (included under /api/v1/releases/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from releases.api import views
from releases.api.webhooks import GitLabWebhookView

router = SimpleRouter()
router.register("builds", views.BuildViewSet, basename="build")
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("deployments", views.DeploymentViewSet, basename="deployment")

urlpatterns = [
    path("gitlab/webhook/", GitLabWebhookView.as_view(), name="gitlab-webhook"),
    path("metrics/dora/", views.DoraMetricsView.as_view(), name="dora-metrics"),
    *router.urls,
]
