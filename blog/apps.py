"""App configuration for the blog."""

from django.apps import AppConfig


class BlogConfig(AppConfig):
    """Posts, categories, tags, comments and revisions."""

    name = "blog"
    verbose_name = "Blog"
