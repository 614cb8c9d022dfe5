"""WSGI entry point for gunicorn; production settings unless told otherwise."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    # gunicorn would otherwise print a long traceback per worker; one line says it all.
    print(f"Configuration error: {error}", file=sys.stderr, flush=True)
    sys.exit(4)  # gunicorn's APP_LOAD_ERROR: the arbiter halts instead of respawning
