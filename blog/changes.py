"""The content version: one counter behind the change feed, API cache keys and ETags.

Every change to public content bumps `ContentVersion` inside its transaction. The bump
is an UPDATE of a single row, so concurrent writers queue on that row lock and take
numbers in the order they commit: a reader never sees number 11 before number 10.
That makes `(change_seq, id)` a keyset cursor that neither skips nor repeats.
"""

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from blog import content_state
from blog.models import ContentVersion, Post, PostStatus, PostTombstone
from notifications import events

_BUMP_SQL = "UPDATE blog_contentversion SET value = value + 1 WHERE id = 1 RETURNING value"
# The version and the earliest scheduled post's publish time (due when it has come).
_STATE_SQL = """
SELECT v.value,
       (SELECT min(p.published_at) FROM blog_post p
        WHERE p.status = %s AND p.deleted_at IS NULL)
FROM blog_contentversion v WHERE v.id = 1
"""


def bump_content_version() -> int:
    """Take the next change number; call inside the transaction that changes content."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bump_content_version() must run inside the writing transaction")
    content_state.changed_here()
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_SQL)
        row = cursor.fetchone()
    if row is None:  # the row is made by migration 0003; recreate it if someone deleted it
        ContentVersion.objects.create(pk=1, value=1)
        return 1
    return row[0]


def content_version(*, strict: bool = False) -> int:
    """The current content version, first publishing any scheduled post whose time has come.

    From this process's memory when blog.content_state vouches for it (no round trip);
    otherwise one query, which writes only in the moment a scheduled post falls due, so a
    cache keyed by this number never serves a scheduled post late. `strict` always asks
    the database (a caller that must read its own writes made in another process).
    """
    now = timezone.now()
    if not strict:
        remembered = content_state.recall(now)
        if remembered is not None:
            return remembered
    generation = content_state.generation()  # before the read: a change after it counts
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL, [PostStatus.SCHEDULED])
        row = cursor.fetchone()
    if row is None:
        with transaction.atomic():
            return bump_content_version()
    version, next_due = row[0], _as_datetime(row[1])
    if next_due is not None and next_due <= now:
        return mark_due_posts_published(now) or version
    content_state.remember(version, next_due, generation)
    return version


def _as_datetime(value):
    """A timestamp from raw SQL: PostgreSQL gives a datetime, SQLite the stored UTC text."""
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, datetime.UTC)
    return value


@transaction.atomic
def mark_due_posts_published(now=None) -> int | None:
    """Scheduled posts whose time has come join the feed (and caches) as published.

    Returns the new content version, or None when no post was due.
    """
    now = now or timezone.now()
    due = Post.objects.filter(
        status=PostStatus.SCHEDULED,
        published_at__lte=now,
        deleted_at__isnull=True,
    )
    ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True))
    if not ids:
        return None
    seq = bump_content_version()
    Post.objects.filter(pk__in=ids).update(
        status=PostStatus.PUBLISHED,
        was_published=True,
        change_seq=seq,
        version=F("version") + 1,
        updated_at=now,
    )
    for post in Post.objects.filter(pk__in=ids):
        events.emit("post.published", events.post_data(post))
    return seq


def touch_post(post: Post) -> None:
    """Give `post` the next change number (call in the transaction that changed it)."""
    seq = bump_content_version()
    fields = {"change_seq": seq}
    if post.is_visible():
        fields["was_published"] = True
    Post.objects.filter(pk=post.pk).update(**fields)
    for name, value in fields.items():
        setattr(post, name, value)


@dataclass(frozen=True)
class Change:
    """One entry of the change feed: a post to upsert, or one to delete (a tombstone)."""

    seq: int
    post_id: int
    slug: str
    post: Post | None  # None for a deletion

    @property
    def cursor(self) -> str:
        return f"{self.seq}.{self.post_id}"


def parse_cursor(text: str | None) -> tuple[int, int]:
    """'<seq>.<id>' (or '<seq>') -> (seq, id); ValueError for anything else."""
    if not text:
        return 0, 0
    seq, _, post_id = text.partition(".")
    seq_value, id_value = int(seq), int(post_id or 0)
    if seq_value < 0 or id_value < 0:
        raise ValueError("negative cursor")
    return seq_value, id_value


def changes_since(cursor: tuple[int, int], limit: int, queryset=None) -> list[Change]:
    """Up to `limit` changes after `cursor`, oldest first.

    A post readers never saw (a draft, a post still scheduled) is not mentioned at all;
    one that was public and no longer is comes back as a deletion.
    """
    content_version()  # publish what has fallen due, so it is in the feed now
    seq, post_id = cursor
    after = Q(change_seq__gt=seq) | Q(change_seq=seq, pk__gt=post_id)
    now = timezone.now()
    posts = list(
        (queryset if queryset is not None else Post.objects.for_listing())
        .filter(after, was_published=True)
        .order_by("change_seq", "pk")[:limit]
    )
    tombstones = list(
        PostTombstone.objects.filter(
            Q(change_seq__gt=seq) | Q(change_seq=seq, post_id__gt=post_id)
        ).order_by("change_seq", "post_id")[:limit]
    )
    entries = [
        Change(p.change_seq, p.pk, p.slug, p if p.is_visible(now) else None) for p in posts
    ] + [Change(t.change_seq, t.post_id, t.slug, None) for t in tombstones]
    entries.sort(key=lambda change: (change.seq, change.post_id))
    return entries[:limit]


def bump_for_related_change(sender, **kwargs) -> None:
    """Signal receiver: categories, tags, profiles and comments show in post payloads."""
    if transaction.get_connection().in_atomic_block:
        bump_content_version()
    else:
        with transaction.atomic():
            bump_content_version()
