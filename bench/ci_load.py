"""The release side under load: CI jobs reporting builds and stage results, as a busy GitLab
does (retried requests, out-of-order statuses), then a database check of what was stored.

    .venv/bin/python bench/ci_load.py                     # 16 clients, 30 s
    CLIENTS=32 DURATION=10 .venv/bin/python bench/ci_load.py
    HISTORY=0 CI_DB=lawvriksh_bench_ci_empty .venv/bin/python bench/ci_load.py
    GUNICORN_EXTRA="--config docker/gunicorn.conf.py" .venv/bin/python bench/ci_load.py

Production settings, gunicorn with 2 sync workers (`GUNICORN_WORKERS`; `GUNICORN_EXTRA` adds
flags: the image's own config runs 4 threads a worker) on 127.0.0.1, the
database `lawvriksh_bench_ci` (`CI_DB`) on BENCH_PG (created when missing), holding at least
HISTORY builds (default 20,000, four stage results each, added when fewer are there): a
registry a few years old, never an empty one. One CI token per client
(the per-identity throttle scope); each client runs pipelines in a loop: report the build
(sent twice, as a retried request), then four stages, each `running` then `success` — one
pipeline in three sends them the wrong way round (the late `running` must change nothing)
and one report in five is sent twice. Afterwards the database must hold every build once,
every stage once with status `success`, and nothing else: lost and duplicated are counted.
Prints accepted reports per second, latency percentiles, answers by status, the CPU the rest
of the machine used meanwhile, and the check.
"""

import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import TICKS, processes, tree_ticks, wait_until_idle  # noqa: E402
from bench.support import (  # noqa: E402
    PG,
    ensure_database,
    free_port,
    machine_busy_seconds,
    percentile,
)  # noqa: E402

DB_NAME = os.environ.get("CI_DB", "lawvriksh_bench_ci")
HISTORY = int(os.environ.get("HISTORY", 20_000))
CLIENTS = int(os.environ.get("CLIENTS", 16))
DURATION = float(os.environ.get("DURATION", 30))
WORKERS = os.environ.get("GUNICORN_WORKERS", "2")
GUNICORN_EXTRA = os.environ.get("GUNICORN_EXTRA", "").split()
STAGES = ("build", "test", "security", "image")
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
    "LOG_FORMAT": "json",
}
os.environ.update(ENV)

import django  # noqa: E402


