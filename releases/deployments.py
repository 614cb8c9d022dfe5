"""The deployment rules, in one place: request, approve, cancel, start, finish, roll back.

Every function takes the environment's row lock first (SELECT ... FOR UPDATE), so requests
for one environment are decided one after another across any number of web servers and
workers; a partial unique index also keeps at most one deployment *running* per
environment. Refusals raise `Refused` with a code naming the rule (the API answers 409).
"""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict
from core.request_id import REQUEST_ID
from releases.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Approval,
    Build,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Environment,
)
from notifications import events
from releases import schema
from releases.services import Actor, audit
from releases.stages import NOT_PASSED, pipeline_order

S = DeploymentStatus

NO_DIGEST = "Build {tag} has no digest yet: only an image pushed to the registry can run."
STAGES_MISSING = "Build {tag} has not passed {stages} (required for {environment})."
STAGES_FAILED = "Build {tag} failed {stages}: a build with a failed job never ships."
NOT_ON_PREVIOUS = (
    "Build {tag} has not succeeded on {previous} (with passing smoke tests); "
    "only such a build may enter {environment}."
)
BUILD_BAD = "Build {tag} is marked bad ({reason}); unmark it first."
FROZEN = (
    "{environment} is frozen ({why}); only a rollback is allowed, or a break-glass request "
    "with a reason that a second person approves."
)
PINNED = "{environment} is pinned ({reason}); unpin it first (a rollback is allowed)."
OWN_REQUEST = "You requested this deployment; someone else must approve it (four eyes)."
NOT_AWAITING = "This deployment is {status}, not awaiting approval."
APPROVAL_EXPIRED = "The approval window of this request ended at {expired}; request again."
CANNOT_CANCEL = "A {status} deployment cannot be cancelled."
NOTHING_TO_ROLL_BACK_TO = "{environment} has no earlier good build to roll back to."
NOTHING_TO_PROMOTE = "{previous} runs no successful build to promote to {environment}."
CANNOT_APPROVE = "You do not have permission to approve deployments."
ACKNOWLEDGE_MAX = Deployment._meta.get_field("migrations_acknowledged").max_length
ACKNOWLEDGE_TOO_LONG = f"An acknowledgement is at most {ACKNOWLEDGE_MAX} characters."
MIGRATIONS_INCOMPATIBLE = (
    "Build {tag} applies migrations the code running in {environment} may not work with: "
    "{names}. Ship them expand/contract (docs/runbooks/expand-contract.md), or acknowledge "
    "them with a reason."
)
ROLLBACK_ACROSS_MIGRATIONS = (
    "Rolling back to {tag} leaves migrations in {environment}'s database that its code may "
    "not work with: {names}. Ways out: {ways}."
)
MIGRATIONS_IRREVERSIBLE = "Cannot reverse {names}: not reversible. {restore}"
REVERSE_WAY = "reverse them first (from the image that applied them)"
RESTORE_WAY = (
    "restore the backup taken before they were applied ({backup}: `manage.py restore {backup} "
    "--force`), then roll back acknowledging it"
)
NO_BACKUP_WAY = (
    "restore a backup from before them (none is recorded), then roll back acknowledging it"
)


# What authorizing a deployment of each kind means.
KIND_ACTIONS = {
    "deploy": "deploy",
    "promote": "promote",
    "rollback": "rollback",
    "redeploy": "deploy",
}
# The model permission a user needs for each action (CI identities use scopes instead).
ACTION_PERMISSIONS = {
    "deploy": "releases.add_deployment",
    "promote": "releases.add_deployment",
    "rollback": "releases.add_deployment",
    "cancel": "releases.add_deployment",
    "pin": "releases.add_deployment",
    "unpin": "releases.add_deployment",
    "mark_bad": "releases.add_deployment",
    "unmark_bad": "releases.add_deployment",
    "approve": "releases.approve_deployment",
    "reject": "releases.approve_deployment",
    "freeze": "releases.change_environment",
    "unfreeze": "releases.change_environment",
}


CI_FIRST_ENVIRONMENT_ONLY = "CI identities may only request deployments to the first environment."
NOT_ALLOWED = "You may not {action}."


