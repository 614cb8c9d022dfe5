"""Optional Sentry: an unhandled error in production (gunicorn, production settings) reaches
a local HTTP receiver of Sentry envelopes, with the deployed commit as its release, the
environment's name, and no personal data."""

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.releases.test_worker_recovery import database_url
from tests.support.processes import gunicorn_server, http_get, production_environment


class _Receiver(BaseHTTPRequestHandler):
    envelopes: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.envelopes.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def events(envelopes) -> list[dict]:
    """The error events in the envelopes (header line, then item header + payload pairs)."""
    found = []
    for _path, body in envelopes:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2]):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_unhandled_error_reaches_sentry_with_the_release_and_environment():
    _Receiver.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_port}/42"
    env = production_environment(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="tests.support.production_failing",
        SENTRY_DSN=dsn,
        GIT_SHA="c0" * 20,
        ENVIRONMENT_NAME="production",
        SECURE_SSL_REDIRECT="0",
    )
    try:
        with gunicorn_server(env) as base_url:
            status, _, body = http_get(f"{base_url}/boom/", headers={"Cookie": "sessionid=abc"})
            assert status == 500 and "broken on purpose" not in body  # no trace to clients
            deadline = time.monotonic() + 30
            while not events(_Receiver.envelopes):
                assert time.monotonic() < deadline, "no event reached the receiver"
                time.sleep(0.1)
    finally:
        server.shutdown()
    [event] = events(_Receiver.envelopes)
    assert _Receiver.envelopes[0][0] == "/api/42/envelope/"
    assert event["release"] == "c0" * 20 and event["environment"] == "production"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "this route is broken on purpose"
    # Personal data off: no cookies, no user address.
    assert "sessionid" not in json.dumps(event)
    assert "ip_address" not in json.dumps(event.get("user", {}))
