"""The pipeline on its first push: `.gitlab-ci.yml`'s jobs run by gitlab-ci-local's *docker*
executor (each job in its own image, `test` with its `postgres:16` service; stand-in images
built here from Debian, as Docker Hub is unreachable) in pipeline order, against a dashboard
served by the test (gunicorn and the worker), once per CI identity as the README sets it up:
a CI token from `manage.py create_ci_token`, and GitLab id_tokens minted by a local issuer
whose JWKS the dashboard fetches over HTTP. The dashboard must record every stage of the
build, and staging must run the build afterwards.

The build job needs docker-in-docker, which cannot run here: it runs by hand (the image built
from the same commit and pushed to the local registry, its migration plan computed inside it,
then the job's own report commands).
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from releases.models import Build, Deployment, DeploymentStatus, StageResult
from tests.containers.conftest import (
    BASE_IMAGE,
    REGISTRY,
    REPOSITORY,
    ROOT,
    build_image,
    commit_on,
    docker_staging,
    free_port,
    fresh_database,
    remove_staging_containers,
    tool,
)
from tests.releases.test_gitlab import _JWKSServer
from tests.releases.test_worker_recovery import database_url
from tests.support.processes import gunicorn_server, production_environment, run_manage, stop

pytestmark = pytest.mark.django_db(transaction=True)

GITLAB_CI_LOCAL = ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
STANDINS = ROOT / "tests" / "containers" / "standins"
WAIT_IMAGE = "lawvriksh-test/wait-for-it:standin"
PROJECT_PATH = "lawvriksh/blog"
# How job containers reach this host (the dashboard and staging listen on all addresses).
HOST_FROM_JOBS = "host.docker.internal"
STAGING_DATABASE = "lawvriksh_pipeline"
PIPELINE_ID = 4242
JOBS_BEFORE_BUILD = ["lint", "test", "security"]
JOBS_AFTER_BUILD = ["deploy-staging", "smoke"]
EVERY_STAGE = ["lint", "test", "security", "build", "deploy-staging", "smoke"]
IN_JOB_TESTS = "tests/blog/test_workflow.py tests/releases/test_stage_gates.py"
# Generous bounds for a loaded 2-core machine; each wait ends on its own positive signal.
JOB_TIMEOUT = 1800
SIGNAL_WAIT = 120


# ----------------------------------------------------------------------------- the parts


@pytest.fixture(scope="session")
def standin_images(engine):
    """python:3.13-slim and postgres:16 as the jobs name them, and gitlab-ci-local's wait
    image, all built from the local Debian base."""
    for name, tag in [
        ("python", "python:3.13-slim"),
        ("postgres", "postgres:16"),
        ("wait-for-it", WAIT_IMAGE),
    ]:
        engine.images.build(
            path=str(STANDINS / name), tag=tag, buildargs={"BASE_IMAGE": BASE_IMAGE}, rm=True
        )


@pytest.fixture(scope="session")
def job_wheelhouse():
    """requirements-dev.txt as wheels, mounted into the jobs (pip there has no route to PyPI)."""
    wheelhouse = ROOT / ".cache" / "ci-job-wheels"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-r", "requirements-dev.txt"]
        + ["-w", str(wheelhouse)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return wheelhouse


@pytest.fixture(scope="session")
def first_push(tmp_path_factory):
    """The working tree as a fresh GitLab project's first commit: (checkout, commit sha)."""
    checkout = tmp_path_factory.mktemp("first-push")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = checkout / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)

    def git(*args):
        subprocess.run(["git", *args], cwd=checkout, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=First Push", "-c", "user.email=ci@example.com", "commit", "-qm", "init")
    git("remote", "add", "origin", f"git@gitlab.com:{PROJECT_PATH}.git")
    git("update-ref", "refs/remotes/origin/main", "HEAD")
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()
    return checkout, sha


@pytest.fixture(scope="session")
def pipeline_image(engine, first_push):
    """What the build job pushes: our Dockerfile at that commit, by digest."""
    _, sha = first_push
    reference = build_image(engine, sha, GIT_SHA=sha, APP_VERSION=sha[:8], BUILD_TIME="2026")
    return reference.split("@")[1]


@pytest.fixture
def staging(engine):
    """Staging on the docker backend, on a database of its own; (port, worker secrets)."""
    with fresh_database(STAGING_DATABASE) as url:
        yield docker_staging(url, "blog-pipeline", extra_hosts=[HOST_FROM_JOBS])
        remove_staging_containers(engine)


@contextlib.contextmanager
def served_dashboard(port: int, worker_env: dict[str, str], **settings: str):
    """The dashboard as production runs it: gunicorn on every address (job containers come
    in through the Docker bridge) and the worker, both on the test database."""
    env = production_environment(
        DATABASE_URL=database_url(),
        ALLOWED_HOSTS=f"127.0.0.1,localhost,{HOST_FROM_JOBS}",
        SECURE_SSL_REDIRECT="0",
        RELEASES_REGISTRY_HOST=REGISTRY,
        RELEASES_SMOKE_ATTEMPTS="60",
        RELEASES_SMOKE_BACKOFF="0.5",
        RELEASES_SMOKE_TIMEOUT="120",
        **settings,
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"]
        + ["--interval", "0.2", "--worker-id", "pipeline"],
        cwd=ROOT,
        env={**env, **worker_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with gunicorn_server(env, threads=4, bind_host="0.0.0.0", port=port) as base_url:
            yield base_url, env
    finally:
        stop(worker, timeout=30)


class LocalIssuer:
    """GitLab's OIDC side for id_tokens: a key pair, the JWKS served over HTTP, and a token
    per job with GitLab's claims."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid="pipeline-key", alg="RS256", use="sig")
        self.server = _JWKSServer(public)
        self.url = self.server.url

    def mint(self, *, audience: str, sha: str, job_id: int) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": audience,
            "sub": f"project_path:{PROJECT_PATH}:ref_type:branch:ref:main",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": secrets.token_hex(16),
            "namespace_path": PROJECT_PATH.split("/")[0],
            "project_path": PROJECT_PATH,
            "project_id": "4242",
            "pipeline_id": str(PIPELINE_ID),
            "pipeline_source": "push",
            "job_id": str(job_id),
            "ref": "main",
            "ref_type": "branch",
            "ref_protected": "true",
            "sha": sha,
            "user_login": "first-push",
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "pipeline-key"})


# ----------------------------------------------------------------------------- running jobs


def run_job(checkout: Path, job: str, wheelhouse: Path, variables: dict[str, str]):
    """One job as GitLab runs it, with gitlab-ci-local's docker executor; (ok, log)."""
    command = [
        tool(GITLAB_CI_LOCAL),
        job,
        "--no-color",
        "--pull-policy",
        "if-not-present",
        "--helper-image",
        BASE_IMAGE,
        "--wait-image",
        WAIT_IMAGE,
        "--wait-for-services-timeout",
        "300",
        "--extra-host",
        f"{HOST_FROM_JOBS}:host-gateway",
        "--volume",
        f"{wheelhouse}:/wheelhouse:ro",
        # Set on purpose: GitLab gives each job its own id and the project's registry.
        "--ignore-predefined-vars",
        "CI_PIPELINE_ID,CI_JOB_ID,CI_REGISTRY_IMAGE",
    ]
    job_variables = {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/wheelhouse",
        # PyPI's vulnerability service is unreachable here; the job says it did not audit.
        "PIP_AUDIT_OFFLINE": "1",
        "CI_PIPELINE_ID": str(PIPELINE_ID),
        "CI_REGISTRY_IMAGE": REPOSITORY,
        # The whole suite runs on this host in .ci/run (and ran in full in this job: see
        # README); in the job a slice on the postgres service proves image, service, install.
        "PYTEST_ADDOPTS": IN_JOB_TESTS,
        **variables,
    }
    for name, value in job_variables.items():
        command += ["--variable", f"{name}={value}"]
    result = subprocess.run(
        command, cwd=checkout, capture_output=True, text=True, timeout=JOB_TIMEOUT
    )
    log = result.stdout + result.stderr
    return result.returncode == 0 and f"PASS  {job}" in log, log


def run_plan_step(checkout: Path, image: str) -> Path:
    """The build job's own migration-plan lines from .gitlab-ci.yml, run by sh against this
    engine (as in the job's docker-in-docker; postgres:16 is the stand-in): the directory
    holding the migrations.json they wrote."""
    script = yaml.safe_load((checkout / ".gitlab-ci.yml").read_text())["build"]["script"]
    first = next(i for i, line in enumerate(script) if "docker network create plan" in line)
    last = next(i for i, line in enumerate(script) if "migration_plan" in line)
    plan_dir = Path(tempfile.mkdtemp(prefix="plan-"))
    plan_dir.chmod(0o755)
    env = {**os.environ, "IMAGE": image}

    def clean():
        for command in (["docker", "rm", "-f", "plan-db"], ["docker", "network", "rm", "plan"]):
            subprocess.run(command, env=env, capture_output=True)

    clean()
    try:
        for line in script[first : last + 1]:
            done = subprocess.run(
                ["sh", "-c", line], cwd=plan_dir, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    finally:
        clean()
    return plan_dir


def run_build_job_by_hand(engine, checkout: Path, sha: str, digest: str, variables):
    """The build job's report commands (its before_script, the script's last line, its
    after_script) in a job container, after the image was built and pushed by the test
    (docker-in-docker cannot run here); (ok, log)."""
    env = {
        "CI_COMMIT_SHA": sha,
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_MESSAGE": "init",
        "CI_REGISTRY_IMAGE": REPOSITORY,
        "CI_PROJECT_PATH": PROJECT_PATH,
        "CI_PIPELINE_ID": str(PIPELINE_ID),
        "CI_JOB_NAME": "build",
        "CI_JOB_STAGE": "build",
        **variables,
    }
    plan_dir = run_plan_step(checkout, f"{REPOSITORY}@{digest}")
    script = (
        "python3 scripts/ci_report.py start"
        f" && python3 scripts/ci_report.py build --digest {digest}"
        " --migrations /plan/migrations.json"
        ' && CI_JOB_STATUS=success python3 scripts/ci_report.py stage --summary "build: success"'
    )
    container = engine.containers.run(
        "python:3.13-slim",
        ["sh", "-c", script],
        detach=True,
        environment=env,
        volumes={
            str(checkout): {"bind": "/builds/project", "mode": "ro"},
            str(plan_dir): {"bind": "/plan", "mode": "ro"},
        },
        working_dir="/builds/project",
        extra_hosts={HOST_FROM_JOBS: "host-gateway"},
    )
    try:
        status = container.wait(timeout=300)["StatusCode"]
        log = container.logs().decode()
    finally:
        container.remove(force=True)
        shutil.rmtree(plan_dir, ignore_errors=True)
    return status == 0 and "build report accepted" in log, log


def run_pipeline(engine, checkout, sha, digest, wheelhouse, identity_for_job) -> dict[str, str]:
    """Every job in pipeline order; each job gets its own identity variables. Stops at the
    first failed job (as GitLab does) with that job's log."""
    logs = {}
    for number, job in enumerate(EVERY_STAGE, start=1):
        job_id = PIPELINE_ID * 100 + number
        variables = {"CI_JOB_ID": str(job_id), **identity_for_job(job_id)}
        if job == "build":
            ok, log = run_build_job_by_hand(engine, checkout, sha, digest, variables)
        else:
            ok, log = run_job(checkout, job, wheelhouse, variables)
        logs[job] = log
        assert ok, f"job {job} failed:\n{log[-6000:]}"
    return logs


def assert_the_dashboard_saw_the_whole_pipeline(sha: str, digest: str, staging_port: int):
    build = Build.objects.get(commit_sha=sha)
    assert build.digest == digest
    assert build.repository == REPOSITORY
    # The plan computed inside the pushed image came with the build report.
    planned = {f"{e['app']}.{e['name']}" for e in build.migrations}
    assert "releases.0010_migration_plans" in planned and "blog.0001_initial" in planned
    rows = list(StageResult.objects.filter(build=build))
    recorded = {row.stage: row for row in rows}
    # One row per job: its "running" report at the start became its result at the end.
    assert len(rows) == len(EVERY_STAGE) and sorted(recorded) == sorted(EVERY_STAGE), rows
    for stage in EVERY_STAGE:
        assert recorded[stage].status == "success", (stage, recorded[stage].status)
        assert recorded[stage].job_id == PIPELINE_ID * 100 + EVERY_STAGE.index(stage) + 1
    deployment = Deployment.objects.get(environment__slug="staging", build=build)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.log
    # Staging runs the build: its container answers with the pushed commit.
    assert commit_on(staging_port) == sha


# ----------------------------------------------------------------------------- the proof


@pytest.fixture
def pipeline_parts(engine, standin_images, job_wheelhouse, first_push, pipeline_image):
    tool(GITLAB_CI_LOCAL)
    checkout, sha = first_push
    return engine, checkout, sha, pipeline_image, job_wheelhouse


def test_first_push_with_a_ci_token(pipeline_parts, staging):
    engine, checkout, sha, digest, wheelhouse = pipeline_parts
    staging_port, staging_secrets = staging
    port = free_port()
    audience = f"http://{HOST_FROM_JOBS}:{port}"
    with served_dashboard(port, staging_secrets) as (base_url, env):
        # Exactly the README's command for this identity.
        created = run_manage(
            "create_ci_token",
            "gitlab",
            "--scopes",
            "builds:read,builds:write,deploy:staging",
            env=env,
        )
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        # GitLab sets RELEASES_ID_TOKEN in every job (.report declares it) although this
        # dashboard has no OIDC issuer configured: the explicit RELEASES_TOKEN must win.
        stray = LocalIssuer()
        try:
            logs = run_pipeline(
                engine,
                checkout,
                sha,
                digest,
                wheelhouse,
                lambda job_id: {
                    "RELEASES_URL": audience,
                    "STAGING_URL": f"http://{HOST_FROM_JOBS}:{staging_port}",
                    "RELEASES_TOKEN": token,
                    "RELEASES_ID_TOKEN": stray.mint(audience=audience, sha=sha, job_id=job_id),
                },
            )
        finally:
            stray.server.close()
    assert "(as RELEASES_TOKEN)" in logs["deploy-staging"]
    assert_streamed_progress(logs["deploy-staging"])
    assert_the_dashboard_saw_the_whole_pipeline(sha, digest, staging_port)


def test_first_push_with_id_tokens(pipeline_parts, staging):
    engine, checkout, sha, digest, wheelhouse = pipeline_parts
    staging_port, staging_secrets = staging
    port = free_port()
    audience = f"http://{HOST_FROM_JOBS}:{port}"
    issuer = LocalIssuer()
    try:
        # Exactly the README's dashboard settings for this identity, and nothing else.
        with served_dashboard(
            port,
            staging_secrets,
            GITLAB_OIDC_ISSUER=issuer.url,
            GITLAB_OIDC_AUDIENCE=audience,
            GITLAB_OIDC_PROJECTS=PROJECT_PATH,
        ):
            logs = run_pipeline(
                engine,
                checkout,
                sha,
                digest,
                wheelhouse,
                lambda job_id: {
                    "RELEASES_URL": audience,
                    "STAGING_URL": f"http://{HOST_FROM_JOBS}:{staging_port}",
                    "RELEASES_ID_TOKEN": issuer.mint(audience=audience, sha=sha, job_id=job_id),
                },
            )
    finally:
        issuer.server.close()
    assert "(as RELEASES_ID_TOKEN)" in logs["deploy-staging"]
    # The build job reported its build, then its stage, with one token: both accepted.
    assert "replay" not in logs["build"], logs["build"]
    assert_streamed_progress(logs["deploy-staging"])
    assert_the_dashboard_saw_the_whole_pipeline(sha, digest, staging_port)


def assert_streamed_progress(log: str):
    """ci_deploy.py printed the status changes and the worker's log lines as they came: a
    status line, then the deployment's own log lines, then the outcome."""
    lines = log.splitlines()
    asked = next(i for i, line in enumerate(lines) if "ci_deploy: asking" in line)
    statuses = [
        i for i, line in enumerate(lines) if re.search(r"ci_deploy: deployment \d+ is ", line)
    ]
    worker_lines = [i for i, line in enumerate(lines) if re.search(r">   \S", line)]
    outcome = next(
        i
        for i, line in enumerate(lines)
        if re.search(r"ci_deploy: deployment \d+ succeeded", line)
    )
    assert statuses and worker_lines, log[-3000:]
    assert asked < statuses[0] < worker_lines[0] < outcome, log[-3000:]
