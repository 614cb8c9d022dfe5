"""App configuration for the project-wide core app."""

from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Keeps the role groups' permissions in step with the models after every migrate,
    gives every request its id before anything logs about it, and makes the API's JSON
    fields take their own types only (core.strict_json)."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core import strict_json
        from core.roles import sync_roles_after_migrate

        from core.request_id import on_request_finished, on_request_started

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="core.sync_roles")
        request_started.connect(on_request_started, dispatch_uid="core.request_id")
        request_finished.connect(on_request_finished, dispatch_uid="core.request_id")
        strict_json.apply()
