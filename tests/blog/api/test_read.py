"""The posts API for readers: visibility per caller, filters, search, pagination, queries."""

import datetime
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from blog.api.serializers import PostDetailSerializer, PostListSerializer
from blog.models import PostStatus
from tests.blog.factories import CategoryFactory, TagFactory, make_post
from tests.factories import AuthorFactory, EditorFactory, UserFactory

pytestmark = pytest.mark.django_db
LIST = reverse("post-list")


def detail(slug):
    return reverse("post-detail", args=[slug])


def slugs(response):
    assert response.status_code == HTTPStatus.OK, response.content
    return {item["slug"] for item in response.json()["results"]}


@pytest.fixture
def world():
    author = AuthorFactory(username="writer")
    posts = {"live": make_post(title="Live", slug="live", author=author)}
    for status in (PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.ARCHIVED):
        posts[status] = make_post(status=status, title=status, slug=f"s-{status}", author=author)
    posts["future"] = make_post(
        status=PostStatus.SCHEDULED,
        slug="s-future",
        author=author,
        published_at=timezone.now() + datetime.timedelta(days=2),
    )
    posts["other-draft"] = make_post(status=PostStatus.DRAFT, slug="other-draft")
    return {"author": author, **posts}


HIDDEN = {"s-draft", "s-in_review", "s-archived", "s-future", "other-draft"}


def test_anonymous_sees_only_visible_posts(api_client, world):
    assert slugs(api_client.get(LIST)) == {"live"}
    for slug in HIDDEN:
        assert api_client.get(detail(slug)).status_code == HTTPStatus.NOT_FOUND


def test_plain_user_sees_only_visible_posts(jwt_client_for, world):
    client = jwt_client_for(UserFactory())
    assert slugs(client.get(LIST)) == {"live"}
    assert client.get(detail("s-draft")).status_code == HTTPStatus.NOT_FOUND


def test_author_also_sees_own_unpublished_posts(jwt_client_for, world):
    client = jwt_client_for(world["author"])
    assert slugs(client.get(LIST)) == {"live", "s-draft", "s-in_review", "s-archived", "s-future"}
    assert client.get(detail("s-draft")).status_code == HTTPStatus.OK
    assert client.get(detail("other-draft")).status_code == HTTPStatus.NOT_FOUND


def test_editor_sees_everything(editor_client, world):
    assert slugs(editor_client.get(LIST)) == {"live"} | HIDDEN


def test_status_filter_is_for_editors(api_client, editor_client, world):
    assert slugs(editor_client.get(LIST, {"status": "draft"})) == {"s-draft", "other-draft"}
    response = api_client.get(LIST, {"status": "draft"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "editors" in response.json()["detail"]


def test_search_and_counts_do_not_leak(api_client, world):
    make_post(status=PostStatus.DRAFT, title="Secret zebra plan", slug="zebra")
    response = api_client.get(LIST, {"search": "zebra"})
    assert response.json()["count"] == 0
    tags = api_client.get(reverse("tag-list")).json()["results"]
    assert all(tag["post_count"] <= 1 for tag in tags)


def test_counts_on_taxonomy_and_authors_are_visible_posts_only(api_client):
    law = CategoryFactory(slug="law")
    courts = TagFactory(slug="courts")
    author = AuthorFactory(username="counted")
    make_post(category=law, tags=[courts], author=author)
    make_post(status=PostStatus.DRAFT, category=law, tags=[courts], author=author)
    category = api_client.get(reverse("category-detail", args=["law"])).json()
    tag = api_client.get(reverse("tag-detail", args=["courts"])).json()
    profile = api_client.get(reverse("author-detail", args=["counted"])).json()
    assert (category["post_count"], tag["post_count"], profile["post_count"]) == (1, 1, 1)
    shy = AuthorFactory(username="shy")
    make_post(status=PostStatus.DRAFT, author=shy)
    assert api_client.get(reverse("author-detail", args=["shy"])).status_code == 404


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"tag": "courts"}, {"a"}),
        ({"category": "law"}, {"a", "b"}),
        ({"author": "alice"}, {"a", "c"}),
        ({"featured": "true"}, {"b"}),
        ({"published_after": "2026-01-10T00:00:00Z"}, {"b", "c"}),
        ({"published_before": "2026-01-10T00:00:00Z"}, {"a"}),
        ({"updated_since": "2000-01-01T00:00:00Z"}, {"a", "b", "c"}),
    ],
)
def test_filters(api_client, params, expected):
    law, courts = CategoryFactory(slug="law"), TagFactory(slug="courts")
    alice = AuthorFactory(username="alice")
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    make_post(slug="a", category=law, tags=[courts], author=alice, published_at=base)
    make_post(
        slug="b", category=law, featured=True, published_at=base + datetime.timedelta(days=20)
    )
    make_post(slug="c", author=alice, published_at=base + datetime.timedelta(days=30))
    assert slugs(api_client.get(LIST, params)) == expected


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("", ["c", "b", "a"]),
        ("published_at", ["a", "b", "c"]),
        ("-published_at", ["c", "b", "a"]),
        ("title", ["a", "b", "c"]),
        ("-title", ["c", "b", "a"]),
    ],
)
def test_ordering(api_client, ordering, expected):
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for n, slug in enumerate(["a", "b", "c"]):
        make_post(slug=slug, title=slug.upper(), published_at=base + datetime.timedelta(days=n))
    response = api_client.get(LIST, {"ordering": ordering} if ordering else {})
    assert [item["slug"] for item in response.json()["results"]] == expected


