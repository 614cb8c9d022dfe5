"""Every secret setting also from NAME_FILE (Docker and Swarm secrets), its trailing newline
dropped; the worker reads the secrets it hands to releases the same way."""

import pytest

from config.settings.secret_files import read_secret
from tests.releases.test_worker_recovery import database_url
from tests.support.processes import PRODUCTION_SECRET, production_environment, run_manage


@pytest.mark.slow
@pytest.mark.django_db
def test_production_starts_with_secrets_from_files_only(tmp_path):
    secret_key, url = tmp_path / "secret_key", tmp_path / "database_url"
    secret_key.write_text(PRODUCTION_SECRET + "\n")  # as `echo ... > file` leaves it
    url.write_text(database_url() + "\n")
    env = production_environment(SECRET_KEY_FILE=str(secret_key), DATABASE_URL_FILE=str(url))
    del env["SECRET_KEY"], env["DATABASE_URL"]
    checked = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['NAME']); print(len(s.SECRET_KEY))",
        env=env,
    )
    assert checked.returncode == 0, checked.stderr
    name, length = checked.stdout.strip().splitlines()[-2:]
    assert name == database_url().rsplit("/", 1)[1] and int(length) == len(PRODUCTION_SECRET)
    missing = run_manage("check", env={**env, "SECRET_KEY_FILE": str(tmp_path / "nope")})
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_the_worker_reads_a_variable_or_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STAGING_TOKEN", "from-variable")
    assert read_secret("STAGING_TOKEN") == "from-variable"
    (tmp_path / "token").write_text("from-file\n")
    monkeypatch.setenv("STAGING_TOKEN_FILE", str(tmp_path / "token"))
    assert read_secret("STAGING_TOKEN") == "from-file"
    assert read_secret("NOT_SET_ANYWHERE") == ""
