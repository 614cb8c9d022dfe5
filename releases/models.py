"""The build registry: image versions, their CI stage results, environments, CI tokens, audit."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.compiled import CompiledQuery
from releases.stages import STAGE_RANK, StageStatus, StageVerdict, verdicts  # noqa: F401

DIGEST_VALIDATOR = RegexValidator(
    r"^sha256:[0-9a-f]{64}$", "A digest is 'sha256:' followed by 64 lowercase hex digits."
)
SHA_VALIDATOR = RegexValidator(r"^[0-9a-f]{40}$", "A commit SHA is 40 lowercase hex digits.")


class BuildStatus(models.TextChoices):
    """A build's overall status, derived from the current result of each stage."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class Build(models.Model):
    """One container image version: a tag (normally the commit SHA) and its digest."""

    repository = models.CharField(max_length=255, help_text="e.g. registry.gitlab.com/group/blog")
    tag = models.CharField(max_length=128)
    digest = models.CharField(max_length=71, blank=True, validators=[DIGEST_VALIDATOR])
    commit_sha = models.CharField(max_length=40, validators=[SHA_VALIDATOR])
    commit_message = models.TextField(blank=True)
    commit_author = models.CharField(max_length=255, blank=True)
    commit_time = models.DateTimeField(null=True, blank=True)
    ref = models.CharField(max_length=255, blank=True, db_index=True)
    pipeline_id = models.BigIntegerField(null=True, blank=True)
    pipeline_url = models.URLField(max_length=500, blank=True)
    project_path = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Marked bad (vetoed): refused by every environment until unmarked.
    bad_at = models.DateTimeField(null=True, blank=True)
    bad_reason = models.CharField(max_length=500, blank=True)
    # The image's migration plan (`manage.py migration_plan` run inside it, reported by the
    # build job): every migration in order, classified. None: the build reported none.
    migrations = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "tag"], name="build_repository_tag"),
            models.UniqueConstraint(
                fields=["repository", "digest"],
                condition=~models.Q(digest=""),
                name="build_repository_digest",
            ),
        ]
        # A stage report names its build by tag alone (the repository is optional): without
        # this index each such report scanned every build ever recorded.
        indexes = [
            models.Index(fields=["tag"], name="build_tag"),
            # Every list of builds (the release page, the API, the admin, the deploy form)
            # is newest first: a page of it read the whole table and sorted it.
            models.Index(fields=["-created_at", "-id"], name="build_newest"),
        ]

    def __str__(self):
        return f"{self.repository}:{self.tag}"

    @property
    def image_reference(self) -> str:
        """The immutable reference deployments use: repository@digest."""
        return f"{self.repository}@{self.digest}" if self.digest else ""

    def current_results(self) -> dict[str, "StageVerdict"]:
        """Per stage, its verdict from the latest attempt of each of its jobs."""
        return verdicts(self.stage_results.all())

    def overall_status(self) -> str:
        statuses = {verdict.status for verdict in self.current_results().values()}
        if not statuses:
            return BuildStatus.PENDING
        if statuses & {StageStatus.FAILED, StageStatus.CANCELED}:
            return BuildStatus.FAILED
        if statuses <= {StageStatus.SUCCESS, StageStatus.SKIPPED}:
            return BuildStatus.SUCCESS
        if statuses & {StageStatus.RUNNING, StageStatus.SUCCESS}:
            return BuildStatus.RUNNING
        return BuildStatus.PENDING

    def missing_stages(self, required=None) -> list[str]:
        """Required stages without a passed verdict."""
        required = entry_stages() if required is None else required
        current = self.current_results()
        return [
            stage
            for stage in required
            if stage not in current or current[stage].status != StageStatus.SUCCESS
        ]

    def is_deployable(self, required=None) -> bool:
        """The digest is known, every required stage passed and no stage failed: the same
        answer the first environment's gate gives (`required` defaults to its stages)."""
        return (
            bool(self.digest)
            and not self.missing_stages(required)
            and self.overall_status() != BuildStatus.FAILED
        )


# Every build report's answer asks for it: compiled once per process (core/compiled.py).
_first_environment = CompiledQuery(
    lambda: Environment.objects.order_by("position", "name")[:1], generic_plan=True
)


def entry_stages() -> list[str]:
    """The stages the first environment of the chain requires (where builds enter)."""
    first = next(iter(_first_environment()), None)
    return first.stages_required() if first else list(settings.RELEASES_REQUIRED_STAGES)


