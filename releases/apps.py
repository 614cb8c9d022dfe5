"""App configuration for the release dashboard."""

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    """Builds, stage results, environments and deployments."""

    name = "releases"
    verbose_name = "Releases"
