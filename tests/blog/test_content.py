"""Content rules: slugs and 301s, derived fields, the sanitiser, and bad input refused."""

import pytest
from django.urls import reverse

from blog import errors, services
from blog.models import TITLE_MAX_LENGTH, Post, PostStatus
from blog.rendering import render_markdown
from tests.blog.factories import make_post
from tests.factories import EditorFactory

pytestmark = pytest.mark.django_db


def test_slug_is_generated_unique_from_the_title():
    first = make_post(title="Hello, World!")
    second = make_post(title="Hello world")
    assert first.slug == "hello-world"
    assert second.slug == "hello-world-2"


def test_changed_slug_redirects_permanently(client):
    editor = EditorFactory()
    post = make_post(title="Old name", editor=editor)
    old_url = post.get_absolute_url()
    services.post_update(post=post, user=editor, expected_version=post.version, slug="new-name")
    response = client.get(old_url)
    assert response.status_code == 301
    assert response["Location"] == reverse("blog:post_detail", args=["new-name"])
    assert client.get(response["Location"]).status_code == 200


def test_slug_chain_and_revert_keep_working(client):
    editor = EditorFactory()
    post = make_post(title="One", editor=editor, slug="one")
    for slug in ("two", "three", "one"):
        services.post_update(post=post, user=editor, expected_version=post.version, slug=slug)
    assert client.get("/posts/one/").status_code == 200
    assert client.get("/posts/two/")["Location"] == "/posts/one/"
    assert client.get("/posts/three/")["Location"] == "/posts/one/"


def test_old_slug_of_a_hidden_post_does_not_redirect(client):
    editor = EditorFactory()
    post = make_post(title="Soon gone", editor=editor, slug="soon-gone")
    services.post_update(post=post, user=editor, expected_version=post.version, slug="gone")
    services.post_unpublish(post=post, user=editor)
    assert client.get("/posts/soon-gone/").status_code == 404


def test_excerpt_and_reading_time_are_derived_and_follow_the_body():
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor, body="word " * 450)
    assert post.reading_time == 3
    assert post.excerpt.startswith("word word") and post.excerpt.endswith("…")
    services.post_update(
        post=post, user=editor, expected_version=post.version, body="Fresh start."
    )
    assert post.excerpt == "Fresh start."


def test_a_written_excerpt_is_kept_when_the_body_changes():
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor, excerpt="Hand-written summary.")
    services.post_update(
        post=post,
        user=editor,
        expected_version=post.version,
        excerpt=post.excerpt,
        body="Completely new body.",
    )
    assert post.excerpt == "Hand-written summary."


@pytest.mark.parametrize(
    "markdown, forbidden, kept",
    [
        ("Hi <script>alert(1)</script>", "<script", "Hi"),
        ('<img src="x.png" onerror="alert(1)">', "onerror", '<img src="x.png"'),
        ("[click](javascript:alert(1))", "javascript:", "click"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "javascript", ">x</a>"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe", ""),
        ('<p style="background:url(x)" onclick="x()">p</p>', "onclick", "<p>p</p>"),
        ("<svg onload=alert(1)>", "<svg", ""),
    ],
)
def test_sanitiser(markdown, forbidden, kept):
    html = render_markdown(markdown)
    assert forbidden.lower() not in html.lower()
    assert kept in html


def test_links_get_safe_rel_attributes():
    html = render_markdown("[site](https://example.com)")
    assert 'rel="noopener noreferrer"' in html


def test_stored_body_html_is_sanitised():
    post = make_post(body="ok <script>steal()</script> [x](javascript:steal())")
    assert "<script" not in post.body_html
    assert "javascript:" not in post.body_html
    assert post.body.endswith("[x](javascript:steal())")  # the Markdown source is kept


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * (TITLE_MAX_LENGTH + 1)}, "title"),
        ({"canonical_url": "not a url"}, "canonical_url"),
        ({"meta_description": "x" * 500}, "meta_description"),
    ],
)
def test_bad_content_is_refused_and_the_post_stays_as_it_was(changes, field):
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor, title="Stable")
    before = Post.objects.values().get(pk=post.pk)
    with pytest.raises(errors.WorkflowError) as refused:
        services.post_update(post=post, user=editor, expected_version=post.version, **changes)
    assert field in refused.value.message_dict
    assert Post.objects.values().get(pk=post.pk) == before
    assert post.revisions.count() == 1


def test_duplicate_slug_is_refused():
    editor = EditorFactory()
    make_post(title="Taken", slug="taken", editor=editor)
    post = make_post(status=PostStatus.DRAFT, title="Other", editor=editor)
    with pytest.raises(errors.WorkflowError) as refused:
        services.post_update(post=post, user=editor, expected_version=post.version, slug="taken")
    assert "slug" in refused.value.message_dict
    post.refresh_from_db()
    assert post.slug == "other"


def test_create_with_empty_title_is_refused_and_stores_nothing():
    with pytest.raises(errors.WorkflowError):
        services.post_create(user=EditorFactory(), title="")
    assert Post.objects.count() == 0


def test_database_refuses_a_live_post_without_publish_time():
    from django.db import IntegrityError, transaction

    post = make_post(status=PostStatus.DRAFT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Post.objects.filter(pk=post.pk).update(status=PostStatus.PUBLISHED)