def authorize(actor: Actor, action: str, environment: Environment | None = None) -> None:
    """Who may take a release action, in one place for the admin, the API and commands:
    users by model permission; CI identities only `deploy` to the first environment with
    the deploy:staging scope; the worker itself (automatic rollbacks) always."""
    if actor.system:
        return
    user = actor.user
    if user is not None and user.is_authenticated:
        if not user.has_perm(ACTION_PERMISSIONS[action]):
            raise PermissionDenied(NOT_ALLOWED.format(action=action.replace("_", " ")))
        return
    if actor.token is not None or actor.oidc_subject:
        first = Environment.objects.order_by("position", "name").first()
        if action != "deploy" or environment is None or first is None or environment != first:
            raise PermissionDenied(CI_FIRST_ENVIRONMENT_ONLY)
        if not actor.has_scope("deploy:staging"):
            raise PermissionDenied(NOT_ALLOWED.format(action=action))
        return
    raise PermissionDenied(NOT_ALLOWED.format(action=action.replace("_", " ")))


class Refused(Conflict):
    """A deployment rule said no; `code` names the rule."""


def _refuse(message: str, code: str):
    raise Refused(message, code=code)


def _lock(environment: Environment) -> Environment:
    return Environment.objects.select_for_update().get(pk=environment.pk)


def previous_environment(environment: Environment) -> Environment | None:
    return (
        Environment.objects.filter(position__lt=environment.position).order_by("-position").first()
    )


def current_deployment(environment: Environment) -> Deployment | None:
    """The last deployment that succeeded there: what the environment runs."""
    return (
        environment.deployments.filter(status=S.SUCCEEDED)
        .select_related("build")
        .order_by("-finished_at", "-id")
        .first()
    )


def _check_gates(environment: Environment, build: Build) -> None:
    if not build.digest:
        _refuse(NO_DIGEST.format(tag=build.tag[:12]), "no_digest")
    if build.bad_at:
        _refuse(BUILD_BAD.format(tag=build.tag[:12], reason=build.bad_reason), "build_bad")
    previous = previous_environment(environment)
    if previous is None:
        missing = build.missing_stages(environment.stages_required())
        if missing:
            _refuse(
                STAGES_MISSING.format(
                    tag=build.tag[:12], stages=", ".join(missing), environment=environment
                ),
                "stages_missing",
            )
    # Any failed stage blocks, required or not (a failed pipeline never ships).
    failed = [v.stage for v in build.current_results().values() if v.status in NOT_PASSED]
    if failed:
        _refuse(
            STAGES_FAILED.format(tag=build.tag[:12], stages=", ".join(failed)), "stages_failed"
        )
    if previous is None:
        return
    passed = previous.deployments.filter(
        build=build, status=S.SUCCEEDED, smoke_result__passed=True
    ).exists()
    if not passed:
        _refuse(
            NOT_ON_PREVIOUS.format(tag=build.tag[:12], previous=previous, environment=environment),
            "not_on_previous",
        )


