"""Blog factories; posts are made through the workflow services, as editors would."""

import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from blog import services
from blog.models import Category, Comment, CommentStatus, Post, PostStatus, Tag
from tests.factories import EditorFactory


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class TagFactory(DjangoModelFactory[Tag]):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Tag {n}")
    slug = factory.Sequence(lambda n: f"tag-{n}")


def make_post(
    *,
    status: str = PostStatus.PUBLISHED,
    author=None,
    editor=None,
    title: str = "A post",
    body: str = "Some **body** text.",
    tags=(),
    published_at=None,
    **fields,
) -> Post:
    """A post in `status`, reached through the same service calls the admin makes."""
    editor = editor or EditorFactory(username="factory-editor")
    author = author or editor
    now = timezone.now()
    if status in (PostStatus.PUBLISHED, PostStatus.ARCHIVED) and published_at is None:
        published_at = now - datetime.timedelta(hours=1)
    post = services.post_create(
        user=editor,
        author=author,
        title=title,
        body=body,
        tags=tags,
        published_at=published_at if status != PostStatus.SCHEDULED else None,
        **fields,
    )
    if status == PostStatus.IN_REVIEW:
        services.post_submit(post=post, user=editor)
    elif status == PostStatus.SCHEDULED:
        services.post_schedule(
            post=post, user=editor, publish_at=published_at or now + datetime.timedelta(days=1)
        )
    elif status in (PostStatus.PUBLISHED, PostStatus.ARCHIVED):
        services.post_publish(post=post, user=editor)
        if status == PostStatus.ARCHIVED:
            services.post_archive(post=post, user=editor)
    post.refresh_from_db()
    return post


class CommentFactory(DjangoModelFactory[Comment]):
    class Meta:
        model = Comment

    author_name = factory.Faker("first_name")
    author_email = factory.Faker("email")
    body = factory.Faker("sentence")
    status = CommentStatus.PENDING
