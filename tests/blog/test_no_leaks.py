"""Drafts never leak: each public path shows visible posts and nothing else (one test a path)."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import PostStatus
from tests.blog.factories import CategoryFactory, TagFactory, make_post
from tests.factories import AuthorFactory

pytestmark = pytest.mark.django_db

HIDDEN_STATES = {
    "draft": PostStatus.DRAFT,
    "review": PostStatus.IN_REVIEW,
    "future": PostStatus.SCHEDULED,
    "archived": PostStatus.ARCHIVED,
}


@pytest.fixture
def world():
    """One visible post and one hidden post per hidden state, sharing author/category/tag.

    Every title carries a marker word ("zebra" for hidden ones) so leaks are easy to see.
    """
    author = AuthorFactory(username="writer")
    category = CategoryFactory(slug="law", name="Law")
    tag = TagFactory(slug="courts", name="Courts")
    lonely_tag = TagFactory(slug="secret-tag", name="Secret tag")
    lonely_category = CategoryFactory(slug="secret-category", name="Secret category")
    visible = make_post(
        title="Visible giraffe post",
        body="giraffe text",
        author=author,
        category=category,
        tags=[tag],
    )
    hidden = {}
    for key, status in HIDDEN_STATES.items():
        hidden[key] = make_post(
            status=status,
            title=f"Hidden zebra {key}",
            body=f"zebra body {key}",
            author=author,
            category=lonely_category if key == "draft" else category,
            tags=[tag, lonely_tag] if key == "draft" else [tag],
            published_at=(
                timezone.now() + datetime.timedelta(days=3) if key == "future" else None
            ),
        )
    return {
        "author": author,
        "category": category,
        "tag": tag,
        "visible": visible,
        "hidden": hidden,
    }


def assert_only_visible(content: str, world):
    assert "Visible giraffe post" in content
    assert "zebra" not in content.lower()
    for post in world["hidden"].values():
        assert post.slug not in content


def test_home(client, world):
    assert_only_visible(client.get(reverse("blog:home")).content.decode(), world)


@pytest.mark.parametrize("key", HIDDEN_STATES)
def test_post_detail_is_404(client, world, key):
    post = world["hidden"][key]
    response = client.get(reverse("blog:post_detail", args=[post.slug]))
    assert response.status_code == 404
    assert "zebra" not in response.content.decode().lower()


def test_category_archive(client, world):
    response = client.get(reverse("blog:category", args=["law"]))
    assert_only_visible(response.content.decode(), world)


def test_tag_archive(client, world):
    assert_only_visible(client.get(reverse("blog:tag", args=["courts"])).content.decode(), world)


def test_author_archive(client, world):
    response = client.get(reverse("blog:author", args=["writer"]))
    assert_only_visible(response.content.decode(), world)


def test_author_without_visible_posts_has_no_page(client, world):
    make_post(status=PostStatus.DRAFT, author=AuthorFactory(username="shy"), title="zebra")
    assert client.get(reverse("blog:author", args=["shy"])).status_code == 404


def test_search(client, world):
    response = client.get(reverse("blog:search"), {"q": "zebra"})
    content = response.content.decode()
    assert "0 results" in content
    assert "Hidden zebra" not in content
    assert "giraffe" in client.get(reverse("blog:search"), {"q": "giraffe"}).content.decode()


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("blog:feed_rss", []),
        ("blog:feed_atom", []),
        ("blog:category_feed_rss", ["law"]),
        ("blog:category_feed_atom", ["law"]),
        ("blog:tag_feed_rss", ["courts"]),
        ("blog:tag_feed_atom", ["courts"]),
    ],
)
def test_feeds(client, world, url_name, args):
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 200
    ET.fromstring(response.content)  # well-formed XML
    assert_only_visible(response.content.decode(), world)


def test_sitemap(client, world):
    response = client.get(reverse("sitemap"))
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert any(loc.endswith(world["visible"].get_absolute_url()) for loc in locations)
    for post in world["hidden"].values():
        assert not any(post.slug in loc for loc in locations)
    # A category and a tag whose only posts are hidden are not listed either.
    assert not any("secret" in loc for loc in locations)


def test_tag_and_category_counts(client, world):
    content = client.get(reverse("blog:home")).content.decode()
    assert "#Courts (1)" in content
    assert "Law</a> (1)" in content
    assert "Secret" not in content


def test_comment_on_hidden_post_is_refused(client, world):
    post = world["hidden"]["future"]
    response = client.post(
        reverse("blog:post_detail", args=[post.slug]),
        {"author_name": "Bo", "author_email": "bo@example.com", "body": "hi"},
    )
    assert response.status_code == 404
    assert post.comments.count() == 0
