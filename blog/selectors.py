"""Read queries of the public site and feeds; all of them start from the visibility rule."""

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from blog.models import (
    Category,
    CommentStatus,
    Post,
    SlugRedirect,
    Tag,
    visible_condition,
)
from blog.search import search_posts

User = get_user_model()


def visible_posts() -> QuerySet:
    return Post.objects.visible().for_listing()


def visible_post_or_redirect(slug: str) -> tuple[Post | None, str | None]:
    """(post, None) for a visible slug, (None, new_url) for an old slug of a visible post."""
    post = visible_posts().select_related("cover_image").filter(slug=slug).first()
    if post:
        return post, None
    redirect = SlugRedirect.objects.filter(old_slug=slug).select_related("post").first()
    if redirect and redirect.post.is_visible():
        return None, redirect.post.get_absolute_url()
    return None, None


def approved_comments(post: Post) -> QuerySet:
    return post.comments.filter(status=CommentStatus.APPROVED).order_by("created_at")


def posts_in_category(slug: str) -> tuple[Category, QuerySet]:
    category = get_object_or_404(Category, slug=slug)
    return category, visible_posts().filter(category=category)


def posts_with_tag(slug: str) -> tuple[Tag, QuerySet]:
    tag = get_object_or_404(Tag, slug=slug)
    return tag, visible_posts().filter(tags=tag)


def posts_by_author(username: str):
    """An author page exists only for a user with at least one visible post."""
    posts = visible_posts().filter(author__username=username)
    author = get_object_or_404(User.objects.select_related("author_profile"), username=username)
    if not posts.exists():
        raise User.DoesNotExist
    return author, posts


def tags_with_counts() -> QuerySet:
    """Tags with at least one visible post, with the number of visible posts."""
    return (
        Tag.objects.annotate(post_count=Count("posts", filter=visible_condition(prefix="posts__")))
        .filter(post_count__gt=0)
        .order_by("-post_count", "name")
    )


def categories_with_counts() -> QuerySet:
    return (
        Category.objects.annotate(
            post_count=Count("posts", filter=visible_condition(prefix="posts__"))
        )
        .filter(post_count__gt=0)
        .order_by("name")
    )


def search_visible_posts(text: str) -> QuerySet:
    return search_posts(visible_posts(), text)
