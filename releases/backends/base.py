"""The interface every deploy backend implements, and the error it raises."""

from collections.abc import Callable

Log = Callable[[str], None]


class BackendError(Exception):
    """The backend could not apply a deployment; the message goes to the deployment's log."""


class DeployBackend:
    """`deploy` makes the environment run the deployment's image (by digest) or raises
    BackendError leaving the previous version serving; `current` says what runs now."""

    name = "base"

    def __init__(self, environment, options: dict):
        self.environment = environment
        self.options = options

    def deploy(self, deployment, *, log: Log, health_timeout: float) -> None:
        """Pull, start, wait until healthy (at most `health_timeout` s), retire the old one.

        `log` takes one line at a time (it also refreshes the deployment's heartbeat); lines
        never carry secret values."""
        raise NotImplementedError

    def current(self) -> dict:
        """What the target runs now, as the backend sees it: {"image": ..., ...}."""
        raise NotImplementedError
