"""The `docker` backend on a real engine: A, then B, then a rollback to A, each checked on
the port; a B whose health check fails leaves A serving; engine and image errors."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from releases import deployments as rules
from releases import tasks
from releases.models import Deployment, DeploymentStatus, Environment
from releases.services import Actor
from tests.containers.conftest import (
    REPOSITORY,
    SHA_A,
    SHA_B,
    TLS_DIR,
    TLS_HOST,
    PortWatcher,
    _unavailable,
    build_row,
    commit_on,
    deploy,
    docker_staging_on_fresh_database,
    free_port,
    serving,
)
from tests.releases.test_deployment_rules import manager

S = DeploymentStatus
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staging(engine, monkeypatch, settings):
    """A fresh database for every test: the first deployment's migrate step applies all."""
    with docker_staging_on_fresh_database(engine, "test", monkeypatch, settings) as env:
        yield env


def test_deploy_a_then_b_then_roll_back_to_a(engine, images, staging):
    actor = Actor(user=manager())
    port = staging.port
    build_a = build_row(images["a"], SHA_A, 1)
    build_b = build_row(images["b"], SHA_B, 2)

    first = deploy(staging, build_a, actor)
    assert first.status == S.SUCCEEDED, first.log
    assert commit_on(port) == SHA_A
    assert len(serving(engine)) == 1
    assert "environment variables set" in first.log
    # A fresh database: the migrate step applied every migration before the container started.
    lines = first.log.splitlines()
    migrated = next(i for i, line in enumerate(lines) if "migration(s) applied" in line)
    started = next(
        i for i, line in enumerate(lines) if line.endswith("environment variables set)")
    )
    assert migrated < started and "0 migration(s)" not in lines[migrated], first.log
    assert "Applying blog.0001_initial" in first.log

    with PortWatcher(port) as watcher:
        second = deploy(staging, build_b, actor)
    assert second.status == S.SUCCEEDED, second.log
    assert "migrate: 0 migration(s) applied" in second.log  # once, not per release
    assert commit_on(port) == SHA_B
    [container] = serving(engine)
    assert container.labels["org.lawvriksh.deployment"] == str(second.pk)
    assert container.attrs["Config"]["Image"] == images["b"]  # by digest, never a tag
    answered = [a for a in watcher.answers if a]
    assert answered[0] == SHA_A and answered[-1] == SHA_B
    assert set(answered) == {SHA_A, SHA_B}
    # Start-first on a shared port: every request was answered, by A, then both, then B.
    assert None not in watcher.answers, watcher.answers
    # The backend reads the host's listener-migration setting from inside the container.
    migrates = Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    assert ("tcp_migrate_req=0" in second.log) is not migrates

    rules.rollback(actor=actor, environment=staging, reason="B is wrong")
    tasks.run_environment_queue.call(staging.pk)
    rollback = Deployment.objects.filter(kind="rollback").get()
    assert rollback.status == S.SUCCEEDED, rollback.log
    assert rollback.build == build_a
    assert commit_on(port) == SHA_A
    [container] = serving(engine)
    assert container.attrs["Config"]["Image"] == images["a"]
    secret = staging.deploy_settings["secret_env"]
    for deployment in Deployment.objects.all():
        for variable in secret.values():
            assert os.environ[variable] not in deployment.log


def test_a_b_whose_health_check_fails_leaves_a_serving(engine, images, staging):
    actor = Actor(user=manager())
    port = staging.port
    build_a = build_row(images["a"], SHA_A, 1)
    assert deploy(staging, build_a, actor).status == S.SUCCEEDED
    broken = build_row(images["unhealthy"], "c" * 40, 3)

    with PortWatcher(port) as watcher:
        failed = deploy(staging, broken, actor)
    assert failed.status == S.FAILED
    assert "is unhealthy" in failed.log and "the previous container keeps serving" in failed.log
    assert set(watcher.answers) == {SHA_A}  # every request answered, by A, throughout
    [container] = serving(engine)
    assert container.attrs["Config"]["Image"] == images["a"]
    assert not engine.containers.list(all=True, filters={"name": f"blog-test-{port}-{failed.pk}"})
    # The worker then rolled the environment back to its last good build, A.
    rollback = Deployment.objects.get(kind="rollback")
    assert rollback.build == build_a and rollback.status == S.SUCCEEDED
    assert commit_on(port) == SHA_A


