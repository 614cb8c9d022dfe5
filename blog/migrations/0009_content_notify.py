"""Every statement that writes posts or the content version notifies `lawvriksh_content`
(delivered at commit), so each process's memory of the version (blog.content_state) is
forgotten at once, whichever process, host or shell made the change. PostgreSQL only."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION lawvriksh_content_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('lawvriksh_content', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
TABLES = ("blog_post", "blog_contentversion")


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_content_notify"
            f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION lawvriksh_content_notify()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_content_notify ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS lawvriksh_content_notify()")


class Migration(migrations.Migration):

    dependencies = [("blog", "0008_media_library")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
