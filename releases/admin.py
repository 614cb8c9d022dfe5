"""Release staff's admin: builds with stage badges, environments, CI tokens, the audit log."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from releases import services
from releases.models import (
    AuditEvent,
    Backup,
    Build,
    CIToken,
    Environment,
    StageResult,
    StageStatus,
    Deployment,
    WebhookDelivery,
)
from releases.stages import pipeline_order

BADGE_COLOURS = {
    StageStatus.SUCCESS: "#1e7e34",
    StageStatus.FAILED: "#b02a37",
    StageStatus.CANCELED: "#6c757d",
    StageStatus.RUNNING: "#0b5cad",
    StageStatus.PENDING: "#b58105",
    StageStatus.MANUAL: "#6f42c1",
    StageStatus.SKIPPED: "#adb5bd",
    StageStatus.CREATED: "#adb5bd",
}


def badge(text, status):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 5px;border-radius:3px;'
        'margin-right:2px">{}</span>',
        BADGE_COLOURS.get(status, "#444"),
        text,
    )


class StageResultInline(admin.TabularInline):
    model = StageResult
    extra = 0
    can_delete = False
    ordering = ["stage", "-job_id"]
    fields = ["stage", "job_name", "job_link", "status", "summary", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Job")
    def job_link(self, result):
        if result.job_url:
            return format_html(
                '<a href="{}" rel="noopener">#{}</a>', result.job_url, result.job_id
            )
        return f"#{result.job_id}"


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ["tag_short", "ref", "commit_short", "stage_badges", "deployable", "created_at"]
    list_filter = ["ref", "repository"]
    search_fields = ["tag", "commit_sha", "ref", "commit_message", "digest"]
    readonly_fields = [f.name for f in Build._meta.fields] + ["pipeline_link", "image_reference"]
    inlines = [StageResultInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stage_results")

    def has_add_permission(self, request):
        return False  # builds come from CI

    def has_change_permission(self, request, obj=None):
        return False  # the record of what CI built is not edited by hand

    @admin.display(description="Tag", ordering="tag")
    def tag_short(self, build):
        return build.tag[:12]

    @admin.display(description="Commit")
    def commit_short(self, build):
        return format_html("<code>{}</code> {}", build.commit_sha[:8], build.commit_message[:60])

    @admin.display(description="Stages")
    def stage_badges(self, build):
        current = build.current_results()
        return format_html_join(
            "", "{}", ((badge(stage, current[stage].status),) for stage in pipeline_order(current))
        )

    @admin.display(description="Deployable", boolean=True)
    def deployable(self, build):
        return build.is_deployable()

    @admin.display(description="Pipeline")
    def pipeline_link(self, build):
        if build.pipeline_url:
            return format_html(
                '<a href="{}" rel="noopener">{}</a>', build.pipeline_url, build.pipeline_id
            )
        return "—"


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "base_url",
        "requires_approval",
        "frozen",
        "deploy_backend",
    ]
    prepopulated_fields = {"slug": ("name",)}

    def get_urls(self):
        from django.urls import path

        from releases import dashboard

        wrap = self.admin_site.admin_view
        return [
            path(
                "dashboard/",
                wrap(lambda request: dashboard.dashboard(self.admin_site, request)),
                name="releases_dashboard",
            ),
            path(
                "dashboard/now/<slug:slug>/",
                wrap(lambda request, slug: dashboard.now_fragment(self.admin_site, request, slug)),
                name="releases_now",
            ),
            path(
                "dashboard/act/",
                wrap(lambda request: dashboard.act(self.admin_site, request)),
                name="releases_act",
            ),
        ] + super().get_urls()

    @admin.display(boolean=True)
    def frozen(self, environment):
        return environment.is_frozen()


@admin.register(CIToken)
class CITokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "scopes"]
    actions = ["revoke"]

    @admin.display(description="Scopes")
    def scope_list(self, token):
        return ", ".join(token.scopes)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        token, raw = services.ci_token_create(
            name=obj.name, scopes=obj.scopes, created_by=request.user
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"Token for {token.name}: {raw} — copy it now: it is not stored and "
            "cannot be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke", permissions=["delete"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.ci_token_revoke(token=token, user=request.user)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "outcome",
        "actor",
        "object_type",
        "object_id",
        "ip_address",
    ]
    list_filter = ["action", "outcome"]
    search_fields = ["action", "object_id", "actor_user__username", "actor_token__name"]
    date_hierarchy = "created_at"

    def actor(self, event):
        return event.actor_user or event.actor_token or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Raw GitLab deliveries: inspect what arrived and replay it through the same mapping."""

    list_display = ["received_at", "event", "outcome", "detail", "build", "delivery_id"]
    list_filter = ["event", "outcome"]
    search_fields = ["delivery_id", "detail", "body"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay (apply again; reports are idempotent)", permissions=["view"])
    def replay(self, request, queryset):
        from releases.api.webhooks import process_delivery

        actor = services.Actor(user=request.user)
        for delivery in queryset:
            try:
                payload = json.loads(delivery.body)
            except ValueError:
                self.message_user(request, f"{delivery}: the body is not JSON.", messages.ERROR)
                continue
            outcome, detail = process_delivery(delivery, payload, actor)
            self.message_user(request, f"{delivery.event}: {outcome} — {detail}")


# The decision first (what, where, who asked, who approved, how it went), then the log,
# then the rest of the record.
_DECISION = ["status", "kind", "environment", "build", "requested_by", "requested_by_ci"]
_DECISION += ["approver", "reason", "created_at", "started_at", "finished_at", "log_lines"]
DEPLOYMENT_DETAIL_FIELDS = _DECISION + [
    f.name for f in Deployment._meta.fields if f.name not in {*_DECISION, "log"}
]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Per-environment deployment history; actions happen on the Releases page."""

    # What people scan for first; the full image reference is on the detail page.
    list_display = [
        "status",
        "kind",
        "environment",
        "short_build",
        "requester",
        "approver",
        "reason",
        "duration",
        "created_at",
    ]
    list_select_related = ["environment", "build", "requested_by", "approval__decided_by"]
    list_filter = ["environment", "status", "kind"]
    search_fields = ["build__tag", "build__commit_sha", "reason"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Deployment._meta.fields] + ["approver", "log_lines"]
    fields = DEPLOYMENT_DETAIL_FIELDS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger is append-only

    @admin.display(description="Build", ordering="build__tag")
    def short_build(self, deployment):
        return format_html(
            '<code title="{}">{}</code>', deployment.image, deployment.build.tag[:12]
        )

    @admin.display(description="Log")
    def log_lines(self, deployment):
        return format_html(
            '<pre style="white-space: pre-wrap; word-break: break-word; margin: 0">{}</pre>',
            deployment.log or "—",
        )

    @admin.display(description="Requested by")
    def requester(self, deployment):
        return deployment.requested_by or deployment.requested_by_ci or "—"

    @admin.display(description="Approved by")
    def approver(self, deployment):
        approval = getattr(deployment, "approval", None)
        return f"{approval.decided_by} ({approval.decision})" if approval else "—"

    @admin.display(description="Duration")
    def duration(self, deployment):
        if deployment.started_at and deployment.finished_at:
            return f"{(deployment.finished_at - deployment.started_at).total_seconds():.0f} s"
        return "—"


@admin.register(Backup)
class BackupAdmin(admin.ModelAdmin):
    """The worker's backups of environment databases (files: `manage.py backup --list`)."""

    list_display = ["started_at", "environment", "trigger", "succeeded", "name", "size", "error"]
    list_filter = ["environment", "trigger", "succeeded"]
    search_fields = ["name", "error"]
    readonly_fields = [f.name for f in Backup._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
