"""Settings shared by every mode; each value comes from the environment or `.env`."""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.settings.database import database_from_url
from config.settings.mailers import mailers_from
from config.settings.secret_files import SecretFileEnv
from core.sentry import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = SecretFileEnv()
# Process environment wins over `.env`; the file is a convenience for local work only.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
TIME_ZONE = env("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
SITE_NAME = env("SITE_NAME", default="LawVriksh Blog")
# The absolute origin used in feeds, sitemaps, canonical URLs and API links.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": database_from_url(
        env.str("DATABASE_URL", default="sqlite:///db.sqlite3"),
        conn_max_age=env.int("CONN_MAX_AGE", default=60),
        base_dir=BASE_DIR,
        connect_timeout=env.int("DATABASE_CONNECT_TIMEOUT", default=5),
    )
}
# A direct (non-pooled) connection for migrations, e.g. NeonDB's endpoint without "-pooler":
# when set, `prepare_database --migrate` migrates over it (core/management/commands/).
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
# The public list page and a post's page as prepared statements with a generic plan, planned
# once per connection (core/postgresql/prepared.py; safe behind any pooler). Off: planned
# on every call, as every other query.
DATABASE_GENERIC_PLANS = env.bool("DATABASE_GENERIC_PLANS", default=True)
# A search ranks the newest SEARCH_CANDIDATES matches (blog/search.py): its cost grows with
# the bound for a common word (bench/README.md measures 1,000 and 500).
SEARCH_CANDIDATES = env.int("SEARCH_CANDIDATES", default=1000)
if SEARCH_CANDIDATES < 1:
    raise ImproperlyConfigured("SEARCH_CANDIDATES must be a whole number from 1.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "corsheaders",
]
LOCAL_APPS = [
    "core",
    "blog",
    "releases",
    "notifications",
]
# django_tasks_db comes after `releases`, whose db_worker command (with heartbeat and
# recovery) wraps and replaces the plain one.
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS + ["django_tasks_db"]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First: its latency covers every other middleware; its labels are route templates.
    "core.metrics.MetricsMiddleware",
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    # A response header only: early, so answers served by the next middleware carry it too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Before CommonMiddleware, as django-cors-headers asks; inert while no origin is allowed.
    "corsheaders.middleware.CorsMiddleware",
    # Cached public post answers, before sessions, CSRF, auth and lockouts (blog/api/early.py).
    "blog.api.early.CachedPublicAnswerMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.deprecation.DeprecationMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: it turns a lockout into the answer below.
    "axes.middleware.AxesMiddleware",
]

# API routes being retired, by URL name: {"name": {"since": datetime, "sunset": datetime,
# "link": url}} -> Deprecation / Sunset / Link headers on their answers (README, "Versioning").
API_DEPRECATIONS: dict = {}
# CORS for browser clients on other origins (django-cors-headers): off until origins are
# listed; only the API; JWT in the Authorization header (no cookies across origins).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = [
    "Deprecation",
    "ETag",
    "Last-Modified",
    "Link",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "Sunset",
    "X-Request-ID",
]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "x-request-id",
]
CORS_PREFLIGHT_MAX_AGE = 3600

# Content-Security-Policy (Django's own middleware): scripts only from this origin or with
# the response's nonce; styles from this origin or inline (style attributes cannot carry a
# nonce, and the admin uses some); images also from https (cover images are URLs).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "https:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username
# from one address, that pair is locked for AXES_COOLOFF_HOURS; the admin login and the JWT
# token endpoint alike. Unlock: `manage.py axes_reset_username NAME` (or axes_reset).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(hours=env.float("AXES_COOLOFF_HOURS", default=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.lockout.locked_out"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

