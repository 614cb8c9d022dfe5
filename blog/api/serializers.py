"""Serializers of the blog API.

Read serializers declare their fields (for the OpenAPI schema) but build their output by
hand: DRF's per-field machinery cost more than the database on a 100-item page.
`tests/blog/api/test_schema_shapes.py` checks the two never drift apart.
"""

from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import F, Func, OuterRef
from django.urls import reverse
from rest_framework import serializers

from blog.models import (
    COMMENT_MAX_LENGTH,
    Category,
    Comment,
    Image,
    Post,
    PostStatus,
    Revision,
    Tag,
    display_name_of,
)
from blog.api.media import ImageSerializer
from blog.seo import absolute, post_seo
from blog.services import CONTENT_FIELDS

User = get_user_model()


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _author(user) -> dict:
    return {"username": user.get_username(), "display_name": display_name_of(user)}


class AuthorRefSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class TagRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class PostListSerializer(serializers.Serializer):
    """What a listing page needs of a post."""

    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    excerpt = serializers.CharField()
    status = serializers.ChoiceField(choices=PostStatus.choices)
    author = AuthorRefSerializer()
    category = CategoryRefSerializer(allow_null=True)
    tags = TagRefSerializer(many=True)
    published_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    reading_time = serializers.IntegerField(help_text="Minutes.")
    cover_image_url = serializers.URLField(allow_blank=True)
    cover_image_alt = serializers.CharField(allow_blank=True)
    featured = serializers.BooleanField()
    url = serializers.URLField(help_text="The post's page on the public site.")
    highlight = serializers.CharField(
        required=False, help_text="Search only: a snippet with <mark> around the matches."
    )

    def to_representation(self, post: Post) -> dict:
        return post_list_item(post)


def _tags(post: Post) -> list[dict]:
    """Folded into the post's query (TAG_COLUMNS), else its tags relation."""
    pairs = getattr(post, "tag_pairs", None)
    if pairs is not None:
        return tag_refs(pairs)
    return [{"slug": tag.slug, "name": tag.name} for tag in post.tags.all()]


def tag_refs(pairs: list[list[str]]) -> list[dict]:
    return [{"slug": slug, "name": name} for slug, name in pairs]


def post_list_item(post: Post) -> dict:
    """The list payload of a post instance (PostListSerializer's output)."""
    category = post.category
    return _list_item(
        post_id=post.pk,
        slug=post.slug,
        title=post.title,
        excerpt=post.excerpt,
        status=post.status,
        author=_author(post.author),
        category={"slug": category.slug, "name": category.name} if category else None,
        tags=_tags(post),
        published_at=post.published_at,
        updated_at=post.updated_at,
        reading_time=post.reading_time,
        cover_image_url=post.cover_image_url,
        cover_image_alt=post.cover_image_alt,
        featured=post.featured,
        headline=getattr(post, "headline", None),
    )


# Columns of the row-based list (no model instances: ~120 per page cost more than the SQL).
LIST_COLUMNS = (
    "id",
    "slug",
    "title",
    "excerpt",
    "status",
    "published_at",
    "updated_at",
    "reading_time",
    "cover_image_url",
    "cover_image_alt",
    "featured",
    "author__username",
    "author__first_name",
    "author__last_name",
    "author__author_profile__display_name",
    "category__slug",
    "category__name",
)


# A post's tags folded into the page's own query as one array of [slug, name] pairs, by name
# (one subquery: two, one per column, cost PostgreSQL ~20 % more to plan and run): built
# once (Django copies an expression when a query uses it), read without converters.
_TAG_PAIR = Func(
    F("tag__slug"),
    F("tag__name"),
    function="ARRAY",
    template="%(function)s[%(expressions)s]",
    output_field=ArrayField(models.CharField()),
)
TAG_COLUMNS = {
    "tag_pairs": ArraySubquery(
        Post.tags.through.objects.filter(post_id=OuterRef("id"))
        .order_by("tag__name")
        .values(pair=_TAG_PAIR)
    )
}


def tag_columns() -> dict:
    """TAG_COLUMNS on PostgreSQL; nothing on SQLite (no arrays), where `add_tags` reads them."""
    return TAG_COLUMNS if connection.vendor == "postgresql" else {}


