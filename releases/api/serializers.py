"""Serializers of the CI API: build and stage reports in, builds with their stages out."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import FieldsOnceModelSerializer
from releases.models import (
    DIGEST_VALIDATOR,
    SHA_VALIDATOR,
    Build,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Environment,
    StageResult,
    StageStatus,
    entry_stages,
)
from releases.stages import pipeline_order


class MigrationIssueSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    message = serializers.CharField(max_length=500)
    table = serializers.CharField(max_length=255, required=False)
    column = serializers.CharField(max_length=255, required=False)


class MigrationEntrySerializer(serializers.Serializer):
    """One migration of a build's plan, as `manage.py migration_plan` prints it."""

    app = serializers.RegexField(r"^[A-Za-z_][\w]{0,99}$", max_length=100)
    name = serializers.RegexField(r"^[\w]{1,255}$", max_length=255)
    backward_compatible = serializers.BooleanField(
        help_text="django-migration-linter found nothing that breaks the code before it."
    )
    reversible = serializers.BooleanField()
    issues = MigrationIssueSerializer(many=True, required=False, default=list, max_length=50)
    warnings = MigrationIssueSerializer(many=True, required=False, default=list, max_length=50)
    ignored = serializers.BooleanField(required=False)


class BuildReportSerializer(serializers.Serializer):
    """What a CI job reports about an image (names kept stable for pipelines)."""

    repository = serializers.CharField(max_length=255)
    tag = serializers.RegexField(r"^[\w][\w.-]{0,127}$", max_length=128)
    digest = serializers.CharField(
        max_length=71, required=False, allow_blank=True, validators=[DIGEST_VALIDATOR]
    )
    commit_sha = serializers.CharField(max_length=40, validators=[SHA_VALIDATOR])
    commit_message = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    commit_author = serializers.CharField(required=False, allow_blank=True, max_length=255)
    commit_time = serializers.DateTimeField(required=False, allow_null=True)
    ref = serializers.CharField(required=False, allow_blank=True, max_length=255)
    pipeline_id = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    pipeline_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    project_path = serializers.CharField(required=False, allow_blank=True, max_length=255)
    migrations = MigrationEntrySerializer(
        many=True,
        required=False,
        max_length=2000,
        help_text="The image's migration plan: `manage.py migration_plan`'s `migrations`.",
    )

    def validate_migrations(self, value):
        names = [(entry["app"], entry["name"]) for entry in value]
        if len(set(names)) != len(names):
            raise serializers.ValidationError("A migration is listed twice.")
        return [dict(entry) for entry in value]


class StageReportSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=64)
    job_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    job_id = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(choices=StageStatus.choices)
    allow_failure = serializers.BooleanField(
        required=False, default=False, help_text="GitLab's allow_failure: a failure only warns."
    )
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    duration = serializers.FloatField(required=False, allow_null=True, min_value=0)
    job_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=255)
    details = serializers.DictField(required=False)

    def validate_details(self, value):
        if len(str(value)) > 4000:
            raise serializers.ValidationError("At most 4,000 characters of details.")
        return value


class StageResultSerializer(FieldsOnceModelSerializer):
    class Meta:
        model = StageResult
        fields = [
            "stage",
            "job_name",
            "job_id",
            "status",
            "allow_failure",
            "started_at",
            "finished_at",
            "duration",
            "job_url",
            "summary",
            "details",
            "reported_at",
        ]


class StageVerdictSerializer(serializers.Serializer):
    """A stage's verdict from the latest attempt of each of its jobs, with the job to open."""

    stage = serializers.CharField()
    status = serializers.ChoiceField(choices=StageStatus.choices)
    job_id = serializers.IntegerField(source="deciding_job.job_id")
    job_name = serializers.CharField(source="deciding_job.job_name")
    job_url = serializers.CharField(source="deciding_job.job_url")
    summary = serializers.CharField(source="deciding_job.summary")
    finished_at = serializers.DateTimeField(source="deciding_job.finished_at", allow_null=True)
    jobs = StageResultSerializer(many=True, help_text="The latest attempt of each job.")
    warnings = serializers.SerializerMethodField(
        help_text="Jobs allowed to fail that did not pass (they do not block)."
    )

    def get_warnings(self, verdict) -> list[str]:
        return [f"{job.job_name or job.job_id}: {job.status}" for job in verdict.warnings]


# One instance for every build: its fields hold no state of a build or a request, and a new
# serializer per build deep-copied them all (a list of 50 builds made 50).
_VERDICTS = StageVerdictSerializer(many=True)