def test_a_container_that_exits_fails_fast_with_its_output(engine, images, staging):
    actor = Actor(user=manager())
    crash = build_row(images["crash"], "d" * 40, 4)
    started = time.monotonic()
    failed = deploy(staging, crash, actor)
    assert failed.status == S.FAILED
    # Its migrate step is the first to run the release, and fails before any switch.
    assert "migrations failed" in failed.log and "exited with code" in failed.log
    assert "broken release" in failed.log  # the container's last lines say why
    assert "stopped before the switch" in failed.log
    assert time.monotonic() - started < 60
    assert serving(engine) == []
    assert engine.containers.list(all=True, filters={"label": "org.lawvriksh.role=migrate"}) == []


def test_engine_unreachable_and_missing_image_fail_with_the_reason(engine, images, staging):
    actor = Actor(user=manager())
    missing = build_row(f"{REPOSITORY}@sha256:{'0' * 64}", "e" * 40, 5)
    failed = deploy(staging, missing, actor)
    assert failed.status == S.FAILED
    assert f"pulling {REPOSITORY}@sha256:{'0' * 64}" in failed.log

    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={**staging.deploy_settings, "docker_host": "unix:///nonexistent.sock"}
    )
    build_a = build_row(images["a"], SHA_A, 1)
    failed = deploy(staging, build_a, actor)
    assert failed.status == S.FAILED
    assert "Docker Engine unreachable at unix:///nonexistent.sock" in failed.log


def test_stop_first_on_a_published_port_restarts_the_old_container_when_the_new_one_fails(
    engine, images, staging
):
    """A bridge network with a published port cannot hold two containers on that port: the
    old one stops first, and comes back if the new one never becomes healthy."""
    port = free_port()
    Environment.objects.filter(pk=staging.pk).update(
        base_url="",  # no database in this test: the backend's own health check decides
        deploy_settings={
            "name": f"blog-test-{port}",
            "env": {
                "SECRET_KEY": "s" * 10 + "ecret-key-for-the-stop-first-test-only-0123456789",
                "ALLOWED_HOSTS": "localhost",
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                "WAIT_FOR_DB": "0",
                "SECURE_SSL_REDIRECT": "0",
            },
            "network_mode": "bridge",
            "ports": {"8000/tcp": port},
            "strategy": "stop-first",
            "migrate": False,  # no database here: the release's own health check decides
            "health_interval": 1,
            "health_timeout": 60,
            "stop_timeout": 5,
        },
    )
    staging.refresh_from_db()
    actor = Actor(user=manager())
    build_a = build_row(images["a"], SHA_A, 1)
    assert deploy(staging, build_a, actor).status == S.SUCCEEDED
    assert commit_on(port) == SHA_A
    failed = deploy(staging, build_row(images["unhealthy"], "c" * 40, 3), actor)
    assert failed.status == S.FAILED
    assert "restarted the previous container" in failed.log
    assert commit_on(port) == SHA_A
    [container] = serving(engine)
    assert container.attrs["Config"]["Image"] == images["a"]