def add_tags(rows: list[dict]) -> None:
    """Give rows read without `tag_columns()` their tags, in one query for the page."""
    if not rows or "tag_pairs" in rows[0]:
        return
    for row in rows:
        row["tag_pairs"] = []
    by_id = {row["id"]: row for row in rows}
    through = Post.tags.through.objects.filter(post_id__in=by_id).order_by("tag__name")
    for post_id, slug, name in through.values_list("post_id", "tag__slug", "tag__name"):
        by_id[post_id]["tag_pairs"].append([slug, name])


def post_list_items(rows) -> list[dict]:
    """List payloads from `.values(*LIST_COLUMNS, **TAG_COLUMNS)` rows (plus `headline`
    when searching)."""
    items = []
    for row in rows:
        full_name = f"{row['author__first_name']} {row['author__last_name']}".strip()
        username = row["author__username"]
        items.append(
            _list_item(
                post_id=row["id"],
                slug=row["slug"],
                title=row["title"],
                excerpt=row["excerpt"],
                status=row["status"],
                author={
                    "username": username,
                    "display_name": row["author__author_profile__display_name"]
                    or full_name
                    or username,
                },
                category=(
                    {"slug": row["category__slug"], "name": row["category__name"]}
                    if row["category__slug"]
                    else None
                ),
                tags=tag_refs(row["tag_pairs"]),
                published_at=row["published_at"],
                updated_at=row["updated_at"],
                reading_time=row["reading_time"],
                cover_image_url=row["cover_image_url"],
                cover_image_alt=row["cover_image_alt"],
                featured=row["featured"],
                headline=row.get("headline"),
            )
        )
    return items


def _list_item(*, post_id, slug, headline, published_at, updated_at, **fields) -> dict:
    data = {
        "id": post_id,
        "slug": slug,
        **{name: fields[name] for name in ("title", "excerpt", "status", "author", "category")},
        "tags": fields["tags"],
        "published_at": _iso(published_at),
        "updated_at": _iso(updated_at),
        **{
            name: fields[name]
            for name in ("reading_time", "cover_image_url", "cover_image_alt", "featured")
        },
        "url": post_url(slug),
    }
    if headline is not None:
        data["highlight"] = headline
    return data


_POST_URL_PATTERN: list[str] = []


def post_url(slug: str) -> str:
    """Absolute URL of a post's page: reverse() once, then string formatting."""
    if not _POST_URL_PATTERN:
        marker = "slug-placeholder"
        _POST_URL_PATTERN.append(absolute(reverse("blog:post_detail", args=[marker])))
        _POST_URL_PATTERN.append(marker)
    pattern, marker = _POST_URL_PATTERN
    return pattern.replace(marker, slug)


class SeoSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    canonical_url = serializers.URLField()
    open_graph = serializers.DictField(child=serializers.CharField())
    twitter = serializers.DictField(child=serializers.CharField())
    json_ld = serializers.DictField(help_text="A schema.org BlogPosting object.")


class PostDetailSerializer(PostListSerializer):
    """A whole post: body, rendered HTML, SEO, comment count."""

    body = serializers.CharField(help_text="Markdown source.")
    body_html = serializers.CharField(help_text="Rendered and sanitised.")
    meta_title = serializers.CharField(allow_blank=True)
    meta_description = serializers.CharField(allow_blank=True)
    canonical_url = serializers.URLField(allow_blank=True)
    comment_count = serializers.IntegerField(help_text="Approved comments.")
    version = serializers.IntegerField(help_text="Bumped by every saved change.")
    created_at = serializers.DateTimeField()
    seo = SeoSerializer()
    cover_image = ImageSerializer(
        allow_null=True, help_text="The uploaded cover with its renditions; null for none."
    )

    def to_representation(self, post: Post) -> dict:
        data = post_list_item(post)
        data.update(
            cover_image=ImageSerializer(post.cover_image).data if post.cover_image_id else None,
            body=post.body,
            body_html=post.body_html,
            meta_title=post.meta_title,
            meta_description=post.meta_description,
            canonical_url=post.canonical_url,
            comment_count=getattr(post, "approved_comment_count", 0),
            version=post.version,
            created_at=_iso(post.created_at),
            seo=post_seo(post),
        )
        return data


