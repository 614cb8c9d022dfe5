"""Views of the blog API; every write calls blog.services, every read starts from the
caller's visibility (readers: visible posts; authors: also their own; editors: all)."""

import datetime
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from blog import changes, errors, services
from blog.search import headline, highlight_html, search_headlines
from blog.api import conditional
from blog.api.filters import PostFilter, PostFilterBackend, PostOrderingFilter, PostSearchFilter
from blog.api.public_pages import public_list_rows, reads_compiled, search_page_rows
from blog.api.permissions import (
    CanWritePostsOrReadOnly,
    IsEditor,
    IsEditorOrReadOnly,
    IsModerator,
)
from blog.api.serializers import (
    AuthorSerializer,
    CategorySerializer,
    ChangesPageSerializer,
    CommentCreatedSerializer,
    CommentCreateSerializer,
    CommentModerationSerializer,
    CommentSerializer,
    PostDetailSerializer,
    PostListSerializer,
    PostWriteSerializer,
    PreviewLinkSerializer,
    LIST_COLUMNS,
    add_tags,
    post_list_items,
    RevisionSerializer,
    ScheduleSerializer,
    TagSerializer,
    tag_columns,
)
from blog.models import (
    Category,
    Comment,
    CommentStatus,
    Post,
    SlugRedirect,
    Tag,
    visible_condition,
)
from core.compiled import CompiledQuery
from core.http import client_info, has_credentials
from core.throttling import RateLimitHeadersMixin, ScopeThrottle

User = get_user_model()
CHANGES_MAX_LIMIT = 500


def _approved_comment_count():
    approved = (
        Comment.objects.filter(post=OuterRef("pk"), status=CommentStatus.APPROVED)
        .order_by()
        .values("post")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(approved, output_field=IntegerField()), Value(0))


def detail_queryset(user, now=None):
    """One query: the post, its author, category and cover, its tags and comment count."""
    return (
        Post.objects.readable_by(user, now=now)
        .select_related("author__author_profile", "category", "cover_image")
        .annotate(approved_comment_count=_approved_comment_count(), **tag_columns())
    )


# An anonymous reader's post (PostgreSQL): that very queryset, compiled once (core.compiled).
_public_detail = CompiledQuery(
    lambda now, slug: detail_queryset(AnonymousUser(), now).filter(slug=slug)[:1],
    datetime.datetime,
    str,
    generic_plan=True,  # a unique slug: the same plan suits every post
)

WORKFLOW_RESPONSE = {200: PostDetailSerializer}