@transaction.atomic
def request_deployment(
    *,
    actor: Actor,
    environment: Environment,
    build: Build,
    reason: str,
    kind: str = DeploymentKind.DEPLOY,
    supersede: bool = False,
    break_glass: bool = False,
    acknowledge: str = "",
    reverse_migrations: bool = False,
) -> tuple[Deployment, bool]:
    """Queue (or put up for approval) a deployment; returns (deployment, created).

    The same build requested again while an earlier request for it is active returns that
    request: two people clicking "promote" at once make one deployment. Migrations the
    running code may not work with are refused unless `acknowledge` says why; a rollback
    across them unless it reverses them first or `acknowledge`s (a restored backup).
    """
    authorize(actor, KIND_ACTIONS[kind], environment)
    environment = _lock(environment)
    rollback = kind == DeploymentKind.ROLLBACK
    now = timezone.now()
    frozen_why = environment.freeze_now(now)
    if frozen_why and not rollback and not break_glass:
        _refuse(FROZEN.format(environment=environment, why=frozen_why), "frozen")
    if environment.pinned_at and not rollback:
        _refuse(PINNED.format(environment=environment, reason=environment.pinned_reason), "pinned")
    if rollback:
        if not build.digest:
            _refuse(NO_DIGEST.format(tag=build.tag[:12]), "no_digest")
    else:
        _check_gates(environment, build)
    acknowledge = acknowledge.strip()
    if len(acknowledge) > ACKNOWLEDGE_MAX:
        _refuse(ACKNOWLEDGE_TOO_LONG, "acknowledgement_too_long")
    changes = schema.changes(environment, build)
    reverse_migrations = _check_migrations(
        environment, build, changes, rollback, acknowledge, reverse_migrations
    )
    existing = environment.deployments.filter(
        build=build, status__in=ACTIVE_DEPLOYMENT_STATUSES
    ).first()
    if existing is not None:
        return existing, False
    # Break-glass through a freeze always waits for a second person.
    glass_broken = bool(frozen_why) and break_glass and not rollback
    needs_approval = (environment.requires_approval and not rollback) or glass_broken
    deployment = Deployment.objects.create(
        environment=environment,
        build=build,
        image=build.image_reference,
        kind=kind,
        status=S.AWAITING_APPROVAL if needs_approval else S.QUEUED,
        reason=reason,
        requested_by=(
            actor.user if actor.user is not None and actor.user.is_authenticated else None
        ),
        requested_by_ci=actor.oidc_subject or (str(actor.token) if actor.token else ""),
        replaces=current_deployment(environment),
        approval_expires_at=(
            now + datetime.timedelta(hours=settings.RELEASES_APPROVAL_HOURS)
            if needs_approval
            else None
        ),
        migration_changes=changes,
        migrations_acknowledged=acknowledge,
        request_id=REQUEST_ID.get(),
        reverse_migrations=reverse_migrations,
    )
    if supersede:
        environment.deployments.filter(status=S.QUEUED).exclude(pk=deployment.pk).update(
            status=S.SUPERSEDED, finished_at=now
        )
    audit(actor, f"deployment.{kind}", obj=deployment, build=build.tag, reason=reason)
    if acknowledge:
        audit(actor, "deployment.acknowledge_migrations", obj=deployment, reason=acknowledge)
    if glass_broken:
        audit(actor, "deployment.break_glass", obj=deployment, freeze=frozen_why, reason=reason)
    if deployment.status == S.QUEUED:
        _wake_worker(environment)
    else:
        events.emit("approval.requested", events.deployment_data(deployment))
    return deployment, True


def _check_migrations(environment, build, changes, rollback, acknowledge, reverse) -> bool:
    """The backward-compatibility gate; returns whether the rollback reverses migrations."""
    if not changes["known"]:
        return False
    blocking = schema.blocking(changes, rollback)
    if not rollback:
        if blocking and not acknowledge:
            _refuse(
                MIGRATIONS_INCOMPATIBLE.format(
                    tag=build.tag[:12],
                    environment=environment,
                    names=", ".join(map(schema.label, blocking)),
                ),
                "migrations_incompatible",
            )
        return False
    behind = changes["leave_behind"]
    if not behind:
        return False
    backup = schema.backup_before(environment, behind)
    restore = RESTORE_WAY.format(backup=backup.name) if backup else NO_BACKUP_WAY
    if reverse:
        stuck = schema.irreversible(behind)
        if not stuck and not schema.image_knowing(environment, behind):
            stuck = behind  # no image deployed here has their code to unapply them
        if stuck:
            _refuse(
                MIGRATIONS_IRREVERSIBLE.format(
                    names=", ".join(map(schema.label, stuck)),
                    restore=restore[0].upper() + restore[1:] + ".",
                ),
                "migrations_irreversible",
            )
        return True
    if blocking and not acknowledge:
        ways = ([REVERSE_WAY] if not schema.irreversible(behind) else []) + [restore]
        _refuse(
            ROLLBACK_ACROSS_MIGRATIONS.format(
                tag=build.tag[:12],
                environment=environment,
                names=", ".join(map(schema.label, blocking)),
                ways="; or ".join(ways),
            ),
            "rollback_across_migrations",
        )
    return False


# Called with an environment id when it has a deployment to run; the worker's module
# (releases.tasks) registers itself here at startup, so this module never imports it.
queue_listeners: list = []


def _wake_worker(environment: Environment) -> None:
    for listener in queue_listeners:
        listener(environment.pk)


@transaction.atomic
def lapse_expired_approvals(now=None) -> int:
    """Requests whose approval window ended lapse (cancelled), so they never linger."""
    now = now or timezone.now()
    expired = list(
        Deployment.objects.select_for_update().filter(
            status=S.AWAITING_APPROVAL, approval_expires_at__lte=now
        )
    )
    for deployment in expired:
        deployment.status, deployment.finished_at = S.CANCELLED, now
        deployment.log += f"{now:%Y-%m-%d %H:%M:%S} approval window expired\n"
        deployment.save(update_fields=["status", "finished_at", "log"])
        audit(Actor(), "deployment.expire", obj=deployment)
    return len(expired)


