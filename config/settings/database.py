"""Turns DATABASE_URL into a Django DATABASES entry, refusing URLs it cannot use."""

import warnings
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

DJANGO_POSTGRES_ENGINE = "django.db.backends.postgresql"
# Django's backend with the health check skipped on a just-used connection (core/postgresql).
POSTGRES_ENGINE = "core.postgresql"
SQLITE_ENGINE = "django.db.backends.sqlite3"
SUPPORTED_ENGINES = {DJANGO_POSTGRES_ENGINE, SQLITE_ENGINE}


def database_from_url(
    url: str, *, conn_max_age: int, base_dir: Path, connect_timeout: int = 5
) -> dict:
    """Parse a postgres:// or sqlite:// URL; raise ImproperlyConfigured naming DATABASE_URL."""
    problem = "expected postgres://user:password@host:port/name or sqlite:///path"
    try:
        with warnings.catch_warnings():
            # django-environ only warns on unknown schemes; we turn that into an error below.
            warnings.simplefilter("ignore")
            config = environ.Env.db_url_config(url)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed ({error}); {problem}")
    engine = config.get("ENGINE")
    if engine not in SUPPORTED_ENGINES:
        raise ImproperlyConfigured(
            f"DATABASE_URL has an unsupported scheme ({url.split(':', 1)[0]!r}); {problem}"
        )
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL names no database; {problem}")
    if engine == SQLITE_ENGINE:
        name = Path(config["NAME"])
        if not name.is_absolute() and config["NAME"] != ":memory:":
            config["NAME"] = str(base_dir / name)
        # SQLite is a local file: a persistent connection buys nothing.
        conn_max_age = 0
    else:
        # A Unix-socket directory travels percent-encoded: postgres://u@%2Frun%2Fpostgresql/db
        config["HOST"] = unquote(config.get("HOST") or "")
        # Fail fast instead of hanging when the server is unreachable (e.g. /readyz).
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", connect_timeout)
        config["ENGINE"] = POSTGRES_ENGINE
    config["CONN_MAX_AGE"] = conn_max_age
    config["CONN_HEALTH_CHECKS"] = conn_max_age > 0
    return config


def is_postgres(config: dict) -> bool:
    """True when a DATABASES entry points at PostgreSQL."""
    return config.get("ENGINE") in (POSTGRES_ENGINE, DJANGO_POSTGRES_ENGINE)
