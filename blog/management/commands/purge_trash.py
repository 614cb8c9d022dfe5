"""Delete for good the posts that have been in the trash longer than BLOG_TRASH_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from blog.services import purge_expired_trash


class Command(BaseCommand):
    help = "Purge posts trashed more than BLOG_TRASH_DAYS days ago (cron-friendly)."

    def handle(self, *args, **options):
        purged = purge_expired_trash()
        self.stdout.write(f"{purged} posts purged (trash keeps {settings.BLOG_TRASH_DAYS} days).")
