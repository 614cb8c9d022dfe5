"""Backups that restore: drills on real PostgreSQL (seed, back up, change, restore into a new
database, compare every table row by row), to a local directory and to an S3-compatible
server (moto's server mode, real HTTP); corrupt files, confirmation, retention, SQLite."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from blog.models import Comment, Post
from core import backups
from tests.blog.factories import CommentFactory, make_post
from tests.support.s3 import s3_server, s3_storage

pytestmark = pytest.mark.django_db(transaction=True)


# ----------------------------------------------------------------------------- helpers


def live_config() -> dict:
    return connection.settings_dict


def rows_of_every_table(database: str) -> dict[str, list[str]]:
    """Independent of the code under test: every row of every public table, as text, sorted."""
    with backups.connect(live_config(), database) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            table: sorted(
                row[0]
                for row in db.execute(
                    sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
                )
            )
            for table in tables
        }


def databases_named_like(prefix: str) -> set[str]:
    with backups.connect(live_config(), autocommit=True) as db:
        rows = db.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        return {name for (name,) in rows}


def drop_database(name: str) -> None:
    with backups.connect(live_config(), "postgres", autocommit=True) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def seed():
    posts = [make_post(title=f"Drill post {n}", body=f"Body {n} ✓") for n in range(5)]
    for post in posts[:3]:
        CommentFactory(post=post)
    return posts


def change_everything():
    Post.objects.filter(title="Drill post 0").update(title="Changed after the backup")
    Comment.objects.all().delete()
    make_post(title="Written after the backup")


@pytest.fixture
def restored_databases():
    """Drops the databases a test restored into."""
    before = databases_named_like(live_config()["NAME"] + "_")
    yield
    for name in databases_named_like(live_config()["NAME"] + "_") - before:
        drop_database(name)


# ----------------------------------------------------------------------------- drills


def test_a_newer_client_restores_into_an_older_server_through_psql(
    backup_dir, restored_databases, monkeypatch
):
    """pg_restore 17+ opens with `SET transaction_timeout`, which PostgreSQL 15/16 reject; the
    restore then streams the SQL through psql without it (one transaction, first error
    stops). Forced here with the host's own client; the image's 17 against this 15 server
    is tested in tests/containers/test_release_migrations.py."""
    seed()
    snapshot = rows_of_every_table(live_config()["NAME"])
    call_command("backup", "--environment", "drill")
    [manifest] = backups.list_backups("drill")
    seen = []
    monkeypatch.setattr(backups, "_client_major", lambda tool: 17)
    monkeypatch.setattr(
        backups,
        "_pipe_through_psql",
        lambda command, env: seen.append(command) or _pipe(command, env),
    )
    change_everything()
    call_command("restore", manifest.name, "--into", live_config()["NAME"] + "_psql")
    assert seen and "-f" in seen[0]  # the psql route ran
    assert rows_of_every_table(live_config()["NAME"] + "_psql") == snapshot
    # Over the live database, with --clean: still identical.
    call_command("restore", manifest.name, "--force", "--confirm", live_config()["NAME"])
    assert rows_of_every_table(live_config()["NAME"]) == snapshot


_pipe = backups._pipe_through_psql


def test_the_psql_route_stops_at_the_first_error_and_says_why(backup_dir, restored_databases):
    seed()
    call_command("backup", "--environment", "drill")
    [manifest] = backups.list_backups("drill")
    path = backup_dir / manifest.dump_file
    target = live_config()["NAME"] + "_broken"
    with backups.connect(live_config(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
    with backups.connect(live_config(), target, autocommit=True) as db:
        db.execute("CREATE TABLE blog_post (id int)")  # in the way: CREATE TABLE fails
    env = backups.libpq_environment(live_config(), target)
    with pytest.raises(backups.BackupError, match="psql failed: .*already exists"):
        _pipe(["pg_restore", "--no-owner", "--no-privileges", "-f", "-", str(path)], env)
    with backups.connect(live_config(), target) as db:
        tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone()[0] == 1  # one transaction: nothing else was created


def test_restore_drill_into_a_new_database(backup_dir, restored_databases, capsys):
    seed()
    snapshot = rows_of_every_table(live_config()["NAME"])
    assert len(snapshot["blog_post"]) == 5

    call_command("backup", "--environment", "drill")
    printed = capsys.readouterr().out
    assert "backup: stored" in printed and "sha256" in printed
    [manifest] = backups.list_backups("drill")
    assert (backup_dir / manifest.dump_file).stat().st_size == manifest.size
    assert manifest.tables["blog_post"]["rows"] == 5

    change_everything()
    call_command("restore", manifest.name, "--into", live_config()["NAME"] + "_drill")
    printed = capsys.readouterr().out
    assert "identical to the backup" in printed and "untouched" in printed

    assert rows_of_every_table(live_config()["NAME"] + "_drill") == snapshot
    # The live database was not touched.
    assert Post.objects.filter(title="Written after the backup").exists()
    assert not Comment.objects.exists()


@pytest.fixture
def s3_backups(settings):
    """A real S3-compatible server (moto in server mode) with a bucket for backups."""
    with s3_server() as (endpoint, client):
        client.create_bucket(Bucket="lawvriksh-backups")
        settings.STORAGES = {
            **settings.STORAGES,
            "backups": s3_storage(endpoint, "lawvriksh-backups", location="backups"),
        }
        yield client


def test_restore_drill_through_s3_compatible_storage(s3_backups, restored_databases):
    seed()
    snapshot = rows_of_every_table(live_config()["NAME"])
    manifest = backups.create_backup(live_config(), environment="drill", version="9.9.9")
    keys = {
        item["Key"] for item in s3_backups.list_objects_v2(Bucket="lawvriksh-backups")["Contents"]
    }
    assert keys == {f"backups/{manifest.dump_file}", f"backups/{manifest.manifest_file}"}

    change_everything()
    result = backups.restore_backup(
        manifest.name, live_config(), into=live_config()["NAME"] + "_s3drill"
    )
    assert result.matches
    assert rows_of_every_table(result.database) == snapshot


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_a_corrupt_or_truncated_backup_is_refused_before_anything_changes(
    backup_dir, restored_databases, damage
):
    seed()
    manifest = backups.create_backup(live_config(), environment="drill", version="1")
    dump = backup_dir / manifest.dump_file
    data = bytearray(dump.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    before = databases_named_like(live_config()["NAME"] + "_")

    with pytest.raises(CommandError, match="corrupt or truncated.*Nothing was changed"):
        call_command("restore", manifest.name)
    with pytest.raises(CommandError, match="corrupt or truncated"):
        call_command("restore", manifest.name, "--force", "--confirm", live_config()["NAME"])

    assert databases_named_like(live_config()["NAME"] + "_") == before
    assert Post.objects.count() == 5


def test_restore_over_the_live_database_needs_its_name_typed(backup_dir, monkeypatch):
    seed()
    snapshot = rows_of_every_table(live_config()["NAME"])
    manifest = backups.create_backup(live_config(), environment="drill", version="1")
    change_everything()
    changed = rows_of_every_table(live_config()["NAME"])

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("restore", manifest.name, "--force")
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("restore", manifest.name, "--force", "--confirm", "production")
    assert rows_of_every_table(live_config()["NAME"]) == changed

    monkeypatch.setattr("builtins.input", lambda prompt: live_config()["NAME"])
    call_command("restore", "latest", "--force", "--environment", "drill")
    assert rows_of_every_table(live_config()["NAME"]) == snapshot


def test_unknown_names_and_sqlite_get_clear_errors(backup_dir):
    with pytest.raises(CommandError, match="No backup named 'nope'"):
        call_command("restore", "nope")
    with pytest.raises(CommandError, match="No backup of 'nowhere'"):
        call_command("restore", "latest", "--environment", "nowhere")
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    with pytest.raises(backups.BackupError, match="SQLite is not supported"):
        backups.create_backup(sqlite, environment="x", version="1")
    with pytest.raises(backups.BackupError, match="SQLite is not supported"):
        backups.restore_backup("20261130T000000Z_x_1", sqlite)


# ----------------------------------------------------------------------------- retention


def test_retention_keeps_the_newest_by_count_and_age(backup_dir):
    start = datetime.datetime(2026, 11, 1, 3, 0, tzinfo=datetime.UTC)
    names = []
    for day in range(5):
        with time_machine.travel(start + datetime.timedelta(days=day), tick=False):
            names.append(
                backups.create_backup(live_config(), environment="drill", version="1").name
            )
    other = backups.create_backup(live_config(), environment="other", version="1").name

    with time_machine.travel(start + datetime.timedelta(days=4, hours=1), tick=False):
        deleted = backups.apply_retention("drill", keep=3, max_age_days=30)
    assert sorted(deleted) == names[:2]
    assert [m.name for m in backups.list_backups("drill")] == names[:1:-1]
    assert not (backup_dir / f"{names[0]}.dump").exists()

    # Everything older than a day goes, but the newest backup always stays.
    with time_machine.travel(start + datetime.timedelta(days=40), tick=False):
        backups.apply_retention("drill", keep=3, max_age_days=1)
    assert [m.name for m in backups.list_backups("drill")] == [names[-1]]
    assert [m.name for m in backups.list_backups("other")] == [other]
