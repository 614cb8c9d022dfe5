"""Test settings: PostgreSQL only, fast hashing, an in-memory cache."""

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F401, F403
from config.settings.base import BASE_DIR, env
from config.settings.database import database_from_url, is_postgres

DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/lawvriksh"

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-used-anywhere-else-0123456789abcdef"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
DATABASES = {
    "default": database_from_url(
        env.str("DATABASE_URL", default=DEFAULT_TEST_DATABASE_URL),
        conn_max_age=0,
        base_dir=BASE_DIR,
    )
}
if not is_postgres(DATABASES["default"]):
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL for the test suite "
        f"(default {DEFAULT_TEST_DATABASE_URL})"
    )
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# locmem by default; TEST_CACHE_URL=redis://… runs the suite on a real shared cache.
CACHES = {"default": env.cache("TEST_CACHE_URL", default="locmemcache://")}
# Uploads of tests that do not pick their own folder (the fuzzers') stay out of the tree.
MEDIA_ROOT = Path(tempfile.gettempdir()) / f"lawvriksh-test-media-{os.getpid()}"
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    },
}
# The content-version memory starts a listener thread on its own connection: only the tests
# that prove it (tests/blog/test_content_state.py) and TEST_CONTENT_LISTEN=1 turn it on.
CONTENT_VERSION_LISTEN = env.bool("TEST_CONTENT_LISTEN", default=False)
