"""Fixtures for the tests on a real Docker Engine: the image built from our Dockerfile (two
versions and two broken ones), pushed to the local registry, and a database for them.

`scripts/container_env.sh start` provides the engine, the stand-in base image, the registry
and the swarm. Without an engine these tests skip, unless CONTAINER_TESTS=required (CI), when
a missing engine is an error.
"""

import contextlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker
import docker.errors
import psycopg
import pytest

from releases import deployments as rules
from releases import tasks
from releases.models import Build, Deployment, Environment, StageResult

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("CONTAINER_REGISTRY", "127.0.0.1:5000")
BASE_IMAGE = os.environ.get("CONTAINER_BASE_IMAGE", "lawvriksh/python-base:3.13-trixie")
REPOSITORY = f"{REGISTRY}/blog-test"
DATABASE = "lawvriksh_containers"
# The same engine on TCP with client-certificate auth (scripts/container_env.sh).
TLS_HOST = os.environ.get("CONTAINER_TLS_HOST", "tcp://127.0.0.1:23760")
TLS_DIR = Path(os.environ.get("CONTAINER_TLS_DIR", "/var/lib/lawvriksh-docker/tls"))
SHA_A = "a" * 40
SHA_B = "b" * 40


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/containers/" in str(item.fspath):
            item.add_marker(pytest.mark.container)


def _unavailable(reason: str):
    if os.environ.get("CONTAINER_TESTS") == "required":
        pytest.fail(f"container tests are required here but {reason}", pytrace=False)
    pytest.skip(reason)


# The engine scripts/container_env.sh starts, when DOCKER_HOST names none.
LOCAL_ENGINE = (
    Path(os.environ.get("CONTAINER_ENV_DIR", "/var/lib/lawvriksh-docker")) / "docker.sock"
)
if "DOCKER_HOST" not in os.environ and LOCAL_ENGINE.exists():
    os.environ["DOCKER_HOST"] = f"unix://{LOCAL_ENGINE}"


@pytest.fixture(scope="session")
def engine():
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        _unavailable(f"no Docker Engine ({error}); run scripts/container_env.sh start")
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"no base image {BASE_IMAGE}; run scripts/container_env.sh start")
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3)
    except OSError:
        _unavailable(f"no registry at {REGISTRY}; run scripts/container_env.sh start")
    yield client
    client.close()


