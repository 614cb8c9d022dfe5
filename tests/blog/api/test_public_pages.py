"""Anonymous list pages and post details read through compiled statements
(blog/api/public_pages.py, blog/api/views.py's `_public_detail`) answer exactly what the ORM
path answers, take the time as a value, and leave every other request to the ORM; outside a
transaction the unfiltered page and a post run as prepared statements with a generic plan
(core/postgresql/prepared.py), also behind a real PgBouncer in transaction mode."""

import datetime
import random
import threading

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from django.contrib.auth.models import AnonymousUser

from blog.api import filters, public_pages
from blog.api import views as api_views
from blog.api.views import PostViewSet
from blog.models import Comment, CommentStatus, Image, Post, PostStatus
from blog.search import ranked_matches, refresh_search_vectors
from core.postgresql import prepared
from tests.blog.factories import CategoryFactory, TagFactory, make_post
from tests.factories import AuthorFactory

pytestmark = pytest.mark.django_db
LIST = reverse("post-list")
BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _uncached_answers(settings):
    settings.API_RESPONSE_CACHE_SECONDS = 0  # every request builds its page


@pytest.fixture
def compiled_calls(monkeypatch):
    """The list of what `public_list_rows` answered (None: the ORM path), per request."""
    calls = []

    def spy(request, view):
        rows = public_pages.public_list_rows(request, view)
        calls.append(rows)
        return rows

    monkeypatch.setattr(api_views, "public_list_rows", spy)
    return calls


@pytest.fixture
def blog():
    law, tax = CategoryFactory(slug="law"), CategoryFactory(slug="tax")
    courts, odd = TagFactory(slug="courts"), TagFactory(slug="o'dd-tag")
    alice, bob = AuthorFactory(username="alice"), AuthorFactory(username="bob")
    for n in range(23):
        make_post(
            slug=f"p{n:02d}",
            title=f"Title {(n * 7) % 23:02d}",
            author=alice if n % 2 else bob,
            category=law if n % 3 else tax,
            tags=[courts] if n % 4 else [courts, odd],
            published_at=BASE + datetime.timedelta(days=n),
        )
    # Never listed to anonymous readers: each must stay out of every compiled page.
    make_post(status=PostStatus.DRAFT, slug="draft", author=alice, category=law, tags=[courts])
    make_post(status=PostStatus.ARCHIVED, slug="archived", author=alice, tags=[courts])
    make_post(
        status=PostStatus.SCHEDULED,
        slug="later",
        author=alice,
        category=law,
        tags=[courts],
        published_at=timezone.now() + datetime.timedelta(days=3),
    )


SHAPES = [
    {},
    {"page_size": 5},
    {"page_size": 5, "page": 5},  # the last, short page
    {"tag": "courts", "page_size": 4, "page": 2},
    {"tag": "o'dd-tag"},
    {"category": "law", "ordering": "title"},
    {"category": "tax", "author": "bob", "ordering": "-updated_at,title"},
    {"author": "alice", "tag": "courts", "page_size": 3, "page": 3},
    {"tag": "none-such"},  # no rows: the Paginator asks for an empty slice
    {"tag": "x'; DROP TABLE blog_post; --"},
    {"ordering": "published_at"},
    {"ordering": "nonsense"},  # ignored by the ordering filter: the default order
    {"ordering": "-title", "page_size": 100},
    {"utm_source": "newsletter"},  # a parameter no filter reads
]


@pytest.mark.parametrize("params", SHAPES, ids=[str(shape) for shape in SHAPES])
def test_a_compiled_page_is_what_the_orm_gives(
    api_client, blog, compiled_calls, monkeypatch, params
):
    compiled = api_client.get(LIST, params)
    twice = api_client.get(LIST, params)  # the statement now reused, not rebuilt
    assert [type(rows) for rows in compiled_calls] == [public_pages.CompiledRows] * 2

    monkeypatch.setattr(api_views, "public_list_rows", lambda request, view: None)
    from_the_orm = api_client.get(LIST, params)

    assert compiled.status_code == twice.status_code == from_the_orm.status_code == 200
    assert compiled.json() == twice.json() == from_the_orm.json()
    slugs = {item["slug"] for item in compiled.json()["results"]}
    assert not slugs & {"draft", "archived", "later"}


