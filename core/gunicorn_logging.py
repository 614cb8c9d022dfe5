"""gunicorn's access and error logs as JSON lines, like the app's (LOG_FORMAT=json): the
access line carries the response's X-Request-ID; never the query string (it may carry a
token), cookies or the Authorization header."""

import traceback

from gunicorn.glogging import Logger

from core.logging import JsonFormatter


class JsonLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        headers = {name.lower(): value for name, value in resp.headers or []}
        status = str(resp.status or "").split(" ", 1)[0]
        try:
            self.access_log.info(
                "request",
                extra={
                    "method": req.method,
                    "path": req.path,
                    "status": int(status) if status.isdigit() else status,
                    "duration_ms": round(request_time.total_seconds() * 1000, 2),
                    "bytes": resp.sent,
                    "remote_addr": environ.get("REMOTE_ADDR", ""),
                    "request_id": headers.get("x-request-id", "-"),
                    "user_agent": environ.get("HTTP_USER_AGENT", "")[:200],
                },
            )
        except Exception:
            self.error(traceback.format_exc())
