"""Issue 12 on real parts: three images on the Docker Engine — A, A plus a migration that adds
a column, and that plus one that drops it — each with the plan `manage.py migration_plan`
computes inside it; deployed and rolled back through the worker on the docker backend over
real PostgreSQL: the migrate step, the backward-compatibility gate, the allowed and the
refused rollback, the reverse way out and the restore way out."""

import base64
import json
import secrets
import urllib.request

import psycopg
import pytest
from django.urls import reverse

from core.roles import RELEASE_MANAGER
from releases import deployments as rules
from releases import services
from releases.models import Backup, DeploymentStatus, Environment
from releases.services import Actor
from tests.containers.conftest import (
    SHA_A,
    build_row,
    commit_on,
    derive_image,
    docker_staging_on_fresh_database,
    fresh_database,
    migration_plan_in,
)
from tests.factories import UserFactory
from tests.releases.test_migration_gate import roll_back, run

S = DeploymentStatus
pytestmark = pytest.mark.django_db(transaction=True)
SHA_ADD, SHA_DROP = "ad" * 20, "d0" * 20
ADD = "9001_post_subtitle"
DROP = "9002_remove_post_subtitle"
ADD_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("blog", "{parent}")]
    operations = [
        migrations.AddField(
            "post", "subtitle", models.CharField(max_length=200, null=True, blank=True)
        )
    ]
"""
DROP_MIGRATION = f"""from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("blog", "{ADD}")]
    operations = [migrations.RemoveField("post", "subtitle")]
