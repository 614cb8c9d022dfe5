"""Routes of the notifications API (included under /api/v1/notifications/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications import api

router = SimpleRouter()
router.register("subscriptions", api.SubscriptionViewSet, basename="subscription")
router.register("deliveries", api.DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("event-types/", api.EventTypesView.as_view(), name="event-types"),
    *router.urls,
]