def remind_expiring_approvals(now=None) -> int:
    """Requests that lapse within NOTIFICATIONS_APPROVAL_REMINDER_MINUTES get one reminder
    (approval.expiring, once per request however many workers look)."""
    now = now or timezone.now()
    soon = now + datetime.timedelta(minutes=settings.NOTIFICATIONS_APPROVAL_REMINDER_MINUTES)
    expiring = Deployment.objects.filter(
        status=S.AWAITING_APPROVAL, approval_expires_at__gt=now, approval_expires_at__lte=soon
    ).select_related("build", "environment", "requested_by")
    reminded = 0
    for deployment in expiring:
        with transaction.atomic():
            key = f"approval.expiring:{deployment.pk}"
            data = events.deployment_data(deployment)
            if events.emit("approval.expiring", data, dedupe_key=key) is not None:
                reminded += 1
    return reminded


@transaction.atomic
def promote(
    *, actor: Actor, environment: Environment, reason: str, break_glass=False, acknowledge=""
):
    """Request the build the previous environment runs (the same digest) here."""
    authorize(actor, "promote", environment)
    previous = previous_environment(environment)
    running = current_deployment(previous) if previous else None
    if running is None:
        _refuse(
            NOTHING_TO_PROMOTE.format(
                previous=previous or "No earlier environment", environment=environment
            ),
            "nothing_to_promote",
        )
    return request_deployment(
        actor=actor,
        environment=environment,
        build=running.build,
        reason=reason,
        kind=DeploymentKind.PROMOTE,
        break_glass=break_glass,
        acknowledge=acknowledge,
    )


def is_own_request(deployment: Deployment, user) -> bool:
    """Four eyes: nobody decides on a deployment they requested (the Releases page asks too,
    to offer the buttons only to someone who may press them)."""
    return deployment.requested_by_id is not None and deployment.requested_by_id == user.pk


@transaction.atomic
def decide(
    *, actor: Actor, deployment: Deployment, approve: bool, comment: str = ""
) -> Deployment:
    """Four eyes: a user with the approve permission who did not request it decides."""
    user = actor.user
    if not (user and user.is_authenticated):
        raise PermissionDenied(CANNOT_APPROVE)
    authorize(actor, "approve" if approve else "reject")
    _lock(deployment.environment)
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.status != S.AWAITING_APPROVAL:
        _refuse(
            NOT_AWAITING.format(status=deployment.get_status_display().lower()), "not_awaiting"
        )
    if is_own_request(deployment, user):
        _refuse(OWN_REQUEST, "own_request")
    now = timezone.now()
    if deployment.approval_expires_at and deployment.approval_expires_at <= now:
        deployment.status, deployment.finished_at = S.CANCELLED, now
        deployment.log += f"{now:%Y-%m-%d %H:%M:%S} approval window expired\n"
        deployment.save(update_fields=["status", "finished_at", "log"])
        audit(actor, "deployment.expire", obj=deployment)
        _refuse(
            APPROVAL_EXPIRED.format(expired=deployment.approval_expires_at), "approval_expired"
        )
    Approval.objects.create(
        deployment=deployment,
        decided_by=user,
        decision=Approval.Decision.APPROVED if approve else Approval.Decision.REJECTED,
        comment=comment,
    )
    deployment.status = S.QUEUED if approve else S.CANCELLED
    if not approve:
        deployment.finished_at = now
    deployment.save(update_fields=["status", "finished_at"])
    if approve:
        _wake_worker(deployment.environment)  # the approval itself starts it
    audit(
        actor,
        "deployment.approve" if approve else "deployment.reject",
        obj=deployment,
        comment=comment,
    )
    return deployment


