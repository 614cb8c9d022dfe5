"""A local stand-in for GitLab's Deployments and Environments APIs (v4), built from the
documented endpoints: it checks the token and the request shapes, keeps state, and refuses
what GitLab refuses (an unknown status, a missing field, a same-status update)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

STATUSES = {"created", "running", "success", "failed", "canceled"}
CREATE_FIELDS = {"environment": str, "sha": str, "ref": str, "tag": bool, "status": str}


class FakeGitLab:
    def __init__(self, project: str, token: str):
        self.project, self.token = project, token
        self.deployments: dict[int, dict] = {}
        self.environments: dict[int, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.fail_next = 0  # answer this many requests with a 500 first
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                with fake._lock:
                    status, answer = fake.route(self.command, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()

    def route(self, method, raw_path, headers, body):
        url = urlparse(raw_path)
        self.requests.append((method, url.path, body))
        if headers.get("PRIVATE-TOKEN") != self.token:
            return 401, {"message": "401 Unauthorized"}
        if self.fail_next:
            self.fail_next -= 1
            return 500, {"message": "500 Internal Server Error"}
        # The project is an id or a URL-encoded path (group%2Fblog), as the docs say.
        prefix = "/api/v4/projects/" + self.project.replace("/", "%2F") + "/"
        if not url.path.startswith(prefix):
            return 404, {"message": "404 Project Not Found"}
        rest = unquote(url.path[len(prefix) :])
        if method == "GET" and rest == "environments":
            name = parse_qs(url.query).get("name", [None])[0]
            return 200, [e for e in self.environments.values() if name in (None, e["name"])]
        if method == "POST" and rest == "environments":
            if not body.get("name"):
                return 400, {"message": "name is missing"}
            new = {
                "id": len(self.environments) + 1,
                "name": body["name"],
                "external_url": body.get("external_url"),
            }
            self.environments[new["id"]] = new
            return 201, new
        if method == "PUT" and (match := re.fullmatch(r"environments/(\d+)", rest)):
            self.environments[int(match[1])].update(external_url=body.get("external_url"))
            return 200, self.environments[int(match[1])]
        if method == "POST" and rest == "deployments":
            for field, kind in CREATE_FIELDS.items():
                if not isinstance(body.get(field), kind):
                    return 400, {"error": f"{field} is missing or invalid"}
            if body["status"] not in STATUSES or not re.fullmatch(r"[0-9a-f]{40}", body["sha"]):
                return 400, {"error": "status or sha does not have a valid value"}
            new = {"id": 1000 + len(self.deployments), "iid": len(self.deployments) + 1, **body}
            self.deployments[new["id"]] = new
            return 201, new
        if method == "PUT" and (match := re.fullmatch(r"deployments/(\d+)", rest)):
            deployment = self.deployments.get(int(match[1]))
            if deployment is None:
                return 404, {"message": "404 Not found"}
            if body.get("status") not in STATUSES or body["status"] == deployment["status"]:
                return 400, {"message": f"Cannot transition status via :{body.get('status')}"}
            deployment["status"] = body["status"]
            return 200, deployment
        return 404, {"error": "404 Not Found"}
