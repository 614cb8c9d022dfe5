"""The notifications API: subscriptions (create, change, pause state, resume), deliveries
with their attempts (replay), and the event catalogue — the same rules as the admin."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import events, payloads, services
from notifications.models import Attempt, Delivery, Subscription


class ModelPermissionsToRead(DjangoModelPermissions):
    """Django's model permissions, with `view` needed to read too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[*events.EVENT_TYPES, "*"]),
        allow_empty=False,
        max_length=len(events.EVENT_TYPES) + 1,
        help_text='Event types; "*" stands for every type you may subscribe to.',
    )
    secret = serializers.CharField(
        required=False,
        max_length=100,
        help_text="whsec_ and base64 (at least 24 bytes); generated when left out.",
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "url",
            "format",
            "events",
            "active",
            "secret",
            "paused_at",
            "paused_reason",
            "failure_streak",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "paused_at",
            "paused_reason",
            "failure_streak",
            "created_at",
            "updated_at",
        ]

    def validate_events(self, value):
        return services.clean_events(self.context["request"].user, value)

    def validate_secret(self, value):
        return services.clean_secret(value)

    def validate_url(self, value):
        return services.clean_url(value)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = Attempt.SHOWN


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type")
    event_id = serializers.CharField(source="event.uid", help_text="The webhook-id header.")
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "channel",
            "subscription",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "delivered_at",
            "created_at",
            "attempt_log",
        ]


@extend_schema_view(
    list=extend_schema(summary="Webhook subscriptions you may manage"),
    create=extend_schema(summary="Subscribe an endpoint to events"),
    retrieve=extend_schema(summary="One subscription"),
    update=extend_schema(summary="Change a subscription"),
    partial_update=extend_schema(summary="Change part of a subscription"),
    destroy=extend_schema(summary="Delete a subscription"),
)
class SubscriptionViewSet(viewsets.ModelViewSet):
    """Release managers subscribe to release events, editors to content events."""

    serializer_class = SubscriptionSerializer
    permission_classes = [IsAuthenticated, ModelPermissionsToRead]
    queryset = Subscription.objects.none()

    def get_queryset(self):
        allowed = set(services.allowed_events(self.request.user))
        mine = [s.pk for s in Subscription.objects.all() if set(s.events) <= allowed]
        return Subscription.objects.filter(pk__in=mine)

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(summary="Resume a paused subscription", request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        subscription = self.get_object()
        services.resume(request.user, subscription)
        subscription.refresh_from_db()
        return Response(self.get_serializer(subscription).data)


@extend_schema_view(
    list=extend_schema(summary="Deliveries, newest first, with every attempt"),
    retrieve=extend_schema(summary="One delivery with its attempts"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    def get_permissions(self):
        # Replaying needs only the right to see the delivery (and to manage its endpoint).
        return [IsAuthenticated(), _CanViewDeliveries()]

    def get_queryset(self):
        visible = Delivery.objects.select_related("event").prefetch_related("attempt_log")
        if not self.request.user.is_superuser:
            visible = visible.filter(event__type__in=services.allowed_events(self.request.user))
        params = self.request.query_params
        if params.get("status") in Delivery.Status.values:
            visible = visible.filter(status=params["status"])
        if params.get("event_type") in events.EVENT_TYPES:
            visible = visible.filter(event__type=params["event_type"])
        if (subscription := params.get("subscription", "")).isdigit():
            visible = visible.filter(subscription_id=int(subscription))
        return visible.order_by("-created_at", "-id")

    @extend_schema(
        summary="Send a delivery again (the same event, the same webhook-id)",
        request=None,
        responses={201: DeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        delivery = self.get_object()
        with transaction.atomic():
            again = services.replay(request.user, delivery)
        return Response(self.get_serializer(again).data, status=status.HTTP_201_CREATED)


class _CanViewDeliveries(IsAuthenticated):
    def has_permission(self, request, view):
        return request.user.has_perm("notifications.view_delivery")


class EventTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    group = serializers.ChoiceField(choices=[events.RELEASE, events.CONTENT])
    description = serializers.CharField()
    allowed = serializers.BooleanField(help_text="Whether you may subscribe to it.")
    schema = serializers.JSONField(help_text="JSON Schema (2020-12) of the whole body.")


class EventTypesView(APIView):
    """The event catalogue: every type, its group, what it means, and whether you may
    subscribe to it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Event types you can subscribe to", responses=EventTypeSerializer(many=True)
    )
    def get(self, request):
        allowed = set(services.allowed_events(request.user))
        return Response(
            [
                {
                    "type": name,
                    "group": group,
                    "description": text,
                    "allowed": name in allowed,
                    "schema": payloads.schema_for(name),
                }
                for name, (group, text) in events.CATALOGUE.items()
            ]
        )