class Client(threading.Thread):
    """One CI identity running pipelines until the deadline."""

    def __init__(self, number: int, port: int, token: str, deadline: float, run_id: str):
        super().__init__(daemon=True)
        self.number, self.port, self.token, self.deadline = number, port, token, deadline
        self.run_id = run_id
        self.latencies: list[float] = []
        self.answers: Counter = Counter()
        self.accepted = 0
        self.pipelines: list[str] = []  # tags of builds whose every report was accepted
        self.incomplete: list[str] = []

    def post(self, path: str, body: dict) -> int:
        payload = json.dumps(body).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode() + payload
        for attempt in range(5):  # a CI job's retries (scripts/ci_report.py does the same)
            started = time.perf_counter()
            status = self.exchange(request)
            self.latencies.append(time.perf_counter() - started)
            self.answers[status] += 1
            if status in (200, 201):
                self.accepted += 1
                return status
            if status not in (0, 429, 502, 503):
                return status
            time.sleep(0.05 * (attempt + 1))
        return status

    def exchange(self, request: bytes) -> int:
        """One request on a new connection (as a CI job's curl makes); the answer's status,
        0 when the connection failed. Plain sockets: http.client cost the generator 0.34 ms
        of the two cores per report (now 0.2 ms), CPU taken from the server it measures."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):  # the server closes after its answer
                    answer += chunk
        except OSError:
            return 0
        head = answer.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) >= 2 and head[1].isdigit() else 0

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            n += 1
            tag = f"{self.run_id}-{self.number}-{n}"
            sha = f"{abs(hash(tag)):040x}"[:40]
            build = {
                "repository": "registry.example/blog",
                "tag": tag,
                "digest": f"sha256:{secrets.token_hex(32)}",
                "commit_sha": sha,
                "ref": "main",
            }
            ok = all(self.post("/api/v1/releases/builds/", build) in (200, 201) for _ in (1, 2))
            reversed_order = n % 3 == 0
            for index, stage in enumerate(STAGES):
                job = self.number * 10_000_000 + n * 10 + index + 1
                statuses = ["running", "success"]
                if reversed_order:
                    statuses.reverse()
                for position, status in enumerate(statuses):
                    report = {"stage": stage, "job_name": stage, "job_id": job, "status": status}
                    times = 2 if (n + index + position) % 5 == 0 else 1
                    for _ in range(times):
                        answer = self.post(f"/api/v1/releases/builds/{tag}/stages/", report)
                        ok = ok and answer in (200, 201)
            (self.pipelines if ok else self.incomplete).append(tag)


def main():
    ensure_database(DB_NAME)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=ENV,
        check=True,
    )
    django.setup()
    from releases.models import Build, StageResult
    from releases.services import ci_token_create

    _record_history(HISTORY)
    tokens = [
        ci_token_create(name=f"bench-{secrets.token_hex(4)}", scopes=["builds:write"])[1]
        for _ in range(CLIENTS)
    ]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"]
        + GUNICORN_EXTRA
        + ["-w", WORKERS, "--backlog", "2048", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        until = time.monotonic() + 60
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                probe.getresponse().read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > until:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.1)
        idle_cores, waited = wait_until_idle(60)
        print(f"machine before the run: {idle_cores} cores busy (waited {waited:.0f} s)")
        run_id = f"ci{time.time_ns()}"
        table_before = processes()
        own_before = os.times()
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        clients = [
            Client(i, port, tokens[i], time.monotonic() + DURATION, run_id) for i in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        wall = time.monotonic() - wall_before
        own = os.times()
        own_cpu = (own.user + own.system) - (own_before.user + own_before.system)
        table_after = processes()
        # Named now: PostgreSQL's backends for the server end with it.
        postgres_cpu = _postgres_ticks(table_after, table_before) / TICKS
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    latencies = [s * 1000 for c in clients for s in c.latencies]
    answers = sum((c.answers for c in clients), Counter())
    accepted = sum(c.accepted for c in clients)
    complete = [tag for c in clients for tag in c.pipelines]
    # The database check: every build once, every stage once, all `success`; nothing else.
    builds = Counter(Build.objects.filter(tag__startswith=run_id).values_list("tag", flat=True))
    stages = Counter(
        StageResult.objects.filter(build__tag__startswith=run_id).values_list(
            "build__tag", "stage", "status"
        )
    )
    lost = sum(1 for tag in complete if builds[tag] == 0)
    lost += sum(1 for tag in complete for s in STAGES if stages[(tag, s, "success")] == 0)
    duplicated = sum(count - 1 for count in builds.values() if count > 1)
    duplicated += sum(count - 1 for count in stages.values() if count > 1)
    wrong = sum(count for (tag, _, status), count in stages.items() if status != "success")
    print(
        f"{CLIENTS} CI clients (one token each), {wall:.1f} s, gunicorn {WORKERS} workers"
        f" {' '.join(GUNICORN_EXTRA) or '(sync)'},"
        f" production settings"
    )
    print(
        f"accepted reports: {accepted} ({accepted / wall:.1f}/s); pipelines complete: "
        f"{len(complete)}, incomplete (a report refused after retries): "
        f"{sum(len(c.incomplete) for c in clients)}"
    )
    print(
        f"latency per request: p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, worst {max(latencies):.0f} ms"
    )
    print("answers:", dict(sorted(answers.items())))
    print(f"database check: lost {lost}, duplicated {duplicated}, not success {wrong}")
    busy = machine_busy_seconds() - busy_before
    server_cpu = (
        tree_ticks(table_after, server.pid) - tree_ticks(table_before, server.pid)
    ) / TICKS
    print(
        f"CPU: the load generator {own_cpu:.1f} s, everything (server, PostgreSQL, "
        f"generator, others) {busy:.1f} s over {wall:.1f} s x {os.cpu_count()} CPUs"
    )
    print(
        f"CPU per accepted report: server {server_cpu / accepted * 1000:.2f} ms, PostgreSQL "
        f"{postgres_cpu / accepted * 1000:.2f} ms, all {busy / accepted * 1000:.2f} ms"
    )


def _record_history(wanted: int) -> None:
    """Builds from earlier pipelines (each with four passed stages) until `wanted` are there,
    then fresh planner statistics, so a run starts from the same registry every time."""
    from django.db import connection

    from releases.models import Build, StageResult

    missing = wanted - Build.objects.count()
    if missing <= 0:
        return
    batch = f"history{time.time_ns()}"
    builds = Build.objects.bulk_create(
        Build(
            repository="registry.example/blog",
            tag=f"{batch}-{n}",
            digest=f"sha256:{secrets.token_hex(32)}",
            commit_sha=secrets.token_hex(20),
            ref="main",
        )
        for n in range(missing)
    )
    StageResult.objects.bulk_create(
        StageResult(build=build, stage=stage, job_name=stage, job_id=n * 10 + i, status="success")
        for n, build in enumerate(builds)
        for i, stage in enumerate(STAGES)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"history: {missing} builds added ({wanted} in all at least)")


def _postgres_ticks(after: dict, before: dict) -> int:
    """CPU ticks PostgreSQL's processes used between two snapshots (backends persist: the
    server keeps its connections, CONN_MAX_AGE)."""
    total = 0
    for pid, (_, ticks) in after.items():
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name.startswith("postgres"):
            total += ticks - before.get(pid, (0, 0))[1]
    return total


if __name__ == "__main__":
    main()
