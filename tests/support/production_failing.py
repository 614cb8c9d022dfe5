"""Production settings with /boom/ (always 500): for the error-tracking test."""

from config.settings.production import *  # noqa: F401, F403

ROOT_URLCONF = "tests.support.failing_urls"
