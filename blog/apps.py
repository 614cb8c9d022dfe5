"""App configuration for the blog."""

from django.apps import AppConfig


class BlogConfig(AppConfig):
    """Posts, categories, tags, comments and revisions."""

    name = "blog"
    verbose_name = "Blog"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from blog.changes import bump_for_related_change
        from blog import content_state
        from blog.models import AuthorProfile, Category, Comment, Post, Tag

        # What post payloads show besides the post itself; posts bump in blog.services.
        for model in (Category, Tag, AuthorProfile):
            for signal in (post_save, post_delete):
                signal.connect(bump_for_related_change, sender=model, weak=False)
        post_delete.connect(bump_for_related_change, sender=Comment, weak=False)
        # Any post written in this process: its memory of the content version is stale.
        for signal in (post_save, post_delete):
            signal.connect(content_state.changed_here, sender=Post, weak=False)