class PostWriteSerializer(serializers.ModelSerializer):
    """The body of create / PUT / PATCH; the service layer does the saving."""

    slug = serializers.SlugField(
        max_length=Post._meta.get_field("slug").max_length, required=False, allow_blank=True
    )
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    cover_image = serializers.SlugRelatedField(
        slug_field="key",
        queryset=Image.objects.all(),
        required=False,
        allow_null=True,
        help_text="An uploaded image's key (GET /api/v1/media/); null for none.",
    )
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=80),
        required=False,
        max_length=30,
        help_text="Tag slugs. Editors may introduce new ones; authors use existing tags.",
    )

    class Meta:
        model = Post
        # What the service layer lets a save change (the publish time is the workflow's).
        fields = [name for name in CONTENT_FIELDS if name != "published_at"] + ["tags"]
        extra_kwargs = {"title": {"allow_blank": False}}

    def validate_slug(self, value):
        query = Post.objects.filter(slug=value)
        if self.instance is not None:
            query = query.exclude(pk=self.instance.pk)
        if value and query.exists():
            raise serializers.ValidationError("A post with this slug already exists.")
        return value


class ScheduleSerializer(serializers.Serializer):
    publish_at = serializers.DateTimeField(help_text="ISO 8601, in the future.")


class SlugOrNullField(serializers.SlugRelatedField):
    """A slug, or null for none: an empty string is refused (DRF would take it for null),
    as the schema's minLength says."""

    def run_validation(self, data=serializers.empty):
        if data == "":
            raise serializers.ValidationError("A slug, or null for none.")
        return super().run_validation(data)


class CategorySerializer(serializers.ModelSerializer):
    post_count = serializers.IntegerField(read_only=True, help_text="Visible posts.")
    parent = SlugOrNullField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Category
        fields = ["slug", "name", "description", "parent", "post_count"]


class TagSerializer(serializers.ModelSerializer):
    post_count = serializers.IntegerField(read_only=True, help_text="Visible posts.")

    class Meta:
        model = Tag
        fields = ["slug", "name", "post_count"]


class AuthorSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    bio = serializers.CharField(allow_blank=True)
    avatar_url = serializers.URLField(allow_blank=True)
    post_count = serializers.IntegerField(help_text="Visible posts.")

    def to_representation(self, user) -> dict:
        profile = getattr(user, "author_profile", None)
        return {
            "username": user.get_username(),
            "display_name": display_name_of(user),
            "bio": profile.bio if profile else "",
            "avatar_url": profile.avatar_url if profile else "",
            "post_count": getattr(user, "post_count", 0),
        }


class CommentSerializer(serializers.ModelSerializer):
    """A public comment as readers see it."""

    class Meta:
        model = Comment
        fields = ["id", "author_name", "body", "created_at"]


class CommentCreateSerializer(serializers.Serializer):
    author_name = serializers.CharField(max_length=80)
    author_email = serializers.EmailField()
    body = serializers.CharField(max_length=COMMENT_MAX_LENGTH)
    website = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Leave empty (honeypot)."
    )


class CommentCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    status = serializers.CharField(help_text="Always `pending`: comments wait for moderation.")


class CommentModerationSerializer(serializers.ModelSerializer):
    """A comment as moderators see it."""

    post = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "post",
            "author_name",
            "author_email",
            "body",
            "status",
            "ip_address",
            "user_agent",
            "created_at",
            "moderated_at",
        ]


class RevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Revision
        fields = ["id", "number", "created_at", "created_by", "note", "snapshot"]


class ChangeSerializer(serializers.Serializer):
    """One entry of the sync feed."""

    cursor = serializers.CharField(help_text="Pass as `since` to continue after this entry.")
    action = serializers.ChoiceField(choices=["upsert", "delete"])
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    post = PostListSerializer(allow_null=True)


class ChangesPageSerializer(serializers.Serializer):
    results = ChangeSerializer(many=True)
    next_cursor = serializers.CharField(help_text="Cursor of the last entry (or `since`).")
    has_more = serializers.BooleanField()


class PreviewLinkSerializer(serializers.Serializer):
    """A signed link that shows a post, whatever its state, to whoever holds it."""

    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
