"""Django 6.1's MAILERS setting from an EMAIL_URL (django-environ parses the URL; it still
yields the EMAIL_* settings that MAILERS replaces)."""

# EMAIL_* name from django-environ → the backend's OPTIONS key.
OPTION_NAMES = {
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_TIMEOUT": "timeout",
    "EMAIL_FILE_PATH": "file_path",
}
SMTP = "django.core.mail.backends.smtp.EmailBackend"
FILE = "django.core.mail.backends.filebased.EmailBackend"


def mailers_from(config: dict, timeout: float = 10.0) -> dict:
    """{"default": {"BACKEND": ..., "OPTIONS": {...}}}; only the options the backend takes."""
    backend = config["EMAIL_BACKEND"]
    options = {}
    if backend == SMTP:
        options = {
            OPTION_NAMES[name]: value
            for name, value in config.items()
            if name in OPTION_NAMES and name != "EMAIL_FILE_PATH" and value not in (None, "")
        }
        options.setdefault("timeout", timeout)  # never hang a sender on a silent server
    elif backend == FILE:
        options = {"file_path": config["EMAIL_FILE_PATH"]}
    return {"default": {"BACKEND": backend, **({"OPTIONS": options} if options else {})}}
