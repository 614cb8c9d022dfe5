"""GitLab's webhooks (documented payloads), id_tokens against a local JWKS, the CI script."""

import base64
import copy
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from releases import oidc, services
from releases.models import AuditEvent, Build, StageResult, WebhookDelivery
from tests.conftest import WEBHOOK_SECRET

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK = "/api/v1/releases/gitlab/webhook/"
SECRET = WEBHOOK_SECRET


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def deliver(client, event, payload, secret=SECRET, **headers):
    return client.post(
        WEBHOOK,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_X_GITLAB_EVENT=event,
        HTTP_X_GITLAB_TOKEN=secret,
        **headers,
    )


# ----------------------------------------------------------------------------- webhooks


@pytest.mark.django_db
def test_pipeline_hook_creates_the_build_and_its_jobs(hook):
    payload = fixture("pipeline_hook.json")
    response = deliver(hook, "Pipeline Hook", payload)
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    build = Build.objects.get()
    attributes = payload["object_attributes"]
    assert build.tag == build.commit_sha == attributes["sha"]
    assert build.repository == "registry.gitlab.com/" + payload["project"]["path_with_namespace"]
    assert (build.pipeline_id, build.ref) == (attributes["id"], attributes["ref"])
    jobs = {job["id"]: job for job in payload["builds"]}
    assert {r.job_id: (r.stage, r.status) for r in StageResult.objects.all()} == {
        job_id: (job["stage"], job["status"]) for job_id, job in jobs.items()
    }


@pytest.mark.django_db
def test_job_hook_uses_sha_not_commit_id(hook):
    payload = fixture("job_hook.json")
    response = deliver(hook, "Job Hook", payload)
    assert response.json()["status"] == "processed"
    build = Build.objects.get()
    assert build.commit_sha == payload["sha"]
    assert build.pipeline_id == payload["pipeline_id"] == payload["commit"]["id"]
    result = StageResult.objects.get()
    assert (result.job_id, result.stage, result.status) == (
        payload["build_id"],
        payload["build_stage"],
        payload["build_status"],
    )


