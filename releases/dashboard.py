"""The admin's Releases page: environments side by side, approvals, builds, and actions."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.dateparse import parse_datetime
from django.template.response import TemplateResponse
from django.utils import timezone

from core.http import parse_id
from releases import backups, schema
from releases import deployments as rules
from releases.backends import live_state
from releases import charts
from releases.metrics import dora, weekly
from releases.smoke import readiness
from releases.stages import pipeline_order
from releases.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Build,
    Deployment,
    Environment,
    WorkerHeartbeat,
    entry_stages,
)
from releases.services import Actor

MAX_FREEZE_HOURS = 24 * 30
# What each action acts on; a request without it gets a message, never a 500.
ACTION_NEEDS = {
    "deploy": ("environment", "build"),
    "promote": ("environment",),
    "rollback": ("environment",),
    "cancel": ("deployment",),
    "approve": ("deployment",),
    "reject": ("deployment",),
    "pin": ("environment",),
    "unpin": ("environment",),
    "freeze": ("environment",),
    "unfreeze": ("environment",),
    "mark_bad": ("build",),
    "unmark_bad": ("build",),
}


def dashboard(admin_site, request):
    if not request.user.has_perm("releases.view_deployment"):
        raise PermissionDenied
    environments = []
    for environment in Environment.objects.all():
        now_block = what_runs_now(environment)
        current = now_block["current"]
        live = live_state(environment, current.image if current else None)
        environments.append(
            {
                **now_block,
                "history": environment.deployments.select_related(
                    "build", "requested_by", "approval__decided_by"
                )[:8],
                "dora": dora_rows(dora(environment)),
                "charts": charts_for(environment),
                "frozen": environment.is_frozen(),
                "freeze_why": environment.freeze_now(),
                "freeze_scheduled": environment.scheduled_freeze(),
                "previous_good": rules.previous_good_build(environment),
                "live": live,
                # What the release answers on /readyz (schema ahead/behind): only where a
                # backend really runs it, as for the live state.
                "ready": (
                    readiness(environment.base_url)
                    if live is not None and environment.base_url
                    else None
                ),
                "backup": backups.health(environment),
            }
        )
    first = Environment.objects.order_by("position").first()
    builds = Build.objects.prefetch_related("stage_results")[:15]
    required = entry_stages()
    context = {
        **admin_site.each_context(request),
        "title": "Releases",
        "environments": environments,
        "approvals": [
            {"deployment": d, "own_request": rules.is_own_request(d, request.user)}
            for d in Deployment.objects.filter(status="awaiting_approval").select_related(
                "environment", "build", "requested_by"
            )
        ],
        "builds": [
            {
                "build": b,
                "results": [b.current_results()[s] for s in pipeline_order(b.current_results())],
                "status": b.overall_status(),
                "deployable": b.is_deployable(required),
            }
            for b in builds
        ],
        "first": first,
        "worker": _worker_state(),
        "can": allowed_actions(request.user),
    }
    return TemplateResponse(request, "admin/releases/dashboard.html", context)


NO_DATA = "no data"
CHART_WEEKS = 12
DECISIONS = ("approve", "reject")


LOG_TAIL_LINES = 4


def what_runs_now(environment) -> dict:
    """The card's live part: the current deployment and the queue, with the running one's
    last log lines."""
    queue = list(
        environment.deployments.filter(status__in=ACTIVE_DEPLOYMENT_STATUSES)
        .select_related("build", "requested_by", "approval__decided_by")
        .order_by("created_at")
    )
    for deployment in queue:
        deployment.log_tail = "\n".join(deployment.log.splitlines()[-LOG_TAIL_LINES:])
    current = rules.current_deployment(environment)
    return {
        "environment": environment,
        "current": current,
        "queue": queue,
        "behind": _behind_previous(environment, current),
    }


def _behind_previous(environment, current) -> dict | None:
    """How many commits the previous environment runs that this one does not yet."""
    previous = rules.previous_environment(environment)
    ahead = rules.current_deployment(previous) if previous else None
    if ahead is None or (current is not None and ahead.build_id == current.build_id):
        return None
    commits = len(
        rules.changes_between(current.build if current else None, ahead.build)["commits"]
    )
    return {"environment": previous, "commits": commits} if commits else None


def now_fragment(admin_site, request, slug):
    """The card's live part as HTML, for the page's poll (releases/static/releases/live.js)."""
    if not request.user.has_perm("releases.view_deployment"):
        raise PermissionDenied
    block = what_runs_now(get_object_or_404(Environment, slug=slug))
    context = {"e": block, "can": allowed_actions(request.user)}
    response = TemplateResponse(request, "admin/releases/_now.html", context)
    response["X-Queue-Active"] = "1" if block["queue"] else "0"
    response["Cache-Control"] = "no-store"
    return response


def charts_for(environment, now=None) -> list[str]:
    """The environment's charts over the last CHART_WEEKS weeks, from the same figures as
    /api/v1/releases/metrics/dora/?weeks=12."""
    now = now or timezone.now()
    weeks = weekly(environment, weeks=CHART_WEEKS, now=now)
    start = now - datetime.timedelta(weeks=CHART_WEEKS)
    recent = environment.deployments.filter(finished_at__gte=start).select_related("build")
    return [
        charts.bars("deployments", "Deployments per week", weeks, "deployments"),
        charts.bars(
            "change_failure_rate",
            "Change failure rate per week",
            weeks,
            "change_failure_rate",
            "%",
        ),
        charts.bars(
            "lead_time", "Lead time (median h) per week", weeks, "lead_time_hours_median", " h"
        ),
        charts.bars(
            "time_to_restore",
            "Time to restore (median h) per week",
            weeks,
            "time_to_restore_hours_median",
            " h",
        ),
        charts.timeline(
            "timeline",
            "Deployments, 12 weeks (tall: rollbacks)",
            recent.order_by("finished_at"),
            start,
            now,
        ),
    ]


def allowed_actions(user) -> dict[str, bool]:
    """Which of the page's controls this user may use (releases.deployments.authorize decides
    again on submit): a control the user may not use is not offered."""
    return {
        action: user.has_perm(permission)
        for action, permission in rules.ACTION_PERMISSIONS.items()
    }


def dora_rows(figures: dict) -> list[tuple[str, str]]:
    """The DORA figures as the page shows them: a real 0 as 0, "no data" only for None,
    rates as percentages, medians with their sample size."""

    def hours(value, samples):
        return NO_DATA if value is None else f"{value:g} h (median of {samples})"

    rate = figures["change_failure_rate"]
    return [
        (
            "Deployments",
            f"{figures['deployments']} ({figures['deployment_frequency_per_day']:g}/day)",
        ),
        ("Lead time", hours(figures["lead_time_hours_median"], figures["lead_time_samples"])),
        (
            "Change failure rate",
            (
                NO_DATA
                if rate is None
                else f"{rate * 100:.0f} % ({figures['failed_changes']} of {figures['changes']})"
            ),
        ),
        (
            "Time to restore",
            hours(figures["time_to_restore_hours_median"], figures["restore_samples"]),
        ),
    ]


# Older than this, the page warns (the worker's upkeep beats every few seconds).
WORKER_SILENT_SECONDS = 60


def _worker_state() -> dict:
    """The freshest deployment-worker heartbeat: who, how long ago, and whether to worry."""
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if beat is None:
        return {"beat": None, "silent": True}
    age = (timezone.now() - beat.seen_at).total_seconds()
    return {"beat": beat, "age": int(age), "silent": age > WORKER_SILENT_SECONDS}


def _by_id(model, raw: str | None):
    """The object with this numeric id; 404 for a missing or non-numeric one (never a 500)."""
    if not raw:
        return None
    object_id = parse_id(raw)
    if object_id is None:
        raise Http404(f"No {model._meta.verbose_name} {raw!r}.")
    return get_object_or_404(model, pk=object_id)


def _freeze_window(source) -> tuple[datetime.datetime, datetime.datetime]:
    """(starts, until) from the form: `starts` (optional, local time) and `hours`."""
    try:
        hours = int(source.get("hours") or 24)
    except ValueError:
        raise rules.Refused("Hours must be a whole number.", code="freeze_window_invalid")
    if not 1 <= hours <= MAX_FREEZE_HOURS:
        raise rules.Refused(
            f"Hours must be between 1 and {MAX_FREEZE_HOURS}.", code="freeze_window_invalid"
        )
    starts = timezone.now()
    if source.get("starts", "").strip():
        parsed = parse_datetime(source["starts"].strip().replace(" ", "T"))
        if parsed is None:
            raise rules.Refused(
                "Starts must be a date and time like 2026-12-24 18:00.",
                code="freeze_window_invalid",
            )
        starts = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    return starts, starts + datetime.timedelta(hours=hours)


def _migrations(action, environment, candidate, deployment) -> dict | None:
    """The confirmation's migration section: what the action applies or leaves behind."""
    if deployment is not None:
        changes, environment = deployment.migration_changes, deployment.environment
        acknowledged = deployment.migrations_acknowledged
        rollback = deployment.kind == "rollback"
    elif action in ("deploy", "promote", "rollback") and environment and candidate:
        changes, acknowledged = schema.changes(environment, candidate), ""
        rollback = action == "rollback"
    else:
        return None
    if not changes:
        return None
    context = {**changes, "acknowledged": acknowledged}
    if not changes.get("known"):
        return context
    behind = changes["leave_behind"]
    stuck = schema.irreversible(behind)
    context.update(
        incompatible_behind=schema.incompatible(behind),
        reversible=bool(behind) and not stuck,
        irreversible_names=", ".join(map(schema.label, stuck)),
        backup=schema.backup_before(environment, behind) if behind else None,
    )
    blocking = schema.blocking(changes, rollback)  # the gate's own rule
    context["needs_acknowledgement"] = bool(blocking) and deployment is None
    return context


