"""Domain errors of the blog; messages are constants so tests and clients can rely on them."""

from django.core.exceptions import ValidationError

from core.errors import PreconditionFailed, RetryLater

STALE_EDIT = (
    "This post was changed by someone else since you opened it (you had version {expected}, "
    "it is now at version {current}). Reload it, re-apply your changes and save again."
)
TRANSITION_NOT_ALLOWED = "Cannot {action} a post that is {status}."
SCHEDULE_NEEDS_FUTURE = "Scheduling needs a publish time in the future."
NOT_YOUR_POST = "Authors may only change their own posts."
AUTHORS_EDIT_DRAFTS_ONLY = "Authors may only edit their own drafts; this post is {status}."
EDITORS_ONLY = "Only editors may {action} posts."
CANNOT_WRITE_POSTS = "You do not have permission to write posts."
PREVIEW_EXPIRED = "This preview link has expired."
PREVIEW_INVALID = "This preview link is not valid."
PREVIEW_REVOKED = "This preview link was revoked. Ask for a new one."
COMMENTS_ON_VISIBLE_ONLY = "Comments can only be added to published posts."
COMMENT_THROTTLED = "Too many comments from your address; try again in {seconds} seconds."
COMMENT_SPAM = "The comment was not accepted."
CANNOT_MODERATE = "Only editors may moderate comments."
ALREADY_IN_TRASH = "This post is already in the trash."
NOT_IN_TRASH = "This post is not in the trash."
NOT_YOUR_IMAGE = "Authors may only change or delete the images they uploaded."
IMAGE_IN_USE = "This image is in use and cannot be deleted: {posts}. Remove it from them first."
ALT_TEXT_NEEDED = (
    "Describe every uploaded image before publishing (alt text, for readers who cannot see "
    "it); missing for {what}."
)


class WorkflowError(ValidationError):
    """A refused transition or invalid content: a 400 in the API, a red message in the admin."""


class StaleEdit(PreconditionFailed):
    """A save based on an older version of the post (optimistic locking)."""

    def __init__(self, *, expected: int, current: int):
        self.expected, self.current = expected, current
        self.current_version = current
        super().__init__(STALE_EDIT.format(expected=expected, current=current))


class CommentThrottled(RetryLater):
    """Too many comments from one address in the current window."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(COMMENT_THROTTLED.format(seconds=retry_after))


class CommentSpam(Exception):
    """The honeypot was filled in: a bot. Nothing is stored."""


class ImageInUse(Exception):
    """Deleting an image that a post shows: refused, with the posts."""

    def __init__(self, message: str, posts):
        super().__init__(message)
        self.posts = posts
