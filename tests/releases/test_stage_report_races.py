"""Stage reports hold no lock across round trips (releases/audited.py): many reports of one
job at once, over several real PostgreSQL connections, still leave one row that only moved
forward, and exactly one audit event for each report, written with it or not at all."""

import json
import threading

import pytest
from django.db import connection

from releases import services
from releases.models import STAGE_RANK, AuditEvent, Build, StageResult
from tests.support.processes import clean_environment, run_manage

STATUSES = ["pending", "running", "running", "success", "failed", "pending", "success", "created"]


@pytest.mark.django_db(transaction=True)
def test_reports_racing_on_one_job_leave_one_row_that_only_moved_forward():
    token, _ = services.ci_token_create(name="ci", scopes=["builds:write"])
    actor = services.Actor(token=token, ip_address="192.0.2.7")
    build, _ = services.build_report(
        actor=actor, repository="registry.example/blog", tag="race", commit_sha="c" * 40
    )
    rounds, threads_per_round = 6, len(STATUSES)
    outcomes, errors = [], []

    def report(job_id, status, barrier):
        try:
            barrier.wait(timeout=30)
            outcome = services.stage_report(
                actor=actor,
                build=build,
                job_id=job_id,
                stage="test",
                job_name="test",
                status=status,
            )
            outcomes.append((job_id, status, outcome.created, outcome.applied))
        except Exception as error:  # surfaced by the assertions below
            errors.append(error)
        finally:
            connection.close()

    for job_id in range(1, rounds + 1):
        barrier = threading.Barrier(threads_per_round)
        threads = [
            threading.Thread(target=report, args=(job_id, status, barrier)) for status in STATUSES
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    assert len(outcomes) == rounds * threads_per_round

    assert StageResult.objects.filter(build=build).count() == rounds
    for job_id in range(1, rounds + 1):
        mine = [outcome for outcome in outcomes if outcome[0] == job_id]
        assert sum(created for _, _, created, _ in mine) == 1  # one insert won
        row = StageResult.objects.get(build=build, job_id=job_id)
        events = AuditEvent.objects.filter(
            action="stage.report", object_type="stageresult", object_id=str(row.pk)
        ).order_by("id")
        # One event per report: accepted for each applied one, ignored for each stale one.
        accepted = [event for event in events if event.outcome == "accepted"]
        ignored = [event for event in events if event.outcome == "ignored"]
        assert len(accepted) == sum(applied for *_, applied in mine)
        assert len(ignored) == sum(not applied for *_, applied in mine)
        # In the order they were written, the applied statuses never moved back ...
        ranks = [STAGE_RANK[event.payload["status"]] for event in accepted]
        assert ranks == sorted(ranks)
        # ... one final status at most was ever applied, and the row holds the last one.
        finals = {
            event.payload["status"]
            for event in accepted
            if STAGE_RANK[event.payload["status"]] == 3
        }
        assert len(finals) == 1
        assert row.status == accepted[-1].payload["status"] in ("success", "failed")
    assert Build.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_report_writes_neither_row_nor_event(settings):
    token, _ = services.ci_token_create(name="ci", scopes=["builds:write"])
    actor = services.Actor(token=token)
    build, _ = services.build_report(
        actor=actor, repository="registry.example/blog", tag="bad", commit_sha="d" * 40
    )
    before = AuditEvent.objects.count()
    with pytest.raises(Exception) as refused:
        services.stage_report(actor=actor, build=build, job_id=1, stage="test", status="bogus")
    assert "status" in str(refused.value)
    assert StageResult.objects.count() == 0
    assert AuditEvent.objects.count() == before


REPORT_ON_SQLITE = """
import json
from releases import services
from releases.models import AuditEvent
actor = services.Actor(ip_address="192.0.2.9")
build, _ = services.build_report(
    actor=actor, repository="r.example/b", tag="t1", commit_sha="e" * 40
)
outcomes = [
    services.stage_report(actor=actor, build=build, job_id=5, stage="test", status=status)
    for status in ("running", "success", "running", "failed")
]
events = list(AuditEvent.objects.filter(action="stage.report").order_by("id").values_list(
    "outcome", "object_id", "ip_address"))
print(json.dumps({
    "outcomes": [[o.created, o.applied, o.result.status, o.result.details] for o in outcomes],
    "events": events, "row_id": str(outcomes[0].result.pk),
}))
"""


@pytest.mark.slow
def test_stage_reports_on_sqlite_write_the_row_and_its_event_together(tmp_path):
    """The embedded default has no data-modifying WITH: the same writes run in a
    transaction with their audit rows there."""
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = run_manage("migrate", "--noinput", "-v0", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_manage("shell", "-c", REPORT_ON_SQLITE, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["outcomes"] == [
        [True, True, "running", {}],
        [False, True, "success", {}],
        [False, False, "success", {}],
        [False, False, "success", {}],
    ]
    row = answer["row_id"]
    assert answer["events"] == [
        ["accepted", row, "192.0.2.9"],
        ["accepted", row, "192.0.2.9"],
        ["ignored", row, "192.0.2.9"],
        ["ignored", row, "192.0.2.9"],
    ]
