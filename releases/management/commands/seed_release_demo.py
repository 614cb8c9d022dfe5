"""Demo builds and deployments for the quick start's release dashboard (idempotent)."""

from django.core.management.base import BaseCommand

from releases.demo import seed_release_demo


class Command(BaseCommand):
    help = "Create demo builds (green stages) and a deployment history on staging/production."

    def handle(self, *args, **options):
        created = seed_release_demo()
        self.stdout.write(f"Release demo: {created} builds created (0: already there).")
