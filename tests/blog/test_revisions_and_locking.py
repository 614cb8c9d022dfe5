"""Revisions on every save, restore as a new revision, and no lost updates (also under a race)."""

import threading

import pytest
from django.db import connection

from blog import errors, services
from blog.models import Post, PostStatus, Revision
from tests.blog.factories import TagFactory, make_post
from tests.factories import EditorFactory


@pytest.mark.django_db
def test_every_save_keeps_a_revision_with_who_and_what():
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor, title="First", body="one")
    services.post_update(post=post, user=editor, expected_version=post.version, body="two")
    services.post_update(
        post=post, user=editor, expected_version=post.version, meta_title="SEO title"
    )
    revisions = list(post.revisions.order_by("number"))
    assert [r.number for r in revisions] == [1, 2, 3]
    assert [r.snapshot["body"] for r in revisions] == ["one", "two", "two"]
    assert revisions[-1].snapshot["meta_title"] == "SEO title"
    assert all(r.created_by == editor for r in revisions)


@pytest.mark.django_db
def test_restore_brings_content_back_as_a_new_revision():
    editor = EditorFactory()
    old_tag, new_tag = TagFactory(slug="old"), TagFactory(slug="new")
    post = make_post(
        status=PostStatus.DRAFT, editor=editor, title="Original", body="original", tags=[old_tag]
    )
    original = post.revisions.get(number=1)
    services.post_update(
        post=post,
        user=editor,
        expected_version=post.version,
        title="Rewritten",
        body="rewritten",
        tags=[new_tag],
    )
    services.revision_restore(revision=original, user=editor, expected_version=post.version)
    post.refresh_from_db()
    assert (post.title, post.body) == ("Original", "original")
    assert list(post.tags.values_list("slug", flat=True)) == ["old"]
    latest = post.revisions.first()
    assert latest.number == 3
    assert latest.note == "Restored revision 1"
    # History is kept: the rewritten revision is still there.
    assert post.revisions.get(number=2).snapshot["title"] == "Rewritten"


@pytest.mark.django_db
def test_stale_save_is_refused_and_changes_nothing():
    editor_a, editor_b = EditorFactory(), EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor_a, title="Start")
    opened_at = post.version
    services.post_update(
        post=Post.objects.get(pk=post.pk), user=editor_a, expected_version=opened_at, title="A"
    )
    with pytest.raises(errors.StaleEdit) as stale:
        services.post_update(
            post=Post.objects.get(pk=post.pk), user=editor_b, expected_version=opened_at, title="B"
        )
    assert "changed by someone else" in str(stale.value)
    post.refresh_from_db()
    assert post.title == "A"
    assert post.revisions.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_saves_of_the_same_version_one_wins():
    """Two threads, two real PostgreSQL connections, the same expected version."""
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor, title="Race")
    version = post.version
    barrier = threading.Barrier(2)
    outcomes = []

    def save(title):
        try:
            barrier.wait(timeout=10)
            services.post_update(
                post=Post.objects.get(pk=post.pk),
                user=editor,
                expected_version=version,
                title=title,
            )
            outcomes.append(("saved", title))
        except errors.StaleEdit:
            outcomes.append(("stale", title))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(f"Title {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(kind for kind, _ in outcomes) == ["saved", "stale"]
    winner = next(title for kind, title in outcomes if kind == "saved")
    post.refresh_from_db()
    assert post.title == winner
    assert post.version == version + 1
    assert Revision.objects.filter(post=post).count() == 2


@pytest.mark.django_db
def test_transition_with_stale_version_is_refused():
    editor = EditorFactory()
    post = make_post(status=PostStatus.DRAFT, editor=editor)
    old_version = post.version
    services.post_update(post=post, user=editor, expected_version=old_version, title="New")
    with pytest.raises(errors.StaleEdit):
        services.post_submit(post=post, user=editor, expected_version=old_version)
    post.refresh_from_db()
    assert post.status == PostStatus.DRAFT
