"""Search vectors are stored in their posts' rows: ranking candidates reads no TOAST."""

import importlib

import pytest
from django.db import connection
from django.db.models import Func, IntegerField

from blog.models import Post
from tests.blog.factories import make_post

pytestmark = pytest.mark.django_db
POSTS = 30


def long_body(n: int) -> str:
    # Distinct words compress poorly: the vector alone (~2.4 KB) is over PostgreSQL's 2 KB
    # TOAST threshold, and the body and its HTML too, as a long article's are.
    return "common " + " ".join(f"w{n}x{word}q" for word in range(220))


def buffers_and_rows(sql: str, params) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    top = plan[0]["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"], top["Actual Rows"]


def test_the_search_vector_column_keeps_its_values_in_the_row():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'blog_post'::regclass AND attname = 'search_vector'"
        )
        assert cursor.fetchone() == ("m",)  # MAIN: out of the row only if it cannot fit


def long_posts() -> list[int]:
    ids = [
        make_post(slug=f"long-{n}", title=f"Long {n}", body=long_body(n)).pk for n in range(POSTS)
    ]
    stored = Func("search_vector", function="pg_column_size", output_field=IntegerField())
    sizes = Post.objects.filter(pk__in=ids).values_list(stored, flat=True)
    assert min(sizes) > 2100  # each over the TOAST threshold alone
    return ids


def toast_reads(ids) -> int:
    """Buffers that ranking these posts' vectors reads beyond their rows: what a search does
    with each candidate (blog.search.candidates), against reading a short column of the
    same rows (the index and heap pages alone)."""
    ranked = buffers_and_rows(
        "SELECT id, ts_rank(search_vector, plainto_tsquery('english', 'common')) "
        "FROM blog_post WHERE id = ANY(%s)",
        [ids],
    )
    titles = buffers_and_rows("SELECT id, length(title) FROM blog_post WHERE id = ANY(%s)", [ids])
    assert ranked[1] == titles[1] == len(ids)
    return ranked[0] - titles[0]


def test_ranking_a_post_reads_its_row_only_however_long_the_post():
    # Moved to TOAST (the default storage), each vector also cost a TOAST index lookup and
    # its chunks: 3 buffers or more a row.
    assert toast_reads(long_posts()) <= 5


def test_the_migration_moves_vectors_written_before_it_into_their_rows():
    migration = importlib.import_module("blog.migrations.0011_search_vector_inline")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE blog_post ALTER COLUMN search_vector SET STORAGE EXTENDED")
    ids = long_posts()
    before = list(Post.objects.filter(pk__in=ids).values_list("search_vector", flat=True))
    assert toast_reads(ids) >= 2 * POSTS  # as they were stored before the migration
    with connection.cursor() as cursor:
        # The test's own inserts leave deferred foreign-key checks, which ALTER TABLE refuses.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with connection.schema_editor() as editor:
        migration.keep_vectors_in_rows(None, editor)
    assert toast_reads(ids) <= 5
    after = list(Post.objects.filter(pk__in=ids).values_list("search_vector", flat=True))
    assert after == before  # the same vectors, only stored elsewhere
