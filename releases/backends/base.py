"""The interface a deploy backend implements (noop here; Docker and Swarm next)."""


class BackendError(Exception):
    """The backend could not apply a deployment; the message goes to the deployment's log."""


class DeployBackend:
    """prepare -> apply -> wait_until_healthy; `current` says what runs now."""

    name = "base"

    def __init__(self, options: dict):
        self.options = options

    def prepare(self, deployment) -> str:
        """Check what the deployment needs (e.g. pull the image by digest); returns a log line."""
        raise NotImplementedError

    def apply(self, deployment) -> str:
        """Start the new version and retire the old one; returns a log line."""
        raise NotImplementedError

    def wait_until_healthy(self, deployment, timeout: float) -> str:
        raise NotImplementedError

    def current(self) -> dict:
        """What the target runs now, as the backend sees it."""
        raise NotImplementedError
