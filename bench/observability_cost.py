"""In-process cost of the metrics and request-id middleware per request (no network, no
load generator noise): the same WSGI handler with and without them, alternating rounds.

    DATABASE_URL=postgres://... .venv/bin/python bench/observability_cost.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

OBSERVABILITY = {"core.metrics.MetricsMiddleware", "core.request_id.RequestIdMiddleware"}
ROUNDS, REQUESTS = 7, 2000


def per_request_us(middleware, path) -> float:
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        for _ in range(200):  # warm up
            client.get(path)
        started = time.perf_counter()
        for _ in range(REQUESTS):
            client.get(path)
        return (time.perf_counter() - started) / REQUESTS * 1e6


def main():
    full = list(settings.MIDDLEWARE)
    bare = [name for name in full if name not in OBSERVABILITY]
    for path in ("/healthz", "/robots.txt"):
        with_them, without = [], []
        for _ in range(ROUNDS):
            with_them.append(per_request_us(full, path))
            without.append(per_request_us(bare, path))
        a, b = statistics.median(with_them), statistics.median(without)
        print(f"{path}: {a:.0f} µs with, {b:.0f} µs without: +{a - b:.0f} µs per request")


if __name__ == "__main__":
    main()
