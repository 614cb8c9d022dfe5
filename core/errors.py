"""Base classes of the domain errors the apps raise; core maps each kind to HTTP without
knowing the apps (they subclass these)."""

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The request contradicts the current state (a rule said no, a report disagrees): 409."""


class PreconditionFailed(Exception):
    """A write based on an older version of the object (optimistic locking): 412."""

    current_version: int | None = None


class RetryLater(Exception):
    """Too many requests of one kind from one caller; `retry_after` seconds: 429."""

    retry_after: int = 60