class StageResult(models.Model):
    """One CI job's result for a build; the job id keeps reports idempotent."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="stage_results")
    stage = models.CharField(max_length=64)
    job_name = models.CharField(max_length=255, blank=True)
    job_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=StageStatus.choices)
    # GitLab's `allow_failure: true`: this job's failure is a warning, never a block.
    allow_failure = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    job_url = models.URLField(max_length=500, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["stage", "-job_id"]
        constraints = [
            models.UniqueConstraint(fields=["build", "job_id"], name="stage_result_job"),
        ]

    def __str__(self):
        return f"{self.build} {self.stage}: {self.status}"


class Environment(models.Model):
    """Where builds run; `position` orders the promotion chain (staging before production)."""

    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    base_url = models.URLField(blank=True)
    requires_approval = models.BooleanField(default=False)
    frozen_until = models.DateTimeField(null=True, blank=True)
    # A one-off freeze may be scheduled ahead: it holds from `frozen_from` (None = at once).
    frozen_from = models.DateTimeField(null=True, blank=True)
    freeze_reason = models.CharField(max_length=255, blank=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Recurring freezes: [{"weekdays": [5, 6], "start": "00:00", "end": "23:59",
    # "reason": "weekend"}] — weekdays 0 = Monday, times in TIME_ZONE.
    freeze_windows = models.JSONField(default=list, blank=True)
    # Pinned: refuses everything but an unpin or a rollback (so a bad release stays undone).
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_reason = models.CharField(max_length=500, blank=True)
    deploy_backend = models.CharField(max_length=32, default="noop")
    deploy_settings = models.JSONField(default=dict, blank=True)
    required_stages = models.JSONField(
        default=list, blank=True, help_text="Stages a build must pass to enter; [] = the default."
    )
    backup_before_deploy = models.BooleanField(
        default=False,
        help_text="The worker backs up this environment's database before a deployment or "
        "promotion changes it; a failed backup stops it before anything changes.",
    )
    # Daily backups at this UTC time ("03:00"), taken by the worker; blank = none scheduled.
    backup_time = models.CharField(
        max_length=5,
        blank=True,
        validators=[
            RegexValidator(r"^([01]\d|2[0-3]):[0-5]\d$", "A UTC time as HH:MM, e.g. 03:00.")
        ],
        help_text="Daily backup at this UTC time (HH:MM), taken by the worker; blank = none.",
    )
    backup_max_age_hours = models.PositiveIntegerField(
        default=26, help_text="The Releases page warns when the last backup is older."
    )
    # The migrations the worker has applied here (plan entries), kept by its migrate steps;
    # None until the first one: then the running build's plan stands in.
    applied_migrations = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        from releases.backends import BACKENDS  # the backends import the Docker SDK

        backend = BACKENDS.get(self.deploy_backend)
        if backend is None:
            raise ValidationError(
                {"deploy_backend": f"Unknown backend; one of {', '.join(sorted(BACKENDS))}."}
            )
        errors = backend.option_errors(self.deploy_settings or {})
        if errors:
            raise ValidationError({"deploy_settings": errors})

    def is_frozen(self, now=None) -> bool:
        return self.freeze_now(now) is not None

    def freeze_now(self, now=None) -> str | None:
        """Why the environment is frozen at `now` (a one-off or a recurring window), or None."""
        now = now or timezone.now()
        started = self.frozen_from is None or self.frozen_from <= now
        if self.frozen_until and self.frozen_until > now and started:
            return f"until {self.frozen_until:%Y-%m-%d %H:%M}: {self.freeze_reason or 'frozen'}"
        local = timezone.localtime(now)
        clock = local.strftime("%H:%M")
        for window in self.freeze_windows or []:
            if local.weekday() in window.get("weekdays", []) and (
                window.get("start", "00:00") <= clock <= window.get("end", "23:59")
            ):
                return f"recurring window: {window.get('reason', 'frozen')}"
        return None

    def scheduled_freeze(self, now=None) -> str | None:
        """A one-off freeze that has not started yet, said in words, or None."""
        now = now or timezone.now()
        if self.frozen_from and self.frozen_until and self.frozen_from > now:
            start = timezone.localtime(self.frozen_from)
            end = timezone.localtime(self.frozen_until)
            return f"from {start:%Y-%m-%d %H:%M} until {end:%Y-%m-%d %H:%M}: {self.freeze_reason}"
        return None

    def stages_required(self) -> list[str]:
        return list(self.required_stages or settings.RELEASES_REQUIRED_STAGES)


class CIToken(models.Model):
    """A scoped token for CI jobs; only its SHA-256 is stored (tokens are 256-bit random)."""

    SCOPES = ("builds:write", "builds:read", "deploy:staging")

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CI token"
        ordering = ["-created_at"]

    @property
    def throttle_key(self) -> str:
        """Each token has its own rate limit (core.throttling.MachineThrottle)."""
        return f"ci-token-{self.pk}"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes


class AuditEvent(models.Model):
    """Append-only: who (a user or a CI token) did what to which object, from where."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        CIToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=16, default="accepted")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")


