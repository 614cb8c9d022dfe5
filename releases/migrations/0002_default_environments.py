"""Staging and production exist on every install (editable in the admin)."""

from django.db import migrations

from releases.defaults import ensure_default_environments


def create_environments(apps, schema_editor):
    ensure_default_environments(
        apps.get_model("releases", "Environment"), using=schema_editor.connection.alias
    )


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]

    operations = [migrations.RunPython(create_environments, migrations.RunPython.noop)]
