"""Routes of the CI API (included under /api/v1/releases/)."""

from rest_framework.routers import SimpleRouter

from releases.api import views

router = SimpleRouter()
router.register("builds", views.BuildViewSet, basename="build")
router.register("environments", views.EnvironmentViewSet, basename="environment")

urlpatterns = router.urls
