"""The `docker` backend: one container per environment on a Docker Engine host, replaced
start-first (the new one must be healthy before the old one is retired).

Settings (Environment.deploy_settings), all optional but `docker_host` where $DOCKER_HOST is
unset on the worker:
  docker_host       unix:///var/run/docker.sock or tcp://host:2376 (with tls)
  tls               {"ca_cert": path, "client_cert": path, "client_key": path}
  name              container name prefix (default "blog-<environment slug>")
  env               plain environment variables for the container
  secret_env        {"CONTAINER_VAR": "WORKER_VAR"}: values read from the worker's environment
                    (or the file WORKER_VAR_FILE names)
  secret_files      {"SECRET_KEY": "/srv/blog/secret_key"}: files on the engine's host mounted
                    read-only at /run/secrets/<name>, the container told by SECRET_KEY_FILE
  network_mode      "host" (default: with GUNICORN_REUSE_PORT=1 old and new share the port
                    while both run, so nothing is refused during the switch) or "bridge"
  network           a user-defined network to join instead (behind a proxy)
  ports             {"8000/tcp": 8080} for a bridge network; such a port cannot be shared,
                    so the switch stops the old container first (strategy "stop-first")
  strategy          "start-first" (default) or "stop-first"
  health_interval   seconds between health probes (overrides the image's interval)
  stop_timeout      seconds a retiring container gets to finish its requests (default 20)
  registry_auth     {"username_env": ..., "password_env": ...}
  worker            {"command": [...]}: also run the worker from the same image (default
                    command `python3 manage.py db_worker`). The new worker counts as up only
                    on a positive signal: its health check sees the heartbeat file its
                    upkeep writes once it has reached its database. Old web and worker are
                    retired only when both new ones are healthy, so one release never runs
                    half-applied.
"""

import time

import docker.errors
import docker.types
import requests.exceptions

from releases.backends.base import BackendError, DeployBackend
from releases.backends.engine import (
    ENGINE_OPTIONS,
    LABEL_BUILD,
    LABEL_DEPLOYMENT,
    LABEL_ENVIRONMENT,
    LABEL_ROLE,
    container_environment,
    engine_client,
    engine_errors,
    HEALTH_BIND,
    ensure_image,
    env_value,
    health_bind_for,
    secret_mounts,
)

NANOSECONDS = 1_000_000_000
# Where a worker container's upkeep writes its heartbeat (docker/healthcheck.py --worker).
WORKER_HEARTBEAT_FILE = "/tmp/worker-heartbeat"  # nosec B108: inside the container


