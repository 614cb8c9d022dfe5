"""The record-only backend of the demo: nothing to start, every step succeeds."""

from releases.backends.base import DeployBackend


class NoopBackend(DeployBackend):
    name = "noop"
    _running: dict[str, str] = {}  # environment slug -> image, for `current` in one process

    def migrate(self, deployment, *, log, timeout, image="", targets=()) -> None:
        to = f" to {' '.join(targets)}" if targets else ""
        log(f"noop: would migrate{to} with {image or deployment.image} (recorded)")

    def deploy(self, deployment, *, log, health_timeout) -> None:
        log(f"noop: would pull {deployment.image}")
        self._running[self.environment.slug] = deployment.image
        log(f"noop: {deployment.image} recorded as running")

    def current(self) -> dict:
        return {"image": self._running.get(self.environment.slug)}