def _push(client, tag: str) -> str:
    """Push repository:tag; the registry's digest as repository@sha256:..."""
    for line in client.images.push(REPOSITORY, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise AssertionError(f"push failed: {line['error']}")
    image = client.images.get(f"{REPOSITORY}:{tag}")
    digests = [d for d in image.attrs["RepoDigests"] if d.startswith(REPOSITORY + "@")]
    assert digests, image.attrs["RepoDigests"]
    return digests[0]


def make_wheelhouse() -> None:
    """Wheels built on the host for the image build (no TLS route to PyPI from a build)."""
    wheels = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-r", "requirements.txt", "-w", "wheelhouse"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert wheels.returncode == 0, wheels.stderr[-3000:]


def tool(path) -> str:
    """The path of a command the container tests need, else skip (or fail in CI)."""
    found = shutil.which(str(path)) if not Path(path).is_absolute() else str(path)
    if not found or not Path(found).exists():
        _unavailable(f"{path} is not installed (scripts/container_env.sh start installs it)")
    return found


def build_image(client, tag: str, **buildargs) -> str:
    """Build our Dockerfile on the stand-in base; returns the pushed reference by digest."""
    make_wheelhouse()
    client.images.build(
        path=str(ROOT),
        tag=f"{REPOSITORY}:{tag}",
        buildargs={"BASE_IMAGE": BASE_IMAGE, **buildargs},
        rm=True,
        forcerm=True,
    )
    return _push(client, tag)


def derive_image(client, tag: str, parent: str, lines: str) -> str:
    dockerfile = f"FROM {parent}\n{lines}\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=f"{REPOSITORY}:{tag}", rm=True)
    return _push(client, tag)


@pytest.fixture(scope="session")
def images(engine):
    """{"a", "b": two versions; "unhealthy": health check fails; "crash": exits at start}."""
    a = build_image(engine, SHA_A, GIT_SHA=SHA_A, APP_VERSION="1.0.0", BUILD_TIME="2026-11-26")
    b = build_image(engine, SHA_B, GIT_SHA=SHA_B, APP_VERSION="1.1.0", BUILD_TIME="2026-11-26")
    unhealthy = derive_image(
        engine,
        "unhealthy",
        a,
        "HEALTHCHECK --interval=1s --timeout=2s --start-period=1s --retries=2 "
        'CMD ["python3", "-c", "raise SystemExit(1)"]',
    )
    # A release whose production settings fail at import: every process of it exits.
    crash = derive_image(
        engine,
        "crash",
        a,
        "USER root\n"
        "RUN printf 'raise RuntimeError(\"broken release\")\\n' >> config/settings/production.py\n"
        "USER 10001:10001",
    )
    return {"a": a, "b": b, "unhealthy": unhealthy, "crash": crash}


@contextlib.contextmanager
def fresh_database(name: str):
    """A new, empty PostgreSQL database on the host (dropped afterwards); its URL."""
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def migration_plan_in(engine, image: str, database_url: str) -> list[dict]:
    """What the build job does: `manage.py migration_plan` inside the image, over an empty
    database (nothing is applied), its JSON on stdout; the plan's migrations."""
    output = engine.containers.run(
        image,
        ["python3", "manage.py", "migration_plan", "--wait", "60"],
        environment={
            "WAIT_FOR_DB": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "plan",
            "DATABASE_URL": database_url,
        },
        network_mode="host",
        remove=True,
        stderr=False,
    )
    return json.loads(output)["migrations"]


@pytest.fixture(scope="session")
def container_database():
    """A fresh PostgreSQL database on the host for the containers (they migrate it)."""
    with fresh_database(DATABASE) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(database_url: str, port: int) -> dict[str, str]:
    """What a container of ours needs (host network: PostgreSQL on 127.0.0.1)."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "RUN_MIGRATIONS": "1",
        "SECURE_SSL_REDIRECT": "0",
        "PORT": str(port),
        "GUNICORN_REUSE_PORT": "1",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_GRACEFUL_TIMEOUT": "3",
    }


# ----------------------------------------------------------- deployments through the worker


def commit_on(port: int) -> str | None:
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/version/", headers={"Host": "localhost"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["commit"]
    except (urllib.error.URLError, OSError, ValueError):
        return None


class PortWatcher(threading.Thread):
    """Asks the port for its commit every 50 ms, from a second thread, and keeps the answers."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.answers, self.running = port, [], True

    def run(self):
        while self.running:
            self.answers.append(commit_on(self.port))
            time.sleep(0.05)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.join()


def docker_staging(database_url: str, name: str, extra_hosts=()) -> tuple[int, dict[str, str]]:
    """Staging on the docker backend: the build's container on a free port of this host (host
    network). Returns the port and the worker variables its secrets are read from."""
    port = free_port()
    plain = app_environment(database_url, port)
    plain["ALLOWED_HOSTS"] += "".join(f",{host}" for host in extra_hosts)
    plain.pop("RUN_MIGRATIONS")  # the deployment's own migrate step migrates
    # Secrets come from the worker's environment, named in the settings, never stored.
    worker_secrets = {
        "STAGING_SECRET_KEY": plain.pop("SECRET_KEY"),
        "STAGING_DATABASE_URL": plain.pop("DATABASE_URL"),
    }
    Environment.objects.filter(slug="staging").update(
        base_url=f"http://127.0.0.1:{port}",
        deploy_backend="docker",
        deploy_settings={
            "name": f"{name}-{port}",
            "env": plain,
            "secret_env": {
                "SECRET_KEY": "STAGING_SECRET_KEY",
                "DATABASE_URL": "STAGING_DATABASE_URL",
            },
            "network_mode": "host",
            "health_interval": 1,
            "health_timeout": 90,
            "stop_timeout": 5,
        },
    )
    return port, worker_secrets


@contextlib.contextmanager
def docker_staging_on_fresh_database(engine, name: str, monkeypatch, settings):
    """Staging on the docker backend over a fresh database of its own, the worker's secrets
    set, smoke tests patient enough for a loaded machine; the Environment row (with `port`
    and `database_url`), its containers removed afterwards."""
    settings.RELEASES_SMOKE_ATTEMPTS = 20
    settings.RELEASES_SMOKE_BACKOFF = 0.25
    settings.RELEASES_SMOKE_TIMEOUT = 60
    with fresh_database(f"lawvriksh_{name.replace('-', '_')}") as url:
        port, worker_secrets = docker_staging(url, f"blog-{name}")
        for variable, value in worker_secrets.items():
            monkeypatch.setenv(variable, value)
        environment = Environment.objects.get(slug="staging")
        environment.port, environment.database_url = port, url
        environment.worker_secrets = worker_secrets
        try:
            yield environment
        finally:
            remove_staging_containers(engine)


def remove_staging_containers(engine) -> None:
    for container in engine.containers.list(
        all=True, filters={"label": "org.lawvriksh.environment=staging"}
    ):
        container.remove(force=True)


def build_row(reference: str, sha: str, n: int) -> Build:
    repository, digest = reference.split("@")
    build = Build.objects.create(repository=repository, tag=sha, commit_sha=sha, digest=digest)
    for job, stage in enumerate(["lint", "test", "security", "build"]):
        StageResult.objects.create(build=build, stage=stage, job_id=n * 10 + job, status="success")
    return build


def deploy(environment, build, actor) -> Deployment:
    deployment, _ = rules.request_deployment(
        actor=actor, environment=environment, build=build, reason="container test"
    )
    tasks.run_environment_queue.call(environment.pk)
    deployment.refresh_from_db()
    return deployment


def serving(engine, role: str | None = None) -> list:
    """Running containers of the staging environment (of one role, when given)."""
    labels = ["org.lawvriksh.environment=staging"]
    if role:
        labels.append(f"org.lawvriksh.role={role}")
    return engine.containers.list(filters={"label": labels})
