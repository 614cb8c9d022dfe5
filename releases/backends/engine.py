"""A Docker Engine client from an environment's settings, and the error translation both
container backends share."""

import contextlib
import os

import docker
import docker.errors
import docker.tls
import requests.exceptions

from config.settings.secret_files import read_secret
from releases.backends.base import BackendError

# Labels on everything a backend starts, so it finds its own containers again.
LABEL_ENVIRONMENT = "org.lawvriksh.environment"
LABEL_DEPLOYMENT = "org.lawvriksh.deployment"
LABEL_BUILD = "org.lawvriksh.build"
LABEL_ROLE = "org.lawvriksh.role"


# Settings both container backends read (engine connection, registry, health addresses).
ENGINE_OPTIONS = {
    "docker_host": str,
    "tls": dict,
    "api_timeout": (int, float),
    "api_version": str,
    "registry_auth": dict,
    "health_ports": list,
}


def engine_client(options: dict) -> docker.DockerClient:
    """A client for `options["docker_host"]` (else $DOCKER_HOST), with TLS client certificates
    when `options["tls"]` names them ({"ca_cert", "client_cert", "client_key"} file paths)."""
    base_url = options.get("docker_host") or os.environ.get("DOCKER_HOST")
    if not base_url:
        raise BackendError("no Docker Engine: set docker_host in the environment's settings")
    tls_options = options.get("tls") or None
    tls = None
    if tls_options:
        try:
            tls = docker.tls.TLSConfig(
                client_cert=(tls_options["client_cert"], tls_options["client_key"]),
                ca_cert=tls_options.get("ca_cert"),
                verify=tls_options.get("ca_cert") or True,
            )
        except (KeyError, docker.errors.TLSParameterError) as error:
            raise BackendError(f"bad TLS settings for {base_url}: {error}") from None
    try:
        # A fixed API version (1.41 = Engine 20.10, which every newer engine serves) instead
        # of "auto": the client must not talk to the engine before trust_env is set below.
        client = docker.DockerClient(
            base_url=base_url,
            tls=tls,
            timeout=int(options.get("api_timeout", 60)),
            version=options.get("api_version", "1.41"),
        )
        if tls is not None:
            # requests would otherwise verify against $REQUESTS_CA_BUNDLE instead of the
            # engine's CA named in the settings (psf/requests#3829).
            client.api.trust_env = False
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise BackendError(f"Docker Engine unreachable at {base_url}: {error}") from None
    return client


@contextlib.contextmanager
def engine_errors(doing: str):
    """Turn the SDK's and the transport's errors into one BackendError line."""
    try:
        yield
    except docker.errors.ImageNotFound as error:
        raise BackendError(f"{doing}: image not found ({error.explanation})") from None
    except docker.errors.APIError as error:
        raise BackendError(f"{doing}: {error.explanation or error}") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise BackendError(f"{doing}: {error}") from None


def ensure_image(client: docker.DockerClient, reference: str, options: dict, log) -> None:
    """Make sure `reference` (repository@sha256:...) is on the engine: pull it unless present."""
    if "@sha256:" not in reference:
        raise BackendError(f"refusing to deploy {reference!r}: not pinned by digest")
    try:
        client.images.get(reference)
        log(f"image {reference} already on the engine")
        return
    except docker.errors.ImageNotFound:
        pass
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise BackendError(f"inspecting {reference}: {error}") from None
    with engine_errors(f"pulling {reference}"):
        client.images.pull(reference, auth_config=registry_auth(options))
    log(f"pulled {reference}")


def registry_auth(options: dict) -> dict | None:
    """Registry credentials named by `registry_auth` ({"username_env", "password_env"}),
    read from the worker's environment; never from the database."""
    names = options.get("registry_auth")
    if not names:
        return None
    return {
        "username": secret_from_environment(names["username_env"]),
        "password": secret_from_environment(names["password_env"]),
    }


def secret_from_environment(variable: str) -> str:
    """The worker's $VARIABLE, or the file $VARIABLE_FILE names (a Docker/Swarm secret)."""
    try:
        value = read_secret(variable)
    except OSError as error:
        raise BackendError(f"the worker cannot read {variable}_FILE: {error.strerror}") from None
    if not value and variable not in os.environ:
        raise BackendError(f"the worker's environment has no {variable} (nor {variable}_FILE)")
    return value


def container_environment(options: dict) -> dict[str, str]:
    """Plain `env` values plus `secret_env` ({"CONTAINER_VAR": "WORKER_VAR"}) resolved from the
    worker's environment, so secrets stay out of the database and out of logs."""
    values = {str(key): str(value) for key, value in (options.get("env") or {}).items()}
    for name, source in (options.get("secret_env") or {}).items():
        values[str(name)] = secret_from_environment(source)
    return values


def secret_mounts(options: dict) -> tuple[dict, dict[str, str]]:
    """`secret_files` ({"SECRET_KEY": "/srv/blog/secret_key"}, paths on the engine's host)
    as read-only mounts under /run/secrets/ and NAME_FILE variables pointing at them: the
    value never passes through the worker or the container's environment."""
    volumes, variables = {}, {}
    for name, host_path in (options.get("secret_files") or {}).items():
        inside = f"/run/secrets/{str(name).lower()}"
        volumes[str(host_path)] = {"bind": inside, "mode": "ro"}
        variables[f"{name}_FILE"] = inside
    return volumes, variables


HEALTH_BIND = "GUNICORN_HEALTH_BIND"


def health_bind_for(deployment_pk: int, in_use: set[str], options: dict) -> str:
    """A 127.0.0.1 address for the new container's own health probe, unlike those of the
    containers still running (on the host network they all share one port otherwise)."""
    first, last = options.get("health_ports", [18000, 18999])
    span = last - first + 1
    for step in range(span):
        address = f"127.0.0.1:{first + (deployment_pk + step) % span}"
        if address not in in_use:
            return address
    raise BackendError(f"no free health port in {first}-{last}")


def env_value(env_list: list[str] | None, name: str) -> str | None:
    """A variable's value from a container's or a service's ["NAME=value", ...] list."""
    prefix = f"{name}="
    return next((item[len(prefix) :] for item in env_list or [] if item.startswith(prefix)), None)