def act(admin_site, request):
    """GET: a confirmation page (what changes, a reason); POST: do it through the rules."""
    source = request.POST if request.method == "POST" else request.GET
    action = source.get("action", "")
    if action not in rules.ACTION_PERMISSIONS:
        return _refused_page(admin_site, request, "Unknown action.")
    if not request.user.has_perm(rules.ACTION_PERMISSIONS[action]):
        return _refused_page(
            admin_site,
            request,
            f"You may not {action.replace('_', ' ')}: it needs the "
            f"“{rules.ACTION_PERMISSIONS[action].split('.')[1].replace('_', ' ')}” permission.",
        )
    environment = (
        get_object_or_404(Environment, slug=source["environment"])
        if source.get("environment")
        else None
    )
    build = _by_id(Build, source.get("build"))
    deployment = _by_id(Deployment, source.get("deployment"))
    given = {"environment": environment, "build": build, "deployment": deployment}
    missing = [name for name in ACTION_NEEDS[action] if given[name] is None]
    if missing:
        messages.error(
            request, f"Cannot {action.replace('_', ' ')}: no {' or '.join(missing)} was given."
        )
        return redirect("admin:releases_dashboard")
    if request.method != "POST" or not source.get("reason", "").strip():
        # The approver decides on the same change set the requester saw.
        decided_on = deployment.environment if deployment and action in DECISIONS else None
        place = environment or decided_on
        current = rules.current_deployment(place) if place else None
        candidate = deployment.build if decided_on else build
        candidate_since = None
        if action in ("promote", *DECISIONS) and place is not None:
            previous = rules.previous_environment(place)
            running = rules.current_deployment(previous) if previous else None
            if action == "promote":
                candidate = running.build if running else None
            if running is not None and candidate is not None and running.build == candidate:
                candidate_since = running.finished_at
        if action == "rollback" and environment is not None and candidate is None:
            candidate = rules.previous_good_build(environment)
        target = environment or (deployment.environment if deployment else None)
        actor = Actor(user=request.user, ip_address=request.META.get("REMOTE_ADDR"))
        context = {
            "refusal": _refusal_before_form(action, actor, environment, build, deployment),
            **admin_site.each_context(request),
            "title": f"Confirm: {action.replace('_', ' ')}",
            "action": action,
            "environment": environment,
            "build": build,
            "deployment": deployment,
            "current": current,
            "candidate": candidate,
            "changes": (
                rules.changes_between(current.build if current else None, candidate)
                if candidate
                else None
            ),
            "missing_reason": request.method == "POST",
            "candidate_since": candidate_since,
            "backs_up_first": target is not None
            and action in ("deploy", "promote", "approve")
            and target.backup_before_deploy,
            "backup": backups.health(target) if target is not None else None,
            "backs_up_first_name": target.name if target is not None else "",
            "migrations": _migrations(action, environment, candidate, deployment),
        }
        return TemplateResponse(request, "admin/releases/confirm.html", context)

    actor = Actor(user=request.user, ip_address=request.META.get("REMOTE_ADDR"))
    reason = source["reason"].strip()
    try:
        outcome = _do(action, actor, environment, build, deployment, reason, source)
    except (rules.Refused, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, outcome)
    return redirect("admin:releases_dashboard")


