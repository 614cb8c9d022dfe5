"""Through a real gunicorn: an oversized body is answered 413 in JSON and the keep-alive
connection carries on; with the database unreachable the API and the site answer 503 with
Retry-After (as /readyz does), never 500."""

import http.client
import json
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest

from tests.support.processes import gunicorn_server, http_get, production_environment

# Production settings redirect plain HTTP; behind the proxy requests arrive marked HTTPS.
HTTPS = {"X-Forwarded-Proto": "https"}


def connect(base_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "path, size",
    [("/api/v1/releases/builds/", 100 * 1024), ("/api/v1/posts/", 3 * 1024 * 1024)],
)
def test_an_oversized_body_is_413_json_and_the_connection_goes_on(path, size):
    with gunicorn_server(production_environment(), threads=2) as base_url:
        connection = connect(base_url)
        body = json.dumps({"commit_message": "x" * size})
        headers = {"Content-Type": "application/json", **HTTPS}
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        assert answer["detail"].startswith("The body is over")
        socket_used = connection.sock
        assert socket_used is not None, "the server closed the connection"
        connection.request("GET", "/healthz", headers=HTTPS)
        second = connection.getresponse()
        assert second.status == HTTPStatus.OK
        assert json.loads(second.read()) == {"status": "ok"}
        assert connection.sock is socket_used  # the same keep-alive connection
        connection.close()


@pytest.mark.slow
def test_with_the_database_unreachable_the_api_and_site_answer_503_with_retry_after():
    env = production_environment(DATABASE_URL="postgres://postgres@127.0.0.1:1/lawvriksh")
    with gunicorn_server(env) as base_url:
        for path in ("/api/v1/posts/", "/api/v1/releases/environments/", "/"):
            token = {"Authorization": "Bearer lvci_needs-the-database"}
            status, headers, body = http_get(f"{base_url}{path}", headers={**HTTPS, **token})
            assert status == HTTPStatus.SERVICE_UNAVAILABLE, (path, status, body[:300])
            assert headers["Retry-After"] == "5"
            if path.startswith("/api/"):
                assert json.loads(body)["detail"].startswith("The database is unavailable")