@transaction.atomic
def cancel(*, actor: Actor, deployment: Deployment, reason: str = "") -> Deployment:
    """A waiting deployment is cancelled at once; a running one is asked to stop (the
    worker's backend removes what it started and the previous release keeps serving)."""
    authorize(actor, "cancel")
    _lock(deployment.environment)
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    now = timezone.now()
    if deployment.status == S.RUNNING:
        if deployment.cancel_requested_at is None:
            deployment.cancel_requested_at = now
            who = actor.user or actor.oidc_subject or "someone"
            deployment.log += f"{now:%Y-%m-%d %H:%M:%S} cancel requested by {who}: {reason}\n"
            deployment.save(update_fields=["cancel_requested_at", "log"])
            audit(actor, "deployment.cancel_request", obj=deployment, reason=reason)
        return deployment
    if deployment.status not in (S.AWAITING_APPROVAL, S.QUEUED):
        _refuse(
            CANNOT_CANCEL.format(status=deployment.get_status_display().lower()), "cannot_cancel"
        )
    deployment.status, deployment.finished_at = S.CANCELLED, now
    deployment.save(update_fields=["status", "finished_at"])
    audit(actor, "deployment.cancel", obj=deployment, reason=reason)
    notify_outcome(deployment)
    return deployment


@transaction.atomic
def start_next(environment: Environment) -> Deployment | None:
    """The worker's step: the oldest queued deployment starts, unless one is running."""
    environment = _lock(environment)
    if environment.deployments.filter(status=S.RUNNING).exists():
        return None
    deployment = (
        environment.deployments.select_for_update()
        .filter(status=S.QUEUED)
        .order_by("created_at", "id")
        .first()
    )
    if deployment is None:
        return None
    now = timezone.now()
    deployment.status, deployment.started_at, deployment.heartbeat_at = S.RUNNING, now, now
    deployment.save(update_fields=["status", "started_at", "heartbeat_at"])
    audit(Actor(), "deployment.start", obj=deployment)
    events.emit("deployment.started", events.deployment_data(deployment))
    return deployment


@transaction.atomic
def finish(*, deployment: Deployment, succeeded: bool, log: str = "", smoke=None) -> Deployment:
    """A running deployment ends: succeeded, failed, or cancelled when that was asked for.

    Decided on the locked, re-read row: only a *running* deployment can finish, so a late
    result from a worker presumed dead never turns a recovered "failed" into "succeeded"
    while the next deployment runs."""
    _lock(deployment.environment)
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    now = timezone.now()
    if deployment.status != S.RUNNING:
        outcome = "success" if succeeded else "failure"
        deployment.log += (
            f"{log}{now:%Y-%m-%d %H:%M:%S} a late {outcome} report was ignored: "
            f"the deployment was already {deployment.get_status_display().lower()}\n"
        )
        deployment.save(update_fields=["log"])
        audit(Actor(), "deployment.finish", obj=deployment, outcome="ignored", late=outcome)
        deployment.late_result = True
        return deployment
    if deployment.cancel_requested_at is not None and not succeeded:
        deployment.status = S.CANCELLED
    else:
        deployment.status = S.SUCCEEDED if succeeded else S.FAILED
    deployment.finished_at = now
    deployment.log += log
    if smoke is not None:
        deployment.smoke_result = smoke
    deployment.save(update_fields=["status", "finished_at", "log", "smoke_result"])
    audit(Actor(), "deployment.finish", obj=deployment, status=deployment.status)
    notify_outcome(deployment)
    deployment.late_result = False  # this call decided the outcome
    return deployment


def notify_outcome(deployment: Deployment) -> None:
    """The events a finished deployment sends: its outcome, and a rollback's own."""
    data = events.deployment_data(deployment)
    outcome = {
        S.SUCCEEDED: "deployment.succeeded",
        S.FAILED: "deployment.failed",
        S.CANCELLED: "deployment.cancelled",
    }.get(deployment.status)
    if outcome:
        events.emit(outcome, data)
    if deployment.status == S.SUCCEEDED and deployment.kind == DeploymentKind.ROLLBACK:
        events.emit("deployment.rolled_back", data)


def previous_good_build(environment: Environment) -> Build | None:
    """The newest build that succeeded there before the one running now (never a bad one)."""
    current = current_deployment(environment)
    good = environment.deployments.filter(
        status=S.SUCCEEDED, build__bad_at__isnull=True
    ).select_related("build")
    if current is not None:
        good = good.exclude(build=current.build)
    earlier = good.order_by("-finished_at", "-id").first()
    return earlier.build if earlier else None


