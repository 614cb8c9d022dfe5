"""Run the real app in a subprocess (gunicorn, manage.py) with a chosen environment."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION_SECRET = "production-test-secret-" + "x7Qp2" * 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**overrides: str) -> dict[str, str]:
    """The current environment without Django/app settings, plus `overrides`."""
    app_keys = {
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "GIT_SHA",
        "APP_VERSION",
        "BUILD_TIME",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    env = {key: value for key, value in os.environ.items() if key not in app_keys}
    env["DJANGO_READ_DOT_ENV_FILE"] = "false"
    env.update(overrides)
    return env


def production_environment(**overrides: str) -> dict[str, str]:
    """A complete, valid production configuration (database from the test settings)."""
    settings = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    }
    return clean_environment(**{**settings, **overrides})


def run_manage(*args: str, env: dict[str, str], timeout: int = 60):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 10):
    """(status, headers, body) of a GET, HTTP errors included."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@contextlib.contextmanager
def gunicorn_server(
    env: dict[str, str],
    startup_timeout: float = 20,
    threads: int = 1,
    bind_host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    image_config: bool = False,
    log_file=None,
):
    """Serve config.wsgi with `workers` gunicorn workers (threads > 1: the gthread worker,
    which keeps connections alive as in the image) on `bind_host`; with `image_config`, the
    image's docker/gunicorn.conf.py (its hooks) under these options; with `log_file`, its
    output goes there (an open file), else to a pipe. Yields the base URL on this host
    (127.0.0.1)."""
    port = port or free_port()
    config = ["--config", "docker/gunicorn.conf.py"] if image_config else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *config,
            "config.wsgi:application",
            "--bind",
            f"{bind_host}:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "30",
            "--threads",
            str(threads),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else "(see the log file)"
                raise RuntimeError(f"gunicorn exited early:\n{output}")
            try:
                # The master binds before a worker has loaded the app: wait for an answer.
                http_get(f"{base_url}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start listening in time")
                time.sleep(0.1)
        yield base_url
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
