"""From a deploy request to a succeeded deployment: the noop backend with real smoke tests,
a real `manage.py db_worker` and a gunicorn server on PostgreSQL; the worker woken by
LISTEN/NOTIFY against the same worker polling only (RELEASES_WORKER_LISTEN=false).

    .venv/bin/python bench/deploy_latency.py            # 20 deployments per mode
    ROUNDS=50 .venv/bin/python bench/deploy_latency.py

Uses (and creates when missing) the database `lawvriksh_bench_deploy` on
BENCH_PG (default postgres://postgres@127.0.0.1:5432). Each round requests a deployment of a
new build (same commit, new digest) to staging through the service layer, as the API does,
and times the moment its row says `running` and `succeeded` (polled every 2 ms on another
connection). The smoke tests call the gunicorn server's /healthz, /readyz and
/api/v1/version/ for real. Prints the median, p95 and worst of both, per mode.
"""

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import PG, ensure_database, free_port, percentile  # noqa: E402

DB_NAME = "lawvriksh_bench_deploy"
ROUNDS = int(os.environ.get("ROUNDS", 20))
COMMIT = "b" * 40
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "GIT_SHA": COMMIT,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)

import django  # noqa: E402


def wait_http(url: str, process, deadline=60.0) -> None:
    import urllib.request

    until = time.monotonic() + deadline
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > until:
                raise SystemExit(f"the server at {url} did not start")
            time.sleep(0.1)


def start(command, **env) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**ENV, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def describe(label, seconds) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<34} median {statistics.median(ms):6.0f} ms   p95 {percentile(ms, 0.95):6.0f}"
        f" ms   worst {max(ms):6.0f} ms"
    )


def main():
    ensure_database(DB_NAME)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=ENV,
        check=True,
    )
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from releases import deployments as rules
    from releases.models import Build, Deployment, Environment, StageResult
    from releases.services import Actor

    port = free_port()
    server = start(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"]
        + ["-w", "2", "--access-logfile", "/dev/null"],
        DJANGO_SETTINGS_MODULE="config.settings.local",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server)
        Environment.objects.filter(slug="staging").update(
            base_url=f"http://127.0.0.1:{port}", requires_approval=False
        )
        staging = Environment.objects.get(slug="staging")
        user, _ = get_user_model().objects.get_or_create(
            username="bench-manager", defaults={"is_staff": True, "is_superuser": True}
        )
        actor = Actor(user=user)
        stamp = time.time_ns()
        for mode, listen in (("LISTEN/NOTIFY", "true"), ("poll only (1 s)", "false")):
            worker = start(
                [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"],
                RELEASES_WORKER_LISTEN=listen,
            )
            try:
                time.sleep(3)  # let the worker connect and settle (not part of any timing)
                to_running, to_success = [], []
                for round_number in range(ROUNDS):
                    n = stamp + round_number + (0 if listen == "true" else ROUNDS)
                    build = Build.objects.create(
                        repository="registry.example/blog",
                        tag=f"bench-{n}",
                        commit_sha=COMMIT,
                        digest=f"sha256:{n:064x}",
                    )
                    required = staging.required_stages or settings.RELEASES_REQUIRED_STAGES
                    for job, stage in enumerate(required):
                        StageResult.objects.create(
                            build=build, stage=stage, job_id=job, status="success"
                        )
                    started = time.perf_counter()
                    deployment, _ = rules.request_deployment(
                        actor=actor, environment=staging, build=build, reason="bench"
                    )
                    running_at = None
                    while True:
                        status = (
                            Deployment.objects.filter(pk=deployment.pk)
                            .values_list("status", flat=True)
                            .get()
                        )
                        now = time.perf_counter()
                        if running_at is None and status != "queued":
                            running_at = now
                        if status in ("succeeded", "failed", "cancelled"):
                            break
                        if now - started > 120:
                            raise SystemExit(f"deployment {deployment.pk} stuck in {status}")
                        time.sleep(0.002)
                    if status != "succeeded":
                        raise SystemExit(f"deployment {deployment.pk} {status}")
                    to_running.append(running_at - started)
                    to_success.append(now - started)
                    time.sleep(0.05 + (round_number % 7) * 0.07)  # requests at odd moments
                print(f"{mode}: {ROUNDS} noop deployments with smoke tests")
                print(describe("  request -> running", to_running))
                print(describe("  request -> succeeded", to_success))
            finally:
                stop(worker)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
