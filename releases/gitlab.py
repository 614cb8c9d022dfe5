"""GitLab's webhook payloads (Pipeline Hook, Job Hook) mapped onto builds and stage results.

Shapes follow GitLab's "Webhook events" documentation. Note: in a Job Hook `commit.id` is
the *pipeline* id; the commit SHA is `sha`. No payload carries an image digest: the build
job reports it through the CI API.
"""

import datetime
import re

from django.conf import settings

from releases import services
from releases.models import StageStatus

# GitLab job states this registry does not keep, mapped to the nearest one it does.
STATUS_ALIASES = {
    "waiting_for_resource": StageStatus.PENDING,
    "preparing": StageStatus.PENDING,
    "scheduled": StageStatus.PENDING,
    "waiting_for_callback": StageStatus.RUNNING,
    "canceling": StageStatus.CANCELED,
}


class Unmappable(Exception):
    """A well-formed event this registry cannot use; answered 2xx with the reason."""


def parse_time(value):
    """GitLab's several formats: '2016-08-12 15:23:28 UTC', ISO 8601, '... +0200'."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    text = re.sub(r" ([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def repository_for(project: dict) -> str:
    """The image repository GitLab's CI_REGISTRY_IMAGE would name for this project."""
    path = (project or {}).get("path_with_namespace") or ""
    if not path:
        raise Unmappable("the payload names no project")
    return f"{settings.RELEASES_REGISTRY_HOST}/{path.lower()}"


def stage_status(value: str) -> str:
    value = (value or "").lower()
    if value in StageStatus.values:
        return value
    if value in STATUS_ALIASES:
        return STATUS_ALIASES[value]
    raise Unmappable(f"unknown job status {value!r}")


def _object(payload: dict, key: str) -> dict:
    """payload[key] when it is an object ({} when absent); Unmappable for any other shape."""
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unmappable(f"{key} is not an object")
    return value


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def handle(event: str, payload: dict, actor) -> tuple[str, object]:
    """Apply one event; returns (what was done, the build or None). Raises Unmappable."""
    if event == "Pipeline Hook":
        return _pipeline(payload, actor)
    if event == "Job Hook":
        return _job(payload, actor)
    raise Unmappable(f"{event or 'an event without X-Gitlab-Event'} is not used here")


def _report_build(actor, project: dict, sha: str, **fields):
    """The build a GitLab event is about: image = registry/project path, tag = commit SHA."""
    build, _ = services.build_report(
        actor=actor,
        repository=repository_for(project),
        tag=sha,
        commit_sha=sha,
        project_path=project.get("path_with_namespace") or "",
        **fields,
    )
    return build


def _job_url(project: dict, job_id) -> str:
    web_url = project.get("web_url") or ""
    return f"{web_url}/-/jobs/{job_id}" if web_url else ""


def _pipeline(payload: dict, actor):
    attributes = _object(payload, "object_attributes")
    sha = _text(attributes.get("sha"))
    if not sha:
        raise Unmappable("the pipeline has no sha")
    commit = _object(payload, "commit")
    project = _object(payload, "project")
    jobs = payload.get("builds") or []
    if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
        raise Unmappable("builds is not a list of objects")
    build = _report_build(
        actor,
        project,
        sha,
        commit_message=commit.get("message") or "",
        commit_author=_text(_object(commit, "author").get("name")),
        commit_time=parse_time(commit.get("timestamp")),
        ref=attributes.get("ref") or "",
        pipeline_id=attributes.get("id"),
        pipeline_url=attributes.get("url") or "",
    )
    applied = 0
    for job in jobs:
        if not job.get("id") or not job.get("stage"):
            continue
        services.stage_report(
            actor=actor,
            build=build,
            job_id=job["id"],
            stage=job["stage"],
            job_name=job.get("name") or "",
            status=stage_status(job.get("status")),
            allow_failure=job.get("allow_failure") is True,
            started_at=parse_time(job.get("started_at")),
            finished_at=parse_time(job.get("finished_at")),
            duration=job.get("duration"),
            job_url=_job_url(project, job["id"]),
        )
        applied += 1
    return f"pipeline {attributes.get('id')}: build and {applied} job results", build


def _job(payload: dict, actor):
    sha = _text(payload.get("sha"))
    if not sha or not payload.get("build_id"):
        raise Unmappable("the job event has no sha or build_id")
    project = _object(payload, "project")
    commit = _object(payload, "commit")
    build = _report_build(
        actor,
        project,
        sha,
        commit_message=commit.get("message") or "",
        commit_author=commit.get("author_name") or "",
        ref=payload.get("ref") or "",
        pipeline_id=payload.get("pipeline_id"),
    )
    services.stage_report(
        actor=actor,
        build=build,
        job_id=payload["build_id"],
        stage=payload.get("build_stage") or "unknown",
        job_name=payload.get("build_name") or "",
        status=stage_status(payload.get("build_status")),
        allow_failure=payload.get("build_allow_failure") is True,
        started_at=parse_time(
            payload.get("build_started_at_iso") or payload.get("build_started_at")
        ),
        finished_at=parse_time(
            payload.get("build_finished_at_iso") or payload.get("build_finished_at")
        ),
        duration=payload.get("build_duration"),
        job_url=_job_url(project, payload["build_id"]),
    )
    return f"job {payload['build_id']} ({payload.get('build_status')})", build
