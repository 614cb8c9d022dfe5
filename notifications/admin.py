"""Subscriptions, events and deliveries in the admin: manage, watch attempts, replay, resume."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html

from notifications import events, services
from notifications.channels import envelope
from notifications.models import Attempt, Delivery, Event, Subscription


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {text}") for name, (_, text) in events.CATALOGUE.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Subscription
        fields = ["name", "url", "format", "events", "active", "secret"]
        labels = {"url": "URL"}
        help_texts = {"url": "The receiver's endpoint (https:// in production)."}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        allowed = set(services.allowed_events(user)) if user is not None else set()
        self.fields["events"].choices = [
            choice for choice in self.fields["events"].choices if choice[0] in allowed
        ]

    def clean_secret(self):
        return services.clean_secret(self.cleaned_data["secret"])

    def clean_url(self):
        return services.clean_url(self.cleaned_data["url"])

    def clean_events(self):
        try:
            return services.clean_events(self.user, self.cleaned_data["events"])
        except PermissionDenied as error:
            raise ValidationError(str(error))


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "url", "format", "event_list", "state", "failure_streak"]
    list_filter = ["format", "active"]
    readonly_fields = ["paused_at", "paused_reason", "failure_streak", "created_by"]
    actions = ["resume_subscriptions"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class WithUser(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        return WithUser

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or services.may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or services.may_manage(request.user, obj))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="Events")
    def event_list(self, subscription):
        return ", ".join(subscription.events)

    @admin.display(description="State")
    def state(self, subscription):
        if not subscription.active:
            return "inactive"
        if subscription.paused_at:
            return format_html("<strong>paused</strong>: {}", subscription.paused_reason)
        return "sending"

    @admin.action(description="Resume the selected paused subscriptions")
    def resume_subscriptions(self, request, queryset):
        resumed = 0
        for subscription in queryset:
            try:
                services.resume(request.user, subscription)
                resumed += 1
            except PermissionDenied as error:
                self.message_user(request, f"{subscription}: {error}", messages.ERROR)
        self.message_user(request, f"{resumed} subscription(s) resumed.")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = readonly_fields = Attempt.SHOWN

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "channel", "event__type"]
    list_select_related = ["event", "subscription"]
    search_fields = ["event__uid", "recipient", "subscription__url"]
    readonly_fields = [
        "event",
        "channel",
        "subscription",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
        "payload",
    ]
    exclude = ["claimed_until"]
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        visible = super().get_queryset(request)
        if request.user.is_superuser:
            return visible
        return visible.filter(event__type__in=services.allowed_events(request.user))

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="Payload")
    def payload(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(envelope(delivery.event), indent=2))

    @admin.action(description="Replay: send the selected deliveries again", permissions=["view"])
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset.select_related("subscription", "event"):
            try:
                services.replay(request.user, delivery)
                replayed += 1
            except PermissionDenied as error:
                self.message_user(request, f"{delivery}: {error}", messages.ERROR)
        self.message_user(request, f"{replayed} delivery(ies) queued again.")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["type", "uid", "created_at"]
    list_filter = ["type"]
    search_fields = ["uid"]
    readonly_fields = ["uid", "type", "data", "created_at", "dedupe_key"]

    def get_queryset(self, request):
        visible = super().get_queryset(request)
        if request.user.is_superuser:
            return visible
        return visible.filter(type__in=services.allowed_events(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