# AUTH
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# MEDIA: uploaded images (blog.Image) through Django's storage API. The local filesystem by
# default (MEDIA_ROOT; a named volume in compose), served by the app itself under MEDIA_URL;
# S3-compatible object storage when MEDIA_S3_BUCKET is set (django-storages; the bucket must
# let anyone read, since public pages link to the files; MEDIA_S3_CUSTOM_DOMAIN for a CDN).
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("MEDIA_S3_REGION", default="") or None,
            "custom_domain": env("MEDIA_S3_CUSTOM_DOMAIN", default="") or None,
            "location": env("MEDIA_S3_PREFIX", default="media"),
            "querystring_auth": False,
            "file_overwrite": False,
            # Names carry a random key, so a file never changes: cache it for a year.
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
# Upload limits (blog.imaging): bytes, pixels in all, pixels along the longer side.
MEDIA_MAX_UPLOAD_BYTES = env.int("MEDIA_MAX_UPLOAD_BYTES", default=20_000_000)
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=50_000_000)
MEDIA_MAX_SIDE = env.int("MEDIA_MAX_SIDE", default=12_000)
# Let the app answer MEDIA_URL itself (filesystem storage; off when a web server or CDN does).
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=not MEDIA_S3_BUCKET)
# Database backups (manage.py backup / restore): a local directory by default, S3-compatible
# object storage when BACKUP_S3_BUCKET is set (credentials: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY from the environment, read by boto3).
BACKUP_DIR = env.path("BACKUP_DIR", default=BASE_DIR / "backups")
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
BACKUP_MAX_AGE_DAYS = env.float("BACKUP_MAX_AGE_DAYS", default=30)
BACKUP_S3_BUCKET = env("BACKUP_S3_BUCKET", default="")
if BACKUP_S3_BUCKET:
    BACKUP_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "endpoint_url": env("BACKUP_S3_ENDPOINT_URL", default=None),
            "region_name": env("BACKUP_S3_REGION", default=None),
            "location": env("BACKUP_S3_PREFIX", default="backups"),
            "file_overwrite": False,
            "default_acl": "private",
        },
    }
else:
    BACKUP_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BACKUP_DIR), "file_permissions_mode": 0o600},
    }
# Which environment this instance is (backup names, logs): e.g. staging, production.
ENVIRONMENT_NAME = env("ENVIRONMENT_NAME", default="local")

STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "backups": BACKUP_STORAGE,
}

# CACHES
# ------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# BLOG
# ------------------------------------------------------------------------------
# How long a signed draft preview link works (seconds; default 3 days).
BLOG_PREVIEW_MAX_AGE = env.int("BLOG_PREVIEW_MAX_AGE", default=3 * 24 * 3600)
# Comments accepted per client address: (how many, per how many seconds).
BLOG_COMMENT_RATE = (
    env.int("BLOG_COMMENT_RATE_COUNT", default=5),
    env.int("BLOG_COMMENT_RATE_SECONDS", default=600),
)
BLOG_POSTS_PER_PAGE = env.int("BLOG_POSTS_PER_PAGE", default=10)
# Days a post stays in the trash before `manage.py purge_trash` deletes it for good.
BLOG_TRASH_DAYS = env.int("BLOG_TRASH_DAYS", default=30)

