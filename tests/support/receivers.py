"""Live HTTP receivers on 127.0.0.1 for outbound-notification tests: a webhook endpoint that
answers as scripted (status codes, a hang until released) and records what it got."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"  # a scripted answer: hold the request until release() (or the server stops)


class Receiver:
    """`Receiver(script=[500, HANG, 200])`: answers in that order, then the last one again."""

    def __init__(self, script=(200,)):
        self.script = list(script)
        self.requests: list[dict] = []
        self.received = threading.Condition()
        self.hanging = threading.Event()  # a request is being held right now
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.received:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    index = len(receiver.requests) - 1
                    receiver.received.notify_all()
                answer = receiver.script[min(index, len(receiver.script) - 1)]
                if answer == HANG:
                    receiver.hanging.set()
                    receiver._release.wait(120)
                    answer = 200
                try:
                    self.send_response(answer)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps({"status": answer}).encode())
                except OSError:
                    pass  # the sender gave up waiting (a timeout): nothing to answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def release(self):
        self._release.set()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        """Block until `count` requests arrived (a positive signal; the bound is a guard)."""
        with self.received:
            assert self.received.wait_for(
                lambda: len(self.requests) >= count, timeout
            ), f"{len(self.requests)} of {count} requests arrived"
            return list(self.requests)