def test_search_ranks_title_matches_above_body_matches_with_highlights(api_client):
    make_post(slug="body-hit", title="Other things", body="A note on arbitration clauses.")
    make_post(slug="title-hit", title="Arbitration explained", body="Short.")
    results = api_client.get(LIST, {"search": "arbitration"}).json()["results"]
    assert [item["slug"] for item in results] == ["title-hit", "body-hit"]
    assert "<mark>arbitration</mark>" in results[1]["highlight"]


def ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def test_search_pages_through_the_ranking_and_honours_an_explicit_ordering(api_client):
    make_post(slug="body-old", title="Other", body="Arbitration once.", published_at=ago(3))
    make_post(slug="title-new", title="Arbitration", body="Arbitration.", published_at=ago(1))
    make_post(slug="body-new", title="Else", body="Arbitration again.", published_at=ago(2))
    make_post(slug="no-hit", title="Nothing", body="Nothing here.")
    pages = [
        api_client.get(LIST, {"search": "arbitration", "page_size": 1, "page": n}).json()
        for n in (1, 2, 3)
    ]
    assert [page["results"][0]["slug"] for page in pages] == ["title-new", "body-new", "body-old"]
    assert {page["count"] for page in pages} == {3}
    assert all(page["results"][0]["highlight"] for page in pages)
    by_title = api_client.get(LIST, {"search": "arbitration", "ordering": "title"}).json()
    assert [item["slug"] for item in by_title["results"]] == ["title-new", "body-new", "body-old"]
    oldest = api_client.get(LIST, {"search": "arbitration", "ordering": "published_at"}).json()
    assert [item["slug"] for item in oldest["results"]] == ["body-old", "body-new", "title-new"]


def test_search_ranks_only_the_newest_search_candidates_matches(api_client, settings):
    settings.API_RESPONSE_CACHE_SECONDS = 0  # the same URL answered twice
    make_post(slug="title-old", title="Arbitration", body="Arbitration.", published_at=ago(3))
    make_post(slug="body-new", title="Else", body="Arbitration again.", published_at=ago(2))
    make_post(slug="body-newer", title="Other", body="Arbitration once.", published_at=ago(1))
    everything = api_client.get(LIST, {"search": "arbitration"}).json()
    settings.SEARCH_CANDIDATES = 2
    cache.clear()  # the count cache: the bound is configuration, not a runtime change
    bounded = api_client.get(LIST, {"search": "arbitration"}).json()
    assert [item["slug"] for item in everything["results"]][0] == "title-old"  # best rank
    assert (bounded["count"], [item["slug"] for item in bounded["results"]]) == (
        2,
        ["body-newer", "body-new"],  # the best match is older than the two newest
    )


def test_pagination_bounds(api_client):
    for n in range(5):
        make_post(slug=f"p{n}")
    page = api_client.get(LIST, {"page_size": 2, "page": 2}).json()
    assert (page["count"], len(page["results"])) == (5, 2)
    assert "page=3" in page["next"]
    assert page["previous"] is not None and "page=2" not in page["previous"]
    assert len(api_client.get(LIST, {"page_size": 1000}).json()["results"]) == 5
    capped = api_client.get(LIST, {"page_size": 1000})
    assert capped.status_code == 200
    assert api_client.get(LIST, {"page": 99}).status_code == HTTPStatus.NOT_FOUND
    assert api_client.get(LIST, {"page": "9" * 40}).status_code == HTTPStatus.NOT_FOUND
    assert api_client.get(LIST, {"page": "abc"}).status_code == HTTPStatus.NOT_FOUND
    # The schema says a whole number from 1: anything else is refused, not ignored.
    for bad in ("abc", "0", "-3", "null"):
        refused = api_client.get(LIST, {"page_size": bad})
        assert refused.status_code == HTTPStatus.BAD_REQUEST and "page_size" in refused.json()


