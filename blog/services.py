"""Every write to blog content: create, update, workflow transitions, revisions, comments.

The admin, the API and management commands call these functions; nothing else changes a
post's status or bumps its version.
"""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from blog import errors, images
from blog.changes import bump_content_version, mark_due_posts_published, touch_post
from blog.models import (
    Autosave,
    RESERVED_SLUGS,
    SLUG_MAX_LENGTH,
    Category,
    Comment,
    CommentStatus,
    Image,
    Post,
    PostStatus,
    PostTombstone,
    Revision,
    SlugRedirect,
    Tag,
)
from blog.rendering import make_excerpt, reading_time_minutes, render_markdown
from blog.search import refresh_search_vectors
from blog.workflow import TRANSITIONS, can_write_posts, is_editor, may_edit, may_take
from notifications import events

# The fields a content save may change (status and version only change through services).
CONTENT_FIELDS = (
    "title",
    "slug",
    "excerpt",
    "body",
    "cover_image_url",
    "cover_image_alt",
    "cover_image",
    "category",
    "meta_title",
    "meta_description",
    "canonical_url",
    "featured",
    "published_at",
)
# What a revision keeps and a restore puts back (the slug stays: a restore must not move URLs).
SNAPSHOT_FIELDS = (
    "title",
    "excerpt",
    "body",
    "cover_image_url",
    "cover_image_alt",
    "meta_title",
    "meta_description",
    "canonical_url",
    "featured",
)
PREVIEW_SALT = "blog.post-preview"


# --------------------------------------------------------------------------- helpers


def unique_slug(text: str, *, exclude_post_id: int | None = None) -> str:
    """A slug from `text` that no other post (and no other post's old URL) uses."""
    base = slugify(text)[: SLUG_MAX_LENGTH - 8].strip("-") or "post"
    if base in RESERVED_SLUGS:
        base = f"{base}-post"
    taken_by_posts = Post.objects.exclude(pk=exclude_post_id)
    taken_by_redirects = SlugRedirect.objects.exclude(post_id=exclude_post_id)
    candidate, n = base, 1
    while (
        taken_by_posts.filter(slug=candidate).exists()
        or taken_by_redirects.filter(old_slug=candidate).exists()
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _derive(post: Post, *, previous: Post | None) -> None:
    """Fill what is computed from the body: HTML, excerpt (when left empty), reading time."""
    post.title = (post.title or "").strip()
    post.body_html = images.enrich_html(render_markdown(post.body or ""))
    post.reading_time = reading_time_minutes(post.body_html)
    excerpt = (post.excerpt or "").strip()
    # An excerpt we generated earlier and nobody edited keeps following the body.
    untouched_generated = (
        previous is not None and previous.excerpt_generated and excerpt == previous.excerpt
    )
    if not excerpt or untouched_generated:
        post.excerpt = make_excerpt(post.body_html)
        post.excerpt_generated = True
    else:
        post.excerpt = excerpt
        post.excerpt_generated = False


def _snapshot(post: Post, tag_slugs: Iterable[str]) -> dict:
    data = {field: getattr(post, field) for field in SNAPSHOT_FIELDS}
    data["slug"] = post.slug
    data["cover_image"] = post.cover_image_id
    data["category"] = post.category.slug if post.category_id else None
    data["tags"] = sorted(tag_slugs)
    return data


def _record_revision(post: Post, user, note: str) -> Revision:
    # The post row is locked (UPDATE or SELECT FOR UPDATE) in this transaction, so the
    # next number is safe from concurrent saves of the same post.
    last = post.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    return Revision.objects.create(
        post=post,
        number=last + 1,
        created_by=user if user and user.is_authenticated else None,
        note=note,
        snapshot=_snapshot(post, post.tags.values_list("slug", flat=True)),
    )


def _tags_from(tags, user) -> list[Tag]:
    """Tag objects or slugs; editors may introduce new slugs, anyone else gets an error."""
    result, unknown = [], []
    for tag in dict.fromkeys(tags):
        if isinstance(tag, Tag):
            result.append(tag)
            continue
        found = Tag.objects.filter(slug=tag).first()
        (result.append(found) if found else unknown.append(tag))
    if unknown and not is_editor(user):
        raise errors.WorkflowError({"tags": f"Unknown tags: {', '.join(unknown)}."})
    for slug in unknown:
        result.append(Tag.objects.create(slug=slug, name=slug.replace("-", " ").title()))
    return result


def _validate(post: Post) -> None:
    try:
        post.full_clean(exclude=["author", "search_vector"])
    except ValidationError as error:
        raise errors.WorkflowError(error.message_dict)


# --------------------------------------------------------------------------- posts


@transaction.atomic
def post_create(*, user, author=None, tags: Iterable = (), **fields) -> Post:
    """Create a draft. Authors write as themselves; editors may name another author."""
    if not can_write_posts(user):
        raise PermissionDenied(errors.CANNOT_WRITE_POSTS)
    author = author or user
    if author.pk != user.pk and not is_editor(user):
        raise PermissionDenied(errors.NOT_YOUR_POST)
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"post_create() got unexpected fields: {sorted(unknown)}")
    post = Post(author=author, status=PostStatus.DRAFT, **fields)
    post.title = (post.title or "").strip()
    if not post.slug:
        post.slug = unique_slug(post.title)
    _derive(post, previous=None)
    post.updated_at = timezone.now()
    _validate(post)
    post.save()
    post.tags.set(_tags_from(tags, user))
    images.record_usage(post)
    SlugRedirect.objects.filter(old_slug=post.slug).delete()
    _record_revision(post, user, "Created")
    refresh_search_vectors([post.pk])
    touch_post(post)
    return post