@pytest.mark.parametrize(
    "params",
    [
        {"search": "title"},
        {"featured": "true"},
        {"published_after": "2026-01-10T00:00:00Z"},
        {"tag": ""},  # django-filter reads "" as "no filter"
        {"tag": " courts "},  # its form strips the blanks
        {"tag": ["courts", "o'dd-tag"]},  # it takes the last of repeated values
    ],
)
def test_requests_of_other_shapes_take_the_orm_path(api_client, blog, compiled_calls, params):
    response = api_client.get(LIST, params)
    assert response.status_code == 200
    assert compiled_calls == [None]


def test_a_signed_in_reader_takes_the_orm_path(jwt_client_for, blog, compiled_calls):
    alice = AuthorFactory._meta.model.objects.get(username="alice")
    slugs = {item["slug"] for item in jwt_client_for(alice).get(LIST).json()["results"]}
    assert compiled_calls == [None]
    assert "draft" in slugs  # her own draft: the author's rule, not the reader's


def test_the_time_is_a_value_of_the_statement_not_part_of_it(blog):
    shape = (PostViewSet, (), ("-published_at",))
    statement = public_pages._statement(*shape, 0, 100)
    now = timezone.now()
    shown_now = {row["slug"] for row in statement.values(now)}
    shown_later = {row["slug"] for row in statement.values(now + datetime.timedelta(days=4))}
    shown_in_2026 = {row["slug"] for row in statement.values(BASE + datetime.timedelta(days=1))}

    assert "later" not in shown_now and "later" in shown_later  # on time, same SQL
    assert shown_in_2026 == {"p00", "p01"}
    assert public_pages._statement(*shape, 0, 100) is statement  # compiled once


def test_one_query_for_a_compiled_page(api_client, blog, django_assert_num_queries):
    api_client.get(LIST, {"tag": "courts"})  # compiles the shape and caches the count
    with django_assert_num_queries(2):  # the content version, then the page with its tags
        response = api_client.get(LIST, {"tag": "courts"})
    assert response.json()["count"] == 23


SEARCHES = [
    {"search": "title"},  # every post matches alike: newest first among equal ranks
    {"search": "body", "page_size": 5, "page": 2},
    {"search": "body", "page_size": 5, "page": 5},  # the last, short page
    {"search": '"title 07" or courts'},  # websearch syntax: a phrase, an alternative
    {"search": "title -courts"},
    {"search": "x'; DROP TABLE blog_post; --"},
    {"search": "nothing matches this"},
    {"search": "title", "ordering": "title"},  # ranked the same, then in the order asked
]


@pytest.fixture
def search_calls(monkeypatch):
    """What the compiled search statements were called with, per request."""
    calls = []
    ranking, page = filters.ranked_visible_matches, api_views.search_page_rows

    def spy_ranking(text):
        calls.append(("ranking", text))
        return ranking(text)

    def spy_page(ids, text):
        calls.append(("page", len(ids)))
        return page(ids, text)

    monkeypatch.setattr(filters, "ranked_visible_matches", spy_ranking)
    monkeypatch.setattr(api_views, "search_page_rows", spy_page)
    return calls


@pytest.mark.parametrize("params", SEARCHES, ids=[str(shape) for shape in SEARCHES])
def test_a_compiled_search_is_what_the_orm_gives(
    api_client, blog, search_calls, monkeypatch, params
):
    for post in Post.objects.filter(slug__in=["p03", "p07"]):
        post.body = "A body on courts, courts and more courts."
        post.save()
    refresh_search_vectors()
    compiled = api_client.get(LIST, params)
    twice = api_client.get(LIST, params)
    assert [kind for kind, _ in search_calls].count("ranking") == 2

    anonymous = Post.objects.readable_by(AnonymousUser())
    monkeypatch.setattr(filters, "ranked_visible_matches", lambda t: ranked_matches(anonymous, t))
    monkeypatch.setattr(api_views, "reads_compiled", lambda request: False)
    from_the_orm = api_client.get(LIST, params)

    assert compiled.status_code == twice.status_code == from_the_orm.status_code == 200
    assert compiled.json() == twice.json() == from_the_orm.json()
    slugs = {item["slug"] for item in compiled.json()["results"]}
    assert not slugs & {"draft", "archived", "later"}
    if compiled.json()["results"] and "ordering" not in params:
        assert ("page", len(compiled.json()["results"])) in search_calls