@transaction.atomic
def rollback(
    *,
    actor: Actor,
    environment: Environment,
    reason: str,
    build: Build | None = None,
    mark_bad: bool = False,
    pin: bool = False,
    acknowledge: str = "",
    reverse_migrations: bool = False,
) -> Deployment:
    """Redeploy an earlier good build; optionally veto the bad one and pin the environment,
    in the same action, so nothing re-applies the bad release. Across migrations its code
    may not work with, only reversing them first or acknowledging (a restore) goes ahead."""
    authorize(actor, "rollback", environment)
    environment = _lock(environment)
    current = current_deployment(environment)
    target = build or previous_good_build(environment)
    if target is None:
        _refuse(NOTHING_TO_ROLL_BACK_TO.format(environment=environment), "nothing_to_roll_back_to")
    now = timezone.now()
    if mark_bad and current is not None and current.build_id != target.pk:
        Build.objects.filter(pk=current.build_id).update(bad_at=now, bad_reason=reason)
        audit(actor, "build.mark_bad", obj=current.build, reason=reason)
    deployment, _ = request_deployment(
        actor=actor,
        environment=environment,
        build=target,
        reason=reason,
        kind=DeploymentKind.ROLLBACK,
        supersede=True,
        acknowledge=acknowledge,
        reverse_migrations=reverse_migrations,
    )
    if pin:
        Environment.objects.filter(pk=environment.pk).update(pinned_at=now, pinned_reason=reason)
        audit(actor, "environment.pin", obj=environment, reason=reason)
    return deployment


@transaction.atomic
def set_pin(*, actor: Actor, environment: Environment, pinned: bool, reason: str = "") -> None:
    authorize(actor, "pin" if pinned else "unpin", environment)
    Environment.objects.filter(pk=environment.pk).update(
        pinned_at=timezone.now() if pinned else None, pinned_reason=reason if pinned else ""
    )
    audit(
        actor, "environment.pin" if pinned else "environment.unpin", obj=environment, reason=reason
    )


@transaction.atomic
def set_bad(*, actor: Actor, build: Build, bad: bool, reason: str = "") -> None:
    authorize(actor, "mark_bad" if bad else "unmark_bad")
    Build.objects.filter(pk=build.pk).update(
        bad_at=timezone.now() if bad else None, bad_reason=reason if bad else ""
    )
    audit(actor, "build.mark_bad" if bad else "build.unmark_bad", obj=build, reason=reason)


@transaction.atomic
def set_freeze(
    *, actor: Actor, environment: Environment, until=None, reason: str = "", starts=None
) -> None:
    """Freeze until a time, from `starts` (None: now; None `until` unfreezes); deploys and
    promotes are refused meanwhile."""
    authorize(actor, "freeze" if until is not None else "unfreeze", environment)
    if until is not None and starts is not None and starts >= until:
        _refuse("A freeze must end after it starts.", "freeze_window_invalid")
    Environment.objects.filter(pk=environment.pk).update(
        frozen_until=until,
        frozen_from=starts if until else None,
        freeze_reason=reason if until else "",
        frozen_by=actor.user if until and actor.user is not None else None,
    )
    audit(
        actor,
        "environment.freeze" if until else "environment.unfreeze",
        obj=environment,
        until=until.isoformat() if until else None,
        starts=starts.isoformat() if until and starts else None,
        reason=reason,
    )
    events.emit(
        "environment.frozen" if until else "environment.unfrozen",
        {
            "environment": events.environment_data(environment),
            "from": events.iso(starts) if until else None,
            "until": events.iso(until),
            "reason": reason,
            "by": actor.user.get_username() if actor.user is not None else actor.oidc_subject,
            "url": events.absolute(reverse("admin:releases_dashboard")),
        },
    )


def changes_between(current: Build | None, candidate: Build) -> dict:
    """What a promote or rollback changes: commits between the builds, stages side by side."""
    commits = []
    if current is not None and current.ref and current.ref == candidate.ref:
        low, high = sorted([current.created_at, candidate.created_at])
        commits = list(
            Build.objects.filter(ref=candidate.ref, created_at__gt=low, created_at__lte=high)
            .order_by("-created_at")
            .values("tag", "commit_message", "commit_author", "created_at")[:50]
        )
    stages = pipeline_order(
        set(candidate.current_results()) | set(current.current_results() if current else {})
    )
    now_results = current.current_results() if current else {}
    next_results = candidate.current_results()
    side_by_side = [
        {
            "stage": stage,
            "current": now_results[stage].status if stage in now_results else "—",
            "candidate": next_results[stage].status if stage in next_results else "—",
        }
        for stage in stages
    ]
    return {"commits": commits, "stages": side_by_side}