# RELEASES
# ------------------------------------------------------------------------------
# Stages a build must pass (current result "success") to be deployable.
RELEASES_REQUIRED_STAGES = env.list(
    "RELEASES_REQUIRED_STAGES", default=["lint", "test", "security", "build"]
)
# The pipeline's stage order (.gitlab-ci.yml `stages:`): how stage results are listed.
RELEASES_STAGE_ORDER = env.list(
    "RELEASES_STAGE_ORDER",
    default=["lint", "test", "security", "build", "deploy-staging", "smoke", "deploy-production"],
)
# Registry host that GitLab webhooks' projects map to (CI_REGISTRY_IMAGE = host/path).
RELEASES_REGISTRY_HOST = env("RELEASES_REGISTRY_HOST", default="registry.gitlab.com")
# Secret GitLab sends in X-Gitlab-Token; the webhook endpoint refuses everything without it.
GITLAB_WEBHOOK_SECRET = env("GITLAB_WEBHOOK_SECRET", default="")
# Signing token of GitLab's signed webhooks (Standard Webhooks, "whsec_..."), if enabled.
GITLAB_WEBHOOK_SIGNING_TOKEN = env("GITLAB_WEBHOOK_SIGNING_TOKEN", default="")
# Oldest webhook-timestamp accepted on a signed delivery (seconds).
GITLAB_WEBHOOK_TOLERANCE = env.int("GITLAB_WEBHOOK_TOLERANCE", default=300)
# GitLab id_tokens (OIDC): issuer (e.g. https://gitlab.com), audience (this dashboard's
# URL) and the project paths allowed to report; empty issuer turns id_tokens off.
GITLAB_OIDC_ISSUER = env("GITLAB_OIDC_ISSUER", default="").rstrip("/")
GITLAB_OIDC_AUDIENCE = env("GITLAB_OIDC_AUDIENCE", default="")
GITLAB_OIDC_PROJECTS = env.list("GITLAB_OIDC_PROJECTS", default=[])
# The deployment worker (django.tasks, stored in PostgreSQL by django-tasks-db).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running deployment (or a worker) silent this long is taken for dead and recovered.
RELEASES_HEARTBEAT_TIMEOUT = env.int("RELEASES_HEARTBEAT_TIMEOUT", default=300)
# Seconds between a worker's upkeep ticks: heartbeat, recovery, lapsed approvals.
RELEASES_WORKER_TICK = env.float("RELEASES_WORKER_TICK", default=10.0)
# The worker LISTENs for new tasks (PostgreSQL) and starts them at once; its poll
# (`db_worker --interval`, 1 s) stays the fallback. Off behind a pooler that drops LISTEN.
RELEASES_WORKER_LISTEN = env.bool("RELEASES_WORKER_LISTEN", default=True)
RELEASES_HEALTH_TIMEOUT = env.int("RELEASES_HEALTH_TIMEOUT", default=120)
RELEASES_SMOKE_ATTEMPTS = env.int("RELEASES_SMOKE_ATTEMPTS", default=5)
RELEASES_SMOKE_BACKOFF = env.float("RELEASES_SMOKE_BACKOFF", default=2.0)
RELEASES_SMOKE_TIMEOUT = env.int("RELEASES_SMOKE_TIMEOUT", default=120)
# Hours a production deployment request waits for its approval before it lapses.
RELEASES_APPROVAL_HOURS = env.int("RELEASES_APPROVAL_HOURS", default=24)
# Outbound notifications (notifications/): webhooks, chat, email, GitLab write-back, sent by
# the worker. Attempts per delivery, backoff (full jitter, doubling from the base up to the
# cap), one attempt's timeout, failed attempts in a row that pause a subscription, sender
# threads, the dispatcher's poll, and how long before an approval lapses its reminder goes.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_BACKOFF_SECONDS = env.float("NOTIFICATIONS_BACKOFF_SECONDS", default=30.0)
NOTIFICATIONS_BACKOFF_MAX_SECONDS = env.float("NOTIFICATIONS_BACKOFF_MAX_SECONDS", default=3600.0)
NOTIFICATIONS_TIMEOUT = env.float("NOTIFICATIONS_TIMEOUT", default=10.0)
NOTIFICATIONS_PAUSE_AFTER = env.int("NOTIFICATIONS_PAUSE_AFTER", default=20)
NOTIFICATIONS_THREADS = env.int("NOTIFICATIONS_THREADS", default=4)
NOTIFICATIONS_POLL_SECONDS = env.float("NOTIFICATIONS_POLL_SECONDS", default=1.0)
NOTIFICATIONS_APPROVAL_REMINDER_MINUTES = env.int(
    "NOTIFICATIONS_APPROVAL_REMINDER_MINUTES", default=120
)
# Subscriptions to plain-http endpoints (local receivers); https only when false.
NOTIFICATIONS_ALLOW_HTTP = env.bool("NOTIFICATIONS_ALLOW_HTTP", default=True)
# Webhooks to loopback/private/link-local addresses (local receivers); production: false.
NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES", default=True
)
# GitLab write-back (Deployments API): all three set, or off. The token (api scope) may
# come from a file: GITLAB_API_TOKEN_FILE.
GITLAB_URL = env("GITLAB_URL", default="").rstrip("/")
GITLAB_PROJECT = env("GITLAB_PROJECT", default="")
GITLAB_API_TOKEN = env("GITLAB_API_TOKEN", default="")
# Email (approvers, requesters): EMAIL_URL as django-environ reads it, e.g.
# smtp+tls://user:password@smtp.example.com:587; the console by default.
MAILERS = mailers_from(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="releases@localhost")
# Email notifications on (approvers, requesters); production turns them off without EMAIL_URL.
NOTIFICATIONS_EMAIL = env.bool("NOTIFICATIONS_EMAIL", default=True)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Largest JSON body the CI API accepts (bytes).
RELEASES_MAX_BODY_BYTES = env.int("RELEASES_MAX_BODY_BYTES", default=64 * 1024)
# A refused (413) body up to this size is read off the connection so keep-alive goes on.
REQUEST_DRAIN_MAX_BYTES = env.int("REQUEST_DRAIN_MAX_BYTES", default=16 * 1024 * 1024)

# REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.ObjectJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ContractAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonymousThrottle",
        "core.throttling.UserThrottle",
        "core.throttling.MachineThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="600/minute"),
        "user": env("THROTTLE_USER", default="3000/minute"),
        # Per CI token / per GitLab project (id_tokens), not per address: a pipeline's jobs
        # report in bursts, often many runners behind one NAT.
        "ci": env("THROTTLE_CI", default="6000/minute"),
        # The same limit as the site's comment form (BLOG_COMMENT_RATE_*).
        "comments": "{}/{}s".format(*BLOG_COMMENT_RATE),
        "auth": env("THROTTLE_AUTH", default="20/minute"),
    },
    # DRF reads the client address from REMOTE_ADDR; behind N proxies set NUM_PROXIES=N.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0) or None,
}
# Seconds public API responses may be cached by clients/CDNs, and kept by the server cache
# (0 turns the server-side response cache off; it is keyed by the content version).
API_CACHE_MAX_AGE = env.int("API_CACHE_MAX_AGE", default=60)
API_RESPONSE_CACHE_SECONDS = env.int("API_RESPONSE_CACHE_SECONDS", default=300)
# Anonymous API reads take the content version from each process's memory, kept true by
# PostgreSQL LISTEN/NOTIFY (blog/content_state.py): no database round trip on a cached or
# 304 answer. Behind a pooler that drops LISTEN, set DATABASE_DIRECT_URL (a failed probe
# turns the memory off by itself). The memory is never older than MEMORY_SECONDS.
CONTENT_VERSION_LISTEN = env.bool("CONTENT_VERSION_LISTEN", default=True)
CONTENT_VERSION_MEMORY_SECONDS = env.float("CONTENT_VERSION_MEMORY_SECONDS", default=30.0)
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
# Without JWT_SIGNING_KEY simplejwt signs with the final SECRET_KEY of the active mode.
if env("JWT_SIGNING_KEY", default=""):
    SIMPLE_JWT["SIGNING_KEY"] = env("JWT_SIGNING_KEY")

SPECTACULAR_SETTINGS = {
    "TITLE": "LawVriksh Blog API",
    "DESCRIPTION": "Blog content and release dashboard API. Writes need a JWT "
    "(`/api/v1/auth/token/`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI's assets are served from this app, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PostStatusEnum": "blog.models.PostStatus",
        "CommentStatusEnum": "blog.models.CommentStatus",
        "StageStatusEnum": "releases.models.StageStatus",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the `webhooks` section for our outbound webhooks, and JSON Schema 2020-12 types.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.for_openapi_31",
        "core.openapi_examples.add_examples",
        "notifications.openapi.add_webhooks",
    ],
}

# BUILD INFORMATION (set by the container image at build time)
# ------------------------------------------------------------------------------
APP_VERSION = env("APP_VERSION", default="0.0.0-dev")
GIT_SHA = env("GIT_SHA", default="unknown")
BUILD_TIME = env("BUILD_TIME", default="")

# Off only to measure what metrics and request ids cost (bench/run.sh's warm-bare mode).
if not env.bool("OBSERVABILITY_MIDDLEWARE", default=True):
    MIDDLEWARE = [
        name
        for name in MIDDLEWARE
        if name not in ("core.metrics.MetricsMiddleware", "core.request_id.RequestIdMiddleware")
    ]

# METRICS (/metrics, Prometheus text format; core/metrics.py)
# ------------------------------------------------------------------------------
# A scraper sends `Authorization: Bearer <METRICS_TOKEN>`, or comes from an allowed network.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_COLLECTORS = [
    "blog.prometheus.BlogCollector",
    "releases.prometheus.ReleasesCollector",
    "notifications.prometheus.NotificationsCollector",
]

# ERROR TRACKING (optional; core/sentry.py)
# ------------------------------------------------------------------------------
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_SEND_PII = env.bool("SENTRY_SEND_PII", default=False)
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)

# LOGGING
# ------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "json" in production
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "core.request_id.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives `django` a console handler of its own, and it
        # propagates to ours too: every line twice. One handler, ours.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # django-axes says hello at every start; lockouts are logged at WARNING.
        "axes": {"level": "WARNING"},
    },
}

# Sentry starts here, once every setting it reads is known (a blank DSN: off).
init_sentry(
    dsn=SENTRY_DSN,
    release=GIT_SHA,
    environment=ENVIRONMENT_NAME,
    send_pii=SENTRY_SEND_PII,
    traces=SENTRY_TRACES_SAMPLE_RATE,
)
