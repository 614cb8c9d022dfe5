"""The editorial workflow: which transitions exist and who may make them, in one table."""

from dataclasses import dataclass

from blog.models import PostStatus
from blog.roles import can_write_posts, is_editor  # noqa: F401 (part of the workflow API)

S = PostStatus


@dataclass(frozen=True)
class Transition:
    """One workflow action: the states it starts from, where it leads, who may take it."""

    action: str
    sources: frozenset
    target: str
    editors_only: bool
    label: str


TRANSITIONS = {
    t.action: t
    for t in (
        Transition("submit", frozenset({S.DRAFT}), S.IN_REVIEW, False, "Submit for review"),
        Transition("withdraw", frozenset({S.IN_REVIEW}), S.DRAFT, False, "Withdraw to draft"),
        Transition(
            "publish",
            frozenset({S.DRAFT, S.IN_REVIEW, S.SCHEDULED}),
            S.PUBLISHED,
            True,
            "Publish now",
        ),
        Transition(
            "schedule",
            frozenset({S.DRAFT, S.IN_REVIEW, S.SCHEDULED}),
            S.SCHEDULED,
            True,
            "Schedule",
        ),
        Transition(
            "unpublish",
            frozenset({S.IN_REVIEW, S.SCHEDULED, S.PUBLISHED, S.ARCHIVED}),
            S.DRAFT,
            True,
            "Back to draft",
        ),
        Transition("archive", frozenset({S.PUBLISHED, S.SCHEDULED}), S.ARCHIVED, True, "Archive"),
    )
}


def may_take(user, post, transition: Transition) -> bool:
    """Whether `user` may take `transition` on `post` as it is now (state and role)."""
    if post.status not in transition.sources:
        return False
    if is_editor(user):
        return True
    return not transition.editors_only and post.author_id == user.pk and can_write_posts(user)


def may_edit(user, post) -> bool:
    """Editors edit any post; authors edit their own drafts."""
    if is_editor(user):
        return True
    return can_write_posts(user) and post.author_id == user.pk and post.status == S.DRAFT


def available_actions(user, post) -> list[Transition]:
    """The transitions `user` may take on `post` now, for buttons and API hints."""
    return [t for t in TRANSITIONS.values() if may_take(user, post, t)]
