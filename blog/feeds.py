"""RSS and Atom feeds: site-wide, per category and per tag, visible posts only."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from blog import selectors
from blog.models import Category, Tag, display_name_of

FEED_SIZE = 20


class LatestPostsFeed(Feed):
    """The newest visible posts (RSS 2.0)."""

    description_template = None

    def title(self, obj=None):
        return settings.SITE_NAME

    def link(self, obj=None):
        return reverse("blog:home")

    def description(self, obj=None):
        return f"Latest posts from {settings.SITE_NAME}"

    def items(self, obj=None):
        return selectors.visible_posts()[:FEED_SIZE]

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return item.excerpt

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.updated_at

    def item_author_name(self, item):
        return display_name_of(item.author)

    def item_categories(self, item):
        return [tag.name for tag in item.tags.all()]


class LatestPostsAtomFeed(LatestPostsFeed):
    """The same, as Atom 1.0."""

    feed_type = Atom1Feed
    subtitle = LatestPostsFeed.description


class CategoryFeed(LatestPostsFeed):
    """Visible posts of one category (RSS 2.0)."""

    def get_object(self, request, slug):
        return get_object_or_404(Category, slug=slug)

    def title(self, obj=None):
        return f"{settings.SITE_NAME}: {obj.name}"

    def link(self, obj=None):
        return obj.get_absolute_url()

    def items(self, obj=None):
        return selectors.visible_posts().filter(category=obj)[:FEED_SIZE]


class CategoryAtomFeed(CategoryFeed):
    feed_type = Atom1Feed
    subtitle = CategoryFeed.description


class TagFeed(LatestPostsFeed):
    """Visible posts with one tag (RSS 2.0)."""

    def get_object(self, request, slug):
        return get_object_or_404(Tag, slug=slug)

    def title(self, obj=None):
        return f"{settings.SITE_NAME}: {obj.name}"

    def link(self, obj=None):
        return obj.get_absolute_url()

    def items(self, obj=None):
        return selectors.visible_posts().filter(tags=obj)[:FEED_SIZE]


class TagAtomFeed(TagFeed):
    feed_type = Atom1Feed
    subtitle = TagFeed.description
