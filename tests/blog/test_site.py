"""The public site: pages, SEO head, comments (moderation, honeypot, throttle), previews."""

import json
import re

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from blog import services
from blog.models import Comment, CommentStatus, Post, PostStatus
from tests.blog.factories import CommentFactory, make_post

pytestmark = pytest.mark.django_db


def comment_data(**overrides):
    return {
        "author_name": "Reader",
        "author_email": "reader@example.com",
        "body": "Thoughtful remark.",
        "website": "",
        **overrides,
    }


def test_post_detail_has_canonical_open_graph_and_json_ld(client):
    post = make_post(title="Seen <title>", meta_description="A description", body="Hello")
    html = client.get(post.get_absolute_url()).content.decode()
    assert f'<link rel="canonical" href="http://127.0.0.1:8000{post.get_absolute_url()}">' in html
    assert '<meta property="og:title" content="Seen &lt;title&gt;">' in html
    assert '<meta name="twitter:card" content="summary">' in html
    script = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(script.group(1))
    assert data["@type"] == "BlogPosting"
    assert data["headline"] == "Seen <title>"
    assert data["description"] == "A description"


def test_comment_waits_for_moderation_then_appears(client):
    post = make_post()
    response = client.post(post.get_absolute_url(), comment_data(), follow=True)
    assert "will appear once approved" in response.content.decode()
    comment = Comment.objects.get()
    assert comment.status == CommentStatus.PENDING
    assert comment.ip_address == "127.0.0.1"
    assert "Thoughtful remark." not in client.get(post.get_absolute_url()).content.decode()
    comment.status = CommentStatus.APPROVED
    comment.save()
    assert "Thoughtful remark." in client.get(post.get_absolute_url()).content.decode()


def test_honeypot_stores_nothing_and_looks_like_success(client):
    post = make_post()
    response = client.post(post.get_absolute_url(), comment_data(website="http://spam"))
    assert response.status_code == 302
    assert Comment.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"author_email": "not-an-email"},
        {"body": ""},
        {"body": "x" * 3001},
        {"author_name": ""},
    ],
)
def test_bad_comment_is_refused_with_400(client, overrides):
    post = make_post()
    response = client.post(post.get_absolute_url(), comment_data(**overrides))
    assert response.status_code == 400
    assert Comment.objects.count() == 0


def test_comments_are_throttled_per_address(client, settings):
    settings.BLOG_COMMENT_RATE = (2, 600)
    post = make_post()
    for _ in range(2):
        assert client.post(post.get_absolute_url(), comment_data()).status_code == 302
    response = client.post(post.get_absolute_url(), comment_data())
    assert response.status_code == 429
    assert "Too many comments" in response.content.decode()
    assert Comment.objects.count() == 2


def test_approved_comments_only(client):
    post = make_post()
    CommentFactory(post=post, status=CommentStatus.APPROVED, body="visible words")
    CommentFactory(post=post, status=CommentStatus.SPAM, body="spammy words")
    CommentFactory(post=post, status=CommentStatus.REJECTED, body="rejected words")
    html = client.get(post.get_absolute_url()).content.decode()
    assert "visible words" in html
    assert "spammy" not in html and "rejected" not in html


def test_preview_link_shows_a_draft_until_it_expires(client, settings):
    settings.BLOG_PREVIEW_MAX_AGE = 3600
    draft = make_post(status=PostStatus.DRAFT, title="Secret draft")
    url = reverse("blog:post_preview", args=[services.preview_token(draft)])
    response = client.get(url)
    assert response.status_code == 200
    assert "Secret draft" in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        expired = client.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.content.decode()


def test_forged_preview_token_is_refused(client):
    draft = make_post(status=PostStatus.DRAFT)
    token = services.preview_token(draft)
    assert client.get(reverse("blog:post_preview", args=[token[:-2] + "xx"])).status_code == 403
    assert client.get(reverse("blog:post_preview", args=["garbage"])).status_code == 403


def test_search_ranks_title_matches_first(client):
    make_post(title="Unrelated", body="arbitration appears only in the body here")
    make_post(title="Arbitration in practice", body="nothing else")
    html = client.get(reverse("blog:search"), {"q": "arbitration"}).content.decode()
    assert html.index("Arbitration in practice") < html.index("Unrelated")
    assert "<mark>arbitration</mark>" in html


def test_search_snippet_escapes_markup_from_the_body(client):
    make_post(title="Escapes", body="keyword <script>alert(1)</script>")
    html = client.get(reverse("blog:search"), {"q": "keyword"}).content.decode()
    assert "<script>alert(1)" not in html


def test_robots_txt_points_at_the_sitemap(client):
    text = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in text
    assert "Disallow: /admin/" in text


def test_pages_paginate(client, settings):
    settings.BLOG_POSTS_PER_PAGE = 2
    for n in range(5):
        make_post(title=f"Paged {n}")
    page3 = client.get(reverse("blog:home"), {"page": 3}).content.decode()
    assert "Page 3 of 3" in page3
    assert client.get(reverse("blog:home"), {"page": "999"}).status_code == 200
    assert client.get(reverse("blog:home"), {"page": "abc"}).status_code == 200


def test_unknown_pages_are_404(client):
    assert client.get("/posts/nope/").status_code == 404
    assert client.get("/tags/nope/").status_code == 404
    assert client.get("/categories/nope/feed/").status_code == 404


def test_seed_demo_is_idempotent_and_covers_every_state():
    call_command("seed_demo")
    counts = {status: Post.objects.filter(status=status).count() for status in PostStatus.values}
    comments = Comment.objects.count()
    call_command("seed_demo")
    assert {s: Post.objects.filter(status=s).count() for s in PostStatus.values} == counts
    assert Comment.objects.count() == comments
    assert all(counts[status] >= 1 for status in PostStatus.values)
    assert Comment.objects.filter(status=CommentStatus.PENDING).exists()


def test_seed_demo_generates_posts_in_bulk_with_search_vectors():
    call_command("seed_demo", posts=300)
    generated = Post.objects.filter(slug__startswith="generated-post-")
    assert generated.count() == 300
    assert not generated.filter(search_vector__isnull=True).exists()
    assert generated.filter(status=PostStatus.PUBLISHED).count() > 200
    call_command("seed_demo", posts=300)
    assert generated.count() == 300
    assert Post.objects.visible().filter(slug__startswith="generated-post-").exists()
