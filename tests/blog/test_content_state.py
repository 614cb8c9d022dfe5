"""The content version from memory (blog.content_state), on a real listener connection: a warm
anonymous read or 304 runs no SQL; a change made by another connection is seen once its
notification arrives, one made in this process at once; a scheduled post appears on time with
memory and cache warm; a version read in a transaction is never kept; behind a
transaction-mode PgBouncer the probe fails and every read asks the database."""

import datetime
import time

import psycopg
import pytest
import time_machine
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.utils import timezone

from blog import changes, content_state, services
from blog.models import Post, PostStatus
from config.urls import urlpatterns as project_urls
from tests.blog.factories import make_post
from tests.factories import EditorFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LIST = "/api/v1/posts/"


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def watch(settings):
    """This process's listener, started and proven to hear the database."""
    settings.CONTENT_VERSION_LISTEN = True
    content_state.reset()
    current = content_state.watch()
    wait_for(lambda: current.healthy, "the listener's probe to come back")
    yield current
    content_state.reset()


def other_connection() -> psycopg.Connection:
    """A second session on the test database, as another worker or host would have."""
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return psycopg.connect(**params)


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def test_a_warm_anonymous_read_and_a_304_run_no_sql(watch, django_assert_num_queries):
    make_post(title="Remembered")
    assert watch.sync()  # the writes' own notifications heard: nothing left to forget
    client = Client()
    first = client.get(LIST)  # reads the version from the database, fills the cache
    assert titles(first) == ["Remembered"]
    with django_assert_num_queries(0):
        again = client.get(LIST)
        not_modified = client.get(LIST, headers={"if-none-match": first["ETag"]})
    assert again.content == first.content
    assert not_modified.status_code == 304


def test_a_change_committed_by_another_connection_is_seen_once_notified(
    watch, django_assert_num_queries
):
    post = make_post(title="Before")
    assert watch.sync()
    client = Client()
    assert titles(client.get(LIST)) == ["Before"]
    with django_assert_num_queries(0):
        assert titles(client.get(LIST)) == ["Before"]
    heard = watch.notifications
    with other_connection() as other:  # what a write in another process commits
        other.execute("UPDATE blog_contentversion SET value = value + 1 WHERE id = 1")
        other.execute("UPDATE blog_post SET title = 'After' WHERE id = %s", [post.pk])
    wait_for(lambda: watch.notifications > heard, "the commit's notification")
    assert titles(client.get(LIST)) == ["After"]


def test_a_change_made_in_this_process_is_seen_at_once(watch, django_assert_num_queries):
    editor = EditorFactory(username="same-process")
    post = make_post(title="Before", editor=editor)
    client = Client()
    assert titles(client.get(LIST)) == ["Before"]
    services.post_update(post=post, user=editor, expected_version=post.version, title="After")
    # No waiting for the notification: the write itself made this process forget.
    assert titles(client.get(LIST)) == ["After"]


def test_a_scheduled_post_appears_on_time_with_memory_and_cache_warm(
    watch, django_assert_num_queries
):
    editor = EditorFactory(username="scheduler")
    make_post(title="Already out", editor=editor)
    due = timezone.now() + datetime.timedelta(hours=1)
    scheduled = make_post(title="Later", editor=editor, status=PostStatus.DRAFT)
    services.post_schedule(post=scheduled, user=editor, publish_at=due)
    assert watch.sync()
    client = Client()
    assert titles(client.get(LIST)) == ["Already out"]
    with django_assert_num_queries(0):
        assert titles(client.get(LIST)) == ["Already out"]
    with time_machine.travel(due + datetime.timedelta(seconds=1), tick=True):
        assert titles(client.get(LIST)) == ["Later", "Already out"]
    scheduled.refresh_from_db()
    assert scheduled.status == PostStatus.PUBLISHED


def test_a_version_read_inside_a_transaction_is_not_kept(watch, django_assert_num_queries):
    make_post(title="Any")
    assert watch.sync()
    with transaction.atomic():
        changes.content_version()
    assert content_state.recall(timezone.now()) is None
    changes.content_version()  # outside: kept
    with django_assert_num_queries(0):
        changes.content_version()
    with django_assert_num_queries(1):
        changes.content_version(strict=True)