class WebhookDelivery(models.Model):
    """One raw delivery from GitLab (headers and body), kept to inspect and replay."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    event = models.CharField(max_length=64, blank=True)
    delivery_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    build = models.ForeignKey(
        Build, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} {self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class UsedTokenID(models.Model):
    """`jti` of GitLab id_tokens already used at an endpoint: a replay is refused."""

    jti = models.CharField(max_length=128)
    endpoint = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["jti", "endpoint"], name="used_token_id_endpoint")
        ]


class DeploymentKind(models.TextChoices):
    DEPLOY = "deploy", "Deploy"
    PROMOTE = "promote", "Promote"
    ROLLBACK = "rollback", "Roll back"
    REDEPLOY = "redeploy", "Redeploy"


class DeploymentStatus(models.TextChoices):
    """Where a deployment stands; ACTIVE ones hold a place in the environment's queue."""

    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"


ACTIVE_DEPLOYMENT_STATUSES = (
    DeploymentStatus.AWAITING_APPROVAL,
    DeploymentStatus.QUEUED,
    DeploymentStatus.RUNNING,
)


class Deployment(models.Model):
    """A request to run one build in one environment, and what became of it.

    History is append-only: a rollback is a new deployment of an older build.
    """

    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    build = models.ForeignKey(Build, on_delete=models.PROTECT, related_name="deployments")
    image = models.CharField(max_length=400, help_text="repository@sha256:… — never a tag.")
    kind = models.CharField(max_length=16, choices=DeploymentKind.choices)
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices, db_index=True)
    reason = models.CharField(max_length=500)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by_ci = models.CharField(max_length=200, blank=True)
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    approval_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Release staff asked to stop a running deployment; the worker stops at its next check.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True)
    smoke_result = models.JSONField(default=dict, blank=True)
    backup = models.ForeignKey(
        "Backup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # At request time: the migrations this deployment applies and those it leaves behind
    # (releases.schema). db_default: the running release's inserts need no value (expand).
    migration_changes = models.JSONField(default=dict, db_default={}, blank=True)
    migrations_acknowledged = models.CharField(
        max_length=500,
        blank=True,
        default="",
        db_default="",
        help_text="Why incompatible migrations may go ahead (the requester's words).",
    )
    verification = models.JSONField(
        default=dict,
        db_default={},
        blank=True,
        help_text="After the smoke tests: the new release's numbers against the baseline.",
    )
    request_id = models.CharField(
        max_length=128,
        blank=True,
        default="",
        db_default="",
        help_text="The X-Request-ID of the request that asked for it (in the worker's log lines).",
    )
    reverse_migrations = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A rollback that first unapplies the newer migrations, from the newer image.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("approve_deployment", "Can approve or reject production deployments")]
        constraints = [
            # The database itself keeps one deployment running per environment, whatever
            # number of web servers and workers race for it.
            models.UniqueConstraint(
                fields=["environment"],
                condition=models.Q(status="running"),
                name="one_running_deployment_per_environment",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.build.tag[:12]} to {self.environment}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_DEPLOYMENT_STATUSES


class Approval(models.Model):
    """A second person's decision on a deployment; immutable once written."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="approval"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Approvals are immutable.")
        super().save(*args, **kwargs)


class WorkerHeartbeat(models.Model):
    """A deployment worker's last sign of life (its upkeep writes it every tick)."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    release = models.CharField(max_length=64, blank=True, help_text="GIT_SHA of its code.")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self):
        return f"worker {self.worker_id} on {self.hostname}"


class Backup(models.Model):
    """A backup of an environment's database taken by the worker (before a deployment, or
    on its daily schedule): the file in the backups storage, or why it failed."""

    class Trigger(models.TextChoices):
        DEPLOYMENT = "deployment", "before a deployment"
        SCHEDULE = "schedule", "daily schedule"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="backups")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    name = models.CharField(max_length=200, blank=True, help_text="In the backups storage.")
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["environment", "-started_at"])]

    def __str__(self):
        return (
            self.name or f"failed backup of {self.environment} at {self.started_at:%Y-%m-%d %H:%M}"
        )
