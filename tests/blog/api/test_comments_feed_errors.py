"""Comments over the API, throttling, the sync feed, and a table of bad inputs."""

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse

from blog import changes, services
from blog.models import Comment, CommentStatus, Post, PostStatus
from tests.blog.factories import make_post
from tests.factories import EditorFactory

LIST = reverse("post-list")


def comments_url(slug):
    return reverse("post-comments", args=[slug])


COMMENT = {"author_name": "Reader", "author_email": "r@example.com", "body": "Nice."}


# ----------------------------------------------------------------------------- comments


@pytest.mark.django_db
def test_comment_create_pending_approve_listed(api_client, editor_client):
    make_post(slug="talk")
    created = api_client.post(comments_url("talk"), COMMENT)
    assert created.status_code == HTTPStatus.CREATED
    assert created.json()["status"] == "pending"
    assert api_client.get(comments_url("talk")).json()["count"] == 0
    queue = editor_client.get(reverse("comment-list"), {"status": "pending"}).json()["results"]
    assert [c["body"] for c in queue] == ["Nice."]
    approved = editor_client.post(reverse("comment-approve", args=[queue[0]["id"]]))
    assert approved.json()["status"] == "approved"
    listed = api_client.get(comments_url("talk")).json()["results"]
    assert [(c["author_name"], c["body"]) for c in listed] == [("Reader", "Nice.")]
    assert "author_email" not in listed[0]
    assert api_client.get(reverse("post-detail", args=["talk"])).json()["comment_count"] == 1


@pytest.mark.django_db
def test_reject_and_spam(editor_client):
    post = make_post(slug="mod")
    first, second = (
        Comment.objects.create(post=post, author_name="a", author_email="a@x.io", body="1"),
        Comment.objects.create(post=post, author_name="b", author_email="b@x.io", body="2"),
    )
    editor_client.post(reverse("comment-reject", args=[first.pk]))
    editor_client.post(reverse("comment-spam", args=[second.pk]))
    assert sorted(Comment.objects.values_list("status", flat=True)) == ["rejected", "spam"]


@pytest.mark.django_db
def test_moderation_is_for_editors(author_client, api_client):
    post = make_post(slug="mod2")
    comment = Comment.objects.create(post=post, author_name="a", author_email="a@x.io", body="1")
    assert author_client.get(reverse("comment-list")).status_code == HTTPStatus.FORBIDDEN
    assert api_client.post(reverse("comment-approve", args=[comment.pk])).status_code == 401
    comment.refresh_from_db()
    assert comment.status == CommentStatus.PENDING


@pytest.mark.django_db
def test_honeypot_stores_nothing(api_client):
    make_post(slug="bots")
    response = api_client.post(comments_url("bots"), {**COMMENT, "website": "http://spam"})
    assert response.status_code == HTTPStatus.CREATED
    assert Comment.objects.count() == 0


@pytest.mark.django_db
def test_no_comments_on_hidden_posts(api_client):
    make_post(status=PostStatus.DRAFT, slug="hidden")
    assert api_client.post(comments_url("hidden"), COMMENT).status_code == 404
    assert api_client.get(comments_url("hidden")).status_code == 404


@pytest.mark.django_db
def test_comment_throttle_429_with_retry_after_and_headers(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "comments": "2/600s",
        },
    }
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    make_post(slug="busy")
    first = api_client.post(comments_url("busy"), COMMENT)
    assert first["RateLimit-Limit"] == "2"
    assert first["RateLimit-Remaining"] == "1"
    api_client.post(comments_url("busy"), COMMENT)
    third = api_client.post(comments_url("busy"), COMMENT)
    assert third.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(third["Retry-After"]) > 0
    assert third["RateLimit-Remaining"] == "0"
    assert Comment.objects.count() == 2


@pytest.mark.django_db
def test_anonymous_reads_carry_rate_limit_headers(api_client):
    response = api_client.get(LIST)
    assert int(response["RateLimit-Limit"]) > 0
    assert int(response["RateLimit-Remaining"]) == int(response["RateLimit-Limit"]) - 1


# ----------------------------------------------------------------------------- sync feed


def feed(client, since="", limit=100):
    response = client.get(reverse("post-changes"), {"since": since, "limit": limit})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_changes_feed_upserts_and_tombstones(api_client):
    editor = EditorFactory()
    a = make_post(slug="a", editor=editor)
    make_post(slug="b", editor=editor)
    make_post(status=PostStatus.DRAFT, slug="never-public", editor=editor)
    first = feed(api_client)
    assert [(e["slug"], e["action"]) for e in first["results"]] == [
        ("a", "upsert"),
        ("b", "upsert"),
    ]
    assert first["results"][0]["post"]["title"] == a.title
    cursor = first["next_cursor"]
    assert feed(api_client, cursor)["results"] == []

    services.post_update(post=a, user=editor, expected_version=a.version, title="A2")
    services.post_unpublish(post=Post.objects.get(slug="b"), user=editor)
    later = feed(api_client, cursor)
    assert [(e["slug"], e["action"]) for e in later["results"]] == [
        ("a", "upsert"),
        ("b", "delete"),
    ]
    assert later["results"][1]["post"] is None

    cursor = later["next_cursor"]
    post_a = Post.objects.get(slug="a")
    services.post_trash(post=post_a, user=editor)
    services.post_purge(post=post_a, user=editor)
    purged = feed(api_client, cursor)["results"]
    # Trashed then purged: the row is gone, its tombstone reports one deletion.
    assert [(e["id"], e["slug"], e["action"]) for e in purged] == [(a.pk, "a", "delete")]