def test_the_best_matches_come_first_with_their_snippets_marked(api_client, blog):
    for post in Post.objects.filter(slug__in=["p03", "p07"]):
        post.body = "A body on <b>courts</b>, courts and more courts."
        post.save()
    refresh_search_vectors()
    results = api_client.get(LIST, {"search": "courts body", "page_size": 2}).json()["results"]
    assert [item["slug"] for item in results] == ["p07", "p03"]  # the newer of two equals
    assert results[0]["highlight"].count("<mark>courts</mark>") == 3
    assert "<b>" not in results[0]["highlight"]  # the author's markup is text, escaped


@pytest.mark.parametrize("params", [{"tag": "courts"}, {"author": "bob"}, {"tag": ""}])
def test_a_filtered_search_is_ranked_by_the_orm(api_client, blog, search_calls, params):
    response = api_client.get(LIST, {"search": "title", **params})
    assert response.status_code == 200
    assert [kind for kind, _ in search_calls] == ["page"]  # the ranking was the ORM's


def test_a_signed_in_readers_search_takes_the_orm_path(jwt_client_for, blog, search_calls):
    alice = AuthorFactory._meta.model.objects.get(username="alice")
    found = jwt_client_for(alice).get(LIST, {"search": "body", "page_size": 100}).json()
    assert search_calls == []
    assert "draft" in {item["slug"] for item in found["results"]}  # her own draft


def detail(slug):
    return reverse("post-detail", args=[slug])


def test_a_compiled_detail_is_what_the_orm_gives(api_client, blog, media_storage, monkeypatch):
    cover = Image.objects.create(
        key="cover1",
        original="images/cover1.jpg",
        alt_text="A courtroom",
        format="jpeg",
        width=1200,
        height=800,
        size_bytes=1000,
        renditions=[{"name": "images/cover1-480.webp", "width": 480, "height": 320}],
    )
    Post.objects.filter(slug="p03").update(cover_image=cover)
    post = Post.objects.get(slug="p05")
    for status in (CommentStatus.APPROVED, CommentStatus.APPROVED, CommentStatus.PENDING):
        Comment.objects.create(post=post, author_name="R", body="Noted.", status=status)
    slugs = ["p03", "p05", "p22", "later", "draft", "none-such"]

    compiled = [api_client.get(detail(slug)) for slug in slugs]
    monkeypatch.setattr(api_views, "reads_compiled", lambda request: False)  # the ORM path
    from_the_orm = [api_client.get(detail(slug)) for slug in slugs]

    assert [r.status_code for r in compiled] == [200, 200, 200, 404, 404, 404]
    assert [r.json() for r in compiled] == [r.json() for r in from_the_orm]
    assert compiled[0].json()["cover_image"]["renditions"][0]["width"] == 480  # JSON decoded
    assert compiled[1].json()["comment_count"] == 2
    assert [tag["slug"] for tag in compiled[2].json()["tags"]] == ["courts"]


def test_a_compiled_detail_is_one_query(api_client, blog, django_assert_num_queries):
    api_client.get(detail("p01"))  # compiled on first use
    with django_assert_num_queries(2):  # the content version, then the post
        assert api_client.get(detail("p02")).status_code == 200


# Prepared statements (core/postgresql/prepared.py). Outside a transaction only: these tests
# commit their data, as a request in production does.
prepared_db = pytest.mark.django_db(transaction=True)
PREPARED_URLS = [
    LIST,
    f"{LIST}?page_size=5",
    f"{LIST}?page_size=5&page=5",  # not a first page: not prepared
    detail("p03"),
    detail("later"),  # not yet published: 404
    detail("none-such"),
    f"{LIST}?tag=courts",  # a filter value decides the plan: not prepared
]


