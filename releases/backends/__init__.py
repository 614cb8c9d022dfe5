"""Deploy backends: how a deployment reaches its environment (chosen per environment)."""

from releases.backends.base import BackendError, DeployBackend
from releases.backends.docker_host import DockerBackend
from releases.backends.noop import NoopBackend
from releases.backends.swarm import SwarmBackend

BACKENDS: dict[str, type[DeployBackend]] = {
    "noop": NoopBackend,
    "docker": DockerBackend,
    "swarm": SwarmBackend,
}


def backend_for(environment) -> DeployBackend:
    try:
        backend_class = BACKENDS[environment.deploy_backend]
    except KeyError:
        raise BackendError(f"Unknown deploy backend {environment.deploy_backend!r}.")
    return backend_class(environment, environment.deploy_settings or {})


def live_state(environment, expected_image: str | None) -> dict | None:
    """What the environment's engine runs now against what our ledger says should run:
    {"image", "in_sync", "error"}; None for the record-only backend. Drift shows here when
    someone changed the containers or services by hand."""
    if environment.deploy_backend == "noop":
        return None
    options = {**(environment.deploy_settings or {}), "api_timeout": 3}  # a page, not a deploy
    try:
        backend = BACKENDS[environment.deploy_backend](environment, options)
        image = backend.current().get("image")
    except (BackendError, KeyError) as error:
        return {"image": None, "in_sync": False, "error": str(error)}
    return {"image": image, "in_sync": image == expected_image, "error": ""}


__all__ = ["BACKENDS", "BackendError", "DeployBackend", "backend_for", "live_state"]