class BuildSerializer(FieldsOnceModelSerializer):
    status = serializers.SerializerMethodField()
    deployable = serializers.SerializerMethodField()
    missing_stages = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField(help_text="The current result of each stage.")
    image = serializers.CharField(source="image_reference", read_only=True)
    digest = serializers.CharField(
        read_only=True,
        help_text="sha256:<64 hex>, or an empty string while the image is not pushed yet.",
    )

    class Meta:
        model = Build
        fields = [
            "id",
            "repository",
            "tag",
            "digest",
            "image",
            "commit_sha",
            "commit_message",
            "commit_author",
            "commit_time",
            "ref",
            "pipeline_id",
            "pipeline_url",
            "project_path",
            "status",
            "deployable",
            "missing_stages",
            "stages",
            "created_at",
            "updated_at",
        ]

    def _required(self):
        # The first environment's stages, read once per response (not once per build).
        if "entry_stages" not in self.context:
            self.context["entry_stages"] = entry_stages()
        return self.context["entry_stages"]

    def get_status(self, build) -> str:
        return build.overall_status()

    def get_deployable(self, build) -> bool:
        return build.is_deployable(self._required())

    def get_missing_stages(self, build) -> list[str]:
        return build.missing_stages(self._required())

    @extend_schema_field(StageVerdictSerializer(many=True))
    def get_stages(self, build) -> list[dict]:
        current = build.current_results()
        return _VERDICTS.to_representation([current[stage] for stage in pipeline_order(current)])


class BuildHistorySerializer(BuildSerializer):
    """A build with every stage report, retried jobs included."""

    history = StageResultSerializer(source="stage_results", many=True, read_only=True)
    migrations = MigrationEntrySerializer(
        many=True, read_only=True, allow_null=True, help_text="null: the build reported no plan."
    )

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "history", "migrations"]


class MigrationChangesSerializer(serializers.Serializer):
    """What deploying (or rolling back to) a build does to an environment's schema."""

    known = serializers.BooleanField(help_text="False: a plan is missing; `why` says which.")
    why = serializers.CharField(required=False)
    apply = MigrationEntrySerializer(many=True, required=False)
    leave_behind = MigrationEntrySerializer(
        many=True, required=False, help_text="Applied there, unknown to the build."
    )


class EnvironmentSerializer(FieldsOnceModelSerializer):
    frozen = serializers.SerializerMethodField()
    freeze_reason = serializers.SerializerMethodField()
    pinned = serializers.SerializerMethodField()
    required_stages = serializers.SerializerMethodField()
    current_build = serializers.SerializerMethodField(help_text="The build running there.")
    queue = serializers.SerializerMethodField(help_text="Active deployments, oldest first.")

    class Meta:
        model = Environment
        fields = [
            "slug",
            "name",
            "position",
            "base_url",
            "requires_approval",
            "frozen",
            "frozen_until",
            "freeze_reason",
            "frozen_from",
            "freeze_windows",
            "pinned",
            "pinned_reason",
            "deploy_backend",
            "required_stages",
            "current_build",
            "queue",
        ]

    def get_frozen(self, environment) -> bool:
        return environment.is_frozen()

    def get_freeze_reason(self, environment) -> str:
        return environment.freeze_now() or ""

    def get_required_stages(self, environment) -> list[str]:
        return environment.stages_required() or list(settings.RELEASES_REQUIRED_STAGES)

    def get_pinned(self, environment) -> bool:
        return environment.pinned_at is not None

    def get_current_build(self, environment) -> dict | None:
        from releases.deployments import current_deployment

        current = current_deployment(environment)
        if current is None:
            return None
        build = current.build
        return {
            "id": build.pk,
            "tag": build.tag,
            "digest": build.digest,
            "commit_sha": build.commit_sha,
            "deployed_at": current.finished_at,
            "deployment": current.pk,
        }

    def get_queue(self, environment) -> list[dict]:
        from releases.models import ACTIVE_DEPLOYMENT_STATUSES

        active = environment.deployments.filter(status__in=ACTIVE_DEPLOYMENT_STATUSES)
        return [
            {"id": d.pk, "status": d.status, "kind": d.kind, "build": d.build.tag}
            for d in active.select_related("build").order_by("created_at", "id")
        ]


