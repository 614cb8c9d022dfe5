"""Configuration from the environment: production refuses bad config, check --deploy is clean."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.database import database_from_url
from tests.support.processes import clean_environment, production_environment, run_manage

pytestmark = pytest.mark.slow


def assert_one_line_error(result, variable: str):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error:")
    assert variable in lines[0]


def test_production_settings_pass_check_deploy_without_warnings():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_environment()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DATABASE_URL": "sqlite:///prod.sqlite3"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u:p@host:notaport/db"}, "DATABASE_URL"),
        ({"SEARCH_CANDIDATES": "0"}, "SEARCH_CANDIDATES"),
    ],
)
def test_production_refuses_bad_config_with_one_line(overrides, variable):
    result = run_manage("check", env=production_environment(**overrides))
    assert_one_line_error(result, variable)


def test_production_refuses_missing_database_url():
    env = production_environment()
    del env["DATABASE_URL"]
    assert_one_line_error(run_manage("check", env=env), "DATABASE_URL")


@pytest.mark.parametrize("url", ["foo", "http://example.com/db", "postgres://", ""])
def test_malformed_database_url_is_one_clear_line_in_local_mode(url):
    env = clean_environment(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=url)
    assert_one_line_error(run_manage("check", env=env), "DATABASE_URL")


def test_local_mode_defaults_to_sqlite_with_no_configuration():
    env = clean_environment(DJANGO_SETTINGS_MODULE="config.settings.local")
    result = run_manage(
        "shell", "-c", "from django.db import connection; print(connection.vendor)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "sqlite"


def test_postgres_url_keeps_sslmode_and_persistent_connections(tmp_path):
    config = database_from_url(
        "postgres://blog:s3cret@db.example.neon.tech:5432/blog?sslmode=require",
        conn_max_age=120,
        base_dir=tmp_path,
    )
    assert config["ENGINE"] == "core.postgresql"
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["connect_timeout"] == 5
    assert (config["HOST"], config["PORT"], config["NAME"]) == (
        "db.example.neon.tech",
        5432,
        "blog",
    )
    assert config["CONN_MAX_AGE"] == 120
    assert config["CONN_HEALTH_CHECKS"] is True


def test_sqlite_path_is_relative_to_the_project(tmp_path):
    config = database_from_url("sqlite:///db.sqlite3", conn_max_age=60, base_dir=tmp_path)
    assert Path(config["NAME"]) == tmp_path / "db.sqlite3"
    assert config["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize("url", ["mysql://x/y", "nonsense", "redis://localhost/0"])
def test_database_from_url_rejects_what_the_project_cannot_use(url, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_from_url(url, conn_max_age=0, base_dir=tmp_path)


def test_postgres_url_may_name_a_unix_socket_directory(tmp_path):
    config = database_from_url(
        "postgres://blog@%2Fvar%2Frun%2Fpostgresql:5432/blog", conn_max_age=0, base_dir=tmp_path
    )
    assert config["HOST"] == "/var/run/postgresql"
