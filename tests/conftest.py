"""Fixtures shared by every test: an empty cache, API clients, users of each role, a
client for GitLab's webhook, and a session without prepared statements."""

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from core.postgresql import prepared
from tests.factories import AuthorFactory, EditorFactory, UserFactory

# Fixtures of real parts used by tests in several folders.
pytest_plugins = ["tests.support.pgbouncer"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (throttle counters, cached pages)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous DRF client speaking JSON."""
    return APIClient()


@pytest.fixture
def jwt_client_for():
    """Returns a function giving a DRF client that sends a real JWT for the given user."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def author(db):
    return AuthorFactory()


@pytest.fixture
def editor(db):
    return EditorFactory()


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def author_client(author, jwt_client_for):
    return jwt_client_for(author)


@pytest.fixture
def editor_client(editor, jwt_client_for):
    return jwt_client_for(editor)


WEBHOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def hook(settings):
    """An API client for GitLab's webhook: the secret is configured, signing is off."""
    settings.GITLAB_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GITLAB_WEBHOOK_SIGNING_TOKEN = ""
    return APIClient()


@pytest.fixture
def backup_dir(settings, tmp_path):
    """The backups storage (manage.py backup / restore, the worker's) in this test's own
    directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    return tmp_path / "backups"


@pytest.fixture
def media_storage(settings, tmp_path):
    """The default (media) storage on the local filesystem, in this test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": settings.MEDIA_URL},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def fresh_session(monkeypatch):
    """The test's connection without statements prepared by an earlier test, and a process
    that has chosen none yet (core/postgresql/prepared.py)."""
    monkeypatch.setattr(prepared, "_chosen", set())
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    connection._prepared_names = set()
