"""Probes and build info: /healthz, /readyz (also with the database down), /api/v1/version/."""

import json
from http import HTTPStatus

import psycopg
import pytest
from django.conf import settings
from django.urls import reverse

from tests.support.processes import (
    clean_environment,
    gunicorn_server,
    http_get,
    production_environment,
    run_manage,
)


def test_healthz_answers_without_touching_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_when_database_answers_and_migrations_are_applied(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_readyz_tells_a_schema_ahead_of_the_code_from_one_behind(client, monkeypatch):
    from django.db import connection

    from core import health

    assert client.get(reverse("readyz")).json()["migrations"] == "applied"
    # Ahead: a newer release applied a migration this code does not know (still serving).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('blog', '9999_added_by_a_newer_release', now())"
        )
    ahead = client.get(reverse("readyz"))
    assert ahead.status_code == HTTPStatus.OK
    assert ahead.json()["migrations"] == "ahead"
    assert ahead.json()["unknown_migrations"] == ["blog.9999_added_by_a_newer_release"]
    # Another app's rows (not ours) are not counted.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE name LIKE '9999_%%'")
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('legacy', 'x', now())"
        )
    assert client.get(reverse("readyz")).json()["migrations"] == "applied"

    # Behind: this code has a migration the database lacks.
    from django.db.migrations.loader import MigrationLoader

    monkeypatch.setattr(health, "_migrations_known_applied", False)
    [latest] = [n for a, n in MigrationLoader(None).graph.leaf_nodes() if a == "releases"]
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'releases' AND name = %s", [latest]
        )
    behind = client.get(reverse("readyz"))
    assert behind.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert behind.json()["migrations"] == "behind"
    assert f"releases.{latest}" in behind.json()["unapplied"]


def test_probes_refuse_writes(client):
    assert client.post(reverse("healthz")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_version_reports_build_information(api_client, settings):
    settings.APP_VERSION = "1.4.2"
    settings.GIT_SHA = "a" * 40
    settings.BUILD_TIME = "2026-11-26T10:00:00Z"
    response = api_client.get(reverse("api-version"))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "version": "1.4.2",
        "commit": "a" * 40,
        "build_time": "2026-11-26T10:00:00Z",
    }


@pytest.mark.slow
def test_database_down_gives_readyz_503_while_healthz_stays_200():
    env = production_environment(DATABASE_URL="postgres://postgres@127.0.0.1:1/lawvriksh")
    with gunicorn_server(env) as base_url:
        status, _, body = http_get(f"{base_url}/healthz")
        assert status == HTTPStatus.OK
        status, headers, body = http_get(f"{base_url}/readyz")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"status": "unavailable", "reason": "database unreachable"}


@pytest.fixture
def empty_postgres_database():
    """A freshly created, unmigrated PostgreSQL database, dropped afterwards."""
    admin = settings.DATABASES["default"]
    name = "lawvriksh_readyz_empty"
    params = dict(host=admin["HOST"], port=admin["PORT"] or 5432, user=admin["USER"] or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{admin['USER']}@{admin['HOST']}:{params['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_unapplied_migrations_give_readyz_503_until_migrated(empty_postgres_database):
    env = production_environment(DATABASE_URL=empty_postgres_database)
    with gunicorn_server(env) as base_url:
        status, _, body = http_get(f"{base_url}/readyz")
    assert status == HTTPStatus.SERVICE_UNAVAILABLE
    payload = json.loads(body)
    assert payload["reason"] == "unapplied migrations"
    assert "core.0001_create_roles" in payload["unapplied"]

    migrated = run_manage("migrate", "--noinput", env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    with gunicorn_server(env) as base_url:
        status, _, body = http_get(f"{base_url}/readyz")
    assert status == HTTPStatus.OK, body


@pytest.mark.slow
def test_gunicorn_in_production_mode_reports_version_from_the_environment():
    env = production_environment(
        GIT_SHA="0123456789abcdef0123456789abcdef01234567",
        APP_VERSION="2.0.0",
        BUILD_TIME="2026-11-26T09:30:00Z",
    )
    with gunicorn_server(env) as base_url:
        # Behind the TLS proxy: without the header production redirects to HTTPS.
        status, headers, _ = http_get(f"{base_url}/api/v1/version/")
        assert status == HTTPStatus.MOVED_PERMANENTLY
        assert headers["Location"].startswith("https://")
        status, headers, body = http_get(
            f"{base_url}/api/v1/version/", headers={"X-Forwarded-Proto": "https"}
        )
    assert status == HTTPStatus.OK
    assert json.loads(body) == {
        "version": "2.0.0",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "build_time": "2026-11-26T09:30:00Z",
    }
    assert "max-age=31536000" in headers["Strict-Transport-Security"]


@pytest.mark.slow
def test_gunicorn_with_missing_secret_stops_with_one_clear_line():
    env = production_environment(SECRET_KEY="")
    with pytest.raises(RuntimeError) as failure:
        with gunicorn_server(env):
            pass
    assert "Configuration error: SECRET_KEY" in str(failure.value)


def test_local_mode_needs_no_secret(tmp_path):
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
    )
    assert run_manage("check", env=env).returncode == 0
