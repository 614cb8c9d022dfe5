"""The image built from our Dockerfile, run against the host's PostgreSQL: probes, the
version it reports, its user, its labels, the entrypoint's database wait, and the worker."""

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.containers.conftest import SHA_A, app_environment, free_port


def get(port: int, path: str, timeout: float = 3.0):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Host": "localhost"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_for(port: int, path: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return get(port, path)
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def run_container(engine):
    started = []

    def run(image, **options):
        container = engine.containers.run(image, detach=True, init=True, **options)
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True)


def test_the_image_serves_probes_and_reports_its_build(
    engine, images, container_database, run_container
):
    port = free_port()
    container = run_container(
        images["a"], network_mode="host", environment=app_environment(container_database, port)
    )
    status, body = wait_for(port, "/healthz")
    assert status == 200
    status, body = get(port, "/readyz")  # migrated by RUN_MIGRATIONS=1 before gunicorn
    assert status == 200 and json.loads(body)["migrations"] == "applied"
    version = json.loads(get(port, "/api/v1/version/")[1])
    assert version == {"version": "1.0.0", "commit": SHA_A, "build_time": "2026-11-26"}
    assert container.exec_run("id -u").output.decode().strip() == "10001"  # not root
    top = container.top(ps_args="-o pid,user,args")
    gunicorn = [p for p in top["Processes"] if "gunicorn" in p[2]]
    assert gunicorn and all(p[1] in ("app", "10001") for p in gunicorn)
    # Static files were collected at build time and are served (whitenoise, hashed names).
    assert get(port, "/static/admin/css/base.css")[0] == 200
    config = engine.images.get(images["a"]).attrs["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == SHA_A
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.created"] == "2026-11-26"
    assert labels["org.opencontainers.image.source"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    deadline = time.monotonic() + 40
    while container.attrs["State"].get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, container.attrs["State"]
        time.sleep(1)
        container.reload()


def test_the_entrypoint_waits_for_the_database_then_gives_up_without_the_password(
    engine, images, run_container
):
    environment = app_environment("postgres://blog:hunter2-secret@127.0.0.1:1/blog", free_port())
    environment["DB_WAIT_TIMEOUT"] = "3"
    container = run_container(images["a"], network_mode="host", environment=environment)
    result = container.wait(timeout=60)
    logs = container.logs().decode()
    assert result["StatusCode"] != 0
    assert "waiting for the database" in logs
    assert "database not reachable after 3s" in logs
    assert "hunter2-secret" not in logs


def test_the_same_image_runs_the_worker(engine, images, container_database, run_container):
    environment = app_environment(container_database, free_port())
    container = run_container(
        images["a"],
        network_mode="host",
        environment=environment,
        command=["python3", "manage.py", "db_worker", "--no-startup-delay"],
        healthcheck={"test": ["NONE"]},
    )
    deadline = time.monotonic() + 60
    while True:
        container.reload()
        assert container.status == "running", container.logs().decode()[-2000:]
        top = container.top(ps_args="-o pid,user,args")["Processes"]
        if (
            any("db_worker" in args for _, _, args in top)
            and "database is up" in container.logs().decode()
        ):
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    time.sleep(2)
    container.reload()
    assert container.status == "running"  # polling the task table, not crashing
