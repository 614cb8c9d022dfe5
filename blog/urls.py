"""Routes of the public site."""

from django.urls import path

from blog import feeds, views

app_name = "blog"

urlpatterns = [
    path("", views.home, name="home"),
    path("posts/<slug:slug>/", views.post_detail, name="post_detail"),
    path("preview/<str:token>/", views.post_preview, name="post_preview"),
    path("categories/<slug:slug>/", views.category_archive, name="category"),
    path("categories/<slug:slug>/feed/", feeds.CategoryFeed(), name="category_feed_rss"),
    path(
        "categories/<slug:slug>/feed/atom/",
        feeds.CategoryAtomFeed(),
        name="category_feed_atom",
    ),
    path("tags/<slug:slug>/", views.tag_archive, name="tag"),
    path("tags/<slug:slug>/feed/", feeds.TagFeed(), name="tag_feed_rss"),
    path("tags/<slug:slug>/feed/atom/", feeds.TagAtomFeed(), name="tag_feed_atom"),
    path("authors/<str:username>/", views.author_archive, name="author"),
    path("search/", views.search, name="search"),
    path("feed/", feeds.LatestPostsFeed(), name="feed_rss"),
    path("feed/atom/", feeds.LatestPostsAtomFeed(), name="feed_atom"),
]
