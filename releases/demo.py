"""Demo builds and deployments for the quick start (idempotent)."""

import datetime
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from releases.models import Build, Deployment, Environment, StageResult

REPOSITORY = "registry.gitlab.com/lawvriksh/blog"
STAGES = ["lint", "test", "security", "build", "deploy-staging", "smoke"]
COMMITS = [
    ("Add the editorial workflow", "Asha Menon", 6),
    ("Search: rank title matches first", "Vikram Rao", 3),
    ("Comments: honeypot and throttle", "Meera Iyer", 1),
]


@transaction.atomic
def seed_release_demo() -> int:
    """Three builds on main with green stages; production runs the first, staging the
    second. Both environments point at this app, so smoke tests run against it (the commit
    check is off: the demo does not really run those builds). Returns builds created."""
    now = timezone.now()
    created = 0
    builds = []
    for n, (message, author, days_ago) in enumerate(COMMITS, start=1):
        sha = hashlib.sha1(message.encode(), usedforsecurity=False).hexdigest()
        build, made = Build.objects.get_or_create(
            repository=REPOSITORY,
            tag=sha,
            defaults={
                "digest": "sha256:" + hashlib.sha256(message.encode()).hexdigest(),
                "commit_sha": sha,
                "commit_message": message,
                "commit_author": author,
                "commit_time": now - datetime.timedelta(days=days_ago, hours=2),
                "ref": "main",
                "pipeline_id": 1000 + n,
                "project_path": "lawvriksh/blog",
            },
        )
        created += made
        if made:
            for job, stage in enumerate(STAGES):
                StageResult.objects.create(
                    build=build,
                    stage=stage,
                    job_id=n * 100 + job,
                    job_name=stage,
                    status="success",
                    summary="demo",
                )
        builds.append(build)
    local = settings.SITE_URL
    for slug in ("staging", "production"):
        Environment.objects.filter(slug=slug, base_url="").update(
            base_url=local, deploy_settings={"check_commit": False}
        )
    staging = Environment.objects.get(slug="staging")
    production = Environment.objects.get(slug="production")
    if not Deployment.objects.exists():
        for environment, build, days_ago in (
            (staging, builds[0], 5),
            (production, builds[0], 4),
            (staging, builds[1], 2),
        ):
            finished = now - datetime.timedelta(days=days_ago)
            Deployment.objects.create(
                environment=environment,
                build=build,
                image=build.image_reference,
                kind="deploy" if environment == staging else "promote",
                status="succeeded",
                reason="demo history",
                created_at=finished - datetime.timedelta(minutes=5),
                started_at=finished - datetime.timedelta(minutes=4),
                finished_at=finished,
                smoke_result={"passed": True, "checks": [], "error": ""},
            )
    return created