def test_a_tls_engine_takes_the_worker_only_with_its_client_certificate(
    engine, images, staging, tmp_path
):
    """docker_host on TCP with --tlsverify: the configured client certificate deploys; a
    certificate from another CA is refused before anything happens."""
    if not (TLS_DIR / "client-cert.pem").exists():
        _unavailable(f"no TLS engine certificates in {TLS_DIR} (scripts/container_env.sh)")
    actor = Actor(user=manager())
    build_a = build_row(images["a"], SHA_A, 1)
    tls = {
        "ca_cert": str(TLS_DIR / "ca.pem"),
        "client_cert": str(TLS_DIR / "client-cert.pem"),
        "client_key": str(TLS_DIR / "client-key.pem"),
    }
    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={**staging.deploy_settings, "docker_host": TLS_HOST, "tls": tls}
    )
    staging.refresh_from_db()
    staging.full_clean()  # the settings pass the admin's check too
    deployment = deploy(staging, build_a, actor)
    assert deployment.status == S.SUCCEEDED, deployment.log
    assert commit_on(staging.port) == SHA_A

    stranger = tmp_path / "stranger"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=stranger",
            "-keyout",
            f"{stranger}-key.pem",
            "-out",
            f"{stranger}.pem",
        ],
        check=True,
        capture_output=True,
    )
    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={
            **staging.deploy_settings,
            "tls": {**tls, "client_cert": f"{stranger}.pem", "client_key": f"{stranger}-key.pem"},
        }
    )
    refused = deploy(staging, build_row(images["b"], SHA_B, 2), actor)
    assert refused.status == S.FAILED
    assert f"Docker Engine unreachable at {TLS_HOST}" in refused.log
    assert commit_on(staging.port) == SHA_A  # nothing changed


def test_the_releases_page_shows_drift_between_the_engine_and_the_ledger(
    engine, images, staging, client, superuser
):
    actor = Actor(user=manager())
    assert deploy(staging, build_row(images["a"], SHA_A, 1), actor).status == S.SUCCEEDED
    client.force_login(superuser)
    page = client.get("/admin/releases/environment/dashboard/").content.decode()
    assert "Live (docker): in sync" in page
    for container in serving(engine):  # someone removes it by hand
        container.remove(force=True)
    page = client.get("/admin/releases/environment/dashboard/").content.decode()
    assert "Drift (docker): the engine runs <code>nothing</code>" in page
    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={**staging.deploy_settings, "docker_host": "unix:///nonexistent.sock"}
    )
    page = client.get("/admin/releases/environment/dashboard/").content.decode()
    assert "Live state unknown: Docker Engine unreachable" in page


def test_web_and_worker_move_together_and_a_crashing_worker_retires_nothing(
    engine, images, staging
):
    actor = Actor(user=manager())
    worker = {
        "command": ["python3", "manage.py", "db_worker", "--no-startup-delay"],
    }
    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={**staging.deploy_settings, "worker": worker}
    )
    staging.refresh_from_db()
    build_a, build_b = build_row(images["a"], SHA_A, 1), build_row(images["b"], SHA_B, 2)
    assert deploy(staging, build_a, actor).status == S.SUCCEEDED
    second = deploy(staging, build_b, actor)
    assert second.status == S.SUCCEEDED, second.log
    for role in ("web", "worker"):
        [container] = serving(engine, role)
        assert container.attrs["Config"]["Image"] == images["b"]
    assert commit_on(staging.port) == SHA_B

    # A release whose worker dies at start (here: A's, by a command that fails for its SHA).
    crashing = [
        "sh",
        "-c",
        f'[ "$GIT_SHA" = "{SHA_A}" ] && echo "worker of A crashes" >&2 '
        "&& exit 3; exec python3 manage.py db_worker",
    ]
    Environment.objects.filter(pk=staging.pk).update(
        deploy_settings={**staging.deploy_settings, "worker": {**worker, "command": crashing}}
    )
    staging.refresh_from_db()
    failed = deploy(staging, build_a, actor)
    assert failed.status == S.FAILED
    assert "worker of A crashes" in failed.log  # its last lines, in our log
    # Web A was healthy, but nothing was retired: B's web and worker run on.
    for role in ("web", "worker"):
        [container] = serving(engine, role)
        assert container.attrs["Config"]["Image"] == images["b"]
    assert commit_on(staging.port) == SHA_B
