"""The trash purge locks, re-reads and decides: a post an editor restores while the purge is
on its way is kept. Two real PostgreSQL connections."""

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from blog import services
from blog.models import Post
from tests.blog.factories import make_post
from tests.factories import EditorFactory


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_post_restored_while_the_purge_waits_for_its_lock_is_kept(settings):
    editor = EditorFactory(username="restorer")
    post = make_post(editor=editor, title="Keep me")
    services.post_trash(post=post, user=editor)
    long_ago = timezone.now() - datetime.timedelta(days=settings.BLOG_TRASH_DAYS + 1)
    Post.objects.filter(pk=post.pk).update(deleted_at=long_ago)

    restored_locked, commit_restore = threading.Event(), threading.Event()
    purged = []

    def editor_restores():
        try:
            with transaction.atomic():
                services.post_restore_from_trash(post=Post.objects.get(pk=post.pk), user=editor)
                restored_locked.set()  # the row is locked and restored, not yet committed
                assert commit_restore.wait(60)
        finally:
            connections.close_all()

    def purge_runs():
        try:
            purged.append(services.purge_expired_trash())
        finally:
            connections.close_all()

    restorer = threading.Thread(target=editor_restores)
    restorer.start()
    assert restored_locked.wait(60)
    purger = threading.Thread(target=purge_runs)
    purger.start()  # it lists the post as expired (the restore is not committed) ...
    deadline = time.monotonic() + 60
    while not waiting_on_a_lock():  # ... and then waits for the row lock
        assert time.monotonic() < deadline, "the purge never reached the row lock"
        time.sleep(0.05)
    commit_restore.set()
    restorer.join(60)
    purger.join(60)

    assert purged == [0]
    post.refresh_from_db()
    assert post.deleted_at is None and post.title == "Keep me"


@pytest.mark.django_db
def test_an_expired_post_is_still_purged(settings):
    editor = EditorFactory(username="purger")
    post = make_post(editor=editor)
    services.post_trash(post=post, user=editor)
    long_ago = timezone.now() - datetime.timedelta(days=settings.BLOG_TRASH_DAYS + 1)
    Post.objects.filter(pk=post.pk).update(deleted_at=long_ago)
    assert services.purge_expired_trash() == 1
    assert not Post.objects.filter(pk=post.pk).exists()
