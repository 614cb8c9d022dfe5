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


__all__ = ["BACKENDS", "BackendError", "DeployBackend", "backend_for"]
