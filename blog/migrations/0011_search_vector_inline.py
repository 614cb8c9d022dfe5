"""Keep each post's search vector in its row (PostgreSQL's STORAGE MAIN); PostgreSQL only.

A search tests and ranks up to SEARCH_CANDIDATES rows' vectors. With the default storage
(EXTENDED) a row over ~2 KB has its largest values moved to the TOAST table, and the vector
(~1 KB) was one of them: every candidate then cost a TOAST index lookup and chunk reads,
8.5 buffers a row instead of 1 (bench/README.md, "Search at N=100,000"). MAIN moves the
body and its HTML out first and keeps the vector in the row unless the row exceeds a page.

The storage mode applies to values written from now on, so existing vectors are written
again, in batches of BATCH posts. The migration stays atomic (a pooler's transaction holds
the migration lock: core.management.commands.prepare_database), so edits to posts wait for
it: ~12 s at 100,000 posts on the bench machine, well under a second at a few thousand.
"""

from django.db import migrations

BATCH = 5_000
REWRITE = (
    "UPDATE blog_post SET search_vector = search_vector || ''::tsvector "
    "WHERE id >= %s AND id < %s AND search_vector IS NOT NULL"
)


def keep_vectors_in_rows(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE blog_post ALTER COLUMN search_vector SET STORAGE MAIN")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM blog_post")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        schema_editor.execute(REWRITE, [start, start + BATCH])


def default_storage(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE blog_post ALTER COLUMN search_vector SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [("blog", "0010_post_not_trashed_recent")]

    operations = [migrations.RunPython(keep_vectors_in_rows, default_storage)]
