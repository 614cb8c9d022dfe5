"""CORS for browser clients on other origins: off by default, on for listed origins only,
exposing the headers a client needs (ETag, RateLimit-*, Retry-After)."""

import pytest

pytestmark = pytest.mark.django_db
APP = "https://app.example"


def preflight(client, origin, method="PATCH"):
    return client.options(
        "/api/v1/posts/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-match",
    )


def test_off_by_default(client):
    assert "access-control-allow-origin" not in preflight(client, APP).headers
    assert "access-control-allow-origin" not in client.get("/api/v1/posts/", HTTP_ORIGIN=APP)


def test_listed_origins_only_with_the_headers_clients_need(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    allowed = preflight(client, APP)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "if-match" in allowed.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in allowed.headers
    read = client.get("/api/v1/posts/", HTTP_ORIGIN=APP)
    exposed = {h.strip().lower() for h in read.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "ratelimit-remaining", "retry-after"} <= exposed
    assert "access-control-allow-origin" not in preflight(client, "https://evil.example").headers
    # The admin and the site are never opened to other origins.
    assert "access-control-allow-origin" not in client.get("/", HTTP_ORIGIN=APP).headers
