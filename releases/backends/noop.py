"""The record-only backend of the demo: nothing to start, every step succeeds."""

from releases.backends.base import DeployBackend


class NoopBackend(DeployBackend):
    name = "noop"

    def __init__(self, options: dict):
        super().__init__(options)
        self._image = None

    def prepare(self, deployment) -> str:
        return f"noop: would pull {deployment.image}"

    def apply(self, deployment) -> str:
        self._image = deployment.image
        return f"noop: {deployment.image} recorded as running"

    def wait_until_healthy(self, deployment, timeout: float) -> str:
        return "noop: nothing to wait for"

    def current(self) -> dict:
        return {"image": self._image}
