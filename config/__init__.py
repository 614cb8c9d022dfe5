"""Project wiring: settings, URL routes, WSGI and ASGI entry points."""
