"""The `swarm` backend: every service of a stack (web, worker) moved to the same digest
together, with Swarm's rolling update (start-first, rollback on failure); if one service
fails, the ones already moved go back too, so a release never runs half-applied.

Settings (Environment.deploy_settings):
  docker_host, tls, registry_auth   as for the `docker` backend
  services          the stack's service names, in update order (default
                    ["<stack>_web", "<stack>_worker"] with stack = "blog-<slug>")
  stack             the stack name used for those defaults
  update            {"parallelism": 1, "delay": 0, "monitor": 10, "max_failure_ratio": 0}
                    (seconds); order is always start-first, failure_action always rollback
"""

import copy
import datetime
import time

import docker.auth
import docker.errors
import requests.exceptions

from releases.backends.base import BackendError, DeployBackend
from releases.backends.engine import (
    engine_client,
    engine_errors,
    ensure_image,
    registry_auth,
)

NANOSECONDS = 1_000_000_000
ROLLED_BACK = {"rollback_started", "rollback_paused", "rollback_completed", "paused"}


def _timestamp(value: str | None) -> datetime.datetime | None:
    """Docker's RFC 3339 times carry nanoseconds; Python parses microseconds."""
    if not value:
        return None
    head, _, rest = value.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    return datetime.datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")


class SwarmBackend(DeployBackend):
    name = "swarm"

    @property
    def service_names(self) -> list[str]:
        stack = self.options.get("stack") or f"blog-{self.environment.slug}"
        return list(self.options.get("services") or [f"{stack}_web", f"{stack}_worker"])

    def _update_config(self) -> dict:
        update = {"parallelism": 1, "delay": 0, "monitor": 10, "max_failure_ratio": 0}
        update.update(self.options.get("update") or {})
        common = {
            "Parallelism": int(update["parallelism"]),
            "Delay": int(float(update["delay"]) * NANOSECONDS),
            "Monitor": int(float(update["monitor"]) * NANOSECONDS),
            "MaxFailureRatio": float(update["max_failure_ratio"]),
            "Order": "start-first",
        }
        return {
            "UpdateConfig": {**common, "FailureAction": "rollback"},
            "RollbackConfig": {**common, "FailureAction": "pause"},
        }

    def _service(self, client, name):
        with engine_errors(f"finding service {name}"):
            return client.services.get(name)

    def deploy(self, deployment, *, log, health_timeout) -> None:
        client = engine_client(self.options)
        ensure_image(client, deployment.image, self.options, log)
        services = [self._service(client, name) for name in self.service_names]
        before = {
            s.name: s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in services
        }
        deadline = time.monotonic() + health_timeout
        moved: list[str] = []
        for service in services:
            try:
                self._move(client, service, deployment.image, deadline, log)
            except BackendError as error:
                log(f"{service.name}: {error}")
                # The failed one too: after a timeout (not Swarm's own rollback) it is
                # still on the new image.
                self._move_back(client, [*moved, service.name], before, health_timeout, log)
                raise BackendError(
                    f"{service.name} did not converge on {deployment.image}: {error}; "
                    f"every service is back on its previous image"
                ) from None
            moved.append(service.name)
        log(f"{', '.join(moved)} run {deployment.image}")

    def _move(self, client, service, image: str, deadline: float, log) -> None:
        """Point one service at `image` (optimistic lock on its version) and wait."""
        spec = copy.deepcopy(service.attrs["Spec"])
        if spec["TaskTemplate"]["ContainerSpec"]["Image"] == image and self._converged(
            service, image
        ):
            log(f"{service.name} already runs {image}")
            return
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
        spec.update(self._update_config())
        version = service.attrs["Version"]["Index"]
        self._post_update(client, service, spec, version, {})
        log(f"{service.name}: update to {image} started (service version {version})")
        self._wait(client, service.name, image, deadline, log)

    def _post_update(self, client, service, spec, version, params) -> None:
        api = client.api
        headers = {}
        auth = registry_auth(self.options)
        if auth:
            headers["X-Registry-Auth"] = docker.auth.encode_header(auth)
        with engine_errors(f"updating {service.name}"):
            response = api._post_json(
                api._url("/services/{0}/update", service.id),
                data=spec,
                params={"version": version, **params},
                headers=headers,
            )
            api._raise_for_status(response)

    def _wait(self, client, name: str, image: str, deadline: float, log) -> None:
        """Until Swarm says this update completed and every task runs `image`."""
        while True:
            with engine_errors(f"inspecting {name}"):
                service = client.services.get(name)
            status = service.attrs.get("UpdateStatus") or {}
            started = _timestamp(status.get("StartedAt"))
            updated = _timestamp(service.attrs.get("UpdatedAt"))
            current = started is None or updated is None or started >= updated
            state = status.get("State") if current else None
            if state in ROLLED_BACK:
                raise BackendError(
                    f"Swarm rolled the update back ({state}: {status.get('Message', '')})"
                )
            if state in (None, "completed") and self._converged(service, image):
                log(f"{name} converged on {image}")
                return
            if time.monotonic() >= deadline:
                raise BackendError(f"not converged in time (update state {state})")
            time.sleep(0.5)

    @staticmethod
    def _converged(service, image: str) -> bool:
        try:
            tasks = service.tasks(filters={"desired-state": "running"})
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False
        replicas = ((service.attrs["Spec"].get("Mode") or {}).get("Replicated") or {}).get(
            "Replicas", 1
        )
        running = [
            t
            for t in tasks
            if t["Status"]["State"] == "running" and t["Spec"]["ContainerSpec"]["Image"] == image
        ]
        return len(running) >= replicas and len(running) == len(tasks)

    def _move_back(self, client, names, before, health_timeout, log) -> None:
        """Services already moved go back to the image they had before this deployment."""
        for name in names:
            try:
                service = self._service(client, name)
                self._move(client, service, before[name], time.monotonic() + health_timeout, log)
            except BackendError as error:
                log(f"{name}: could not move back to {before[name]}: {error}")

    def current(self) -> dict:
        client = engine_client(self.options)
        services = {}
        for name in self.service_names:
            service = self._service(client, name)
            services[name] = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        images = set(services.values())
        return {"image": images.pop() if len(images) == 1 else None, "services": services}
