"""DORA metrics per environment, computed from our own deployment ledger."""

import datetime
import statistics

from django.utils import timezone

from releases.models import Deployment, DeploymentKind, DeploymentStatus

S = DeploymentStatus


def _hours(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def finished_ledger(environment) -> list:
    """Every finished deployment there, oldest first (what the figures are computed from)."""
    return list(
        Deployment.objects.filter(environment=environment, finished_at__isnull=False)
        .select_related("build")
        .order_by("finished_at", "id")
    )


def dora(environment, *, days: int = 30, now=None, ledger=None) -> dict:
    """Deployment frequency, lead time for changes, change failure rate, time to restore."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=days)
    ledger = finished_ledger(environment) if ledger is None else ledger
    window = [d for d in ledger if since <= d.finished_at <= now]
    changes = [d for d in window if d.kind != DeploymentKind.ROLLBACK]
    succeeded = [d for d in window if d.status == S.SUCCEEDED]

    # Lead time: commit time -> the build's first successful deployment here.
    first_success = {}
    for deployment in ledger:
        if deployment.status == S.SUCCEEDED and deployment.build_id not in first_success:
            first_success[deployment.build_id] = deployment
    lead_times = [
        d.finished_at - d.build.commit_time
        for d in first_success.values()
        if since <= d.finished_at <= now and d.build.commit_time
    ]

    # A change failed if it failed itself or the next deployment here rolled it back.
    failed_changes = []
    for index, deployment in enumerate(ledger):
        if deployment not in changes:
            continue
        following = ledger[index + 1] if index + 1 < len(ledger) else None
        rolled_back = following is not None and following.kind == DeploymentKind.ROLLBACK
        if deployment.status == S.FAILED or rolled_back:
            failed_changes.append((index, deployment))

    # Time to restore: from the failure to the next successful deployment here.
    restores = []
    for index, deployment in failed_changes:
        recovery = next((d for d in ledger[index + 1 :] if d.status == S.SUCCEEDED), None)
        if recovery is not None:
            restores.append(recovery.finished_at - deployment.finished_at)

    return {
        "environment": environment.slug,
        "days": days,
        "deployments": len(succeeded),
        "deployment_frequency_per_day": round(len(succeeded) / days, 3) if days else None,
        "lead_time_hours_median": (_hours(statistics.median(lead_times)) if lead_times else None),
        "change_failure_rate": (round(len(failed_changes) / len(changes), 3) if changes else None),
        "time_to_restore_hours_median": _hours(statistics.median(restores)) if restores else None,
        # The sample sizes, so a median of one is not read as a trend.
        "changes": len(changes),
        "failed_changes": len(failed_changes),
        "lead_time_samples": len(lead_times),
        "restore_samples": len(restores),
    }


def weekly(environment, *, weeks: int = 12, now=None) -> list[dict]:
    """The same figures week by week, oldest first: the last `weeks` 7-day windows to now."""
    now = now or timezone.now()
    ledger = finished_ledger(environment)
    series = []
    for back in range(weeks - 1, -1, -1):
        end = now - datetime.timedelta(days=7 * back)
        figures = dora(environment, days=7, now=end, ledger=ledger)
        series.append({"week_ending": end.date().isoformat(), **figures})
    return series