@transaction.atomic
def post_update(
    *, post: Post, user, expected_version: int, tags=None, note: str = "Edited", **changes
) -> Post:
    """Save content changes if `expected_version` is still current; else raise StaleEdit."""
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"post_update() got unexpected fields: {sorted(unknown)}")
    current = Post.objects.select_related("category").get(pk=post.pk)
    if current.version != expected_version:
        raise errors.StaleEdit(expected=expected_version, current=current.version)
    _check_may_edit(user, current)
    updated = Post.objects.select_related("category").get(pk=post.pk)
    for field, value in changes.items():
        setattr(updated, field, value)
    if "slug" in changes and not (changes["slug"] or "").strip():
        updated.slug = unique_slug(updated.title, exclude_post_id=post.pk)
    _derive(updated, previous=current)
    _validate(updated)
    now = timezone.now()
    values = {field: getattr(updated, field) for field in CONTENT_FIELDS}
    values.update(
        body_html=updated.body_html,
        excerpt_generated=updated.excerpt_generated,
        reading_time=updated.reading_time,
        updated_at=now,
    )
    # The version check and the write are one statement: a concurrent save cannot slip in.
    rows = Post.objects.filter(pk=post.pk, version=expected_version).update(
        version=F("version") + 1, **values
    )
    if rows == 0:
        latest = Post.objects.filter(pk=post.pk).values_list("version", flat=True).first()
        raise errors.StaleEdit(expected=expected_version, current=latest or 0)
    if updated.slug != current.slug:
        SlugRedirect.objects.filter(old_slug=updated.slug).delete()
        SlugRedirect.objects.update_or_create(old_slug=current.slug, defaults={"post_id": post.pk})
    updated.version = expected_version + 1
    updated.updated_at = now
    if tags is not None:
        updated.tags.set(_tags_from(tags, user))
    images.record_usage(updated)
    _record_revision(updated, user, note)
    refresh_search_vectors([post.pk])
    touch_post(updated)
    announce(updated, was_visible=current.is_visible())
    _copy_state(updated, post)
    return post


def post_lock_for_edit(*, post: Post, user, expected_version: int) -> Post:
    """Lock the row for the rest of the transaction and check the edit may go ahead.

    The admin calls this while validating its form, inside the transaction that will save,
    so a concurrent save waits for this one and then sees the new version.
    """
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if locked.version != expected_version:
        raise errors.StaleEdit(expected=expected_version, current=locked.version)
    _check_may_edit(user, locked)
    return locked


def _check_may_edit(user, post: Post) -> None:
    if may_edit(user, post):
        return
    if not can_write_posts(user) or post.author_id != getattr(user, "pk", None):
        raise PermissionDenied(errors.NOT_YOUR_POST)
    raise PermissionDenied(
        errors.AUTHORS_EDIT_DRAFTS_ONLY.format(status=post.get_status_display())
    )


def _copy_state(source: Post, target: Post) -> None:
    """Bring the caller's instance up to date with what was stored."""
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


