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
import time

import docker.auth
import docker.errors
import requests.exceptions

from releases.backends.base import BackendError, DeployBackend
from releases.backends.engine import (
    ENGINE_OPTIONS,
    HEALTH_BIND,
    engine_client,
    engine_errors,
    ensure_image,
    env_value,
    health_bind_for,
    registry_auth,
)

NANOSECONDS = 1_000_000_000
# Update states after which Swarm does nothing more on its own (rollback_started is not one:
# the old tasks are still coming back).
GAVE_UP = {"rollback_paused", "rollback_completed", "paused"}


class SwarmBackend(DeployBackend):
    name = "swarm"
    OPTIONS = {**ENGINE_OPTIONS, "services": list, "stack": str, "update": dict}

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

    def migrate(self, deployment, *, log, timeout, image="", targets=()) -> None:
        """A one-off task (a replicated-job service built from the web service's spec: its
        networks, variables and secrets) runs `prepare_database --migrate` with the new
        image while the old tasks serve; removed afterwards."""
        client = engine_client(self.options)
        image = image or deployment.image
        ensure_image(client, image, self.options, log)
        web = self._service(client, self.service_names[0])
        template = copy.deepcopy(web.attrs["Spec"]["TaskTemplate"])
        container = template["ContainerSpec"]
        container["Image"] = image
        container["Command"] = ["/app/docker/entrypoint.sh"]
        container["Args"] = ["python3", "manage.py", "prepare_database", "--migrate"]
        for target in targets:
            container["Args"] += ["--target", target]
        container["Env"] = [
            item
            for item in container.get("Env", [])
            if not item.startswith(("WAIT_FOR_DB=", "RUN_MIGRATIONS="))
        ] + ["WAIT_FOR_DB=0", "RUN_MIGRATIONS=0"]
        container["Healthcheck"] = {"Test": ["NONE"]}
        template["RestartPolicy"] = {"Condition": "none"}
        name = f"{web.name}-migrate-{deployment.pk}"
        for stale in client.services.list(filters={"name": name}):
            stale.remove()  # a retry of the same deployment
        spec = {
            "Name": name,
            "Labels": {"org.lawvriksh.role": "migrate"},
            "TaskTemplate": template,
            "Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}},
        }
        started = time.monotonic()
        with engine_errors(f"creating {name}"):
            response = client.api._post_json(client.api._url("/services/create"), data=spec)
            client.api._raise_for_status(response)
        what = f"unapplies migrations ({' '.join(targets)})" if targets else "runs the migrations"
        log(f"migrate: one-off task {name} {what} with {image}")
        try:
            state, code = self._wait_for_job(client, name, started + timeout)
            with engine_errors(f"reading the logs of {name}"):
                output = b"".join(
                    client.api.service_logs(name, stdout=True, stderr=True, follow=False)
                ).decode(errors="replace")
        finally:
            with engine_errors(f"removing {name}"):
                client.api.remove_service(name)
        lines = [line.strip() for line in output.splitlines()]
        if state != "complete" or code != 0:
            tail = " | ".join(lines[-5:])
            raise BackendError(f"migrations failed: {name} ended {state} (exit {code}): {tail}")
        changed = [line for line in lines if "Applying " in line or "Unapplying " in line]
        for line in changed:
            log(f"migrate: {line}")
        done = "unapplied" if targets else "applied"
        took = time.monotonic() - started
        log(f"migrate: {len(changed)} migration(s) {done} in {took:.1f} s")

    def _wait_for_job(self, client, name: str, deadline: float) -> tuple[str, int | None]:
        """The job's task state once it ended (complete, failed, rejected) and exit code."""
        while True:
            self.raise_if_cancelled()
            with engine_errors(f"inspecting {name}"):
                found = client.api.tasks(filters={"service": name})
            for task in found:
                status = task.get("Status") or {}
                if status.get("State") in ("complete", "failed", "rejected", "shutdown"):
                    code = (status.get("ContainerStatus") or {}).get("ExitCode")
                    return status["State"], code
            if time.monotonic() >= deadline:
                raise BackendError(f"migrations did not finish in time ({name})")
            time.sleep(0.5)

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
                self._move(client, service, deployment.image, deployment.pk, deadline, log)
            except BackendError as error:
                log(f"{service.name}: {error}")
                # The failed one too: after a timeout (not Swarm's own rollback) it is
                # still on the new image.
                self._move_back(
                    client, [*moved, service.name], before, deployment.pk + 1, health_timeout, log
                )
                raise BackendError(
                    f"{service.name} did not converge on {deployment.image}: {error}; "
                    f"every service is back on its previous image"
                ) from None
            moved.append(service.name)
        log(f"{', '.join(moved)} run {deployment.image}")

    def _move(self, client, service, image: str, salt: int, deadline: float, log) -> None:
        """Point one service at `image` (optimistic lock on its version) and wait."""
        service = self._service(client, service.name)  # the version this update builds on
        spec = copy.deepcopy(service.attrs["Spec"])
        if spec["TaskTemplate"]["ContainerSpec"]["Image"] == image and self._converged(
            service, image
        ):
            log(f"{service.name} already runs {image}")
            return
        container_spec = spec["TaskTemplate"]["ContainerSpec"]
        container_spec["Image"] = image
        if env_value(container_spec.get("Env"), "GUNICORN_REUSE_PORT") == "1":
            # Old and new tasks share the host's port: each version's health probe gets an
            # address of its own (see docker/gunicorn.conf.py).
            current = env_value(container_spec.get("Env"), HEALTH_BIND)
            address = health_bind_for(salt, {current}, self.options)
            container_spec["Env"] = [
                item for item in container_spec.get("Env", []) if not item.startswith(HEALTH_BIND)
            ] + [f"{HEALTH_BIND}={address}"]
        spec.update(self._update_config())
        version = service.attrs["Version"]["Index"]
        # Swarm keeps the last update's status until it starts this one: remember which it
        # was, so a stale "completed" or "rollback_completed" is not read as this one's.
        earlier = (service.attrs.get("UpdateStatus") or {}).get("StartedAt")
        self._post_update(client, service, spec, version)
        log(f"{service.name}: update to {image} started (service version {version})")
        self._wait(client, service.name, image, earlier, deadline, log)

    def _post_update(self, client, service, spec, version) -> None:
        api = client.api
        headers = {}
        auth = registry_auth(self.options)
        if auth:
            headers["X-Registry-Auth"] = docker.auth.encode_header(auth)
        with engine_errors(f"updating {service.name}"):
            response = api._post_json(
                api._url("/services/{0}/update", service.id),
                data=spec,
                params={"version": version},
                headers=headers,
            )
            api._raise_for_status(response)

    def _wait(self, client, name: str, image: str, earlier, deadline: float, log) -> None:
        """Until Swarm says this update completed and every task runs `image`."""
        rolling_back = False
        while True:
            self.raise_if_cancelled()
            with engine_errors(f"inspecting {name}"):
                service = client.services.get(name)
            status = service.attrs.get("UpdateStatus") or {}
            ours = status.get("StartedAt") not in (None, earlier)
            state = status.get("State") if ours else None
            if state in GAVE_UP:
                raise BackendError(
                    f"Swarm rolled the update back ({state}: {status.get('Message', '')})"
                )
            if state == "rollback_started" and not rolling_back:
                log(f"{name}: Swarm is rolling back ({status.get('Message', '')})")
                rolling_back = True
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

    def _move_back(self, client, names, before, salt, health_timeout, log) -> None:
        """Services already moved go back to the image they had before this deployment."""
        for name in names:
            try:
                service = self._service(client, name)
                deadline = time.monotonic() + health_timeout
                self._move(client, service, before[name], salt, deadline, log)
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