class DeploymentSerializer(FieldsOnceModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    build = serializers.SerializerMethodField()
    requested_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The user who asked; null when a CI identity or the worker did "
        "(`requested_by_ci` says which).",
    )
    approval = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=DeploymentStatus.choices, read_only=True)
    kind = serializers.ChoiceField(choices=DeploymentKind.choices, read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "environment",
            "build",
            "image",
            "kind",
            "status",
            "reason",
            "requested_by",
            "requested_by_ci",
            "approval",
            "created_at",
            "approval_expires_at",
            "started_at",
            "finished_at",
            "smoke_result",
            "backup",
            "migration_changes",
            "migrations_acknowledged",
            "reverse_migrations",
            "verification",
            "request_id",
            "log",
        ]

    backup = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="The backup the worker took before this deployment changed anything "
        "(null: none was taken).",
    )

    def get_build(self, deployment) -> dict:
        build = deployment.build
        return {"id": build.pk, "tag": build.tag, "digest": build.digest}

    def get_approval(self, deployment) -> dict | None:
        approval = getattr(deployment, "approval", None)
        if approval is None:
            return None
        return {
            "decision": approval.decision,
            "by": approval.decided_by.get_username(),
            "comment": approval.comment,
            "at": approval.created_at,
        }


ACKNOWLEDGE_HELP = (
    "Why migrations the running code may not work with may go ahead (refused with "
    "migrations_incompatible / rollback_across_migrations without it)."
)


class DeployRequestSerializer(serializers.Serializer):
    build = serializers.CharField(max_length=128, help_text="Build id or tag.")
    reason = serializers.CharField(max_length=500)
    acknowledge_migrations = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True, help_text=ACKNOWLEDGE_HELP
    )
    break_glass = serializers.BooleanField(
        default=False, help_text="Through a freeze: waits for a second person's approval."
    )
    supersede = serializers.BooleanField(
        default=False, help_text="Mark older queued requests for this environment superseded."
    )


class PromoteRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    break_glass = serializers.BooleanField(default=False)
    acknowledge_migrations = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True, help_text=ACKNOWLEDGE_HELP
    )


class RollbackRequestSerializer(serializers.Serializer):
    build = serializers.CharField(
        max_length=128, required=False, help_text="Default: the previous good build there."
    )
    reason = serializers.CharField(max_length=500)
    mark_bad = serializers.BooleanField(default=False)
    pin = serializers.BooleanField(default=False)
    reverse_migrations = serializers.BooleanField(
        default=False,
        help_text="Unapply the newer migrations first, from the image that applied them.",
    )
    acknowledge_migrations = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True, help_text=ACKNOWLEDGE_HELP
    )


class ReasonSerializer(serializers.Serializer):
    """Why, optional: to undo a pin, a freeze or a bad mark."""

    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class RequiredReasonSerializer(serializers.Serializer):
    """Why, required: to pin an environment or mark a build bad."""

    reason = serializers.CharField(
        max_length=500,
        validators=[RegexValidator(r"\S", "Say why.")],
        error_messages={"blank": "Say why.", "required": "Say why."},
    )


class FreezeRequestSerializer(serializers.Serializer):
    until = serializers.DateTimeField(help_text="When the freeze ends (in the future).")
    starts = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it begins; default now."
    )
    reason = serializers.CharField(max_length=500)

    def validate_until(self, value):
        if value <= timezone.now():
            raise serializers.ValidationError("A freeze must end in the future.")
        return value


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True)


class DoraFiguresSerializer(serializers.Serializer):
    """The DORA figures' shape (releases.metrics.dora); null where there is no data."""

    environment = serializers.CharField()
    days = serializers.IntegerField()
    deployments = serializers.IntegerField(help_text="Successful deployments in the window.")
    deployment_frequency_per_day = serializers.FloatField()
    lead_time_hours_median = serializers.FloatField(
        allow_null=True, help_text="Commit to first successful deployment here."
    )
    change_failure_rate = serializers.FloatField(
        allow_null=True, help_text="0 to 1: failed or rolled-back changes over all changes."
    )
    time_to_restore_hours_median = serializers.FloatField(allow_null=True)
    changes = serializers.IntegerField(help_text="Deployments and promotions that finished.")
    failed_changes = serializers.IntegerField(help_text="Of those, failed or rolled back.")
    lead_time_samples = serializers.IntegerField(help_text="Builds in the lead-time median.")
    restore_samples = serializers.IntegerField(help_text="Failures in the restore median.")


class DoraWeekSerializer(DoraFiguresSerializer):
    """One week's figures (the 7 days ending on `week_ending`)."""

    week_ending = serializers.DateField()


class DoraMetricsSerializer(DoraFiguresSerializer):
    """The DORA figures over the window, and week by week when `weeks` is asked for."""

    weekly = DoraWeekSerializer(many=True)

    class Meta:
        ref_name = "DoraMetrics"
