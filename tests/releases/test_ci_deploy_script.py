"""scripts/ci_deploy.py against pytest's live server: the deploy-staging job asks for a
deployment, waits for the worker's outcome, and fails the job when it is refused or fails."""

import subprocess
import sys
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
    deadline = time.monotonic() + 20
    while not Deployment.objects.exists():
        assert script.poll() is None, script.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # the job is polling a queued deployment now
    assert script.poll() is None
    tasks.run_environment_queue.call(Environment.objects.get(slug="staging").pk)
    out, err = script.communicate(timeout=30)
    assert script.returncode == 0, err
    deployment = Deployment.objects.get()
    assert deployment.requested_by_ci and deployment.reason == "pipeline 91 (main)"
    assert f"deployment {deployment.pk} succeeded" in out


@pytest.mark.django_db(transaction=True)
def test_the_job_fails_when_the_dashboard_refuses(live_server, ci_token):
    build = make_build(32, passed=False)  # its required stages failed: not deployable
    script = start_script(live_server.url, ci_token, build.tag)
    out, err = script.communicate(timeout=30)
    assert script.returncode == 1
    assert "refused (HTTP 409)" in err
    assert not Deployment.objects.exists()
