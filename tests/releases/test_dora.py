"""DORA figures on a fixture history whose answers are worked out by hand."""

import datetime

import pytest

from core.roles import RELEASE_MANAGER
from releases.metrics import dora
from releases.models import Build, Deployment, Environment
from tests.factories import UserFactory

T = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def build(n, committed):
    sha = f"{n:040x}"
    return Build.objects.create(
        repository="r/blog",
        tag=sha,
        commit_sha=sha,
        digest=f"sha256:{n:064x}",
        commit_time=committed,
    )


def done(environment, build_, kind, status, finished):
    return Deployment.objects.create(
        environment=environment,
        build=build_,
        image=build_.image_reference,
        kind=kind,
        status=status,
        reason="fixture",
        finished_at=finished,
        created_at=finished - HOUR,
    )


@pytest.fixture
def history(db):
    production = Environment.objects.get(slug="production")
    a = build(1, T - 10 * DAY)
    b = build(2, T - 6 * DAY - 12 * HOUR)
    c = build(3, T - 3 * DAY)
    d = build(4, T - DAY - 6 * HOUR)
    done(production, a, "promote", "succeeded", T - 9 * DAY)  # lead 24 h
    done(production, b, "promote", "succeeded", T - 5 * DAY)  # lead 36 h; rolled back next
    done(production, a, "rollback", "succeeded", T - 5 * DAY + 2 * HOUR)  # restore 2 h
    done(production, c, "promote", "failed", T - 2 * DAY)  # failed change
    done(production, d, "promote", "succeeded", T - DAY)  # lead 6 h; restores C in 24 h
    return production


def test_dora_figures_match_the_hand_worked_answers(history):
    figures = dora(history, days=30, now=T)
    assert figures == {
        "environment": "production",
        "days": 30,
        "deployments": 4,  # A, B, the rollback to A, D
        "deployment_frequency_per_day": round(4 / 30, 3),
        "lead_time_hours_median": 24.0,  # median of 24, 36, 6
        "change_failure_rate": 0.5,  # B (rolled back) and C (failed) of A, B, C, D
        "time_to_restore_hours_median": 13.0,  # median of 2 and 24
        "changes": 4,  # A, B, C, D (the rollback is not a change)
        "failed_changes": 2,
        "lead_time_samples": 3,
        "restore_samples": 2,
    }


def test_the_window_limits_what_counts(history):
    figures = dora(history, days=3, now=T)
    assert (figures["deployments"], figures["change_failure_rate"]) == (1, 0.5)


@pytest.mark.django_db
def test_dora_api(history, jwt_client_for):
    client = jwt_client_for(UserFactory(roles=[RELEASE_MANAGER]))
    response = client.get("/api/v1/releases/metrics/dora/", {"environment": "production"})
    assert response.status_code == 200
    assert set(response.json()) >= {"deployment_frequency_per_day", "change_failure_rate"}
    assert client.get("/api/v1/releases/metrics/dora/", {"days": "0"}).status_code == 400
    assert client.get("/api/v1/releases/metrics/dora/", {"environment": "x"}).status_code == 404
