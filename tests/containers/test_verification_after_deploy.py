"""Verification after deploy on the real engine: a build whose home page answers 500 passes
the smoke tests, fails verification under probe traffic, and the environment is back on the
previous build, with the numbers that decided on the deployment."""

import pytest

from releases import deployments as rules
from releases.models import Deployment, DeploymentStatus
from releases.services import Actor
from tests.containers.conftest import (
    SHA_A,
    build_row,
    commit_on,
    deploy,
    derive_image,
    docker_staging_on_fresh_database,
    serving,
)
from tests.releases.test_deployment_rules import manager

S = DeploymentStatus
pytestmark = pytest.mark.django_db(transaction=True)
SHA_BROKEN = "e5" * 20
BREAK_HOME = (
    "USER root\n"
    'RUN printf \'\\ndef _broken(request):\\n    raise RuntimeError("broken home")\\n\\n'
    'urlpatterns.insert(0, path("", _broken))\\n\' >> config/urls.py\n'
    f"ENV GIT_SHA={SHA_BROKEN}\n"
    "USER 10001:10001"
)


@pytest.fixture
def staging(engine, monkeypatch, settings, tmp_path):
    with docker_staging_on_fresh_database(engine, "verify", monkeypatch, settings) as environment:
        worker_secrets = environment.worker_secrets
        # SECRET_KEY as a file on the engine's host, mounted read-only (secret_files).
        secret = tmp_path / "secret_key"
        secret.write_text(worker_secrets["STAGING_SECRET_KEY"] + "\n")
        secret.chmod(0o644)
        tmp_path.chmod(0o755)
        del environment.deploy_settings["secret_env"]["SECRET_KEY"]
        environment.deploy_settings["secret_files"] = {"SECRET_KEY": str(secret)}
        environment.deploy_settings["verify"] = {
            "bake_seconds": 4,
            "probe_paths": ["/"],
            "probe_interval": 0.05,
            "min_requests": 10,
        }
        environment.save(update_fields=["deploy_settings"])
        yield environment


def test_a_release_whose_home_page_fails_is_rolled_back_after_its_smoke_tests(
    engine, images, staging
):
    actor = Actor(user=manager())
    broken_image = derive_image(engine, "broken-home", images["a"], BREAK_HOME)
    good = build_row(images["a"], SHA_A, 81)
    broken = build_row(broken_image, SHA_BROKEN, 82)

    first = deploy(staging, good, actor)
    assert first.status == S.SUCCEEDED, first.log
    assert first.verification["passed"] is True, first.log
    assert commit_on(staging.port) == SHA_A
    [container] = serving(engine)
    variables = {item.split("=", 1)[0] for item in container.attrs["Config"]["Env"]}
    assert "SECRET_KEY_FILE" in variables and "SECRET_KEY" not in variables

    failed = deploy(staging, broken, actor)
    assert failed.status == S.FAILED, failed.log
    assert failed.smoke_result["passed"] is True  # it started and answered its probes
    assert failed.verification["passed"] is False
    assert failed.verification["new"]["error_rate"] == 1.0
    assert failed.verification["baseline"]["error_rate"] == 0.0
    assert "FAILED: 5xx share 100.0%" in failed.log

    rollback = Deployment.objects.get(kind="rollback")
    assert rollback.status == S.SUCCEEDED, rollback.log
    assert rollback.reason.startswith("verification failed")
    assert rules.current_deployment(staging).build == good
    assert commit_on(staging.port) == SHA_A