@pytest.mark.django_db
def test_changes_feed_pages_with_limit(api_client):
    for n in range(5):
        make_post(slug=f"page-{n}")
    seen, cursor = [], ""
    while True:
        page = feed(api_client, cursor, limit=2)
        seen += [e["slug"] for e in page["results"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [f"page-{n}" for n in range(5)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"since": "abc"}, {"since": "-1"}, {"limit": "0"}, {"limit": "x"}]
)
def test_changes_feed_bad_input(api_client, params):
    response = api_client.get(reverse("post-changes"), params)
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.django_db(transaction=True)
def test_feed_never_skips_under_concurrent_writes(api_client):
    """Writers in several threads (own connections) while a reader follows the feed: every
    post that ends up published is seen, and no cursor is returned twice."""
    editor = EditorFactory()
    ids = [make_post(status=PostStatus.DRAFT, slug=f"c{n}", editor=editor).pk for n in range(12)]
    stop = threading.Event()
    seen, cursors, failures = set(), [], []

    def writer(chunk):
        try:
            for post_id in chunk:
                services.post_publish(post=Post.objects.get(pk=post_id), user=editor)
        except Exception as error:  # surfaced by the assertion below
            failures.append(error)
        finally:
            connection.close()

    def reader():
        cursor = (0, 0)
        try:
            while True:
                done = stop.is_set()
                for entry in changes.changes_since(cursor, 3):
                    cursors.append(entry.cursor)
                    if entry.post:
                        seen.add(entry.post_id)
                    cursor = changes.parse_cursor(entry.cursor)
                if done:
                    for entry in changes.changes_since(cursor, 1000):
                        cursors.append(entry.cursor)
                        seen.add(entry.post_id)
                    return
        finally:
            connection.close()

    reading = threading.Thread(target=reader)
    reading.start()
    writers = [threading.Thread(target=writer, args=(ids[n::3],)) for n in range(3)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    stop.set()
    reading.join(timeout=60)
    assert failures == []
    assert seen == set(ids)
    assert len(cursors) == len(set(cursors))


# ----------------------------------------------------------------------------- bad input


BAD_REQUESTS = [
    ("post", LIST, b"{not json", "application/json", 400),
    ("post", LIST, b'{"title": "\xff\xfe"}', "application/json", 400),
    ("post", LIST, b'{"title": ""}', "application/json", 400),
    ("post", LIST, b'{"title": "' + b"x" * 300 + b'"}', "application/json", 400),
    ("post", LIST, b'{"title": 12, "featured": "maybe"}', "application/json", 400),
    ("post", LIST, b'{"title": "ok", "tags": "not-a-list"}', "application/json", 400),
    ("post", LIST, b'{"title": "ok", "category": "no-such"}', "application/json", 400),
    ("post", LIST, b'{"title": "ok", "canonical_url": "javascript:x"}', "application/json", 400),
    ("post", LIST, b'{"title": "ok", "slug": "has spaces"}', "application/json", 400),
    ("post", LIST, b'{"title": "ok", "slug": "changes"}', "application/json", 400),
    ("post", LIST, b"title=form", "application/x-www-form-urlencoded", 415),
    ("post", LIST, b"[]", "application/json", 400),
    ("get", LIST + "?published_after=yesterday", None, None, 400),
    ("get", LIST + "?page=" + "9" * 50, None, None, 404),
    ("get", LIST + "?search=" + "x" * 500, None, None, 400),
    ("get", LIST + "?unknown_filter=1&ordering=nonsense", None, None, 200),
    ("get", LIST + "?featured=sometimes", None, None, 400),  # not a boolean
    ("get", LIST + "?featured=null", None, None, 400),
    ("get", "/api/v1/nowhere/", None, None, 404),
    ("delete", LIST, None, None, 405),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, url, body, content_type, expected", BAD_REQUESTS)
def test_bad_input_gets_a_json_error_and_changes_nothing(
    editor_client, method, url, body, content_type, expected
):
    make_post(slug="existing")
    before = Post.objects.count()
    kwargs = {"data": body, "content_type": content_type} if body is not None else {}
    response = getattr(editor_client, method)(url, **kwargs)
    assert response.status_code == expected, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    if expected >= 400:
        assert response.json()
    assert Post.objects.count() == before