def _refused_page(admin_site, request, refusal: str):
    """A refusal as an admin page with the rule and a way back, never a bare 403."""
    context = {**admin_site.each_context(request), "title": "Not allowed", "refusal": refusal}
    return TemplateResponse(request, "admin/releases/refused.html", context, status=403)


# Refusals that no field on the confirmation page can change: shown instead of the form.
# (A rollback across migrations is not one: the page offers the acknowledgement and reversal.)
FINAL_REFUSALS = {
    "approval_expired",
    "build_bad",
    "cannot_cancel",
    "frozen",
    "no_digest",
    "not_awaiting",
    "not_on_previous",
    "nothing_to_roll_back_to",
    "own_request",
    "pinned",
    "stages_failed",
}


class _DryRun(Exception):
    """Raised to roll back the trial run of an action."""


def _refusal_before_form(action, actor, environment, build, deployment) -> str | None:
    """What the rules would say to this action now, by trying it through the service layer
    in a transaction that is always rolled back (the rules live in one place only)."""
    try:
        with transaction.atomic():
            _do(action, actor, environment, build, deployment, "(trial run)", {})
            raise _DryRun
    except _DryRun:
        return None
    except rules.Refused as error:
        return " ".join(error.messages) if error.code in FINAL_REFUSALS else None
    except PermissionDenied as error:
        return str(error)