def test_a_post_written_without_the_services_still_makes_the_process_forget(watch):
    post = make_post(title="Any")
    assert watch.sync()
    version = changes.content_version()
    assert content_state.recall(timezone.now()) == version
    heard = watch.notifications
    Post.objects.filter(pk=post.pk).update(title="Direct")  # no signal: the trigger notifies
    assert watch.sync()  # every commit before the marker has been heard
    assert watch.notifications > heard
    assert content_state.recall(timezone.now()) is None


def test_behind_a_transaction_pooler_the_memory_stays_off(
    settings, pgbouncer, django_assert_num_queries
):
    name = connection.settings_dict["NAME"]
    settings.CONTENT_VERSION_LISTEN = True
    settings.DATABASE_DIRECT_URL = f"postgresql://postgres@127.0.0.1:{pgbouncer}/{name}"
    content_state.reset()
    try:
        current = content_state.watch()
        wait_for(lambda: current.failures > 0, "the probe to fail through the pooler")
        assert not current.healthy
        # A session that failed its probe is not trusted again: a new one is opened.
        wait_for(lambda: current.sessions >= 2, "a second LISTEN session")
        make_post(title="Any")
        changes.content_version()
        with django_assert_num_queries(1):
            changes.content_version()
    finally:
        content_state.reset()


def test_a_cached_public_answer_is_served_early_with_the_views_bytes_and_headers(watch):
    post = make_post(title="Early")
    assert watch.sync()
    client = Client()
    for url in (LIST, f"{LIST}{post.slug}/"):
        by_view = client.get(url)
        assert by_view.status_code == 200 and hasattr(by_view.wsgi_request, "user")
        early = client.get(url)
        # Served before the authentication middleware ran: no user was ever attached.
        assert not hasattr(early.wsgi_request, "user")
        assert early.content == by_view.content
        per_request = {"X-Request-ID", "RateLimit-Remaining", "RateLimit-Reset"}
        assert {k: v for k, v in early.headers.items() if k not in per_request} == {
            k: v for k, v in by_view.headers.items() if k not in per_request
        }
        assert (
            early.wsgi_request.resolver_match.url_name
            == by_view.wsgi_request.resolver_match.url_name
        )
        not_modified = client.get(url, headers={"if-none-match": by_view["ETag"]})
        assert not_modified.status_code == 304 and not hasattr(not_modified.wsgi_request, "user")
    # Credentials or a preview token always go the usual way.
    signed = client.get(LIST, headers={"authorization": "Bearer not-a-token"})
    assert hasattr(signed.wsgi_request, "user")


def retired(request, slug):
    return HttpResponse("retired", status=410)


# A URLconf where a post's URL leads elsewhere (the last test switches to it).
urlpatterns = [path("api/v1/posts/<slug:slug>/", retired), *project_urls]


def test_early_answers_keep_each_path_on_its_own_route(watch, settings):
    posts = [make_post(title="First early"), make_post(title="Second early")]
    assert watch.sync()
    client = Client()
    urls = [f"{LIST}{post.slug}/" for post in posts]
    by_view = {url: client.get(url) for url in urls}
    for _ in range(2):  # the second round takes the routes remembered in the first
        for url, post in zip(urls, posts):
            early = client.get(url)
            assert not hasattr(early.wsgi_request, "user")
            assert early.content == by_view[url].content
            assert early.json()["title"] == post.title
    # A path with no route is never answered early, however often it is asked.
    for _ in range(2):
        missing = client.get(f"{LIST}no-such-post/")
        assert missing.status_code == 404 and hasattr(missing.wsgi_request, "user")
    # Another URLconf routes afresh: the routes remembered for the old one are not used.
    settings.ROOT_URLCONF = __name__
    moved = client.get(urls[0])
    assert moved.status_code == 410 and moved.content == b"retired"
