"""Blog content: posts, categories, tags, author profiles, revisions, comments, old slugs."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from blog.roles import can_write_posts, is_editor

TITLE_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 220
EXCERPT_MAX_LENGTH = 500
COMMENT_MAX_LENGTH = 3000
# Slugs that would collide with API routes next to /posts/<slug>/.
RESERVED_SLUGS = frozenset({"changes", "trash"})


class PostStatus(models.TextChoices):
    """Where a post stands in the editorial workflow (transitions: blog/workflow.py)."""

    DRAFT = "draft", "Draft"  # being written; only its author and editors see it
    IN_REVIEW = "in_review", "In review"  # submitted; waiting for an editor
    SCHEDULED = "scheduled", "Scheduled"  # visible from published_at on, nobody acting
    PUBLISHED = "published", "Published"  # visible now
    ARCHIVED = "archived", "Archived"  # taken off the site, kept for the record


# The states readers may see, once published_at has come.
LIVE_STATUSES = (PostStatus.PUBLISHED, PostStatus.SCHEDULED)


def validate_not_reserved(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise ValidationError(f"“{slug}” is reserved; choose another slug.")


def visible_condition(now=None, prefix: str = "") -> Q:
    """The one visibility rule: published or scheduled, and the publish time has come.

    `prefix` applies it across a relation (e.g. "posts__" when counting a tag's posts).
    """
    now = now or timezone.now()
    return Q(
        **{
            f"{prefix}status__in": LIVE_STATUSES,
            f"{prefix}published_at__lte": now,
            f"{prefix}deleted_at__isnull": True,
        }
    )


class PostQuerySet(models.QuerySet):
    """Post queries; every public path starts from `visible()`."""

    def visible(self, now=None):
        """Posts a reader may see at `now`."""
        return self.filter(visible_condition(now))

    def editable_by(self, user):
        """What `user` may see in editing tools: everything for editors, own posts for authors."""
        live = self.filter(deleted_at__isnull=True)
        if is_editor(user):
            return live
        if user.is_authenticated:
            return live.filter(author=user)
        return self.none()

    def readable_by(self, user, now=None):
        """What `user` may read through the API (at `now`): readers the visible posts,
        authors also their own, editors everything (the trash excluded)."""
        if is_editor(user):
            return self.filter(deleted_at__isnull=True)
        if can_write_posts(user):
            return self.filter(visible_condition(now) | Q(author=user, deleted_at__isnull=True))
        return self.visible(now)

    def in_trash(self):
        return self.filter(deleted_at__isnull=False)

    def for_listing(self):
        """Everything a listing page shows, in a constant number of queries."""
        return self.select_related("author__author_profile", "category").prefetch_related("tags")


class AuthorProfile(models.Model):
    """Public face of a user who writes: name on bylines, bio and avatar on author pages."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="author_profile"
    )
    display_name = models.CharField(max_length=120, blank=True)
    bio = models.TextField(blank=True, max_length=2000)
    avatar_url = models.URLField(blank=True)

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()


def display_name_of(user) -> str:
    """A user's byline, whether or not they have an author profile yet."""
    profile = getattr(user, "author_profile", None)
    try:
        return profile.name if profile else (user.get_full_name() or user.get_username())
    except AuthorProfile.DoesNotExist:  # pragma: no cover - reverse one-to-one miss
        return user.get_full_name() or user.get_username()


