"""Prometheus metrics: HTTP requests by route template and status, database queries per
request, and the apps' domain collectors; summed across gunicorn workers (prometheus-client's
multiprocess mode, PROMETHEUS_MULTIPROC_DIR) and served on /metrics to a bearer token or an
allowed address."""

import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Every process writes its samples there; a management command may import this first.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Bounded labels only: the route *template* ("api/v1/blog/posts/<slug:slug>/"), never the
# path a client sent; an unknown method is "other".
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "<unmatched>"

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUERIES = Histogram(
    "http_request_db_queries",
    "Database queries per request.",
    ["route"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100),
)
QUERY_TIME = Histogram(
    "http_request_db_seconds",
    "Time spent in database queries per request.",
    ["route"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)


class _QueryMeter:
    """A connection execute wrapper: counts this request's queries and their time."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class MetricsMiddleware:
    """Observes every request: count and latency by route template and status, queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meter = _QueryMeter()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(meter):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name or UNMATCHED) if match else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(elapsed)
        QUERIES.labels(route).observe(meter.count)
        QUERY_TIME.labels(route).observe(meter.seconds)
        return response


def registry() -> CollectorRegistry:
    """Every worker's samples summed (multiprocess mode), else this process's; plus the
    domain collectors named in settings.METRICS_COLLECTORS (read from the database)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape = CollectorRegistry()
        scrape.register(_ProcessRegistry())
    for path in settings.METRICS_COLLECTORS:
        scrape.register(import_string(path)())
    return scrape


class _ProcessRegistry:
    """This process's default registry as one collector (single-process servers)."""

    def collect(self):
        yield from REGISTRY.collect()


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_IPS
    )


@csrf_exempt
@require_GET
def metrics_view(request):
    """`GET /metrics`: the Prometheus text format, to METRICS_TOKEN or METRICS_ALLOWED_IPS."""
    if not _allowed(request):
        return JsonResponse(
            {
                "detail": "Metrics need `Authorization: Bearer <METRICS_TOKEN>` or an address "
                "in METRICS_ALLOWED_IPS."
            },
            status=403,
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
