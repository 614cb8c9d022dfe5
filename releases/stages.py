"""A stage's verdict from all of its jobs: the one rule for "did this stage pass?".

GitLab runs several jobs in a stage (a second test job, `parallel:`, a matrix). A stage's
result comes from the *latest attempt of every job* in it (a retried job replaces only its own
earlier attempt, matched by job name), so one failed job blocks the stage whatever the ids.
Jobs that GitLab lets fail (`allow_failure: true`) never block: their failure is a warning.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import models


class StageStatus(models.TextChoices):
    """GitLab's job statuses; `RANK` orders them in time (a report never moves back)."""

    CREATED = "created", "Created"
    PENDING = "pending", "Pending"
    MANUAL = "manual", "Manual"  # waiting for someone to start it
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    SKIPPED = "skipped", "Skipped"


# Waiting states (created, manual, skipped) may advance: GitLab re-runs a skipped or manual
# job under the same id. Final states (success, failed, canceled) never move back.
STAGE_RANK = {
    StageStatus.CREATED: 0,
    StageStatus.MANUAL: 0,
    StageStatus.SKIPPED: 0,
    StageStatus.PENDING: 1,
    StageStatus.RUNNING: 2,
    StageStatus.SUCCESS: 3,
    StageStatus.FAILED: 3,
    StageStatus.CANCELED: 3,
}


S = StageStatus
NOT_PASSED = (S.FAILED, S.CANCELED)


@dataclass
class StageVerdict:
    """One stage's status, the jobs it was computed from and the warnings it carries."""

    stage: str
    status: str
    jobs: list = field(default_factory=list)  # StageResult rows, latest attempt per job

    @property
    def warnings(self) -> list:
        """Allowed-to-fail jobs that did not pass (shown, never blocking)."""
        return [job for job in self.jobs if job.allow_failure and job.status in NOT_PASSED]

    @property
    def deciding_job(self):
        """The job a reader should open: the first blocking failure, else the newest job."""
        blocking = [j for j in self.jobs if j.status == self.status and not j.allow_failure]
        return (blocking or sorted(self.jobs, key=lambda j: j.job_id))[-1]

    def get_status_display(self) -> str:
        return S(self.status).label


def latest_attempts(results) -> dict[str, list]:
    """Per stage, the latest attempt of each job (by name; unnamed jobs of a stage are one)."""
    latest: dict[tuple[str, str], object] = {}
    for result in results:
        key = (result.stage, result.job_name)
        if key not in latest or result.job_id > latest[key].job_id:
            latest[key] = result
    by_stage: dict[str, list] = {}
    for (stage, _), result in sorted(latest.items()):
        by_stage.setdefault(stage, []).append(result)
    return by_stage


def stage_status(jobs) -> str:
    """Combine the latest attempts' statuses the way GitLab does for a stage."""
    statuses = set()
    for job in jobs:
        if job.allow_failure and job.status in NOT_PASSED + (S.MANUAL, S.SKIPPED):
            continue  # a job allowed to fail (or a manual one left alone) never blocks
        statuses.add(job.status)
    if not statuses:
        return S.SUCCESS  # only non-blocking jobs: passed with warnings
    for blocking in (S.FAILED, S.CANCELED):
        if blocking in statuses:
            return blocking
    if statuses <= {S.SUCCESS, S.SKIPPED}:
        return S.SUCCESS if S.SUCCESS in statuses else S.SKIPPED
    if S.RUNNING in statuses or S.SUCCESS in statuses:
        return S.RUNNING  # some done or running, others still to come
    for waiting in (S.PENDING, S.MANUAL, S.CREATED, S.SKIPPED):
        if waiting in statuses:
            return waiting
    return S.PENDING


def verdicts(results) -> dict[str, StageVerdict]:
    """Every stage reported for a build, each with its verdict."""
    return {
        stage: StageVerdict(stage=stage, status=stage_status(jobs), jobs=jobs)
        for stage, jobs in latest_attempts(results).items()
    }


def pipeline_order(stages) -> list[str]:
    """Stage names in the pipeline's order (RELEASES_STAGE_ORDER), unknown ones after it."""
    order = {name: index for index, name in enumerate(settings.RELEASES_STAGE_ORDER)}
    return sorted(stages, key=lambda stage: (order.get(stage, len(order)), stage))