@pytest.mark.django_db
def test_webhooks_and_api_reports_land_on_the_same_rows(hook):
    payload = fixture("job_hook.json")
    deliver(hook, "Job Hook", payload)
    token, raw = services.ci_token_create(name="ci", scopes=["builds:write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    repository = "registry.gitlab.com/" + payload["project"]["path_with_namespace"]
    response = api.post(
        "/api/v1/releases/builds/",
        {
            "repository": repository,
            "tag": payload["sha"],
            "commit_sha": payload["sha"],
            "digest": "sha256:" + "d" * 64,
        },
    )
    assert response.status_code == 200  # the webhook made it; the build job completes it
    assert Build.objects.count() == 1
    finished = {**payload, "build_status": "success"}
    deliver(hook, "Job Hook", finished, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert StageResult.objects.get().status == "success"
    late = {**payload, "build_status": "running"}
    deliver(hook, "Job Hook", late, HTTP_IDEMPOTENCY_KEY="late-1")
    assert StageResult.objects.get().status == "success"  # forward only, here too


@pytest.mark.django_db
def test_wrong_secret_is_401_and_stores_nothing(hook):
    response = deliver(hook, "Pipeline Hook", fixture("pipeline_hook.json"), secret="nope")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert WebhookDelivery.objects.count() == 0 and Build.objects.count() == 0
    assert AuditEvent.objects.filter(action="gitlab.webhook", outcome="refused").exists()


@pytest.mark.django_db
def test_no_configured_secret_refuses_everything(hook, settings):
    settings.GITLAB_WEBHOOK_SECRET = ""
    response = deliver(hook, "Pipeline Hook", fixture("pipeline_hook.json"), secret="")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_deliveries_are_deduplicated_and_stored_without_the_secret(hook):
    payload = fixture("pipeline_hook.json")
    first = deliver(hook, "Pipeline Hook", payload, HTTP_X_GITLAB_WEBHOOK_UUID="uuid-1")
    again = deliver(hook, "Pipeline Hook", payload, HTTP_X_GITLAB_WEBHOOK_UUID="uuid-1")
    assert (first.json()["status"], again.json()["status"]) == ("processed", "duplicate")
    delivery = WebhookDelivery.objects.get()
    assert json.loads(delivery.body) == payload
    assert "HTTP_X_GITLAB_TOKEN" not in delivery.headers
    assert SECRET not in json.dumps(delivery.headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event, payload, reason",
    [
        ("Deployment Hook", "deployment_hook.json", "not used here"),
        ("Push Hook", {"object_kind": "push"}, "not used here"),
        ("Job Hook", {"object_kind": "build"}, "no sha"),
    ],
)
def test_unusable_events_are_2xx_ignored_with_the_reason(hook, event, payload, reason):
    body = fixture(payload) if isinstance(payload, str) else payload
    response = deliver(hook, event, body)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert reason in response.json()["detail"]


@pytest.mark.django_db
def test_an_unknown_job_status_is_2xx_ignored_not_500(hook):
    payload = fixture("job_hook.json")
    bad = copy.deepcopy(payload)
    bad["build_status"] = "exploded"
    response = deliver(hook, "Job Hook", bad)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"


@pytest.mark.django_db
def test_malformed_json_is_2xx_ignored_with_the_reason(hook):
    # GitLab disables a hook that keeps getting 4xx: an authenticated delivery gets a 2xx.
    response = hook.post(
        WEBHOOK,
        data=b"{nope",
        content_type="application/json",
        HTTP_X_GITLAB_EVENT="Job Hook",
        HTTP_X_GITLAB_TOKEN=SECRET,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert WebhookDelivery.objects.get().detail == "the body is not JSON"


def sign(secret_key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret_key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


@pytest.mark.django_db
def test_signed_webhooks_are_verified_and_stale_ones_refused(hook, settings):
    key = b"signing-key-bytes-0123456789abcd"
    settings.GITLAB_WEBHOOK_SIGNING_TOKEN = "whsec_" + base64.b64encode(key).decode()
    payload = fixture("job_hook.json")
    body = json.dumps(payload).encode()
    now = str(int(time.time()))

    def send(timestamp, signature, webhook_id="msg_1"):
        return hook.post(
            WEBHOOK,
            data=body,
            content_type="application/json",
            HTTP_X_GITLAB_EVENT="Job Hook",
            HTTP_X_GITLAB_TOKEN=SECRET,
            HTTP_WEBHOOK_ID=webhook_id,
            HTTP_WEBHOOK_TIMESTAMP=timestamp,
            HTTP_WEBHOOK_SIGNATURE=signature,
        )

    assert send(now, "v1,bm90LXJpZ2h0").status_code == 401
    stale = str(int(time.time()) - 3600)
    assert send(stale, sign(key, "msg_1", stale, body)).status_code == 401
    assert WebhookDelivery.objects.count() == 0
    ok = send(now, "v1,other " + sign(key, "msg_1", now, body))
    assert ok.status_code == 200 and ok.json()["status"] == "processed"


# ----------------------------------------------------------------------------- id_tokens


class _JWKSServer:
    """A local OIDC issuer: discovery document and JWKS over real HTTP."""

    def __init__(self, public_jwk):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/oauth/discovery/keys"}
                elif self.path == "/oauth/discovery/keys":
                    body = {"keys": [public_jwk]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer(settings):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update(kid="test-key", alg="RS256", use="sig")
    server = _JWKSServer(public_jwk)
    settings.GITLAB_OIDC_ISSUER = server.url
    settings.GITLAB_OIDC_AUDIENCE = "https://dashboard.example"
    settings.GITLAB_OIDC_PROJECTS = ["lawvriksh/blog"]
    oidc.forget_jwks()

    def mint(**overrides):
        now = int(time.time())
        claims = {
            "iss": server.url,
            "aud": "https://dashboard.example",
            "sub": "project_path:lawvriksh/blog:ref_type:branch:ref:main",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": f"jti-{now}-{os.urandom(4).hex()}",
            "project_path": "lawvriksh/blog",
            "project_id": "42",
            "ref": "main",
            "ref_protected": "true",
            "sha": "e" * 40,
            "job_id": "900",
            **overrides,
        }
        return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": "test-key"})

    yield mint
    server.close()
    oidc.forget_jwks()


OIDC_REPORT = {
    "repository": "registry.gitlab.com/lawvriksh/blog",
    "tag": "e" * 40,
    "commit_sha": "e" * 40,
}


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_a_valid_id_token_reports_a_build(issuer):
    response = bearer(issuer()).post("/api/v1/releases/builds/", OIDC_REPORT)
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.filter(action="build.report").get()
    assert "lawvriksh/blog" in event.payload["oidc"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"aud": "https://someone-else.example"}, "audience"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"project_path": "evil/fork", "project_id": "66"}, "not allowed"),
    ],
)
def test_id_token_checks(issuer, overrides, reason):
    response = bearer(issuer(**overrides)).post("/api/v1/releases/builds/", OIDC_REPORT)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert reason in response.json()["detail"].lower()
    assert Build.objects.count() == 0


@pytest.mark.django_db
def test_id_token_signed_by_another_key_is_refused(issuer, settings):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(issuer(), options={"verify_signature": False}),
        other,
        algorithm="RS256",
        headers={"kid": "test-key"},
    )
    assert bearer(forged).post("/api/v1/releases/builds/", OIDC_REPORT).status_code == 401


@pytest.mark.django_db
def test_one_id_token_reports_its_build_then_its_stage_and_retries_them(issuer):
    # A build job reports the build in `script`, then its stage in `after_script`, and a
    # lost answer makes it send again: idempotent reports do not use the token up.
    token = issuer()
    stage = {"stage": "build", "job_name": "build", "job_id": 900, "status": "success"}
    stages = f"/api/v1/releases/builds/{'e' * 40}/stages/"
    assert bearer(token).post("/api/v1/releases/builds/", OIDC_REPORT).status_code == 201
    assert bearer(token).post("/api/v1/releases/builds/", OIDC_REPORT).status_code == 200
    assert bearer(token).post(stages, stage).status_code == 201
    assert bearer(token).post(stages, stage).status_code == 200
    assert Build.objects.count() == 1 and StageResult.objects.count() == 1
    # Reads may repeat with one token (the deploy job polls its deployment).
    for _ in range(3):
        assert bearer(token).get("/api/v1/releases/builds/").status_code == 200


@pytest.mark.django_db
def test_an_id_token_reports_only_its_own_job(issuer):
    stages = f"/api/v1/releases/builds/{'e' * 40}/stages/"
    bearer(issuer()).post("/api/v1/releases/builds/", OIDC_REPORT)
    other_job = {"stage": "test", "job_name": "pytest", "job_id": 901, "status": "success"}
    response = bearer(issuer(job_id="900")).post(stages, other_job)
    assert response.status_code == 403 and "job_id" in response.json()["detail"]
    assert not StageResult.objects.exists()


@pytest.mark.django_db
def test_a_deployment_request_uses_the_id_token_up(issuer):
    token = issuer()
    deploy = "/api/v1/releases/environments/staging/deploy/"
    first = bearer(token).post(deploy, {"build": "e" * 40, "reason": "ship"})
    assert first.status_code != 401  # refused by a gate or accepted, but authenticated
    replay = bearer(token).post(deploy, {"build": "e" * 40, "reason": "ship"})
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]


