"""The release dashboard's numbers for /metrics, read from the ledger at scrape time (so the
web processes and the worker agree): builds, stage results, deployments, their durations,
queues, smoke failures, automatic rollbacks, webhook deliveries, backup and worker ages."""

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)

from releases.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Backup,
    Build,
    Deployment,
    DeploymentKind,
    Environment,
    StageResult,
    WebhookDelivery,
    WorkerHeartbeat,
)
from releases.tasks import WORKER

ENV = "environment__slug"


class ReleasesCollector:
    def collect(self):
        yield CounterMetricFamily(
            "releases_builds_reported", "Builds reported by CI.", value=Build.objects.count()
        )
        yield self._counted(
            "releases_stage_results",
            "Stage results (one per job) by status.",
            StageResult.objects.values_list("status"),
            ["status"],
        )
        yield self._counted(
            "releases_deployments",
            "Deployments by environment, kind and status.",
            Deployment.objects.values_list(ENV, "kind", "status"),
            ["environment", "kind", "status"],
        )
        yield from self._durations()
        slugs = list(Environment.objects.values_list("slug", flat=True))
        queued = dict(
            Deployment.objects.filter(status__in=ACTIVE_DEPLOYMENT_STATUSES)
            .values_list(ENV)
            .annotate(n=Count("id"))
        )
        queue = GaugeMetricFamily(
            "releases_queue_length",
            "Deployments awaiting approval, queued or running.",
            labels=["environment"],
        )
        for slug in slugs:
            queue.add_metric([slug], queued.get(slug, 0))
        yield queue
        yield self._per_environment(
            "releases_smoke_failures",
            "Deployments whose smoke tests failed.",
            Deployment.objects.filter(smoke_result__passed=False),
            slugs,
        )
        yield self._per_environment(
            "releases_verification_failures",
            "Deployments whose verification after deploy failed (then rolled back).",
            Deployment.objects.filter(verification__passed=False),
            slugs,
        )
        yield self._per_environment(
            "releases_automatic_rollbacks",
            "Rollbacks the worker started after a failed deployment.",
            Deployment.objects.filter(
                kind=DeploymentKind.ROLLBACK, requested_by_ci=WORKER.oidc_subject
            ),
            slugs,
        )
        yield self._counted(
            "releases_webhook_deliveries",
            "GitLab webhook deliveries by outcome (failed: refused or unusable).",
            WebhookDelivery.objects.values_list("outcome"),
            ["outcome"],
            kind=CounterMetricFamily,
        )
        yield from self._ages(slugs)

    @staticmethod
    def _counted(name, documentation, rows, labels, kind=GaugeMetricFamily):
        family = kind(name, documentation, labels=labels)
        for *values, n in rows.annotate(n=Count("id")).order_by():
            family.add_metric([str(v) for v in values], n)
        return family

    @staticmethod
    def _per_environment(name, documentation, queryset, slugs):
        family = CounterMetricFamily(name, documentation, labels=["environment"])
        counted = dict(queryset.values_list(ENV).annotate(n=Count("id")).order_by())
        for slug in slugs:
            family.add_metric([slug], counted.get(slug, 0))
        return family

    @staticmethod
    def _durations():
        family = SummaryMetricFamily(
            "releases_deployment_duration_seconds",
            "Finished deployments: start to finish.",
            labels=["environment"],
        )
        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        rows = (
            Deployment.objects.filter(started_at__isnull=False, finished_at__isnull=False)
            .values_list(ENV)
            .annotate(n=Count("id"), total=Sum(took))
            .order_by()
        )
        for slug, n, total in rows:
            family.add_metric([slug], n, total.total_seconds() if total else 0.0)
        yield family

    @staticmethod
    def _ages(slugs):
        now = timezone.now()
        backups = GaugeMetricFamily(
            "releases_backup_age_seconds",
            "Age of the last good backup per environment (absent: none yet).",
            labels=["environment"],
        )
        last = dict(
            Backup.objects.filter(succeeded=True)
            .values_list(ENV)
            .annotate(at=Max("started_at"))
            .order_by()
        )
        for slug in slugs:
            if slug in last:
                backups.add_metric([slug], (now - last[slug]).total_seconds())
        yield backups
        seen = WorkerHeartbeat.objects.aggregate(at=Max("seen_at"))["at"]
        if seen is not None:
            yield GaugeMetricFamily(
                "releases_worker_heartbeat_age_seconds",
                "Seconds since the freshest deployment-worker heartbeat.",
                value=(now - seen).total_seconds(),
            )
