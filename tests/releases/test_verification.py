"""Verification after deploy: the worker watches a release's own /metrics for the bake
window with probe traffic, compares it with the baseline read before the switch, and rolls
back automatically when it serves worse (against the live app over real HTTP)."""

import pytest
from django.urls import reverse

from core.roles import RELEASE_MANAGER
from notifications.models import Event

from releases import deployments as rules
from releases import tasks, verification
from releases.models import Deployment, DeploymentStatus, Environment
from releases.services import Actor
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import deployed, make_build, manager

S = DeploymentStatus


def histogram_text(route, status, count, seconds):
    """What prometheus-client prints for `count` requests taking `seconds` each."""
    lines = [f'http_requests_total{{method="GET",route="{route}",status="{status}"}} {count}']
    for le in ("0.1", "0.5", "1.0", "+Inf"):
        inside = count if seconds <= float(le) else 0
        lines.append(
            f'http_request_duration_seconds_bucket{{le="{le}",method="GET",route="{route}"}} '
            f"{inside}"
        )
    return "\n".join(lines) + "\n"


def test_parse_leaves_out_probes_and_judges_error_share_and_p95():
    text = histogram_text("", "200", 90, 0.05) + histogram_text("boom/", "500", 10, 0.05)
    text += histogram_text("healthz", "500", 1000, 0.05)  # probes say nothing about users
    snapshot = verification.parse(text)
    assert snapshot["requests"] == 100 and snapshot["errors"] == 10
    assert 0 < snapshot.p95 <= 0.1
    options = {**verification.DEFAULTS, "min_requests": 20}
    failed = verification.judge(
        snapshot, verification.parse(histogram_text("", "200", 50, 0.05)), options
    )
    assert failed["passed"] is False and "5xx share 10.0%" in failed["reason"]
    slow = verification.parse(histogram_text("", "200", 50, 0.9))
    base = verification.parse(histogram_text("", "200", 50, 0.05))
    assert "p95" in verification.judge(slow, base, options)["reason"]
    assert verification.judge(base, base, options)["passed"] is True
    # Too little traffic cannot fail on the error rate.
    few = verification.parse(histogram_text("", "500", 3, 0.05))
    assert verification.judge(few, base, options)["passed"] is True


def bake_on(live_server, paths, bake_seconds=1.5, min_requests=5):
    Environment.objects.filter(slug="staging").update(
        base_url=live_server.url,
        deploy_settings={
            "check_commit": False,
            "verify": {
                "bake_seconds": bake_seconds,
                "probe_paths": paths,
                "probe_interval": 0.02,
                "min_requests": min_requests,
                # Latency is judged in the unit test above; on a loaded CI machine an
                # in-process server's p95 says more about the machine than the release.
                "min_p95_seconds": 5,
            },
        },
    )
    return Environment.objects.get(slug="staging")


@pytest.fixture
def fast_smoke(settings):
    settings.RELEASES_SMOKE_ATTEMPTS = 2
    settings.RELEASES_SMOKE_BACKOFF = 0.05


@pytest.mark.django_db(transaction=True)
def test_a_release_that_serves_well_passes_with_its_numbers(live_server, fast_smoke):
    staging = bake_on(live_server, ["/api/v1/posts/"])
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(1), reason="v"
    )
    tasks.run_environment_queue.call(staging.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.SUCCEEDED, deployment.log
    assert deployment.verification["passed"] is True
    assert deployment.verification["new"]["requests"] >= 5
    assert deployment.verification["baseline"] is not None
    assert "verification: baseline" in deployment.log and "passed" in deployment.log


@pytest.mark.django_db(transaction=True)
def test_a_window_too_short_for_a_verdict_probes_on_until_enough_answers(live_server, fast_smoke):
    # 0.05 s holds at most a few probe rounds: verification waits for the 12 answers a
    # verdict needs instead of judging on what little it saw.
    staging = bake_on(live_server, ["/api/v1/posts/"], bake_seconds=0.05, min_requests=12)
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(4), reason="v"
    )
    tasks.run_environment_queue.call(staging.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.SUCCEEDED, deployment.log
    assert deployment.verification["probes"] >= 12
    assert deployment.verification["new"]["requests"] >= 12
    assert "waiting for 12" in deployment.log


@pytest.mark.django_db(transaction=True)
def test_a_release_answering_500_fails_verification_and_is_rolled_back(
    live_server, settings, fast_smoke, client
):
    settings.ROOT_URLCONF = "tests.support.failing_urls"
    staging = bake_on(live_server, ["/boom/"])
    good = make_build(2)
    deployed(staging, good)
    bad = make_build(3)
    deployment, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=bad, reason="v"
    )
    tasks.run_environment_queue.call(staging.pk)
    deployment.refresh_from_db()
    assert deployment.status == S.FAILED, deployment.log
    assert deployment.smoke_result["passed"] is True  # the smoke tests alone let it through
    assert deployment.verification["passed"] is False
    assert deployment.verification["new"]["error_rate"] == 1.0
    assert "FAILED: 5xx share 100.0%" in deployment.log
    rollback = Deployment.objects.get(kind="rollback")
    assert rollback.build == good and rollback.status == S.SUCCEEDED, rollback.log
    assert rollback.reason.startswith("verification failed: 5xx share")
    assert "verification: skipped for a rollback" in rollback.log
    assert rules.current_deployment(staging).build == good
    # The events the real worker sent: the failed verification with its numbers, and the
    # rollback that followed, marked automatic.
    told = Event.objects.get(type="verification.failed").data
    assert told["deployment"]["id"] == deployment.pk
    assert told["verification"]["new"]["error_rate"] == 1.0
    rolled_back = Event.objects.get(type="deployment.rolled_back").data
    assert rolled_back["deployment"]["id"] == rollback.pk
    assert rolled_back["deployment"]["automatic"] is True
    # The Releases page says why, with the numbers that decided.
    client.force_login(UserFactory(username="rm", is_staff=True, roles=[RELEASE_MANAGER]))
    page = client.get(reverse("admin:releases_dashboard")).content.decode()
    assert "verification <strong>failed: 5xx share 100.0%" in page
    assert "(5xx 100 % vs" in page
