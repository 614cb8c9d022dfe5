"""Request ids and log lines: X-Request-ID in and out, on every line of the request and on
the worker's lines of the deployment it started; production's one JSON format (app and
gunicorn's access log); and no secret in any line of a full flow through gunicorn."""

import json
import logging
import urllib.request
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from core.roles import RELEASE_MANAGER
from releases import services, tasks
from releases.models import Deployment, Environment
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import make_build
from tests.releases.test_gitlab import WEBHOOK, fixture
from tests.releases.test_worker_recovery import database_url
from tests.support.processes import gunicorn_server, production_environment

API = "/api/v1/releases/"


@pytest.mark.django_db
def test_the_request_id_comes_back_and_is_on_the_requests_log_lines(client, caplog):
    caplog.set_level(logging.INFO)
    given = client.get("/no/such/page", HTTP_X_REQUEST_ID="trace-42.a")
    assert given["X-Request-ID"] == "trace-42.a"
    [line] = [r for r in caplog.records if r.name == "django.request"]
    assert line.request_id == "trace-42.a"
    # Anything a log parser could trip on is replaced by a fresh id.
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert odd["X-Request-ID"] != "bad id\nwith newline" and len(odd["X-Request-ID"]) == 32
    assert client.get("/healthz")["X-Request-ID"] != odd["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_a_deployment_with_the_request_id_that_asked_for_it(
    jwt_client_for, caplog
):
    caplog.set_level(logging.INFO, logger="releases.tasks")
    manager = jwt_client_for(UserFactory(username="rm", roles=[RELEASE_MANAGER]))
    build = make_build(1)
    response = manager.post(
        f"{API}environments/staging/deploy/",
        {"build": build.tag, "reason": "traced"},
        HTTP_X_REQUEST_ID="deploy-req-7",
    )
    assert response.status_code == HTTPStatus.CREATED
    deployment = Deployment.objects.get()
    assert deployment.request_id == "deploy-req-7"
    tasks.run_environment_queue.call(Environment.objects.get(slug="staging").pk)
    lines = [r for r in caplog.records if r.name == "releases.tasks"]
    assert any("noop: would pull" in r.getMessage() for r in lines)
    for record in lines:
        assert record.request_id == "deploy-req-7"
        assert record.deployment_id == deployment.pk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_full_flow_logs_json_lines_without_any_secret(tmp_path, settings):
    password = "Pw-" + "s3cret-login-value"
    user = UserFactory(username="flow", roles=[RELEASE_MANAGER], is_staff=True)
    # Production's hasher (the test settings' fast one is not among production's).
    user.password = PBKDF2PasswordHasher().encode(password, "flowsalt" * 2)
    user.save()
    _token, ci_raw = services.ci_token_create(
        name="flow-ci", scopes=["builds:write", "builds:read", "deploy:staging"]
    )
    webhook_secret = "whsec-" + "x9" * 12
    log_path = tmp_path / "gunicorn.log"
    env = production_environment(
        DATABASE_URL=database_url(),
        SECURE_SSL_REDIRECT="0",
        GITLAB_WEBHOOK_SECRET=webhook_secret,
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )

    def call(base, path, body=None, **headers):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            base + path,
            data=data,
            headers={"Content-Type": "application/json", **headers},
            method="POST" if data is not None else "GET",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    with open(log_path, "w") as log_file:
        with gunicorn_server(env, image_config=True, log_file=log_file) as base:
            status, tokens = call(
                base, "/api/v1/auth/token/", {"username": "flow", "password": password}
            )
            assert status == 200, tokens
            access, refresh = tokens["access"], tokens["refresh"]
            build = make_build(9)
            report = {"repository": build.repository, "tag": build.tag}
            report["commit_sha"] = build.commit_sha
            status, _ = call(base, f"{API}builds/", report, Authorization=f"Bearer {ci_raw}")
            assert status == 200
            status, _ = call(
                base,
                WEBHOOK,
                fixture("pipeline_hook.json"),
                **{"X-Gitlab-Token": webhook_secret, "X-Gitlab-Event": "Pipeline Hook"},
            )
            assert status in (200, 202), status
            status, _ = call(
                base,
                f"{API}environments/staging/deploy/",
                {"build": build.tag, "reason": "flow"},
                Authorization=f"Bearer {access}",
                **{"X-Request-ID": "flow-deploy-1"},
            )
            assert status == 201
            status, _ = call(
                base,
                f"/no/such/page?token={ci_raw}",
                Cookie=f"sessionid=cookie-{password}",
                **{"X-Request-ID": "flow-404"},
            )
            assert status == 404
    text = log_path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    for secret in (password, ci_raw, webhook_secret, access, refresh, "Bearer ", "sessionid"):
        assert secret not in text, f"{secret[:12]}… is in the log"
    access_lines = [p for p in parsed if p["logger"] == "gunicorn.access"]
    assert {p["path"] for p in access_lines} >= {"/api/v1/auth/token/", "/no/such/page"}
    [not_found] = [p for p in access_lines if p["path"] == "/no/such/page"]
    assert not_found["status"] == 404 and not_found["request_id"] == "flow-404"
    app_404 = [p for p in parsed if p["logger"] == "django.request"]
    assert app_404 and app_404[0]["request_id"] == "flow-404"
    assert Deployment.objects.get().request_id == "flow-deploy-1"
