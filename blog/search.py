"""Full-text search: PostgreSQL tsvector (weighted, GIN-indexed) with an icontains fallback."""

import datetime
import functools
import html

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.utils.html import escape, strip_tags
from django.db import connection
from django.contrib.postgres.fields import ArrayField
from django.db.models import BigIntegerField, F, Func, IntegerField, Q, QuerySet, Value
from django.utils import timezone

from core.compiled import CompiledQuery

SEARCH_CONFIG = "english"
# Match markers ts_headline puts around hits: private-use characters no author types, so the
# snippet can be escaped whole and only these become <mark> tags.
MARK_START, MARK_STOP = "\ue000", "\ue001"


VECTOR_WEIGHTS = {"title": "A", "tags": "B", "excerpt": "B", "body": "C"}


def vector_part_sql(part: str, expression: str) -> str:
    """SQL of one weighted part of a post's search vector (title, tags, excerpt or body)."""
    return (
        f"setweight(to_tsvector('{SEARCH_CONFIG}', coalesce({expression}, '')), "
        f"'{VECTOR_WEIGHTS[part]}')"
    )


def weighted_vector_sql(*, title: str, tags: str, excerpt: str, body: str) -> str:
    """The SQL of a post's search vector from four SQL expressions."""
    # Title weighs most, then tags and excerpt, then the body.
    expressions = {"title": title, "tags": tags, "excerpt": excerpt, "body": body}
    return " || ".join(vector_part_sql(part, expressions[part]) for part in VECTOR_WEIGHTS)


_TAG_NAMES_SQL = """(SELECT string_agg(t.name, ' ') FROM blog_tag t
    JOIN blog_post_tags pt ON pt.tag_id = t.id WHERE pt.post_id = p.id)"""
# Built from constants only (no input reaches it).
_REFRESH_SQL = "UPDATE blog_post AS p SET search_vector = " + weighted_vector_sql(  # nosec B608
    title="p.title", tags=_TAG_NAMES_SQL, excerpt="p.excerpt", body="p.body"
)


def uses_postgres() -> bool:
    return connection.vendor == "postgresql"


def refresh_search_vectors(post_ids=None) -> None:
    """Recompute the search vector of these posts (all when None); no-op off PostgreSQL."""
    if not uses_postgres():
        return
    with connection.cursor() as cursor:
        if post_ids is None:
            cursor.execute(_REFRESH_SQL)
        elif post_ids:
            cursor.execute(_REFRESH_SQL + " WHERE p.id = ANY(%s)", [list(post_ids)])


# Ranking reads every match's (large) vector: for a word in most posts that is the whole
# table. Ranking the newest settings.SEARCH_CANDIDATES matches keeps a search fast at any
# size (PostgreSQL walks the newest-first index for common words, the GIN index for rare
# ones); each candidate costs ~2 us of PostgreSQL (its row read, its vector matched and ranked),
# ~9.5 us while the vectors were in the TOAST table (migration blog/0011).


def search_posts(queryset: QuerySet, text: str) -> QuerySet:
    """Posts matching `text`, best first (among the newest SEARCH_CANDIDATES matches)."""
    text = (text or "").strip()
    if not text:
        return queryset.none()
    if not uses_postgres():
        return queryset.filter(
            Q(title__icontains=text) | Q(excerpt__icontains=text) | Q(body__icontains=text)
        )
    return in_ranked_order(queryset, ranked_matches(queryset, text))


def ranked_matches(queryset: QuerySet, text: str) -> list[int]:
    """The ids of the newest SEARCH_CANDIDATES posts of `queryset` matching `text`, best
    first: one pass over their vectors (matched and ranked together)."""
    limit = settings.SEARCH_CANDIDATES
    return _best_first(*candidates(queryset, text, limit).query.sql_with_params())


def ranked_visible_matches(text: str) -> list[int]:
    """`ranked_matches` over the posts any reader sees (an anonymous reader's search with no
    filter): the same statement, compiled once per process (core.compiled), ~2 ms of
    Python less a search. Not planned once for all: a word's rarity decides the plan."""
    statement = _visible_candidates(settings.SEARCH_CANDIDATES)
    return _best_first(*statement.sql_with_params(timezone.now(), text.strip()))


@functools.cache
def _visible_candidates(limit: int) -> CompiledQuery:
    from blog.models import Post

    return CompiledQuery(
        lambda now, text: candidates(Post.objects.visible(now), text, limit),
        datetime.datetime,
        str,
    )


# Best rank first, newest first among equal ranks. Ordered by PostgreSQL into one array:
# fetching the 1,000 (id, rank) rows and sorting them here was ~2 ms of Python a search.
_BEST_FIRST_SQL = """SELECT array_agg(c.id ORDER BY c.rank DESC, c.published_at DESC, c.id DESC)
    FROM ({candidates}) AS c (id, rank, published_at)"""


def _best_first(candidates_sql: str, params) -> list[int]:
    """The ids of a `candidates` statement's rows, best first."""
    with connection.cursor() as cursor:
        cursor.execute(_BEST_FIRST_SQL.format(candidates=candidates_sql), params)
        return cursor.fetchone()[0] or []


def candidates(queryset: QuerySet, text: str, limit: int) -> QuerySet:
    """(id, rank, published_at) of the newest `limit` posts of `queryset` matching `text`."""
    query = SearchQuery(text.strip(), config=SEARCH_CONFIG, search_type="websearch")
    return (
        queryset.filter(search_vector=query)
        .order_by("-published_at", "-id")
        .annotate(rank=SearchRank(F("search_vector"), query))
        .values_list("pk", "rank", "published_at")[:limit]
    )


def in_ranked_order(queryset: QuerySet, ranked: list[int]) -> QuerySet:
    """`queryset` limited to the `ranked` ids, in their order."""
    position = Func(
        Value(ranked, output_field=ArrayField(BigIntegerField())),
        F("pk"),
        function="array_position",
        output_field=IntegerField(),
    )
    return (
        queryset.filter(pk__in=ranked).alias(search_position=position).order_by("search_position")
    )


def search_headlines(post_ids, text: str) -> dict[int, str]:
    """{post id: snippet of its body with <mark> around the matches}, for one page of hits.

    Computed after paginating: ts_headline over every match was the slowest part of a search.
    """
    if not post_ids or not uses_postgres():
        return {}
    from blog.models import Post

    rows = Post.objects.filter(pk__in=post_ids).values_list("pk", headline(text))
    return {pk: highlight_html(snippet) for pk, snippet in rows}


def headline(text: str) -> SearchHeadline:
    """A post's body snippet around the matches of `text`, marked for `highlight_html`."""
    query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
    return SearchHeadline(
        "body",
        query,
        config=SEARCH_CONFIG,
        start_sel=MARK_START,
        stop_sel=MARK_STOP,
        max_words=35,
        min_words=15,
    )


def highlight_html(headline: str) -> str:
    """The snippet as text: the author's markup removed, everything escaped, and only the
    match markers turned into <mark> tags."""
    text = html.unescape(strip_tags(headline))
    escaped = escape(text)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")