"""


def with_migration(engine, tag, parent, name, source, sha) -> str:
    """`parent` plus one migration file in blog/migrations, reporting commit `sha`."""
    encoded = base64.b64encode(source.encode()).decode()
    write = (
        "import base64; open('blog/migrations/{name}.py', 'wb')"
        ".write(base64.b64decode('{encoded}'))"
    ).format(name=name, encoded=encoded)
    return derive_image(
        engine,
        tag,
        parent,
        f'USER root\nRUN python3 -c "{write}"\nENV GIT_SHA={sha}\nUSER 10001:10001',
    )


def has_subtitle(database_url) -> bool:
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as connection:
        return bool(
            connection.execute(
                "SELECT 1 FROM information_schema.columns "
                "WHERE table_name = 'blog_post' AND column_name = 'subtitle'"
            ).fetchone()
        )


def readiness(port) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/readyz", headers={"Host": "localhost"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def staging(engine, monkeypatch, settings, backup_dir):
    with docker_staging_on_fresh_database(engine, "migrations", monkeypatch, settings) as env:
        env.backups_dir = backup_dir
        backup_dir.mkdir(parents=True, exist_ok=True)
        yield env


@pytest.fixture
def releases(engine, images):
    """{"a", "add", "drop"}: builds with their digests and their plans from inside them."""
    from django.db.migrations.loader import MigrationLoader

    parent = [name for app, name in MigrationLoader(None).graph.leaf_nodes() if app == "blog"]
    add = with_migration(
        engine, "adds-column", images["a"], ADD, ADD_MIGRATION.format(parent=parent[0]), SHA_ADD
    )
    drop = with_migration(engine, "drops-column", add, DROP, DROP_MIGRATION, SHA_DROP)
    builds = {}
    with fresh_database("lawvriksh_migration_plan") as empty:
        for n, (key, image, sha) in enumerate(
            [("a", images["a"], SHA_A), ("add", add, SHA_ADD), ("drop", drop, SHA_DROP)],
            start=71,
        ):
            build = build_row(image, sha, n)
            services.build_report(
                actor=Actor(),
                repository=build.repository,
                tag=build.tag,
                migrations=migration_plan_in(engine, image, empty),
            )
            build.refresh_from_db()
            builds[key] = build
    return builds


def test_add_then_drop_a_column_with_the_gate_and_both_ways_back(
    engine, staging, releases, client
):
    a, add, drop = releases["a"], releases["add"], releases["drop"]
    plans = {key: {e["name"]: e for e in b.migrations} for key, b in releases.items()}
    # The linter's verdicts, computed inside each image.
    assert ADD not in plans["a"] and plans["add"][ADD]["backward_compatible"] is True
    assert plans["drop"][DROP]["backward_compatible"] is False
    assert [i["code"] for i in plans["drop"][DROP]["issues"]] == ["DROP_COLUMN"]
    assert plans["drop"][DROP]["reversible"] is True
    port, url = staging.port, staging.database_url

    first = run(staging, a)
    assert first.status == S.SUCCEEDED, first.log
    assert not has_subtitle(url)

    adding = run(staging, add)
    assert adding.status == S.SUCCEEDED, adding.log
    assert f"blog.{ADD}: backward compatible" in adding.log
    assert f"Applying blog.{ADD}" in adding.log
    assert has_subtitle(url) and commit_on(port) == SHA_ADD

    # Back to A across the compatible migration: allowed; A serves a schema ahead of it.
    back = roll_back(staging, a)
    assert back.status == S.SUCCEEDED, back.log
    assert f"left applied, all backward compatible: blog.{ADD}" in back.log
    assert commit_on(port) == SHA_A and has_subtitle(url)
    ready = readiness(port)
    assert ready["migrations"] == "ahead" and f"blog.{ADD}" in ready["unknown_migrations"]
    # The smoke tests and the Releases page say so too.
    [readyz] = [c for c in back.smoke_result["checks"] if c["path"] == "/readyz"]
    assert readyz["detail"] == f"HTTP 200, schema ahead: blog.{ADD}"
    client.force_login(UserFactory(username="rm", is_staff=True, roles=[RELEASE_MANAGER]))
    page = client.get(reverse("admin:releases_dashboard")).content.decode()
    assert f"/readyz: HTTP 200, schema ahead: blog.{ADD}" in page

    # The drop is refused until someone says why it is safe.
    with pytest.raises(rules.Refused) as refused:
        run(staging, drop)
    assert refused.value.code == "migrations_incompatible"
    assert f"blog.{DROP} (DROP_COLUMN)" in refused.value.messages[0]
    assert has_subtitle(url)
    dropping = run(staging, drop, acknowledge="no release reads subtitle")
    assert dropping.status == S.SUCCEEDED, dropping.log
    assert f"Applying blog.{DROP}" in dropping.log and not has_subtitle(url)

    # Rolling back to the build that added the column would leave it dropped: refused.
    with pytest.raises(rules.Refused) as across:
        roll_back(staging, add)
    assert across.value.code == "rollback_across_migrations"
    assert "reverse them first" in across.value.messages[0]

    # Way out 1: reverse the drop first, from the image that applied it, then switch.
    reversing = roll_back(staging, add, reverse_migrations=True)
    assert reversing.status == S.SUCCEEDED, reversing.log
    assert f"Unapplying blog.{DROP}" in reversing.log
    assert "migrate: 1 migration(s) unapplied" in reversing.log
    log = reversing.log.splitlines()
    unapplied = next(i for i, line in enumerate(log) if "unapplied in" in line)
    switched = next(i for i, line in enumerate(log) if "environment variables set" in line)
    assert unapplied < switched  # the schema first, then the traffic
    assert has_subtitle(url) and commit_on(port) == SHA_ADD

    # Way out 2: staging backs up before each deployment; the drop again, then restore the
    # backup the refusal names (in a one-off container of the image, as the runbook says)
    # and roll back acknowledging it.
    Environment.objects.filter(pk=staging.pk).update(backup_before_deploy=True)
    again = run(staging, drop, acknowledge="dropping again")
    assert again.status == S.SUCCEEDED and not has_subtitle(url), again.log
    backup = Backup.objects.get(pk=again.backup_id)
    with pytest.raises(rules.Refused) as named:
        roll_back(staging, add)
    assert backup.name in named.value.messages[0]
    restore(engine, staging, backup, again.image)
    assert has_subtitle(url)
    restored = roll_back(staging, add, acknowledge=f"restored {backup.name}")
    assert restored.status == S.SUCCEEDED, restored.log
    assert commit_on(port) == SHA_ADD


def restore(engine, staging, backup, image) -> None:
    """`manage.py restore NAME --force --confirm DB` in a one-off container of the image, with
    the environment's DATABASE_URL (the runbook's way): the image's pg_restore 17 against
    this machine's PostgreSQL 15, so the route around `transaction_timeout` is taken."""
    database = staging.database_url.rsplit("/", 1)[1]
    output = engine.containers.run(
        image,
        ["python3", "manage.py", "restore", backup.name, "--force", "--confirm", database],
        environment={
            "WAIT_FOR_DB": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "restore",
            "DATABASE_URL": staging.database_url,
            "BACKUP_DIR": "/backups",
            "ENVIRONMENT_NAME": "staging",
        },
        volumes={str(staging.backups_dir): {"bind": "/backups", "mode": "ro"}},
        network_mode="host",
        user="0",  # the test's backup files are its own (0600), as the worker writes them
        remove=True,
    ).decode()
    assert "identical to the backup" in output, output
