"""GET /metrics: who may scrape it, bounded labels, and values summed across two gunicorn
workers (the image's gunicorn config and prometheus-client's multiprocess mode), moving after
real actions on the blog and the release ledger."""

import re
import urllib.request
from http import HTTPStatus

import pytest
from django.urls import reverse

from blog.models import Post
from releases import deployments as rules
from releases.models import Environment
from releases.services import Actor
from tests.blog.factories import make_post
from tests.releases.test_deployment_rules import make_build, manager
from tests.releases.test_worker_recovery import database_url
from tests.support.processes import gunicorn_server, http_get, production_environment

METRICS = reverse("metrics")


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if line.startswith(name + " ") or all(found.get(k) == v for k, v in labels.items()):
            if set(labels) <= set(found) or not labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.django_db
def test_only_a_token_or_an_allowed_address_may_scrape(client, settings):
    allowed = client.get(METRICS)  # the test client comes from 127.0.0.1
    assert allowed.status_code == HTTPStatus.OK
    assert allowed["Content-Type"].startswith("text/plain")
    outside = client.get(METRICS, REMOTE_ADDR="203.0.113.9")
    assert outside.status_code == HTTPStatus.FORBIDDEN
    assert "METRICS_TOKEN" in outside.json()["detail"]
    settings.METRICS_TOKEN = "scrape-secret-" + "x" * 20
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}
    assert client.get(METRICS, REMOTE_ADDR="203.0.113.9", **bearer).status_code == 200
    wrong = {"HTTP_AUTHORIZATION": "Bearer nope"}
    assert client.get(METRICS, REMOTE_ADDR="203.0.113.9", **wrong).status_code == 403
    assert client.post(METRICS).status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.django_db
def test_routes_are_templates_never_raw_paths(client):
    post = make_post(title="Metrics route")
    assert client.get(f"/api/v1/posts/{post.slug}/").status_code == 200
    client.get("/no/such/page/at/all-12345")
    text = client.get(METRICS).content.decode()
    assert post.slug not in text and "all-12345" not in text
    assert 'route="<unmatched>",status="404"' in text
    assert re.search(r'http_requests_total\{method="GET",route="[^"]*slug[^"]*"', text), text
    assert "http_request_db_queries_bucket" in text and "blog_posts{" in text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_are_summed_and_values_move_after_actions(tmp_path):
    directory = tmp_path / "prometheus"
    env = production_environment(
        DATABASE_URL=database_url(),
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        SECURE_SSL_REDIRECT="0",
    )
    with gunicorn_server(env, workers=2, threads=1, image_config=True) as base_url:
        before = http_get(f"{base_url}/metrics")[2]
        sent = 0
        # Until both workers have answered (each writes its own counter file): every request
        # on a new connection, so either worker may take it.
        while len(list(directory.glob("counter_*.db"))) < 2:
            assert sent < 2000, "one worker took every request"
            request = urllib.request.Request(
                f"{base_url}/healthz", headers={"Connection": "close"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
            sent += 1
        # The scrape itself is answered by one worker: the files of both are summed.
        after = http_get(f"{base_url}/metrics")[2]
        labels = {"method": "GET", "route": "healthz", "status": "200"}
        moved = sample(after, "http_requests_total", **labels) - sample(
            before, "http_requests_total", **labels
        )
        assert moved == sent, (moved, sent)

        drafts = sample(after, "blog_posts", status="draft")
        make_post(title="Counted draft", status="draft")
        staging = Environment.objects.get(slug="staging")
        rules.request_deployment(
            actor=Actor(user=manager()), environment=staging, build=make_build(5), reason="m"
        )
        later = http_get(f"{base_url}/metrics")[2]
    assert sample(later, "blog_posts", status="draft") == drafts + 1
    assert Post.objects.filter(status="draft").count() == drafts + 1
    assert sample(later, "releases_queue_length", environment="staging") == 1
    assert (
        sample(
            later, "releases_deployments", environment="staging", kind="deploy", status="queued"
        )
        == 1
    )
    assert sample(later, "releases_builds_reported_total") >= 1