def prepared_statements() -> list[tuple[str, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE name LIKE 'lawvriksh%%' ORDER BY name"
        )
        return cursor.fetchall()


def answers(client) -> list[tuple[int, bytes]]:
    return [(r.status_code, r.content) for r in map(client.get, PREPARED_URLS)]


@prepared_db
def test_the_public_page_and_a_post_run_prepared_with_a_generic_plan(
    api_client, blog, settings, fresh_session
):
    first = answers(api_client)
    again = answers(api_client)
    statements = prepared_statements()
    settings.DATABASE_GENERIC_PLANS = False
    plain = answers(api_client)

    assert [status for status, _ in first] == [200, 200, 200, 200, 404, 404, 200]
    assert first == again == plain
    # The two first pages and the detail: planned once each, never again.
    assert len(statements) == 3
    assert all(generic >= 2 and custom == 0 for _, generic, custom in statements)
    assert prepared_statements() == statements  # switched off: nothing more was prepared


@prepared_db
def test_a_process_prepares_a_bounded_number_of_statements(
    api_client, blog, fresh_session, monkeypatch
):
    monkeypatch.setattr(prepared, "MAX_STATEMENTS", 2)
    sizes = [api_client.get(LIST, {"page_size": size}) for size in (1, 2, 3, 4)]
    assert [len(response.json()["results"]) for response in sizes] == [1, 2, 3, 4]
    assert len(prepared_statements()) == 2  # the others were planned as before
    assert api_client.get(detail("p03")).status_code == 200
    assert len(prepared_statements()) == 2


@prepared_db
def test_in_a_transaction_nothing_is_prepared(api_client, blog, fresh_session):
    with transaction.atomic():
        in_transaction = answers(api_client)
        assert prepared_statements() == []
    assert answers(api_client) == in_transaction


@prepared_db
def test_a_session_that_lost_its_statements_prepares_them_again(api_client, blog, fresh_session):
    first = answers(api_client)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # a pooler's other server connection: none there
    assert answers(api_client) == first
    assert len(prepared_statements()) == 3


@prepared_db
def test_a_session_that_has_them_already_uses_them(api_client, blog, fresh_session):
    first = answers(api_client)
    connection._prepared_names = set()  # another process prepared them on this session
    assert answers(api_client) == first
    assert len(prepared_statements()) == 3


@prepared_db
def test_a_column_type_changed_under_a_statement_prepares_it_again(
    api_client, blog, fresh_session
):
    first = answers(api_client)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE blog_category ALTER COLUMN name TYPE text")
    try:
        assert answers(api_client) == first  # "cached plan must not change result type"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE blog_category ALTER COLUMN name TYPE varchar(100)")


@prepared_db
def test_behind_pgbouncer_in_transaction_mode_every_reader_gets_its_own_post(blog, pgbouncer):
    """Eight readers share PgBouncer's four server connections: each connection holds the
    statements some readers prepared and not others', so readers find them missing, or
    present although they never prepared them; each still gets exactly the post it asked
    for."""
    slugs = [f"p{n:02d}" for n in range(23)]
    failures, done = [], []

    def reader(seed: int):
        own = connections.create_connection("default")
        own.settings_dict = {**own.settings_dict, "HOST": "127.0.0.1", "PORT": pgbouncer}
        connections["bouncer"] = own
        chance = random.Random(seed)
        try:
            for _ in range(40):
                slug = chance.choice(slugs)
                found = api_views._public_detail.objects(timezone.now(), slug, using="bouncer")
                if [post.slug for post in found] != [slug]:
                    failures.append((slug, found))
                page = public_pages._statement(PostViewSet, (), ("-published_at",), 0, 20)
                if len(page.values(timezone.now(), using="bouncer")) != 20:
                    failures.append(("page", slug))
            done.append(seed)
        finally:
            own.close()
            del connections["bouncer"]

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(done) == list(range(8))