@extend_schema_view(
    list=extend_schema(summary="List posts", responses=PostListSerializer(many=True)),
    retrieve=extend_schema(
        summary="One post",
        responses={200: PostDetailSerializer, 301: None, 304: None},
        parameters=[
            OpenApiParameter(
                "preview", OpenApiTypes.STR, description="A signed preview token (drafts)."
            )
        ],
    ),
    create=extend_schema(
        summary="Create a draft",
        request=PostWriteSerializer,
        responses={201: PostDetailSerializer},
    ),
    update=extend_schema(
        summary="Replace a post's content (If-Match: its ETag)",
        request=PostWriteSerializer,
        responses={200: PostDetailSerializer, 412: None},
    ),
    partial_update=extend_schema(
        summary="Change some fields (If-Match: its ETag)",
        request=PostWriteSerializer,
        responses={200: PostDetailSerializer, 412: None},
    ),
    destroy=extend_schema(summary="Move a post to the trash", responses={204: None}),
)
class PostViewSet(
    RateLimitHeadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Posts: read by everyone (visible ones), written by authors and editors."""

    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    permission_classes = [CanWritePostsOrReadOnly]
    filterset_class = PostFilter
    filter_backends = [PostFilterBackend, PostSearchFilter, PostOrderingFilter]
    ordering = ["-published_at"]
    search_active = ""  # the search text, once PostSearchFilter has applied it
    search_ranked: list[int] | None = None  # its hits' ids to page, best first (PostgreSQL)
    queryset = Post.objects.none()  # for the schema; get_queryset decides per caller

    def get_queryset(self):
        return Post.objects.readable_by(self.request.user).for_listing()

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return PostWriteSerializer
        if self.action == "list":
            return PostListSerializer
        return PostDetailSerializer

    def dispatch(self, request, *args, **kwargs):
        action_name = getattr(self, "action_map", {}).get(request.method.lower())
        if action_name in ("list", "retrieve") and request.method in ("GET", "HEAD"):
            # The cache key, the count key, and due scheduled posts published: from memory
            # for anonymous readers (blog.content_state), one query for a signed-in caller,
            # who must see their own writes made through another worker at once.
            request.content_version = changes.content_version(strict=has_credentials(request))
            response = conditional.cached_public_response(request, self, request.content_version)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD"):
            version = getattr(request._request, "content_version", None)
            request.content_version = version or changes.content_version()

    # ----------------------------------------------------------------- reads

    def list(self, request, *args, **kwargs):
        def build():
            compiled = public_list_rows(request, self)
            if compiled is not None:
                # An anonymous reader's plain or filtered page: a statement compiled once.
                page = self.paginate_queryset(compiled)
            else:
                page = self._page_from_the_orm()
            if self.search_active and self.search_ranked is None:  # else read with the page
                snippets = search_headlines([row["id"] for row in page], self.search_active)
                for row in page:
                    row["headline"] = snippets.get(row["id"], "")
            data = post_list_items(page)
            last_modified = max((row["updated_at"] for row in page), default=None)
            return self.paginator.get_paginated_response(data).data, last_modified

        return conditional.respond(request, build, version=request.content_version)

    def _page_from_the_orm(self) -> Sequence[dict]:
        queryset = self.filter_queryset(Post.objects.readable_by(self.request.user))
        if self.search_ranked is not None:
            return self._ranked_page(self.search_ranked)
        # One query for the page and its tags (the count comes from the count cache).
        page = self.paginate_queryset(queryset.values(*LIST_COLUMNS, **tag_columns()))
        add_tags(page)
        return page

    def _ranked_page(self, ranked: Sequence[int]) -> Sequence[dict]:
        """A page of search hits: the ranked ids paged here, then only their rows read, with
        their snippets (one statement)."""
        page_ids = self.paginate_queryset(ranked)
        if reads_compiled(self.request):
            found = search_page_rows(page_ids, self.search_active)
        else:
            rows = Post.objects.readable_by(self.request.user).filter(pk__in=page_ids)
            snippet = headline(self.search_active)
            found = rows.values(*LIST_COLUMNS, **tag_columns(), headline=snippet)
        by_id = {row["id"]: row for row in found}
        page = [by_id[pk] for pk in page_ids if pk in by_id]
        for row in page:
            row["headline"] = highlight_html(row["headline"])
        add_tags(page)
        return page

    def retrieve(self, request, *args, **kwargs):
        slug = kwargs[self.lookup_field]
        token = request.query_params.get("preview")
        if token:
            post = services.post_from_preview_token(token)
            if post.slug != slug:
                raise Http404("No such post.")
            post.approved_comment_count = 0
            response = Response(PostDetailSerializer(post).data)
            response["Cache-Control"] = "private, no-store"
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        def build():
            post = self._detail_or_redirect(slug)
            return PostDetailSerializer(post).data, post.updated_at

        try:
            return conditional.respond(request, build, version=request.content_version)
        except _Moved as moved:
            return moved.response

    def _detail_or_redirect(self, slug):
        if reads_compiled(self.request):
            found = _public_detail.objects(timezone.now(), slug)
            post = found[0] if found else None
        else:
            post = detail_queryset(self.request.user).filter(slug=slug).first()
        if post is not None:
            return post
        redirect = SlugRedirect.objects.filter(old_slug=slug).values("post__slug").first()
        if redirect and self.get_queryset().filter(slug=redirect["post__slug"]).exists():
            url = reverse("post-detail", args=[redirect["post__slug"]])
            query = self.request.GET.urlencode()
            raise _Moved(HttpResponsePermanentRedirect(f"{url}?{query}" if query else url))
        raise Http404("No such post.")

    def get_object(self):
        """For writes: the caller's posts by slug, fresh from the database."""
        post = get_object_or_404(self.get_queryset(), slug=self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, post)
        return post

    def _detail(self, post, *, status_code=200):
        post = (
            Post.objects.for_listing()
            .annotate(approved_comment_count=_approved_comment_count())
            .get(pk=post.pk)
        )
        data = PostDetailSerializer(post).data
        response = Response(data, status=status_code)
        response["ETag"] = conditional.etag_of(conditional.render_json(data))
        response["Cache-Control"] = "private, no-cache"
        return response

    # ----------------------------------------------------------------- writes

    def create(self, request, *args, **kwargs):
        serializer = PostWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        tags = data.pop("tags", [])
        post = services.post_create(user=request.user, tags=tags, **data)
        response = self._detail(post, status_code=status.HTTP_201_CREATED)
        response["Location"] = reverse("post-detail", args=[post.slug])
        return response

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        post = self.get_object()
        # Bad input is reported as such (400) before the precondition: a client sending
        # both a stale If-Match and a broken body learns of the body first.
        serializer = PostWriteSerializer(post, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        current = self._detail(post)
        if not conditional.if_match_allows(request, current["ETag"]):
            return Response(
                {
                    "detail": "The post changed since you read it (If-Match does not match).",
                    "code": "stale",
                    "current_etag": current["ETag"],
                },
                status=status.HTTP_412_PRECONDITION_FAILED,
            )
        data = dict(serializer.validated_data)
        tags = data.pop("tags") if "tags" in data else None
        if not partial:
            # PUT replaces: fields left out go back to their defaults.
            for field in PostWriteSerializer.Meta.fields:
                if field not in data and field != "tags":
                    default = Post._meta.get_field(field).get_default()
                    data[field] = None if field == "category" else default
            if tags is None:
                tags = []
        services.post_update(
            post=post, user=request.user, expected_version=post.version, tags=tags, **data
        )
        return self._detail(post)

    def perform_destroy(self, post):
        services.post_trash(post=post, user=self.request.user)

    # ----------------------------------------------------------------- workflow

    def _transition(self, request, action_name, publish_at=None):
        post = self.get_object()
        expected = None
        if "HTTP_IF_MATCH" in request.META:
            if not conditional.if_match_allows(request, self._detail(post)["ETag"]):
                raise errors.StaleEdit(expected=-1, current=post.version)
            expected = post.version
        services.post_transition(
            post=post,
            user=request.user,
            action=action_name,
            publish_at=publish_at,
            expected_version=expected,
        )
        return self._detail(post)

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Submit for review")
    @action(detail=True, methods=["post"])
    def submit(self, request, slug=None):
        return self._transition(request, "submit")

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Withdraw to draft")
    @action(detail=True, methods=["post"])
    def withdraw(self, request, slug=None):
        return self._transition(request, "withdraw")

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Publish now")
    @action(detail=True, methods=["post"])
    def publish(self, request, slug=None):
        return self._transition(request, "publish")

    @extend_schema(
        request=ScheduleSerializer, responses=WORKFLOW_RESPONSE, summary="Schedule publication"
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request, slug=None):
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._transition(request, "schedule", serializer.validated_data["publish_at"])

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Back to draft")
    @action(detail=True, methods=["post"])
    def unpublish(self, request, slug=None):
        return self._transition(request, "unpublish")

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Archive")
    @action(detail=True, methods=["post"])
    def archive(self, request, slug=None):
        return self._transition(request, "archive")

    # ----------------------------------------------------------------- previews

    @extend_schema(
        methods=["POST"],
        request=None,
        responses={201: PreviewLinkSerializer},
        summary="Create a signed preview link (whoever may edit the post)",
        description="Anyone holding the link sees the post as it is now, whatever its state, "
        "until `expires_at` or until the post's preview links are revoked (DELETE).",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={204: None},
        summary="Revoke every preview link of this post given out so far",
    )
    @action(detail=True, methods=["post", "delete"], url_path="preview")
    def preview(self, request, slug=None):
        post = self.get_object()
        if request.method == "DELETE":
            services.preview_links_revoke(post=post, user=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        link = services.preview_link_create(post=post, user=request.user)
        answer = {
            "url": request.build_absolute_uri(link["path"]),
            "expires_at": link["expires_at"],
        }
        return Response(PreviewLinkSerializer(answer).data, status=status.HTTP_201_CREATED)

    # ----------------------------------------------------------------- trash

    @extend_schema(summary="Posts in the trash (editors)", responses=PostListSerializer(many=True))
    @action(detail=False, methods=["get"], permission_classes=[IsEditor], filter_backends=[])
    def trash(self, request):
        queryset = Post.objects.in_trash().for_listing().order_by("-deleted_at", "-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(PostListSerializer(page, many=True).data)

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Restore from the trash")
    @action(detail=True, methods=["post"], permission_classes=[IsEditor])
    def restore(self, request, slug=None):
        post = get_object_or_404(Post.objects.in_trash(), slug=slug)
        services.post_restore_from_trash(post=post, user=request.user)
        return self._detail(post)

    @extend_schema(request=None, responses={204: None}, summary="Delete for good (editors)")
    @action(detail=True, methods=["post"], permission_classes=[IsEditor])
    def purge(self, request, slug=None):
        post = get_object_or_404(Post.objects.all(), slug=slug)
        services.post_purge(post=post, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # ----------------------------------------------------------------- sync feed

    @extend_schema(
        summary="Changes since a cursor (for mirrors and static-site builders)",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="A `cursor`; empty: start."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": CHANGES_MAX_LIMIT, "default": 100},
                description="How many entries, 1-500 (default 100).",
            ),
        ],
        responses=ChangesPageSerializer,
    )
    @action(detail=False, methods=["get"], permission_classes=[AllowAny], filter_backends=[])
    def changes(self, request):
        since = request.query_params.get("since", "")
        try:
            cursor = changes.parse_cursor(since)
        except ValueError:
            raise ValidationError({"since": ["Not a cursor from this feed."]})
        try:
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            raise ValidationError({"limit": ["A whole number."]})
        if not 1 <= limit <= CHANGES_MAX_LIMIT:
            raise ValidationError({"limit": [f"From 1 to {CHANGES_MAX_LIMIT}."]})
        entries = changes.changes_since(cursor, limit + 1)
        page, has_more = entries[:limit], len(entries) > limit
        results = [
            {
                "cursor": entry.cursor,
                "action": "upsert" if entry.post else "delete",
                "id": entry.post_id,
                "slug": entry.slug,
                "post": PostListSerializer(entry.post).data if entry.post else None,
            }
            for entry in page
        ]
        next_cursor = page[-1].cursor if page else since
        return Response({"results": results, "next_cursor": next_cursor, "has_more": has_more})

    # ----------------------------------------------------------------- revisions

    @extend_schema(summary="Revisions of a post", responses=RevisionSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path="revisions",
        permission_classes=[IsEditor],
        filter_backends=[],
    )
    def revisions(self, request, slug=None):
        post = self.get_object()
        page = self.paginate_queryset(post.revisions.select_related("created_by"))
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)

    @extend_schema(summary="One revision", responses=RevisionSerializer)
    @action(
        detail=True,
        methods=["get"],
        url_path=r"revisions/(?P<revision_id>\d+)",
        permission_classes=[IsEditor],
    )
    def revision(self, request, slug=None, revision_id=None):
        post = self.get_object()
        revision = get_object_or_404(post.revisions, pk=revision_id)
        return Response(RevisionSerializer(revision).data)

    @extend_schema(request=None, responses=WORKFLOW_RESPONSE, summary="Restore a revision")
    @action(
        detail=True,
        methods=["post"],
        url_path=r"revisions/(?P<revision_id>\d+)/restore",
        permission_classes=[IsEditor],
    )
    def restore_revision(self, request, slug=None, revision_id=None):
        post = self.get_object()
        revision = get_object_or_404(post.revisions, pk=revision_id)
        services.revision_restore(
            revision=revision, user=request.user, expected_version=post.version
        )
        return self._detail(post)


class _Moved(Exception):
    """Carries the 301 of an old slug out of the cached-response builder."""

    def __init__(self, response):
        self.response = response


class AnnotatedWritesMixin:
    """Create and update answer with the same annotated fields a read shows (post_count)."""

    def perform_create(self, serializer):
        serializer.save()
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_update(self, serializer):
        serializer.save()
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


@extend_schema_view(
    list=extend_schema(summary="Categories with their visible-post counts"),
    retrieve=extend_schema(summary="One category"),
)
class CategoryViewSet(AnnotatedWritesMixin, RateLimitHeadersMixin, viewsets.ModelViewSet):
    """Categories: read by everyone, written by editors."""

    serializer_class = CategorySerializer
    permission_classes = [IsEditorOrReadOnly]
    lookup_field = "slug"
    queryset = Category.objects.none()

    def get_queryset(self):
        return (
            Category.objects.select_related("parent")
            .annotate(post_count=Count("posts", filter=visible_condition(prefix="posts__")))
            .order_by("name")
        )


@extend_schema_view(
    list=extend_schema(summary="Tags with their visible-post counts"),
    retrieve=extend_schema(summary="One tag"),
)
class TagViewSet(AnnotatedWritesMixin, RateLimitHeadersMixin, viewsets.ModelViewSet):
    """Tags: read by everyone, written by editors."""

    serializer_class = TagSerializer
    permission_classes = [IsEditorOrReadOnly]
    lookup_field = "slug"
    queryset = Tag.objects.none()

    def get_queryset(self):
        return Tag.objects.annotate(
            post_count=Count("posts", filter=visible_condition(prefix="posts__"))
        ).order_by("name")


@extend_schema_view(
    list=extend_schema(summary="Authors with visible posts"),
    retrieve=extend_schema(summary="One author's public profile"),
)
class AuthorViewSet(RateLimitHeadersMixin, viewsets.ReadOnlyModelViewSet):
    """Public profiles of users with at least one visible post."""

    serializer_class = AuthorSerializer
    permission_classes = [AllowAny]
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    queryset = User.objects.none()

    def get_queryset(self):
        return (
            User.objects.select_related("author_profile")
            .annotate(post_count=Count("posts", filter=visible_condition(prefix="posts__")))
            .filter(post_count__gt=0)
            .order_by("username")
        )


class PostCommentsViewSet(
    RateLimitHeadersMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Approved comments of a visible post; anyone may add one (it waits for moderation)."""

    permission_classes = [AllowAny]
    queryset = Comment.objects.none()

    def get_throttles(self):
        if self.action == "create":
            self.throttle_scope = "comments"
            return [*super().get_throttles(), ScopeThrottle()]
        return super().get_throttles()

    def _post(self):
        return get_object_or_404(Post.objects.visible(), slug=self.kwargs["post_slug"])

    def get_queryset(self):
        return (
            self._post()
            .comments.filter(status=CommentStatus.APPROVED)
            .order_by("created_at", "id")
        )

    def get_serializer_class(self):
        return CommentCreateSerializer if self.action == "create" else CommentSerializer

    @extend_schema(
        request=CommentCreateSerializer,
        responses={201: CommentCreatedSerializer, 429: None},
        summary="Add a comment (moderated)",
    )
    def create(self, request, *args, **kwargs):
        serializer = CommentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            comment = services.comment_submit(
                post=self._post(),
                author_name=data["author_name"],
                author_email=data["author_email"],
                body=data["body"],
                user=request.user,
                **client_info(request),
                honeypot=data.get("website", ""),
                throttle=False,  # the "comments" DRF throttle applies the same limit here
            )
        except errors.CommentSpam:
            # Answer a bot as if it had worked; nothing was stored.
            return Response({"status": "pending"}, status=status.HTTP_201_CREATED)
        return Response(
            {"id": comment.pk, "status": comment.status}, status=status.HTTP_201_CREATED
        )


class CommentModerationViewSet(
    RateLimitHeadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The moderation queue (editors): filter by `status`, then approve / reject / spam."""

    serializer_class = CommentModerationSerializer
    permission_classes = [IsModerator]
    filterset_fields = ["status"]
    queryset = Comment.objects.select_related("post").order_by("-created_at", "-id")

    def _moderate(self, request, new_status):
        comment = self.get_object()
        services.comments_moderate(comments=[comment], user=request.user, status=new_status)
        comment.refresh_from_db()
        return Response(CommentModerationSerializer(comment).data)

    @extend_schema(request=None, summary="Approve")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._moderate(request, CommentStatus.APPROVED)

    @extend_schema(request=None, summary="Reject")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._moderate(request, CommentStatus.REJECTED)

    @extend_schema(request=None, summary="Mark as spam")
    @action(detail=True, methods=["post"])
    def spam(self, request, pk=None):
        return self._moderate(request, CommentStatus.SPAM)
