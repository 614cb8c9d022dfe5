"""Connection settings for a PostgreSQL LISTEN session of its own (the deployment worker's
wake-up, each web process's content-version memory)."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def listen_connection_params(alias: str = DEFAULT_DB_ALIAS) -> dict:
    """psycopg.connect() keywords for `alias`: Django's own, or DATABASE_DIRECT_URL for the
    default database when set (NeonDB's pooled host does not pass LISTEN through; its
    direct host does)."""
    params = connections[alias].get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    direct = getattr(settings, "DATABASE_DIRECT_URL", "")
    if direct and alias == DEFAULT_DB_ALIAS:
        params["conninfo"] = direct
        for key in ("dbname", "host", "port", "user", "password"):
            params.pop(key, None)
    return params