@transaction.atomic
def post_transition(
    *,
    post: Post,
    user,
    action: str,
    publish_at: datetime.datetime | None = None,
    expected_version: int | None = None,
) -> Post:
    """Move a post along the workflow: submit, withdraw, publish, schedule, unpublish, archive."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise errors.WorkflowError(f"Unknown workflow action {action!r}.")
    # Lock, re-read, decide: concurrent transitions of one post queue up here.
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if expected_version is not None and locked.version != expected_version:
        raise errors.StaleEdit(expected=expected_version, current=locked.version)
    # Role first, so a caller without rights learns nothing about the post's state.
    if not is_editor(user):
        if transition.editors_only:
            raise PermissionDenied(errors.EDITORS_ONLY.format(action=action))
        if not can_write_posts(user) or locked.author_id != user.pk:
            raise PermissionDenied(errors.NOT_YOUR_POST)
    if not may_take(user, locked, transition):
        raise errors.WorkflowError(
            errors.TRANSITION_NOT_ALLOWED.format(
                action=action, status=locked.get_status_display().lower()
            ),
            code="invalid_transition",
        )

    now = timezone.now()
    was_visible = locked.is_visible(now)
    if action in ("publish", "schedule"):
        images.check_alt_text(locked)
    if action == "publish":
        # Publishing means visible now: keep a past (backdated) time, replace a future one.
        if locked.published_at is None or locked.published_at > now:
            locked.published_at = now
    elif action == "schedule":
        when = publish_at or locked.published_at
        if when is None or when <= now:
            raise errors.WorkflowError(
                {"publish_at": errors.SCHEDULE_NEEDS_FUTURE}, code="schedule_in_past"
            )
        locked.published_at = when
    locked.status = transition.target
    locked.version += 1
    locked.updated_at = now
    locked.save(update_fields=["status", "published_at", "version", "updated_at"])
    _record_revision(locked, user, transition.label)
    touch_post(locked)
    announce(locked, was_visible=was_visible)
    _copy_state(locked, post)
    return post


def post_submit(*, post, user, **kw):
    return post_transition(post=post, user=user, action="submit", **kw)


def post_publish(*, post, user, **kw):
    return post_transition(post=post, user=user, action="publish", **kw)


def post_schedule(*, post, user, publish_at, **kw):
    return post_transition(post=post, user=user, action="schedule", publish_at=publish_at, **kw)


def post_unpublish(*, post, user, **kw):
    return post_transition(post=post, user=user, action="unpublish", **kw)


def post_archive(*, post, user, **kw):
    return post_transition(post=post, user=user, action="archive", **kw)


def posts_transition_many(*, posts: Iterable[Post], user, action: str, publish_at=None):
    """Apply one action to many posts; returns (changed, {post: reason}) for a summary."""
    changed, skipped = [], {}
    for post in posts:
        try:
            post_transition(post=post, user=user, action=action, publish_at=publish_at)
        except (errors.WorkflowError, PermissionDenied, errors.StaleEdit) as error:
            skipped[post] = _message_of(error)
        else:
            changed.append(post)
    return changed, skipped


def _message_of(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


@transaction.atomic
def revision_restore(*, revision: Revision, user, expected_version: int) -> Post:
    """Put a revision's content back as a new save (so the restore is itself a revision)."""
    post = revision.post
    data = revision.snapshot
    changes = {field: data[field] for field in SNAPSHOT_FIELDS if field in data}
    changes["category"] = Category.objects.filter(slug=data.get("category")).first()
    if "cover_image" in data:  # an image deleted since then is simply not restored
        changes["cover_image"] = Image.objects.filter(pk=data["cover_image"]).first()
    tags = list(Tag.objects.filter(slug__in=data.get("tags", [])))
    return post_update(
        post=post,
        user=user,
        expected_version=expected_version,
        tags=tags,
        note=f"Restored revision {revision.number}",
        **changes,
    )


def publish_due_posts(now=None) -> bool:
    """Turn scheduled posts whose time has come into published ones (readers see them from
    their publish time on anyway; this records it for the admin and the change feed)."""
    return mark_due_posts_published(now) is not None


# --------------------------------------------------------------------------- trash


@transaction.atomic
def post_trash(*, post: Post, user) -> Post:
    """Soft delete: hidden everywhere, restorable by editors until purged."""
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if not (is_editor(user) or may_edit(user, locked)):
        raise PermissionDenied(errors.NOT_YOUR_POST)
    if locked.deleted_at is not None:
        raise errors.WorkflowError(errors.ALREADY_IN_TRASH)
    return _set_deleted_at(locked, post, user, timezone.now(), "Moved to trash")


