"""`manage.py send_notifications`: send the due deliveries once (the worker does this on its
own; this is for a host without one, cron, or looking at what is stuck)."""

from django.core.management.base import BaseCommand

from notifications.dispatch import send_due


class Command(BaseCommand):
    help = "Send the notification deliveries that are due now, once"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=200)

    def handle(self, *args, limit, **options):
        sent = send_due(limit)
        self.stdout.write(f"{sent} delivery attempt(s) made")
