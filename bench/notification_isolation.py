"""Whether a hanging webhook receiver slows deployments: the real worker (`manage.py
db_worker`, its notifications dispatcher included) deploys builds one after another, first
with no subscriber, then with one whose endpoint holds every request open for --hang
seconds. Also what emitting costs the request that causes an event (rows in its transaction).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lawvriksh_bench \\
        .venv/bin/python bench/notification_isolation.py --hang 30 --deployments 6
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from blog import services as blog_services  # noqa: E402
from blog.models import Post  # noqa: E402
from notifications.models import Delivery, Event, Subscription  # noqa: E402
from releases import deployments as rules  # noqa: E402
from releases.models import Build, Deployment, Environment, StageResult  # noqa: E402
from releases.services import Actor  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "superseded"}


def hanging_receiver(hang: float):
    held = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            held["count"] += 1
            time.sleep(hang)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook", held


def new_build(n: int) -> Build:
    sha = f"{time.time_ns() + n:040x}"[-40:]
    build = Build.objects.create(
        repository="registry.example/bench", tag=sha, commit_sha=sha, digest=f"sha256:{sha:0>64}"
    )
    for job, stage in enumerate(settings.RELEASES_REQUIRED_STAGES):
        StageResult.objects.create(
            build=build, stage=stage, job_id=n * 100 + job, status="success"
        )
    return build


def deploy_times(actor, count: int) -> list[float]:
    staging = Environment.objects.get(slug="staging")
    times = []
    for n in range(count):
        deployment, _ = rules.request_deployment(
            actor=actor, environment=staging, build=new_build(n), reason="bench"
        )
        started = time.perf_counter()
        while Deployment.objects.get(pk=deployment.pk).status not in TERMINAL:
            time.sleep(0.01)
        times.append(time.perf_counter() - started)
        assert Deployment.objects.get(pk=deployment.pk).status == "succeeded"
    return times


def emit_cost(user, subscribers: int, rounds: int = 100) -> float:
    """Median ms of a publish + unpublish through the service layer (what a request does)."""
    Subscription.objects.all().delete()
    for i in range(subscribers):
        Subscription.objects.create(
            name=f"s{i}", url=f"https://hooks.example/{i}", events=["*"], active=True
        )
    post = blog_services.post_create(user=user, title="Bench post", body="Body.")
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        blog_services.post_transition(post=post, user=user, action="publish")
        blog_services.post_transition(post=post, user=user, action="unpublish")
        samples.append((time.perf_counter() - started) * 1000 / 2)
    Post.objects.filter(pk=post.pk).delete()
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hang", type=float, default=30)
    parser.add_argument("--deployments", type=int, default=6)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    Delivery.objects.all().delete()
    Event.objects.all().delete()
    Subscription.objects.all().delete()
    Environment.objects.filter(slug="staging").update(deploy_settings={"check_commit": False})
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    actor = Actor(user=user)
    server, url, held = hanging_receiver(args.hang)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--worker-id", "bench"],
        cwd=ROOT,
        env={**os.environ, "NOTIFICATIONS_TIMEOUT": str(args.hang + 5)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deploy_times(actor, 1)  # the worker is up and has run once
        quiet = deploy_times(actor, args.deployments)
        Subscription.objects.create(name="hangs", url=url, events=["*"], active=True)
        hanging = deploy_times(actor, args.deployments)
        print(
            f"deployments, no subscriber:       median {statistics.median(quiet):.2f} s, "
            f"max {max(quiet):.2f} s ({len(quiet)})"
        )
        print(
            f"deployments, receiver hangs {args.hang:.0f} s: median "
            f"{statistics.median(hanging):.2f} s, max {max(hanging):.2f} s ({len(hanging)}); "
            f"requests held open meanwhile: {held['count']}"
        )
    finally:
        worker.terminate()
        worker.wait(30)
        server.shutdown()
    for subscribers in (0, 1, 10):
        print(
            f"publish or unpublish with {subscribers:2d} subscriptions: "
            f"median {emit_cost(user, subscribers):.2f} ms"
        )
    Subscription.objects.all().delete()


if __name__ == "__main__":
    main()
