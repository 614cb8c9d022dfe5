"""Mark scheduled posts whose time has come as published (optional tidiness; cron-friendly)."""

from django.core.management.base import BaseCommand

from blog.services import publish_due_posts


class Command(BaseCommand):
    help = (
        "Scheduled posts are visible from their publish time on without this; it only "
        "turns their status into 'published' so lists in the admin read naturally."
    )

    def handle(self, *args, **options):
        changed = publish_due_posts()
        self.stdout.write(
            "Due scheduled posts marked published." if changed else "No post was due."
        )