@transaction.atomic
def post_restore_from_trash(*, post: Post, user) -> Post:
    if not is_editor(user):
        raise PermissionDenied(errors.EDITORS_ONLY.format(action="restore"))
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if locked.deleted_at is None:
        raise errors.WorkflowError(errors.NOT_IN_TRASH)
    return _set_deleted_at(locked, post, user, None, "Restored from trash")


def _set_deleted_at(locked: Post, post: Post, user, deleted_at, note: str) -> Post:
    was_visible = locked.is_visible()
    locked.deleted_at = deleted_at
    locked.version += 1
    locked.save(update_fields=["deleted_at", "version"])
    _record_revision(locked, user, note)
    touch_post(locked)
    announce(locked, was_visible=was_visible)
    _copy_state(locked, post)
    return post


def announce(post: Post, *, was_visible: bool) -> None:
    """What readers' side learns of a change: a post appeared, changed while visible, or
    went away (post.published / post.updated / post.unpublished)."""
    visible = post.is_visible()
    if visible and not was_visible:
        events.emit("post.published", events.post_data(post))
    elif was_visible and not visible:
        events.emit("post.unpublished", events.post_data(post))
    elif visible:
        events.emit("post.updated", events.post_data(post))


@transaction.atomic
def post_purge(*, post: Post, user) -> None:
    """Delete for good (editors only); a post readers had seen leaves a feed tombstone."""
    if not is_editor(user):
        raise PermissionDenied(errors.EDITORS_ONLY.format(action="purge"))
    locked = Post.objects.select_for_update().get(pk=post.pk)
    seq = bump_content_version()
    if locked.was_published:
        PostTombstone.objects.create(change_seq=seq, post_id=locked.pk, slug=locked.slug)
    locked.delete()


def purge_expired_trash(now=None) -> int:
    """Purge posts that have been in the trash longer than BLOG_TRASH_DAYS."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.BLOG_TRASH_DAYS)
    expired = list(Post.objects.filter(deleted_at__lt=cutoff).values_list("pk", flat=True))
    purged = 0
    for post_id in expired:
        with transaction.atomic():
            post = Post.objects.select_for_update().filter(pk=post_id).first()
            # Lock, re-read, decide: an editor may have restored it since the list was read.
            if post is None or post.deleted_at is None or post.deleted_at >= cutoff:
                continue
            seq = bump_content_version()
            if post.was_published:
                PostTombstone.objects.create(change_seq=seq, post_id=post.pk, slug=post.slug)
            post.delete()
            purged += 1
    return purged


# --------------------------------------------------------------------------- previews


def preview_token(post: Post) -> str:
    """A signed token that shows this post (whatever its state) until it expires or the
    post's preview links are revoked."""
    return signing.dumps(
        {"post": post.pk, "g": post.preview_generation}, salt=PREVIEW_SALT, compress=True
    )


def preview_link_create(*, post: Post, user) -> dict:
    """A preview link for someone who may edit the post: its URL path and expiry."""
    if not may_edit(user, post):
        raise PermissionDenied("You may not share a preview of this post.")
    token = preview_token(post)
    expires = timezone.now() + datetime.timedelta(seconds=settings.BLOG_PREVIEW_MAX_AGE)
    return {"path": reverse("blog:post_preview", args=[token]), "expires_at": expires}


def preview_links_revoke(*, post: Post, user) -> None:
    """Every preview link of this post given out so far stops working."""
    if not may_edit(user, post):
        raise PermissionDenied("You may not revoke this post's preview links.")
    Post.objects.filter(pk=post.pk).update(preview_generation=F("preview_generation") + 1)


def post_from_preview_token(token: str) -> Post:
    """The post a preview token names; PermissionDenied when expired or forged."""
    try:
        data = signing.loads(token, salt=PREVIEW_SALT, max_age=settings.BLOG_PREVIEW_MAX_AGE)
    except signing.SignatureExpired:
        raise PermissionDenied(errors.PREVIEW_EXPIRED)
    except signing.BadSignature:
        raise PermissionDenied(errors.PREVIEW_INVALID)
    try:
        post = Post.objects.for_listing().get(pk=data["post"])
    except (Post.DoesNotExist, KeyError, TypeError):
        raise PermissionDenied(errors.PREVIEW_INVALID)
    if data.get("g", 0) != post.preview_generation:
        raise PermissionDenied(errors.PREVIEW_REVOKED)
    return post


