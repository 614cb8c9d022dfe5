"""Load the demo blog (idempotent); with --posts N, top the generated posts up to N."""

import time

from django.core.management.base import BaseCommand, CommandError

from blog.demo import generate_posts, seed_demo


class Command(BaseCommand):
    help = "Create demo authors, categories, tags, posts in every state and comments."

    def add_arguments(self, parser):
        parser.add_argument(
            "--posts",
            type=int,
            default=0,
            help="Also make sure N generated posts exist (bulk insert, for benchmarks).",
        )

    def handle(self, *args, posts, **options):
        if posts < 0:
            raise CommandError("--posts must be zero or more")
        created = seed_demo()
        self.stdout.write(
            f"Demo content: {created['posts']} posts and {created['comments']} comments created "
            "(0 means it was already there)."
        )
        if posts:
            started = time.monotonic()
            added = generate_posts(posts)
            self.stdout.write(
                f"Generated posts: {added} added, {posts} in all "
                f"({time.monotonic() - started:.1f} s)."
            )
