"""The blog's numbers for /metrics (read from the database at scrape time, so every process
and the worker agree): posts by status, comments by moderation status."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from blog.models import Comment, CommentStatus, Post, PostStatus


class BlogCollector:
    def collect(self):
        posts = GaugeMetricFamily("blog_posts", "Posts by workflow status.", labels=["status"])
        counted = dict(Post.objects.values_list("status").annotate(n=Count("id")))
        for status in PostStatus.values:
            posts.add_metric([status], counted.get(status, 0))
        yield posts
        comments = GaugeMetricFamily(
            "blog_comments", "Comments by moderation status.", labels=["status"]
        )
        counted = dict(Comment.objects.values_list("status").annotate(n=Count("id")))
        for status in CommentStatus.values:
            comments.add_metric([status], counted.get(status, 0))
        yield comments