# --------------------------------------------------------------------------- comments


def _throttle_comments(ip_address: str | None) -> None:
    limit, window = settings.BLOG_COMMENT_RATE
    key = f"blog:comment-rate:{ip_address or 'unknown'}"
    if cache.add(key, 1, timeout=window):
        return
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return
    if count > limit:
        raise errors.CommentThrottled(retry_after=window)


@transaction.atomic
def comment_submit(
    *,
    post: Post,
    author_name: str,
    author_email: str,
    body: str,
    user=None,
    ip_address: str | None = None,
    user_agent: str = "",
    honeypot: str = "",
    throttle: bool = True,
) -> Comment:
    """A reader's comment on a visible post; it waits for moderation."""
    if honeypot:
        raise errors.CommentSpam(errors.COMMENT_SPAM)
    if not post.is_visible():
        raise errors.WorkflowError(errors.COMMENTS_ON_VISIBLE_ONLY)
    if user is not None and user.is_authenticated:
        author_name = author_name or user.get_full_name() or user.get_username()
        author_email = author_email or user.email
    else:
        user = None
    comment = Comment(
        post=post,
        user=user,
        author_name=(author_name or "").strip(),
        author_email=(author_email or "").strip(),
        body=(body or "").strip(),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
    )
    try:
        comment.full_clean(exclude=["post", "user", "moderated_by"])
    except ValidationError as error:
        raise errors.WorkflowError(error.message_dict)
    if throttle:
        _throttle_comments(ip_address)
    comment.save()
    events.emit(
        "comment.pending",
        {
            "comment": {
                "id": comment.pk,
                "author_name": comment.author_name,
                "body_excerpt": comment.body[:280],
                "created_at": events.iso(comment.created_at),
                "url": events.absolute(reverse("admin:blog_comment_change", args=[comment.pk])),
            },
            **events.post_data(post),
        },
    )
    return comment


@transaction.atomic
def comments_moderate(*, comments: Iterable[Comment], user, status: str) -> int:
    """Approve, reject or mark comments as spam; returns how many changed."""
    if not (user and user.is_authenticated and user.has_perm("blog.moderate_comment")):
        raise PermissionDenied(errors.CANNOT_MODERATE)
    if status not in CommentStatus.values:
        raise errors.WorkflowError(f"Unknown comment status {status!r}.")
    ids = [comment.pk for comment in comments]
    changed = Comment.objects.filter(pk__in=ids).update(
        status=status, moderated_by=user, moderated_at=timezone.now()
    )
    if changed:
        bump_content_version()  # approved comments show in public payloads
    return changed


# --------------------------------------------------------------------------- autosave

# What the editor's autosave keeps: the text fields a person types (strings only).
AUTOSAVE_FIELDS = ("title", "excerpt", "body", "meta_title", "meta_description", "cover_image_alt")
AUTOSAVE_MAX_CHARS = 200_000


def autosave_store(*, post: Post, user, content: dict) -> Autosave:
    """Keep what `user` typed in `post` but did not save; the post itself is untouched."""
    if not may_edit(user, post):
        raise PermissionDenied("You may not edit this post.")
    kept = {
        name: value
        for name, value in content.items()
        if name in AUTOSAVE_FIELDS and isinstance(value, str)
    }
    if not kept:
        raise ValidationError("Nothing to keep.")
    if sum(len(value) for value in kept.values()) > AUTOSAVE_MAX_CHARS:
        raise ValidationError(f"At most {AUTOSAVE_MAX_CHARS} characters are kept.")
    autosave, _ = Autosave.objects.update_or_create(
        post=post, user=user, defaults={"content": kept, "saved_at": timezone.now()}
    )
    return autosave


def autosave_to_offer(*, post: Post, user) -> Autosave | None:
    """The unsaved copy to offer back: only one newer than the post's last save, and that
    differs from what is saved."""
    autosave = Autosave.objects.filter(post=post, user=user).first()
    if autosave is None or autosave.saved_at <= post.updated_at:
        return None
    if all(getattr(post, name) == value for name, value in autosave.content.items()):
        return None
    return autosave


def autosave_discard(*, post: Post, user) -> None:
    Autosave.objects.filter(post=post, user=user).delete()
