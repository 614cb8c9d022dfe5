"""Routes of the blog API (included under /api/v1/)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from blog.api import media, views

router = DefaultRouter()
router.register("posts", views.PostViewSet, basename="post")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("tags", views.TagViewSet, basename="tag")
router.register("authors", views.AuthorViewSet, basename="author")
router.register("comments", views.CommentModerationViewSet, basename="comment")
router.register("media", media.ImageViewSet, basename="image")

urlpatterns = [
    path(
        "posts/<slug:post_slug>/comments/",
        views.PostCommentsViewSet.as_view({"get": "list", "post": "create"}),
        name="post-comments",
    ),
    *router.urls,
]