def _do(action, actor, environment, build, deployment, reason, source) -> str:
    if action == "deploy":
        made, created = rules.request_deployment(
            actor=actor,
            environment=environment,
            build=build,
            reason=reason,
            acknowledge=source.get("acknowledge_migrations", ""),
        )
        return f"{made} — {made.get_status_display().lower()}" + (
            "" if created else " (already requested)"
        )
    if action == "promote":
        made, _ = rules.promote(
            actor=actor,
            environment=environment,
            reason=reason,
            acknowledge=source.get("acknowledge_migrations", ""),
        )
        return f"{made} — {made.get_status_display().lower()}"
    if action == "rollback":
        made = rules.rollback(
            actor=actor,
            environment=environment,
            build=build,
            reason=reason,
            mark_bad=bool(source.get("mark_bad")),
            pin=bool(source.get("pin")),
            acknowledge=source.get("acknowledge_migrations", ""),
            reverse_migrations=bool(source.get("reverse_migrations")),
        )
        return f"{made} — {made.get_status_display().lower()}"
    if action in ("approve", "reject"):
        rules.decide(
            actor=actor, deployment=deployment, approve=action == "approve", comment=reason
        )
        return f"{deployment}: {action}d."
    if action == "cancel":
        cancelled = rules.cancel(actor=actor, deployment=deployment, reason=reason)
        if cancelled.status == "running":
            return f"{deployment}: asked to stop; the previous release keeps serving."
        return f"{deployment}: cancelled."
    if action in ("pin", "unpin"):
        rules.set_pin(actor=actor, environment=environment, pinned=action == "pin", reason=reason)
        return f"{environment}: {action}ned."
    if action in ("mark_bad", "unmark_bad"):
        rules.set_bad(actor=actor, build=build, bad=action == "mark_bad", reason=reason)
        return f"Build {build.tag[:12]}: {'marked bad' if action == 'mark_bad' else 'unmarked'}."
    if action == "unfreeze":
        rules.set_freeze(actor=actor, environment=environment, until=None, reason=reason)
        return f"{environment}: unfrozen."
    starts, until = _freeze_window(source)
    scheduled = starts > timezone.now()
    rules.set_freeze(
        actor=actor,
        environment=environment,
        until=until,
        starts=starts if scheduled else None,
        reason=reason,
    )
    start, end = (f"{timezone.localtime(t):%Y-%m-%d %H:%M}" for t in (starts, until))
    if scheduled:
        return f"{environment}: freeze scheduled {start} to {end}."
    return f"{environment}: frozen until {end}."
