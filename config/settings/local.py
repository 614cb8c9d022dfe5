"""Local development: DEBUG on, SQLite by default, a throwaway secret key."""

from config.settings.base import *  # noqa: F401, F403
from config.settings.base import ALLOWED_HOSTS, REST_FRAMEWORK, SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=True)
# A fixed key is fine here: local mode never serves real users.
SECRET_KEY = SECRET_KEY or "local-development-only-not-secret-0123456789abcdefghijklmnop"
ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]
if "rest_framework.renderers.BrowsableAPIRenderer" not in (
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"]
):
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
