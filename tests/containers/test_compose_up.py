"""compose.yaml brought up for real: db, migrate, web, worker and the nginx TLS proxy, with
stand-in postgres and nginx images (Debian's packages; no Docker Hub here) in place of the
official ones through POSTGRES_IMAGE / NGINX_IMAGE."""

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.containers.conftest import BASE_IMAGE, ROOT, SHA_A, free_port, make_wheelhouse, tool

STANDINS = ROOT / "tests" / "containers" / "standins"
PROJECT = "blogcompose"
pytestmark = pytest.mark.slow


def compose(*args, env, timeout=900):
    return subprocess.run(
        [tool("docker-compose"), "-f", "compose.yaml", "-p", PROJECT, "--profile", "proxy", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fetch(url: str, context=None):
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), NoRedirect()
    )
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def stack(engine):
    for name in ("postgres", "nginx"):
        engine.images.build(
            path=str(STANDINS / name),
            tag=f"lawvriksh-test/{name}:standin",
            buildargs={"BASE_IMAGE": BASE_IMAGE},
            rm=True,
        )
    certificate = subprocess.run(
        ["bash", "scripts/dev_cert.sh"], cwd=ROOT, capture_output=True, text=True
    )
    assert certificate.returncode == 0, certificate.stderr
    make_wheelhouse()
    ports = {"WEB_PORT": free_port(), "HTTPS_PORT": free_port(), "HTTP_PORT": free_port()}
    env = {
        **{k: str(v) for k, v in ports.items()},
        "SECRET_KEY": "compose-test-" + "k" * 50,
        "POSTGRES_PASSWORD": "compose-pw",
        "POSTGRES_IMAGE": "lawvriksh-test/postgres:standin",
        "NGINX_IMAGE": "lawvriksh-test/nginx:standin",
        "BASE_IMAGE": BASE_IMAGE,
        "BLOG_IMAGE": "lawvriksh-test/blog:compose",
        "GIT_SHA": SHA_A,
        "APP_VERSION": "compose-test",
        "NUM_PROXIES": "1",
        "SECURE_SSL_REDIRECT": "true",  # as in production behind the proxy
    }
    compose("down", "-v", "--remove-orphans", env=env)
    up = compose("up", "-d", "--build", env=env)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield {**ports, "env": env}
    finally:
        compose("down", "-v", "--remove-orphans", env=env)


def wait_for(url, status=200, seconds=120, context=None):
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = fetch(url, context)
            if answer[0] == status:
                return answer
        except (urllib.error.URLError, OSError):
            pass
        assert time.monotonic() < deadline, f"{url} never answered {status}"
        time.sleep(1)


def test_compose_up_migrates_then_serves_web_and_runs_the_worker(stack):
    web = f"http://127.0.0.1:{stack['WEB_PORT']}"
    _, _, body = wait_for(f"{web}/readyz")  # the database answers, migrations applied
    assert json.loads(body)["migrations"] == "applied"
    # Plain HTTP straight to web is redirected to HTTPS; only the probes are exempt.
    status, headers, _ = fetch(f"{web}/api/v1/version/")
    assert status == 301 and headers["Location"] == "https://localhost/api/v1/version/"
    states = compose("ps", "-a", env=stack["env"]).stdout
    assert f"{PROJECT}_migrate_1" in states and "Exit 0" in states
    worker = [line for line in states.splitlines() if f"{PROJECT}_worker_1" in line]
    assert worker and " Up" in worker[0]


def test_the_proxy_terminates_tls_and_redirects_plain_http(stack):
    context = ssl.create_default_context(cafile=str(ROOT / "deploy" / "certs" / "dev.crt"))
    # A self-signed development certificate is its own CA; Python's strict mode wants a CA
    # without the server-auth usage, which a browser-style dev cert does not give.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    https = f"https://127.0.0.1:{stack['HTTPS_PORT']}"
    # Through nginx Django sees HTTPS (X-Forwarded-Proto), so it answers instead of
    # redirecting, with the build's commit.
    status, headers, body = wait_for(f"{https}/api/v1/version/", context=context)
    version = json.loads(body)
    assert version["commit"] == SHA_A and version["version"] == "compose-test"
    status, headers, _ = fetch(f"http://127.0.0.1:{stack['HTTP_PORT']}/api/v1/posts/")
    assert status == 301 and headers["Location"].startswith("https://localhost")
