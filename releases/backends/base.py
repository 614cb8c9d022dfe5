"""The interface every deploy backend implements, and the error it raises."""

from collections.abc import Callable

Log = Callable[[str], None]
# Read by the worker for every backend (releases/tasks.py), not by the backend itself.
COMMON_OPTIONS = {
    "health_timeout",
    "check_commit",
    "smoke_paths",
    "migrate",
    "migrate_timeout",
    "verify",  # releases/verification.py
}


class BackendError(Exception):
    """The backend could not apply a deployment; the message goes to the deployment's log."""


class DeployBackend:
    """`deploy` makes the environment run the deployment's image (by digest) or raises
    BackendError leaving the previous version serving; `current` says what runs now."""

    name = "base"
    # Setting name -> the type(s) its value may have; anything else is refused on save.
    OPTIONS: dict[str, type | tuple[type, ...]] = {}

    @classmethod
    def option_errors(cls, options) -> list[str]:
        """What is wrong with an environment's deploy_settings for this backend."""
        if not isinstance(options, dict):
            return ["deploy settings must be a JSON object"]
        errors = []
        unknown = sorted(set(options) - set(cls.OPTIONS) - COMMON_OPTIONS)
        if unknown:
            known = ", ".join(sorted(set(cls.OPTIONS) | COMMON_OPTIONS))
            errors.append(
                f"unknown setting(s) {', '.join(unknown)} for {cls.name} (known: {known})"
            )
        for key, kind in cls.OPTIONS.items():
            if key in options and not isinstance(options[key], kind):
                errors.append(f"{key} has the wrong type for {cls.name}")
        return errors

    def __init__(self, environment, options: dict):
        self.environment = environment
        self.options = options
        # Set by the worker: True once release staff cancelled the deployment. Backends
        # check it in their waits and stop what they started (BackendError).
        self.cancelled: Callable[[], bool] = lambda: False

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise BackendError("cancelled by release staff")

    def migrate(
        self, deployment, *, log: Log, timeout: float, image: str = "", targets=()
    ) -> None:
        """Apply the new image's migrations once, before any traffic moves; BackendError when
        they fail (the previous release keeps serving). With `targets` (`app:migration`)
        and `image` (the newer release's), unapply migrations before a rollback instead."""
        log(f"{self.name}: migrations are left to the release's own processes (RUN_MIGRATIONS)")

    def deploy(self, deployment, *, log: Log, health_timeout: float) -> None:
        """Pull, start, wait until healthy (at most `health_timeout` s), retire the old one.

        `log` takes one line at a time (it also refreshes the deployment's heartbeat); lines
        never carry secret values."""
        raise NotImplementedError

    def current(self) -> dict:
        """What the target runs now, as the backend sees it: {"image": ..., ...}."""
        raise NotImplementedError
