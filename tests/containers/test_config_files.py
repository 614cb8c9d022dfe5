"""The shipping files checked by their own tools: hadolint on the Dockerfile, docker-compose
on compose.yaml, gitlab-ci-local on .gitlab-ci.yml (its rules, and the lint job run)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.containers.conftest import ROOT, tool

GITLAB_CI_LOCAL = ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
SEED_STAGES = ["lint", "test", "security", "build", "deploy-staging", "smoke"]


def run(*args, cwd=ROOT, env=None, timeout=600):
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ----------------------------------------------------------------------------- Dockerfile


def test_the_dockerfile_is_hadolint_clean():
    hadolint = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "hadolint"
    result = run(tool(hadolint if hadolint.exists() else "hadolint"), "--no-color", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""  # not even an info-level remark


# ----------------------------------------------------------------------------- compose.yaml

COMPOSE_ENV = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pw", "COMPOSE_PROJECT_NAME": "blog"}


def compose_config(*extra, env=COMPOSE_ENV):
    return run(tool("docker-compose"), "-f", "compose.yaml", *extra, "config", env=env)


def test_compose_config_validates_with_the_services_the_pipeline_needs():
    result = compose_config()
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"db", "migrate", "web", "worker", "proxy", "prometheus", "grafana"}
    # `docker compose up` starts the proxy only with --profile proxy, monitoring likewise.
    assert services["proxy"]["profiles"] == ["proxy"]
    assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]
    assert not any(services[name].get("profiles") for name in ("db", "migrate", "web", "worker"))
    assert services["db"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pgdata" in config["volumes"]
    assert services["web"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["worker"]["command"] == ["python3", "manage.py", "db_worker"]
    assert services["migrate"]["command"] == ["python3", "manage.py", "migrate", "--noinput"]
    for name in ("migrate", "web", "worker"):
        environment = services[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert environment["DATABASE_URL"] == "postgres://blog:pw@db:5432/blog"
        assert services[name]["image"] == services["web"]["image"]  # one image
    assert services["web"]["ports"] == [{"published": 8000, "target": 8000}]


def test_the_proxy_profile_adds_nginx_with_tls_in_front_of_web():
    result = compose_config("--profile", "proxy")
    assert result.returncode == 0, result.stderr
    proxy = yaml.safe_load(result.stdout)["services"]["proxy"]
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert {"published": 443, "target": 443} in proxy["ports"]
    nginx = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    assert "proxy_pass http://blog_web" in nginx and "X-Forwarded-Proto $scheme" in nginx
    assert "ssl_certificate /etc/nginx/certs/dev.crt" in nginx


def test_compose_refuses_to_start_without_its_secrets():
    result = compose_config(env={**COMPOSE_ENV, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "set SECRET_KEY in .env" in result.stderr + result.stdout


def test_the_dev_certificate_script_makes_a_certificate_for_localhost(tmp_path):
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "dev_cert.sh", copy / "scripts")
    result = run("bash", copy / "scripts" / "dev_cert.sh", cwd=copy)
    assert result.returncode == 0, result.stderr
    text = run("openssl", "x509", "-in", copy / "deploy/certs/dev.crt", "-noout", "-text").stdout
    assert "CN = localhost" in text and "DNS:localhost" in text


# ----------------------------------------------------------------------------- .gitlab-ci.yml


def gitlab_ci_local(*args, cwd=ROOT, variables=()):
    names = ",".join(name for name, _ in variables)
    flags = [a for name, value in variables for a in ("--variable", f"{name}={value}")]
    if names:
        flags += ["--ignore-predefined-vars", names]
    return run(tool(GITLAB_CI_LOCAL), *args, *flags, cwd=cwd)


def jobs_when(variables) -> dict[str, str]:
    result = gitlab_ci_local("--list-json", variables=variables)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout[result.stdout.index("[") :])
    return {job["name"]: job["when"] for job in listing}


def test_gitlab_ci_has_the_seed_stages_and_the_rules():
    config = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    assert config["stages"] == SEED_STAGES
    merge_request = jobs_when(
        [("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_COMMIT_BRANCH", "")]
    )
    assert merge_request == {
        "lint": "on_success",
        "test": "on_success",
        "security": "on_success",
        "build": "never",
        "deploy-staging": "never",
        "smoke": "never",
    }
    default_branch = jobs_when([("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "main")])
    assert set(default_branch.values()) == {"on_success"} and list(default_branch) == [
        "lint",
        "test",
        "security",
        "build",
        "deploy-staging",
        "smoke",
    ]
    # A schedule audits and rebuilds on the current base; a tag builds a versioned image;
    # neither deploys.
    scheduled = jobs_when([("CI_PIPELINE_SOURCE", "schedule"), ("CI_COMMIT_BRANCH", "main")])
    tagged = jobs_when(
        [("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", "v1.4.0"), ("CI_COMMIT_BRANCH", "")]
    )
    for listing in (scheduled, tagged):
        assert listing == {
            "lint": "on_success",
            "test": "on_success",
            "security": "on_success",
            "build": "on_success",
            "deploy-staging": "never",
            "smoke": "never",
        }, listing
    workflow = {rule["if"]: rule.get("variables", {}) for rule in config["workflow"]["rules"]}
    assert workflow['$CI_PIPELINE_SOURCE == "schedule"']["IMAGE_TAG"] == (
        "$CI_COMMIT_SHA-rebuild-$CI_PIPELINE_ID"
    )
    assert workflow["$CI_COMMIT_TAG"]["IMAGE_TAG"] == "$CI_COMMIT_TAG"
    assert config["variables"]["RELEASES_IMAGE_TAG"] == "$IMAGE_TAG"
    preview = gitlab_ci_local("--preview")
    assert preview.returncode == 0, preview.stderr
    expanded = yaml.safe_load(preview.stdout[preview.stdout.index("---") :])
    # Every job reports its result, authenticated by an id_token for the dashboard.
    for name in SEED_STAGES:
        job = expanded[name]
        assert job["id_tokens"]["RELEASES_ID_TOKEN"]["aud"] == "$RELEASES_URL"
        assert any("ci_report.py stage" in line for line in job["after_script"])
        # ... and says it started (a configuration error fails the job there).
        assert any("ci_report.py start" in line for line in job["before_script"])
    assert any("ci_report.py build --digest" in line for line in expanded["build"]["script"])
    assert any("ci_deploy.py" in line for line in expanded["deploy-staging"]["script"])
    assert expanded["deploy-staging"]["interruptible"] is False  # never cancelled mid-deploy
    assert "production" not in json.dumps(expanded)  # production is promoted, not deployed


def test_gitlab_ci_local_catches_a_broken_pipeline(tmp_path):
    """The check above can fail: an unknown `needs` is refused."""
    repo = tmp_path / "broken"
    repo.mkdir()
    broken = (
        (ROOT / ".gitlab-ci.yml")
        .read_text()
        .replace("  needs:\n    - build\n", "  needs:\n    - bulid\n")
    )
    assert "bulid" in broken
    (repo / ".gitlab-ci.yml").write_text(broken)
    run("git", "init", "-q", cwd=repo)
    result = gitlab_ci_local("--list", cwd=repo)
    assert result.returncode != 0
    assert "bulid" in result.stdout + result.stderr


@pytest.mark.slow
def test_the_lint_job_passes_with_the_shell_executor():
    result = gitlab_ci_local("--force-shell-executor", "lint")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "PASS  lint" in result.stdout
    assert "hadolint --no-color -t warning Dockerfile" in result.stdout
