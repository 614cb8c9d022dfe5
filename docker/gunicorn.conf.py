"""gunicorn settings for the container image, every one from the environment."""

import os

# GUNICORN_HEALTH_BIND: a second address only this container listens on; the image's
# HEALTHCHECK probes it, so on the host network (where old and new containers share PORT)
# the probe reaches this container and not its predecessor. The deploy backends set it.
HEALTH_BIND = os.environ.get("GUNICORN_HEALTH_BIND", "")
bind = [os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")]
if HEALTH_BIND:
    bind.append(HEALTH_BIND)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# SO_REUSEPORT lets a new container bind the same host port before the old one leaves
# (start-first deployments on the host network; see releases/backends/docker_host.py).
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "0") == "1"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# One format on stdout: gunicorn's own lines as JSON too, like the app's (production).
if os.environ.get("LOG_FORMAT", "json") == "json":
    logger_class = "core.gunicorn_logging.JsonLogger"
# Heartbeat files in memory: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm"  # nosec B108
# gunicorn 27 control socket: not used here, and the app user cannot write its default path.
control_socket_disable = True


# prometheus-client's multiprocess mode: each worker writes its samples to files in
# PROMETHEUS_MULTIPROC_DIR; /metrics sums them. Emptied at start (stale files of an earlier
# run would count twice); a dead worker's live gauges are dropped.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