def test_page_size_is_capped_at_100(api_client, settings):
    settings.API_RESPONSE_CACHE_SECONDS = 0
    for n in range(105):
        make_post(slug=f"many-{n}") if n < 3 else None
    from blog.models import Post

    template = Post.objects.get(slug="many-0")
    rows = []
    for n in range(3, 105):
        template.pk = None
        template.slug = f"many-{n}"
        rows.append(Post(**{f.attname: getattr(template, f.attname) for f in Post._meta.fields}))
    Post.objects.bulk_create(rows)
    assert len(api_client.get(LIST, {"page_size": 500}).json()["results"]) == 100


def test_list_queries_are_constant_whatever_the_page_size(
    api_client, settings, django_assert_num_queries
):
    settings.API_RESPONSE_CACHE_SECONDS = 0
    tags = [TagFactory() for _ in range(3)]
    for n in range(30):
        make_post(slug=f"q{n}", category=CategoryFactory(slug=f"c{n % 4}"), tags=tags[: n % 3])
    for size in (1, 30, 100):
        api_client.get(LIST, {"page_size": size})  # the count is cached after the first call
        api_client.get(LIST, {"page_size": size, "tag": tags[0].slug})
        # The content version, then the page with its tags in one query (the count cached).
        with django_assert_num_queries(2):
            response = api_client.get(LIST, {"page_size": size, "tag": tags[0].slug})
        assert response.status_code == 200
        with django_assert_num_queries(2):
            assert len(api_client.get(LIST, {"page_size": size}).json()["results"]) == min(
                size, 30
            )


def test_detail_is_two_queries(api_client, settings, django_assert_num_queries):
    settings.API_RESPONSE_CACHE_SECONDS = 0
    post = make_post(slug="one", tags=[TagFactory(), TagFactory()], category=CategoryFactory())
    # The content version, then the post with its tags, cover and comment count.
    with django_assert_num_queries(2):
        response = api_client.get(detail(post.slug))
    assert response.status_code == 200
    assert len(response.json()["tags"]) == 2


def test_detail_carries_seo_and_everything_a_front_end_needs(api_client):
    post = make_post(
        slug="seo",
        title="SEO post",
        meta_description="Described",
        cover_image_url="https://img.example/x.png",
    )
    data = api_client.get(detail(post.slug)).json()
    assert data["seo"]["canonical_url"].endswith("/posts/seo/")
    assert data["seo"]["open_graph"]["og:image"] == "https://img.example/x.png"
    assert data["seo"]["twitter"]["twitter:card"] == "summary_large_image"
    assert data["seo"]["json_ld"]["@type"] == "BlogPosting"
    assert data["body_html"] == post.body_html
    assert data["url"] == "http://127.0.0.1:8000/posts/seo/"


def test_declared_fields_match_the_output(api_client):
    """The hand-built read payloads and the schema's declared fields never drift apart."""
    post = make_post(slug="shape", category=CategoryFactory(), tags=[TagFactory()])
    item = api_client.get(LIST).json()["results"][0]
    declared_list = set(PostListSerializer().fields) - {"highlight"}
    assert set(item) == declared_list
    assert set(api_client.get(detail(post.slug)).json()) == set(PostDetailSerializer().fields) - {
        "highlight"
    }
    hit = api_client.get(LIST, {"search": post.title}).json()["results"][0]
    assert set(hit) == declared_list | {"highlight"}


def test_old_slug_redirects_to_the_new_detail(api_client):
    from blog import services

    editor = EditorFactory()
    post = make_post(slug="before", editor=editor)
    services.post_update(post=post, user=editor, expected_version=post.version, slug="after")
    response = api_client.get(detail("before"))
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"] == detail("after")


def test_preview_token_reads_a_draft(api_client):
    from blog import services

    draft = make_post(status=PostStatus.DRAFT, slug="draft-preview")
    token = services.preview_token(draft)
    response = api_client.get(detail("draft-preview"), {"preview": token})
    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    assert response["Cache-Control"] == "private, no-store"
    assert api_client.get(detail("draft-preview"), {"preview": "forged"}).status_code == 403
    other = make_post(slug="other")
    assert api_client.get(detail(other.slug), {"preview": token}).status_code == 404
