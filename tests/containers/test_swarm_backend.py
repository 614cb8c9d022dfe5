"""The `swarm` backend on a real single-node swarm: web and worker moved together to A, B,
back to A from our ledger; a B that crashes is rolled back by Swarm itself, and the worker
stays with web."""

import os
import subprocess
import time

import docker.errors
import pytest

from releases import deployments as rules
from releases import tasks
from releases.backends.swarm import SwarmBackend
from releases.models import Deployment, DeploymentStatus, Environment
from releases.services import Actor
from tests.containers.conftest import (
    ROOT,
    SHA_A,
    SHA_B,
    PortWatcher,
    app_environment,
    build_row,
    commit_on,
    deploy,
    free_port,
)
from tests.releases.test_deployment_rules import manager

S = DeploymentStatus
pytestmark = pytest.mark.django_db(transaction=True)
STACK = "blogtest"
WEB, WORKER = f"{STACK}_web", f"{STACK}_worker"


def service_image(engine, name: str) -> str:
    return engine.services.get(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def running_images(engine, name: str) -> set[str]:
    tasks_ = engine.services.get(name).tasks(filters={"desired-state": "running"})
    return {
        t["Spec"]["ContainerSpec"]["Image"] for t in tasks_ if t["Status"]["State"] == "running"
    }


@pytest.fixture
def stack(engine, images, container_database, settings):
    """The stack started from the shipped deploy/stack.yaml with `docker stack deploy`, on A:
    web (host network, shared port) and worker (db_worker, no health check)."""
    settings.RELEASES_SMOKE_ATTEMPTS = 20
    settings.RELEASES_SMOKE_BACKOFF = 0.25
    settings.RELEASES_SMOKE_TIMEOUT = 60
    port = free_port()
    variables = {
        **app_environment(container_database, port),
        "BLOG_IMAGE": images["a"],
        "SECRETS_PREFIX": STACK,
        "SECURE_SSL_REDIRECT": "false",
        "HEALTH_INTERVAL": "1s",
        "UPDATE_MONITOR": "2s",
    }
    remove_stack(engine)
    # The secrets as Swarm secrets, as deploy/stack.yaml wants them (never variables).
    for name in ("secret_key", "database_url"):
        engine.secrets.create(name=f"{STACK}_{name}", data=variables.pop(name.upper()).encode())
    deployed = subprocess.run(
        ["docker", "stack", "deploy", "-c", str(ROOT / "deploy" / "stack.yaml"), STACK],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert deployed.returncode == 0, deployed.stderr
    deadline = time.monotonic() + 120
    # Started = every task running (health checks passed), as the backend judges it.
    while commit_on(port) != SHA_A or not all(
        SwarmBackend._converged(engine.services.get(name), images["a"]) for name in (WEB, WORKER)
    ):
        assert time.monotonic() < deadline, "the stack did not start on A"
        time.sleep(0.5)
    Environment.objects.filter(slug="staging").update(
        base_url=f"http://127.0.0.1:{port}",
        deploy_backend="swarm",
        deploy_settings={"stack": STACK, "update": {"monitor": 2}, "health_timeout": 120},
    )
    staging = Environment.objects.get(slug="staging")
    staging.port = port
    yield staging
    remove_stack(engine)


def remove_stack(engine):
    for name in (WEB, WORKER):
        for service in engine.services.list(filters={"name": name}):
            service.remove()
    for secret in engine.secrets.list(filters={"name": f"{STACK}_"}):
        # In use until the removed services' tasks are gone: wait for that, not a time.
        deadline = time.monotonic() + 60
        while True:
            try:
                secret.remove()
                break
            except docker.errors.APIError:
                assert time.monotonic() < deadline, f"{secret.name} stayed in use"
                time.sleep(0.5)


def test_web_and_worker_move_together_and_roll_back_from_the_ledger(engine, images, stack):
    actor = Actor(user=manager())
    build_a = build_row(images["a"], SHA_A, 1)
    build_b = build_row(images["b"], SHA_B, 2)

    first = deploy(stack, build_a, actor)
    assert first.status == S.SUCCEEDED, first.log
    assert f"{WEB} already runs" in first.log
    # The secrets reach the tasks as files, never as variables.
    container_env = engine.services.get(WEB).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
    names = {item.split("=", 1)[0] for item in container_env["Env"]}
    assert {"SECRET_KEY_FILE", "DATABASE_URL_FILE"} <= names
    assert not {"SECRET_KEY", "DATABASE_URL"} & names
    # The migrate step ran as a one-off Swarm job from the web service's spec, then went.
    assert f"migrate: one-off task {WEB}-migrate-{first.pk} runs the migrations" in first.log
    assert "migrate: 0 migration(s) applied" in first.log  # the stack migrated at start
    assert not engine.services.list(filters={"label": "org.lawvriksh.role=migrate"})

    with PortWatcher(stack.port) as watcher:
        second = deploy(stack, build_b, actor)
    assert second.status == S.SUCCEEDED, second.log
    assert commit_on(stack.port) == SHA_B
    for name in (WEB, WORKER):
        assert service_image(engine, name) == images["b"]
        assert running_images(engine, name) == {images["b"]}
    assert None not in watcher.answers, watcher.answers  # start-first: nothing refused
    spec = engine.services.get(WEB).attrs["Spec"]
    assert spec["UpdateConfig"]["Order"] == "start-first"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"

    # Back two steps is ours to know: Swarm's own rollback only knows the previous spec.
    rules.rollback(actor=actor, environment=stack, reason="B is wrong")
    tasks.run_environment_queue.call(stack.pk)
    rollback = Deployment.objects.get(kind="rollback")
    assert rollback.status == S.SUCCEEDED, rollback.log
    assert commit_on(stack.port) == SHA_A
    for name in (WEB, WORKER):
        assert running_images(engine, name) == {images["a"]}


def test_swarm_rolls_back_a_crashing_release_and_the_worker_stays_with_web(engine, images, stack):
    actor = Actor(user=manager())
    build_a = build_row(images["a"], SHA_A, 1)
    assert deploy(stack, build_a, actor).status == S.SUCCEEDED
    crash = build_row(images["crash"], "d" * 40, 4)
    # Its migrate step would fail first (and stop it before the switch): this test is about
    # Swarm's own rollback of tasks that crash, so the step is off here.
    Environment.objects.filter(pk=stack.pk).update(
        deploy_settings={**stack.deploy_settings, "migrate": False}
    )
    version_before = engine.services.get(WEB).attrs["Version"]["Index"]

    with PortWatcher(stack.port) as watcher:
        failed = deploy(stack, crash, actor)
    assert failed.status == S.FAILED
    assert "Swarm rolled the update back" in failed.log
    web = engine.services.get(WEB)
    assert web.attrs["UpdateStatus"]["State"] == "rollback_completed"
    assert web.attrs["Version"]["Index"] > version_before
    for name in (WEB, WORKER):
        assert service_image(engine, name) == images["a"]
        assert running_images(engine, name) == {images["a"]}
    assert set(watcher.answers) == {SHA_A}  # A answered throughout
    assert commit_on(stack.port) == SHA_A


def test_a_failing_migration_stops_the_release_before_any_task_moves(engine, images, stack):
    actor = Actor(user=manager())
    assert deploy(stack, build_row(images["a"], SHA_A, 1), actor).status == S.SUCCEEDED
    version_before = engine.services.get(WEB).attrs["Version"]["Index"]
    failed = deploy(stack, build_row(images["crash"], "d" * 40, 4), actor)
    assert failed.status == S.FAILED
    assert "migrations failed" in failed.log and "broken release" in failed.log, failed.log
    assert "stopped before the switch" in failed.log
    assert engine.services.get(WEB).attrs["Version"]["Index"] == version_before
    assert commit_on(stack.port) == SHA_A
    assert not engine.services.list(filters={"label": "org.lawvriksh.role=migrate"})


def test_a_stale_service_version_is_refused(engine, images, stack):
    """Optimistic locking: an update based on an old version of the spec is refused."""
    from releases.backends import BackendError

    backend = SwarmBackend(stack, stack.deploy_settings)
    client = engine
    service = client.services.get(WEB)
    stale = client.services.get(WEB)
    service.update(labels={"touched": "yes"})  # someone else changed it meanwhile
    with pytest.raises(BackendError) as error:
        backend._post_update(client, stale, stale.attrs["Spec"], stale.attrs["Version"]["Index"])
    assert "out of sequence" in str(error.value)
