"""Redis as the shared cache (`CACHE_URL=redis://…`), against a real redis-server: cached
public answers, their count cache and the throttles are shared by separate processes (as by
gunicorn workers and hosts), and a scheduled post still appears on time with the cache warm."""

import json
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.db import connection
from rest_framework.throttling import SimpleRateThrottle

from tests.blog.api.test_write import assert_scheduled_post_appears_on_time
from tests.blog.factories import make_post

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
LIST = "/api/v1/posts/"

# What a second worker does: one anonymous GET of the list, on its own connections.
SECOND_WORKER = """
import json, django
django.setup()
from django.db import connection
from rest_framework.throttling import SimpleRateThrottle
from django.test import Client
from django.test.utils import CaptureQueriesContext
with CaptureQueriesContext(connection) as queries:
    response = Client().get("/api/v1/posts/")
print(json.dumps({
    "status": response.status_code,
    "queries": len(queries),
    "remaining": response.get("RateLimit-Remaining"),
    "body": response.content.decode(),
}))
"""


@pytest.fixture
def redis_cache(settings):
    """Django's own Redis backend on a dedicated Redis database, emptied before and after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"no redis-server at {REDIS_URL}: .ci/run starts one")
        pytest.skip(f"no redis-server at {REDIS_URL}")
    client.flushdb()
    settings.CACHES = {"default": environ.Env.cache_url_config(REDIS_URL)}
    yield client
    client.flushdb()


def second_worker() -> dict:
    """Run SECOND_WORKER in a new Python process against this test's database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "TEST_CACHE_URL": REDIS_URL,
    }
    done = subprocess.run(
        [sys.executable, "-c", SECOND_WORKER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_redis_cache_url_selects_djangos_own_redis_backend():
    config = environ.Env.cache_url_config("redis://cache.internal:6379/2")
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://cache.internal:6379/2"


@pytest.mark.django_db(transaction=True)
def test_a_cached_public_answer_is_served_to_another_process(redis_cache, api_client):
    make_post(slug="shared", title="Cached once, served everywhere")
    first = api_client.get(LIST)
    assert first.status_code == 200
    assert redis_cache.dbsize() > 0  # the answer (and the count) went to Redis

    other = second_worker()
    assert other["status"] == 200
    assert other["body"] == first.content.decode()
    # Served from the shared cache: the other process ran no query for the page or count.
    assert other["queries"] <= 1, other


# The throttles count in fixed windows: a ten-day window keeps both processes' requests in
# one window (a minute's window would end between them now and then: the count restarts).
TEN_DAYS = "600/864000s"


@pytest.mark.django_db(transaction=True)
def test_the_throttle_is_counted_across_processes(redis_cache, api_client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", TEN_DAYS)
    monkeypatch.setenv("THROTTLE_ANON", TEN_DAYS)
    make_post(slug="counted")
    answers = [api_client.get(LIST) for _ in range(3)]
    assert int(answers[-1]["RateLimit-Reset"]) > 60  # the ten-day window is in force
    remaining = int(answers[-1]["RateLimit-Remaining"])
    other = second_worker()
    # The other process took the next request from the same budget.
    assert int(other["remaining"]) == remaining - 1


@pytest.mark.django_db
def test_a_scheduled_post_appears_on_time_with_the_redis_cache_warm(redis_cache, api_client):
    assert_scheduled_post_appears_on_time(api_client, warm_reads=2)  # the second from Redis
