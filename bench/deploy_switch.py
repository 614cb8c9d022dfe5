"""Zero-downtime check of the `docker` backend under load: wrk keeps hitting the port while
the backend switches A -> B -> A -> ... ; reports requests served, errors, and switch times.

    scripts/container_env.sh start          # engine, base image, registry
    .venv/bin/python bench/deploy_switch.py [--switches 6] [--connections 16]

Needs Debian's wrk. Builds two images of this checkout (commits A and B) on the stand-in
base, pushes them to 127.0.0.1:5000/blog-bench, and drives releases.backends.docker_host
directly (no database: the containers serve /healthz and /api/v1/version/ only).
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from releases.backends.docker_host import DockerBackend  # noqa: E402

REGISTRY = os.environ.get("CONTAINER_REGISTRY", "127.0.0.1:5000")
BASE_IMAGE = os.environ.get("CONTAINER_BASE_IMAGE", "lawvriksh/python-base:3.13-trixie")
REPOSITORY = f"{REGISTRY}/blog-bench"
LOCAL_ENGINE = Path("/var/lib/lawvriksh-docker/docker.sock")


def build(client, sha: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-r", "requirements.txt", "-w", "wheelhouse"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    tag = f"{REPOSITORY}:{sha}"
    client.images.build(
        path=str(ROOT), tag=tag, buildargs={"BASE_IMAGE": BASE_IMAGE, "GIT_SHA": sha}, rm=True
    )
    client.images.push(REPOSITORY, tag=sha)
    digests = client.images.get(tag).attrs["RepoDigests"]
    return next(d for d in digests if d.startswith(REPOSITORY + "@"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_wrk(output: str) -> dict:
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    connect, read, write, timeout = (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "connect": connect,
        "read": read,
        "write": write,
        "timeout": timeout,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument(
        "--close", action="store_true", help="A new connection per request (no keep-alive)."
    )
    args = parser.parse_args()
    if "DOCKER_HOST" not in os.environ and LOCAL_ENGINE.exists():
        os.environ["DOCKER_HOST"] = f"unix://{LOCAL_ENGINE}"
    client = docker.from_env(timeout=120)
    images = [build(client, "a" * 40), build(client, "b" * 40)]
    port = free_port()
    environment = SimpleNamespace(slug=f"bench-{port}")
    backend = DockerBackend(
        environment,
        {
            "env": {
                "SECRET_KEY": "bench-" + "x" * 20 + "-not-a-secret-0123456789abcdefghij",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                "WAIT_FOR_DB": "0",
                "SECURE_SSL_REDIRECT": "0",
                "PORT": str(port),
                "GUNICORN_REUSE_PORT": "1",
                "WEB_CONCURRENCY": "2",
            },
            "health_interval": 1,
            "stop_timeout": 10,
        },
    )

    def deploy(n: int) -> float:
        image = images[n % 2]
        deployment = SimpleNamespace(pk=n + 1, image=image, build=SimpleNamespace(tag=image[-12:]))
        started = time.monotonic()
        backend.deploy(deployment, log=lambda line: None, health_timeout=90)
        return time.monotonic() - started

    try:
        deploy(0)  # A serves before the load starts
        switch_times: list[float] = []
        done = threading.Event()

        def switches():
            time.sleep(3)
            for n in range(1, args.switches + 1):
                switch_times.append(deploy(n))
                time.sleep(1)
            done.set()

        worker = threading.Thread(target=switches)
        worker.start()
        # wrk's duration must cover every switch; 20 s per switch is ample here.
        duration = 5 + 20 * args.switches
        wrk = subprocess.Popen(
            [
                *(["wrk", "-H", "Connection: close"] if args.close else ["wrk"]),
                "-t2",
                f"-c{args.connections}",
                f"-d{duration}s",
                "--timeout",
                "5s",
                f"http://127.0.0.1:{port}{args.path}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        done.wait()
        time.sleep(2)
        wrk.send_signal(signal.SIGINT)  # wrk stops early and prints its summary
        output = wrk.communicate()[0]
        worker.join()
    finally:
        for container in client.containers.list(
            all=True, filters={"label": f"org.lawvriksh.environment={environment.slug}"}
        ):
            container.remove(force=True)
    print(output)
    result = parse_wrk(output)
    print(
        f"switches: {len(switch_times)}, each {min(switch_times):.1f}-{max(switch_times):.1f} s "
        "(start, health, stop old)\n"
        f"requests: {result['requests']} at {result['rate']:.0f} req/s; refused (connect): "
        f"{result['connect']}; timeouts: {result['timeout']}; non-2xx: {result['non_2xx']}; "
        f"read/write errors: {result['read']}/{result['write']} (a retiring server closing "
        "a connection wrk was about to reuse; wrk does not retry)"
    )
    # Downtime is a refused connection, a timeout or an error status.
    return 0 if result["connect"] + result["timeout"] + result["non_2xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