@pytest.mark.django_db
def test_id_token_reports_only_its_own_commit(issuer):
    response = bearer(issuer()).post(
        "/api/v1/releases/builds/", {**OIDC_REPORT, "tag": "f" * 40, "commit_sha": "f" * 40}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Build.objects.count() == 0


def test_unprotected_refs_cannot_deploy():
    assert "deploy:staging" in oidc.scopes_for({"ref_protected": "true"})
    assert "deploy:staging" not in oidc.scopes_for({"ref_protected": "false"})


# ----------------------------------------------------------------------------- the script

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ci_report.py"


def run_script(*args, url, token="", **env):
    environment = {
        "PATH": os.environ["PATH"],
        "RELEASES_URL": url,
        "RELEASES_TOKEN": token,
        "RELEASES_RETRIES": "3",
        "RELEASES_BACKOFF": "0.05",
        "RELEASES_TIMEOUT": "5",
        "CI_REGISTRY_IMAGE": "registry.gitlab.com/lawvriksh/blog",
        "CI_COMMIT_SHA": "1" * 40,
        "CI_COMMIT_MESSAGE": "Ship it",
        "CI_COMMIT_REF_NAME": "main",
        "CI_PIPELINE_ID": "77",
        "CI_PIPELINE_URL": "https://gitlab.com/lawvriksh/blog/-/pipelines/77",
        "CI_PROJECT_PATH": "lawvriksh/blog",
        "CI_JOB_ID": "7001",
        "CI_JOB_NAME": "pytest",
        "CI_JOB_STAGE": "test",
        "CI_JOB_STATUS": "success",
        "CI_JOB_URL": "https://gitlab.com/lawvriksh/blog/-/jobs/7001",
        **env,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_script_reports_build_and_stage_to_a_live_server(live_server):
    token, raw = services.ci_token_create(name="ci", scopes=["builds:write"])
    built = run_script("build", "--digest", "sha256:" + "9" * 64, url=live_server.url, token=raw)
    assert built.returncode == 0, built.stderr
    stage = run_script("stage", "--summary", "212 passed", url=live_server.url, token=raw)
    assert stage.returncode == 0, stage.stderr
    build = Build.objects.get()
    assert (build.tag, build.digest, build.pipeline_id) == ("1" * 40, "sha256:" + "9" * 64, 77)
    result = StageResult.objects.get()
    assert (result.stage, result.job_id, result.status, result.summary) == (
        "test",
        7001,
        "success",
        "212 passed",
    )


@pytest.mark.django_db(transaction=True)
def test_script_fails_the_job_on_a_configuration_error_and_says_why(live_server):
    refused = run_script("stage", url=live_server.url, token="lvci_wrong")
    assert refused.returncode == 1
    assert "refused the build report (HTTP 401)" in refused.stderr
    assert "configuration error with RELEASES_TOKEN" in refused.stderr


@pytest.mark.django_db(transaction=True)
def test_script_reports_a_conflict_and_fails_only_when_strict(live_server):
    _, raw = services.ci_token_create(name="ci", scopes=["builds:write"])
    digest = "sha256:" + "9" * 64
    assert run_script("build", "--digest", digest, url=live_server.url, token=raw).returncode == 0
    again = {"CI_COMMIT_SHA": "2" * 40}  # another commit claiming the same image
    conflict = run_script("build", "--digest", digest, url=live_server.url, token=raw, **again)
    assert conflict.returncode == 0
    assert "HTTP 409" in conflict.stderr and "already recorded as tag" in conflict.stderr
    strict = run_script(
        "build", "--digest", digest, "--strict", url=live_server.url, token=raw, **again
    )
    assert strict.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_an_explicit_releases_token_wins_over_an_unconfigured_id_token(live_server, settings):
    # `.report` declares id_tokens, so GitLab always sets RELEASES_ID_TOKEN; a dashboard
    # without OIDC configured must still get the team's RELEASES_TOKEN.
    settings.GITLAB_OIDC_ISSUER = ""
    _, raw = services.ci_token_create(name="ci", scopes=["builds:write"])
    reported = run_script(
        "stage", url=live_server.url, token=raw, RELEASES_ID_TOKEN="eyJhbGciOiJSUzI1NiJ9.e30.x"
    )
    assert reported.returncode == 0, reported.stderr
    assert "as RELEASES_TOKEN" in reported.stdout
    assert StageResult.objects.get().status == "success"


@pytest.mark.django_db(transaction=True)
def test_the_script_reports_start_then_result_with_one_id_token(live_server, issuer, settings):
    token = issuer(sha="1" * 40, job_id="7001")
    env = {"RELEASES_ID_TOKEN": token}
    assert run_script("start", url=live_server.url, **env).returncode == 0
    assert StageResult.objects.get().status == "running"
    built = run_script("build", "--digest", "sha256:" + "8" * 64, url=live_server.url, **env)
    assert built.returncode == 0, built.stderr
    done = run_script("stage", url=live_server.url, **env)
    assert done.returncode == 0, done.stderr
    assert "as RELEASES_ID_TOKEN" in done.stdout
    assert StageResult.objects.get().status == "success"
    assert Build.objects.get().digest == "sha256:" + "8" * 64


def test_script_never_fails_the_job_when_the_dashboard_is_down():
    started = time.monotonic()
    down = run_script("stage", url="http://127.0.0.1:9", token="lvci_x")
    assert down.returncode == 0
    assert "did not answer" in down.stderr
    assert down.stderr.count("retrying") == 2
    assert time.monotonic() - started < 20


@pytest.mark.django_db
def test_admin_lists_and_replays_a_delivery(hook, admin_client):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    deliver(hook, "Job Hook", fixture("job_hook.json"))
    delivery = WebhookDelivery.objects.get()
    StageResult.objects.all().delete()
    listing = admin_client.get("/admin/releases/webhookdelivery/")
    assert "Job Hook" in listing.content.decode()
    admin_client.post(
        "/admin/releases/webhookdelivery/",
        {"action": "replay", ACTION_CHECKBOX_NAME: [delivery.pk]},
    )
    assert StageResult.objects.count() == 1
    assert AuditEvent.objects.filter(actor_user__isnull=False, action="gitlab.webhook").exists()
