"""App configuration for the project-wide core app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Keeps the role groups' permissions in step with the models after every migrate."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="core.sync_roles")
