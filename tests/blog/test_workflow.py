"""Every workflow transition, allowed and refused, for each role — through the service."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from blog import errors, services
from blog.models import PostStatus as S
from tests.blog.factories import make_post
from tests.factories import AuthorFactory, EditorFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL_STATES = [S.DRAFT, S.IN_REVIEW, S.SCHEDULED, S.PUBLISHED, S.ARCHIVED]

# (action, from state) -> resulting state, for an editor. Anything absent is refused.
EDITOR_MOVES = {
    ("submit", S.DRAFT): S.IN_REVIEW,
    ("withdraw", S.IN_REVIEW): S.DRAFT,
    ("publish", S.DRAFT): S.PUBLISHED,
    ("publish", S.IN_REVIEW): S.PUBLISHED,
    ("publish", S.SCHEDULED): S.PUBLISHED,
    ("schedule", S.DRAFT): S.SCHEDULED,
    ("schedule", S.IN_REVIEW): S.SCHEDULED,
    ("schedule", S.SCHEDULED): S.SCHEDULED,
    ("unpublish", S.IN_REVIEW): S.DRAFT,
    ("unpublish", S.SCHEDULED): S.DRAFT,
    ("unpublish", S.PUBLISHED): S.DRAFT,
    ("unpublish", S.ARCHIVED): S.DRAFT,
    ("archive", S.PUBLISHED): S.ARCHIVED,
    ("archive", S.SCHEDULED): S.ARCHIVED,
}
# What an author may do to their own post.
AUTHOR_MOVES = {
    ("submit", S.DRAFT): S.IN_REVIEW,
    ("withdraw", S.IN_REVIEW): S.DRAFT,
}
ACTIONS = sorted({action for action, _ in EDITOR_MOVES})
CASES = [(action, state) for action in ACTIONS for state in ALL_STATES]


def _take(post, user, action):
    publish_at = timezone.now() + datetime.timedelta(days=2) if action == "schedule" else None
    return services.post_transition(post=post, user=user, action=action, publish_at=publish_at)


@pytest.mark.parametrize("action, state", CASES)
def test_editor_transitions(action, state):
    editor = EditorFactory()
    post = make_post(status=state, editor=editor)
    expected = EDITOR_MOVES.get((action, state))
    if expected is None:
        with pytest.raises(errors.WorkflowError, match="Cannot"):
            _take(post, editor, action)
        post.refresh_from_db()
        assert post.status == state
    else:
        _take(post, editor, action)
        post.refresh_from_db()
        assert post.status == expected


@pytest.mark.parametrize("action, state", CASES)
def test_author_transitions_on_own_post(action, state):
    author = AuthorFactory()
    post = make_post(status=state, author=author)
    expected = AUTHOR_MOVES.get((action, state))
    if expected is None:
        with pytest.raises((errors.WorkflowError, PermissionDenied)):
            _take(post, author, action)
        post.refresh_from_db()
        assert post.status == state
    else:
        _take(post, author, action)
        post.refresh_from_db()
        assert post.status == expected


@pytest.mark.parametrize("action", ["submit", "withdraw"])
def test_author_cannot_move_someone_elses_post(action):
    owner, other = AuthorFactory(), AuthorFactory()
    post = make_post(status=S.DRAFT if action == "submit" else S.IN_REVIEW, author=owner)
    with pytest.raises(PermissionDenied, match=errors.NOT_YOUR_POST):
        _take(post, other, action)


@pytest.mark.parametrize("action", ["publish", "schedule", "archive", "unpublish"])
def test_user_without_role_can_do_nothing(action):
    post = make_post(status=S.IN_REVIEW)
    with pytest.raises(PermissionDenied):
        _take(post, UserFactory(), action)


def test_superuser_acts_as_editor():
    root = UserFactory(is_superuser=True, is_staff=True)
    post = make_post(status=S.IN_REVIEW)
    services.post_publish(post=post, user=root)
    assert post.status == S.PUBLISHED


def test_author_may_edit_own_draft_only():
    author = AuthorFactory()
    post = make_post(status=S.DRAFT, author=author)
    services.post_update(post=post, user=author, expected_version=post.version, title="Better")
    assert post.title == "Better"
    services.post_submit(post=post, user=author)
    with pytest.raises(PermissionDenied, match="Authors may only edit their own drafts"):
        services.post_update(post=post, user=author, expected_version=post.version, title="No")
    post.refresh_from_db()
    assert post.title == "Better"


def test_author_cannot_edit_someone_elses_draft():
    post = make_post(status=S.DRAFT, author=AuthorFactory())
    with pytest.raises(PermissionDenied):
        services.post_update(
            post=post, user=AuthorFactory(), expected_version=post.version, title="Mine now"
        )


def test_author_cannot_write_as_someone_else():
    with pytest.raises(PermissionDenied):
        services.post_create(user=AuthorFactory(), author=EditorFactory(), title="Ghost")


def test_publishing_sets_publish_time_when_empty():
    post = make_post(status=S.DRAFT)
    assert post.published_at is None
    before = timezone.now()
    services.post_publish(post=post, user=EditorFactory())
    assert post.published_at >= before
    assert post.is_visible()


def test_publishing_keeps_a_backdated_time():
    backdated = timezone.now() - datetime.timedelta(days=30)
    post = make_post(status=S.DRAFT, published_at=backdated)
    services.post_publish(post=post, user=EditorFactory())
    assert post.published_at == backdated


def test_scheduling_in_the_past_is_refused_and_changes_nothing():
    post = make_post(status=S.IN_REVIEW)
    version = post.version
    with pytest.raises(errors.WorkflowError) as refused:
        services.post_schedule(
            post=post,
            user=EditorFactory(),
            publish_at=timezone.now() - datetime.timedelta(minutes=1),
        )
    assert refused.value.message_dict == {"publish_at": [errors.SCHEDULE_NEEDS_FUTURE]}
    post.refresh_from_db()
    assert (post.status, post.version) == (S.IN_REVIEW, version)


def test_unknown_action_is_refused():
    post = make_post(status=S.DRAFT)
    with pytest.raises(errors.WorkflowError, match="Unknown workflow action"):
        services.post_transition(post=post, user=EditorFactory(), action="teleport")


def test_transitions_bump_the_version_and_record_a_revision():
    post = make_post(status=S.DRAFT)
    version, revisions = post.version, post.revisions.count()
    services.post_submit(post=post, user=EditorFactory())
    assert post.version == version + 1
    assert post.revisions.count() == revisions + 1
    assert post.revisions.first().note == "Submit for review"
