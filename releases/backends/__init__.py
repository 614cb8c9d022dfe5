"""Deploy backends: how a deployment reaches its environment (chosen per environment)."""

from releases.backends.base import BackendError, DeployBackend
from releases.backends.noop import NoopBackend

BACKENDS: dict[str, type[DeployBackend]] = {"noop": NoopBackend}


def backend_for(environment) -> DeployBackend:
    try:
        backend_class = BACKENDS[environment.deploy_backend]
    except KeyError:
        raise BackendError(f"Unknown deploy backend {environment.deploy_backend!r}.")
    return backend_class(environment.deploy_settings or {})


__all__ = ["BackendError", "DeployBackend", "backend_for"]
