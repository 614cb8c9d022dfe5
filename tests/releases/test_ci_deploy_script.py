"""scripts/ci_deploy.py against pytest's live server: the deploy-staging job asks for a
deployment, waits for the worker's outcome, and fails the job when it is refused or fails."""

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from releases import services, tasks
from releases.models import Deployment, Environment
from tests.releases.test_deployment_rules import make_build

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ci_deploy.py"


def start_script(url: str, token: str, sha: str) -> subprocess.Popen:
    environment = {
        "PATH": "/usr/bin:/bin",
        "RELEASES_URL": url,
        "RELEASES_TOKEN": token,
        "RELEASES_RETRIES": "2",
        "RELEASES_BACKOFF": "0.05",
        "CI_COMMIT_SHA": sha,
        "CI_PIPELINE_ID": "91",
        "CI_COMMIT_REF_NAME": "main",
    }
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--interval", "0.2", "--timeout", "30"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output_lines(script: subprocess.Popen) -> queue.Queue:
    """The script's stdout, line by line, as it prints them."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in script.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def read_until(lines: queue.Queue, text: str, timeout: float = 60) -> str:
    """The first line containing `text` (the positive signal); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line with {text!r} within {timeout}s")
        if text in line:
            return line


@pytest.fixture
def ci_token(db):
    _, raw = services.ci_token_create(
        name="gitlab", scopes=["builds:read", "builds:write", "deploy:staging"]
    )
    return raw


@pytest.mark.django_db(transaction=True)
def test_the_job_waits_for_the_worker_and_passes_when_the_deployment_succeeds(
    live_server, ci_token
):
    build = make_build(31)
    script = start_script(live_server.url, ci_token, build.tag)
    lines = output_lines(script)
    # The job log shows the request at once (streamed, not buffered until the end).
    queued = read_until(lines, "is queued")
    deployment = Deployment.objects.get()
    assert queued == f"ci_deploy: deployment {deployment.pk} is queued"
    assert script.poll() is None  # still waiting for the outcome
    tasks.run_environment_queue.call(Environment.objects.get(slug="staging").pk)
    # Then the worker's log lines and the status change, as they happen.
    assert "noop: would pull" in read_until(lines, "noop: would pull")
    read_until(lines, f"deployment {deployment.pk} succeeded")
    assert script.wait(timeout=30) == 0
    deployment.refresh_from_db()
    assert deployment.requested_by_ci and deployment.reason == "pipeline 91 (main)"


@pytest.mark.django_db(transaction=True)
def test_the_job_fails_when_the_dashboard_refuses(live_server, ci_token):
    build = make_build(32, passed=False)  # its required stages failed: not deployable
    script = start_script(live_server.url, ci_token, build.tag)
    out, err = script.communicate(timeout=30)
    assert script.returncode == 1
    assert "refused the deployment request (HTTP 409)" in err
    assert "has not passed" in err  # the dashboard's reason, in the job log
    assert not Deployment.objects.exists()
