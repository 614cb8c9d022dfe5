"""Production: every secret from the environment, PostgreSQL only, HTTPS-hardened."""

import logging

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F401, F403
from config.settings.base import DATABASES, MIDDLEWARE, env
from config.settings.database import is_postgres

MIN_SECRET_KEY_LENGTH = 50

DEBUG = False

SECRET_KEY = env("SECRET_KEY", default="")
if len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        f"SECRET_KEY must be set to a random string of at least {MIN_SECRET_KEY_LENGTH} "
        "characters in production (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must list the host names this site answers to in production "
        "(comma-separated, e.g. blog.example.com)"
    )

if "DATABASE_URL" not in env or not is_postgres(DATABASES["default"]):
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL in production "
        "(postgres://user:password@host:5432/name?sslmode=require)"
    )

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# SECURITY: TLS ends at the proxy (nginx, a cloud load balancer), which sets this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Health probes come from inside the host/cluster over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Email is off until EMAIL_URL names a server: Django's deploy check refuses the console
# backend, and approvers should not be told they get mail that goes nowhere.
if not env("EMAIL_URL", default=""):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}
    NOTIFICATIONS_EMAIL = False
# Webhook bodies are signed but not encrypted: endpoints are https:// in production.
NOTIFICATIONS_ALLOW_HTTP = env.bool("NOTIFICATIONS_ALLOW_HTTP", default=False)
# ... and never into this network (metadata services, the database) unless allowed.
NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES", default=False
)

# STATIC: hashed, compressed files served by whitenoise (collectstatic runs at image build).
MIDDLEWARE = list(MIDDLEWARE)  # right after SecurityMiddleware, as whitenoise asks
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": MEDIA_STORAGE,  # noqa: F405
    "staticfiles": {"BACKEND": "core.staticfiles.StaticFilesStorage"},
    "backups": BACKUP_STORAGE,  # noqa: F405
}

LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405
# Python's warnings through logging too: one format on stdout.
logging.captureWarnings(True)