class Category(models.Model):
    """One section of the blog; a post has at most one."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("blog:category", args=[self.slug])


class Tag(models.Model):
    """A free-form label; posts have many."""

    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("blog:tag", args=[self.slug])


class Image(models.Model):
    """An uploaded picture: its cleaned original and WebP renditions in the media storage
    (blog.images stores and deletes them; blog.imaging checks and prepares them)."""

    # Names the image's folder in the storage (images/<key>/…) and finds it in post bodies.
    key = models.CharField(max_length=32, unique=True, editable=False)
    original = models.CharField(max_length=200, editable=False)  # storage name
    alt_text = models.CharField(
        max_length=300,
        blank=True,
        help_text="What the picture shows, for readers who cannot see it.",
    )
    format = models.CharField(max_length=8, editable=False)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    size_bytes = models.PositiveIntegerField(editable=False)
    original_name = models.CharField(max_length=200, blank=True, editable=False)
    # [{"width", "height", "name", "size_bytes"}], widest first: made once at upload.
    renditions = models.JSONField(default=list, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.alt_text or self.original_name or self.key


class Post(models.Model):
    """A blog post; its status only changes through blog.workflow / blog.services."""

    title = models.CharField(max_length=TITLE_MAX_LENGTH, validators=[MinLengthValidator(1)])
    slug = models.SlugField(
        max_length=SLUG_MAX_LENGTH, unique=True, validators=[validate_not_reserved]
    )
    excerpt = models.TextField(
        max_length=EXCERPT_MAX_LENGTH, blank=True, help_text="Generated from the body if empty."
    )
    # True while the excerpt is the one generated from the body (it then follows the body).
    excerpt_generated = models.BooleanField(default=False, editable=False)
    body = models.TextField(blank=True, help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False)
    cover_image_url = models.URLField(blank=True)
    cover_image_alt = models.CharField(max_length=200, blank=True)
    # An uploaded cover (served with renditions); wins over cover_image_url when both are set.
    cover_image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.PROTECT, related_name="cover_of"
    )
    # The uploaded images the body shows (kept by blog.images at every save).
    images = models.ManyToManyField(Image, blank=True, related_name="shown_in", editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="posts")
    meta_title = models.CharField(max_length=70, blank=True)
    meta_description = models.CharField(max_length=170, blank=True)
    canonical_url = models.URLField(blank=True)
    reading_time = models.PositiveSmallIntegerField(default=1, editable=False)
    featured = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=PostStatus.choices, default=PostStatus.DRAFT, editable=False
    )
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the post becomes visible."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Optimistic locking: every saved change bumps it; a save based on an older one is refused.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Bumped to revoke every preview link given out so far (tokens carry the generation).
    preview_generation = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # Maintained by blog.search (PostgreSQL only; the GIN index is in migration 0002).
    search_vector = SearchVectorField(null=True, editable=False)
    # Soft delete: set when moved to the trash; hidden everywhere until restored or purged.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Position in the change feed (blog.changes): taken from ContentVersion at every change.
    change_seq = models.BigIntegerField(default=0, editable=False, db_index=True)
    # Once readers have seen it, mirrors must hear when it goes away (tombstones).
    was_published = models.BooleanField(default=False, editable=False)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        permissions = [("publish_post", "Can publish, schedule, archive and edit any post")]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="post_status_published"),
            models.Index(fields=["author", "status"], name="post_author_status"),
            models.Index(fields=["category", "-published_at"], name="post_category_published"),
            models.Index(fields=["-updated_at"], name="post_updated"),
            # The public list: newest visible first, read in index order (LIMIT 20 stays
            # cheap at any table size; `status IN (...)` on a leading column cannot).
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(status__in=["published", "scheduled"], deleted_at__isnull=True),
                name="post_live_recent",
            ),
            # The editors' list (the admin): everything not in the trash, newest first; its
            # COUNT is an index-only scan of this index instead of the whole table.
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="post_not_trashed_recent",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[PostStatus.DRAFT, PostStatus.IN_REVIEW])
                | Q(published_at__isnull=False),
                name="post_live_or_archived_has_publish_time",
            ),
            models.CheckConstraint(condition=~Q(title=""), name="post_title_not_empty"),
            models.CheckConstraint(condition=~Q(slug=""), name="post_slug_not_empty"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("blog:post_detail", args=[self.slug])

    def is_visible(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status in LIVE_STATUSES
            and self.published_at is not None
            and self.published_at <= now
            and self.deleted_at is None
        )


class SlugRedirect(models.Model):
    """An earlier slug of a post: its URLs answer 301 to the current one."""

    old_slug = models.SlugField(max_length=SLUG_MAX_LENGTH, unique=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="slug_redirects")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.old_slug} -> {self.post.slug}"


class Revision(models.Model):
    """A snapshot of a post's content taken at every save; restoring one makes a new one."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)
    # title, excerpt, body, SEO fields, cover, category and tag slugs at that save.
    snapshot = models.JSONField()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["post", "number"], name="revision_number_per_post")
        ]

    def __str__(self):
        return f"{self.post} — revision {self.number}"


class Autosave(models.Model):
    """A copy of what an editor typed but has not saved, kept every few seconds while they
    type: it never touches the post, its version or its revisions, and is offered back when
    the editor opens the post again (after a crash or a closed tab)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.JSONField()
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user"], name="one_autosave_per_editor")
        ]

    def __str__(self):
        return f"{self.post} — unsaved copy of {self.user}"


class CommentStatus(models.TextChoices):
    """Moderation state of a comment; only approved ones are shown."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SPAM = "spam", "Spam"


class Comment(models.Model):
    """A reader's comment on a visible post; waits for moderation."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    author_name = models.CharField(max_length=80)
    author_email = models.EmailField()
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    status = models.CharField(
        max_length=12,
        choices=CommentStatus.choices,
        default=CommentStatus.PENDING,
        db_index=True,
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moderated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        permissions = [("moderate_comment", "Can approve, reject and mark comments as spam")]
        indexes = [models.Index(fields=["post", "status", "created_at"], name="comment_post")]

    def __str__(self):
        return f"{self.author_name} on {self.post}"


class ContentVersion(models.Model):
    """One row counting every change to public content.

    Its value orders the change feed and keys the API caches. Writers bump it inside their
    transaction, so the row lock makes changes take numbers in commit order.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"content version {self.value}"


class PostTombstone(models.Model):
    """A purged post that readers had seen: the change feed reports its deletion."""

    change_seq = models.BigIntegerField(db_index=True)
    post_id = models.BigIntegerField()
    slug = models.SlugField(max_length=SLUG_MAX_LENGTH)
    deleted_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"tombstone of post {self.post_id}"
