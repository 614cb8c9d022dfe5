"""The monitoring shipped with the project, checked by its own tools: compose's `monitoring`
profile, the scrape config and alert rules through promtool, and a real Prometheus (Debian's
package) scraping the app through gunicorn with its token — every Grafana panel's query and
every alert expression evaluated by it."""

import json
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from tests.containers.conftest import ROOT, free_port, tool
from tests.containers.test_config_files import COMPOSE_ENV, compose_config
from tests.releases.test_worker_recovery import database_url
from tests.support.processes import gunicorn_server, production_environment, stop

MONITORING = ROOT / "deploy" / "monitoring"
TOKEN = "scrape-" + "t0k" * 10


def test_the_monitoring_profile_adds_prometheus_and_grafana_on_localhost():
    result = compose_config("--profile", "monitoring", env={**COMPOSE_ENV, "METRICS_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["web"]["environment"]["METRICS_TOKEN"] == TOKEN
    assert "web" in services["web"]["environment"]["ALLOWED_HOSTS"].split(",")
    for name, port in (("prometheus", 9090), ("grafana", 3000)):
        [published] = services[name]["ports"]
        if isinstance(published, str):  # docker-compose 1.x prints the short syntax
            assert published.startswith(f"127.0.0.1:{port}:{port}"), published
        else:
            assert published["host_ip"] == "127.0.0.1" and published["target"] == port
        assert services[name]["profiles"] == ["monitoring"]  # only when asked for


def local_config(tmp_path, target: str) -> str:
    """The shipped prometheus.yml pointed at `target`, its token file and rules beside it."""
    (tmp_path / "metrics_token").write_text(TOKEN)
    (tmp_path / "alerts.yml").write_text((MONITORING / "alerts.yml").read_text())
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    [job] = config["scrape_configs"]
    job["authorization"]["credentials_file"] = str(tmp_path / "metrics_token")
    job["static_configs"][0]["targets"] = [target]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def query(base: str, expr: str) -> dict:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_app_and_every_panel_and_alert_query_is_valid(tmp_path):
    promtool, prometheus = tool("promtool"), tool("prometheus")
    checked = subprocess.run(
        [promtool, "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    env = production_environment(
        DATABASE_URL=database_url(), METRICS_TOKEN=TOKEN, SECURE_SSL_REDIRECT="0"
    )
    with gunicorn_server(env) as base_url:
        config = local_config(tmp_path, base_url.removeprefix("http://"))
        checked = subprocess.run([promtool, "check", "config", config], capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        port = free_port()
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            # Positive signal: Prometheus reports the target up (it scraped with the token).
            deadline = time.monotonic() + 120
            while True:
                try:
                    up = query(base, 'up{job="blog-web"}')["data"]["result"]
                except OSError:
                    up = []
                if up and up[0]["value"][1] == "1":
                    break
                assert time.monotonic() < deadline, f"never scraped: {up}"
                time.sleep(0.5)
            # The server's own start-up probe, counted before the first scrape.
            found = query(base, 'http_requests_total{route="healthz"}')["data"]["result"]
            assert found and float(found[0]["value"][1]) >= 1
            assert query(base, "releases_queue_length")["data"]["result"]
            dashboard = json.loads(
                (MONITORING / "grafana" / "dashboards" / "lawvriksh-blog.json").read_text()
            )
            rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
            expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            expressions += [r["expr"] for g in rules["groups"] for r in g["rules"]]
            for expr in expressions:
                assert query(base, expr)["status"] == "success", expr
        finally:
            stop(server)
