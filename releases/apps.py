"""App configuration for the release dashboard."""

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    """Builds, stage results, environments and deployments."""

    name = "releases"
    verbose_name = "Releases"

    def ready(self):
        from django.db.models.signals import post_migrate
        from django.tasks.signals import task_enqueued

        from releases import deployments, tasks
        from releases.defaults import ensure_after_migrate
        from releases.wake import notify_worker

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="releases.envs")
        # Every queued task wakes a listening worker at once (releases.wake).
        task_enqueued.connect(notify_worker, dispatch_uid="releases.wake")
        # Requests and approvals wake the worker through this hook (no import cycle).
        if tasks.enqueue_after_commit not in deployments.queue_listeners:
            deployments.queue_listeners.append(tasks.enqueue_after_commit)