class DockerBackend(DeployBackend):
    name = "docker"
    OPTIONS = {
        **ENGINE_OPTIONS,
        "name": str,
        "env": dict,
        "secret_env": dict,
        "secret_files": dict,
        "network_mode": str,
        "network": str,
        "ports": dict,
        "strategy": str,
        "command": (list, str),
        "health_interval": (int, float),
        "stop_timeout": (int, float),
        "worker": dict,
    }

    @classmethod
    def option_errors(cls, options) -> list[str]:
        errors = super().option_errors(options)
        if isinstance(options, dict):
            if options.get("strategy", "start-first") not in ("start-first", "stop-first"):
                errors.append("strategy must be start-first or stop-first")
            if options.get("ports") and options.get("strategy", "start-first") == "start-first":
                errors.append(
                    "a published port cannot be shared by the old and new container: "
                    "use strategy stop-first, or network_mode host"
                )
        return errors

    @property
    def prefix(self) -> str:
        return self.options.get("name") or f"blog-{self.environment.slug}"

    def _serving(self, client, role: str = "web"):
        return client.containers.list(
            all=True,
            filters={
                "label": [f"{LABEL_ENVIRONMENT}={self.environment.slug}", f"{LABEL_ROLE}={role}"]
            },
        )

    def deploy(self, deployment, *, log, health_timeout) -> None:
        client = engine_client(self.options)
        ensure_image(client, deployment.image, self.options, log)
        roles = ["web", "worker"] if self.options.get("worker") is not None else ["web"]
        existing = {role: self._serving(client, role) for role in roles}
        previous = [c for c in existing["web"] if c.status == "running"]
        previous_workers = [c for c in existing.get("worker", []) if c.status == "running"]
        for container in existing["web"] + existing.get("worker", []):
            if container.status != "running":  # stopped ones from an interrupted switch
                with engine_errors(f"removing the stopped container {container.name}"):
                    container.remove(force=True)
        stop_first = self.options.get("strategy", "start-first") == "stop-first"
        if stop_first:
            for container in previous:
                self._stop(container, log)
        new = self._start(client, deployment, previous, log)
        started = [new]
        try:
            self._wait_until_healthy(new, health_timeout, log)
            if "worker" in roles:
                started.append(self._start(client, deployment, [], log, role="worker"))
                self._wait_until_healthy(started[-1], health_timeout, log)
        except BackendError:
            for container in started:
                self._remove(container, log)
            if stop_first:
                for container in previous:
                    with engine_errors(f"restarting {container.name}"):
                        container.start()
                    log(f"restarted the previous container {container.name}")
            else:
                log("the previous container keeps serving")
            raise
        for container in previous + previous_workers:
            if not (stop_first and container in previous):  # those were stopped already
                self._stop(container, log)
            self._remove(container, log)
        log(f"{', '.join(c.name for c in started)} run {deployment.image}")

    def migrate(self, deployment, *, log, timeout, image="", targets=()) -> None:
        """A one-off container of the new image runs `prepare_database --migrate` (its lock
        holds through a pooler, core/management/commands/) while the old release serves;
        with targets, the newer image unapplies its migrations before a rollback."""
        client = engine_client(self.options)
        image = image or deployment.image
        ensure_image(client, image, self.options, log)
        name = f"{self.prefix}-migrate-{deployment.pk}"
        for stale in client.containers.list(all=True, filters={"name": f"^/{name}$"}):
            stale.remove(force=True)  # a retry of the same deployment
        run_options = self._run_options(deployment, name, "migrate")
        # The entrypoint would wait (and migrate) on its own; the command does both here.
        run_options["environment"].update(WAIT_FOR_DB="0", RUN_MIGRATIONS="0")
        command = ["python3", "manage.py", "prepare_database", "--migrate", "--timeout", "60"]
        for target in targets:
            command += ["--target", target]
        started = time.monotonic()
        with engine_errors(f"starting {name}"):
            container = client.containers.run(image, command, **run_options)
        if targets:
            log(f"migrate: {name} unapplies migrations ({' '.join(targets)}) with {image}")
        else:
            log(f"migrate: {name} runs the new image's migrations")
        try:
            deadline = started + timeout
            while True:
                self.raise_if_cancelled()
                with engine_errors(f"waiting for {name}"):
                    container.reload()
                if container.status in ("exited", "dead"):
                    break
                if time.monotonic() > deadline:
                    raise BackendError(f"migrations did not finish within {timeout:g}s")
                time.sleep(0.5)
            code = container.attrs["State"]["ExitCode"]
            output = container.logs().decode(errors="replace")
        finally:
            self._remove(container, lambda line: None)
        applied = [
            line.strip()
            for line in output.splitlines()
            if "Applying " in line or "Unapplying " in line
        ]
        took = time.monotonic() - started
        if code != 0:
            tail = " | ".join(output.strip().splitlines()[-5:])
            raise BackendError(f"migrations failed: {name} exited with code {code}: {tail}")
        for line in applied:
            log(f"migrate: {line}")
        done = "unapplied" if targets else "applied"
        log(f"migrate: {len(applied)} migration(s) {done} in {took:.1f} s")

    def _run_options(self, deployment, name: str, role: str) -> dict:
        """What every container of a deployment gets: its variables (secrets resolved from
        the worker's environment, or mounted as files), labels and network."""
        volumes, file_variables = secret_mounts(self.options)
        run_options = {
            "name": name,
            "detach": True,
            "init": True,  # signals reach gunicorn; python as PID 1 would ignore SIGTERM
            "environment": {**container_environment(self.options), **file_variables},
            "labels": {
                LABEL_ENVIRONMENT: self.environment.slug,
                LABEL_DEPLOYMENT: str(deployment.pk),
                LABEL_BUILD: deployment.build.tag,
                LABEL_ROLE: role,
            },
        }
        if volumes:
            run_options["volumes"] = volumes
        if self.options.get("network"):
            run_options["network"] = self.options["network"]
        else:
            run_options["network_mode"] = self.options.get("network_mode", "host")
        return run_options

    def _start(self, client, deployment, previous, log, role: str = "web"):
        image = client.images.get(deployment.image)
        name = (
            f"{self.prefix}-{deployment.pk}"
            if role == "web"
            else f"{self.prefix}-{role}-{deployment.pk}"
        )
        stale = client.containers.list(all=True, filters={"name": f"^/{name}$"})
        for container in stale:  # a retry of the same deployment
            container.remove(force=True)
        run_options = self._run_options(deployment, name, role)
        run_options.update(restart_policy={"Name": "unless-stopped"}, stop_signal="SIGTERM")
        shared_port = role == "web" and run_options.get("network_mode") == "host"
        if role == "worker":
            worker = self.options["worker"]
            run_options["command"] = worker.get("command") or ["python3", "manage.py", "db_worker"]
            run_options["environment"]["WORKER_HEARTBEAT_FILE"] = WORKER_HEARTBEAT_FILE
            interval = float(self.options.get("health_interval") or 2)
            run_options["healthcheck"] = docker.types.Healthcheck(
                test=["CMD", "python3", "/app/docker/healthcheck.py", "--worker"],
                interval=int(interval * NANOSECONDS),
                timeout=5 * NANOSECONDS,
                retries=3,
                start_period=int(interval * 10 * NANOSECONDS),
            )
        if shared_port:
            in_use = {env_value(c.attrs["Config"]["Env"], HEALTH_BIND) for c in previous}
            run_options["environment"][HEALTH_BIND] = health_bind_for(
                deployment.pk, in_use, self.options
            )
        if role == "web" and self.options.get("ports"):
            run_options["ports"] = self.options["ports"]
        if role == "web" and self.options.get("command"):
            run_options["command"] = self.options["command"]
        interval = self.options.get("health_interval")
        test = ((image.attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test")
        if role == "web" and interval and test:
            run_options["healthcheck"] = docker.types.Healthcheck(
                test=test,
                interval=int(float(interval) * NANOSECONDS),
                timeout=3 * NANOSECONDS,
                retries=3,
                start_period=int(float(interval) * 10 * NANOSECONDS),
            )
        with engine_errors(f"starting {name}"):
            container = client.containers.run(deployment.image, **run_options)
        # Which variables were set, never their values.
        log(f"started {name} ({len(run_options['environment'])} environment variables set)")
        if shared_port:
            self._check_listener_migration(container, log)
        return container

    @staticmethod
    def _check_listener_migration(container, log) -> None:
        """Old and new share the port via SO_REUSEPORT; when the old one closes its listener,
        connections still queued on it are reset unless the host migrates them."""
        try:
            result = container.exec_run(["cat", "/proc/sys/net/ipv4/tcp_migrate_req"])
            value = result.output.decode().strip()
        except docker.errors.DockerException:
            return
        if value == "0":
            log(
                "warning: the host has net.ipv4.tcp_migrate_req=0, so connections queued on the "
                "old container when it stops are reset; set it to 1 (sysctl) for none"
            )

    def _raise_if_crashed(self, container) -> None:
        self.raise_if_cancelled()
        try:
            container.reload()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise BackendError(f"{container.name}: {error}") from None
        state = container.attrs["State"]
        # With a restart policy a crashing container shows as restarting, not exited.
        crashed = state["Status"] in ("exited", "dead", "restarting")
        if crashed or container.attrs.get("RestartCount", 0) > 0:
            raise BackendError(
                f"{container.name} exited with code {state.get('ExitCode')}: "
                f"{self._tail(container)}"
            )

    def _wait_until_healthy(self, container, timeout: float, log) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._raise_if_crashed(container)
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy" or (health is None and state["Status"] == "running"):
                log(f"{container.name} is healthy" + ("" if health else " (no HEALTHCHECK)"))
                return
            if health == "unhealthy":
                raise BackendError(f"{container.name} is unhealthy: {self._last_probe(state)}")
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"{container.name} not healthy after {timeout:g}s "
                    f"(health: {health}; {self._last_probe(state)})"
                )
            time.sleep(0.5)

    @staticmethod
    def _last_probe(state) -> str:
        probes = (state.get("Health") or {}).get("Log") or []
        if not probes:
            return "no probe has run"
        last = probes[-1]
        return (
            f"last probe exit {last.get('ExitCode')}: {(last.get('Output') or '').strip()[:200]}"
        )

    @staticmethod
    def _tail(container) -> str:
        try:
            lines = container.logs(tail=5).decode(errors="replace").strip().splitlines()
        except docker.errors.DockerException:
            return "(no logs)"
        return " | ".join(line[:200] for line in lines) or "(no output)"

    def _stop(self, container, log) -> None:
        with engine_errors(f"stopping {container.name}"):
            container.stop(timeout=int(self.options.get("stop_timeout", 20)))
        log(f"stopped {container.name}")

    def _remove(self, container, log) -> None:
        try:
            container.remove(force=True)
            log(f"removed {container.name}")
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as error:
            log(f"could not remove {container.name}: {error}")

    def current(self) -> dict:
        client = engine_client(self.options)
        running = [c for c in self._serving(client) if c.status == "running"]
        return {
            "image": running[0].attrs["Config"]["Image"] if running else None,
            "containers": [
                {
                    "name": c.name,
                    "image": c.attrs["Config"]["Image"],
                    "deployment": c.labels.get(LABEL_DEPLOYMENT),
                    "build": c.labels.get(LABEL_BUILD),
                }
                for c in running
            ],
        }
