"""sitemap.xml sections: home, visible posts, and categories/tags that have visible posts."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from blog import selectors
from blog.models import Post


class HomeSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["blog:home"]

    def location(self, item):
        return reverse(item)


class PostSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8
    limit = 10000

    def items(self):
        return Post.objects.visible().only("slug", "updated_at").order_by("-published_at")

    def lastmod(self, post):
        return post.updated_at


class CategorySitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return selectors.categories_with_counts()


class TagSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.4

    def items(self):
        return selectors.tags_with_counts()


SITEMAPS = {
    "home": HomeSitemap,
    "posts": PostSitemap,
    "categories": CategorySitemap,
    "tags": TagSitemap,
}
