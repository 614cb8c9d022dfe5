"""Verification after deploy: once the smoke tests pass, the worker watches the new release
for a bake window — its own /metrics against the previous release's, read just before the
switch — sending probe traffic over configured paths, and fails the deployment (the worker
then rolls back) when its 5xx share or p95 latency is worse than the thresholds allow.

Settings (Environment.deploy_settings["verify"]; absent or bake_seconds 0: skipped):
  bake_seconds      how long to watch (e.g. 0 for staging, 300 for production)
  probe_paths       GET these during the bake (default ["/", "/api/v1/posts/"])
  probe_interval    seconds between probe rounds (default 0.2)
  min_requests      fewer requests than this cannot fail on the error rate (default 20);
                    probing goes on past the bake window until that many probes were
                    answered, for at most max_extra_seconds more (default 60)
  max_error_rate    the 5xx share allowed (default 0.05) ...
  max_error_increase  ... or the baseline's plus this much, whichever is higher (0.01)
  max_p95_ratio     p95 may be this many times the baseline's (default 2.0) ...
  min_p95_seconds   ... and is never judged below this (default 0.25)
"""

import math
import threading
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from config.settings.secret_files import read_secret

# Routes that say nothing about how the release serves its users.
PROBE_ROUTES = {"healthz", "readyz", "metrics"}
DEFAULTS = {
    "bake_seconds": 0,
    "probe_paths": ["/", "/api/v1/posts/"],
    "probe_interval": 0.2,
    "min_requests": 20,
    "max_extra_seconds": 60,
    "max_error_rate": 0.05,
    "max_error_increase": 0.01,
    "max_p95_ratio": 2.0,
    "min_p95_seconds": 0.25,
}


class Snapshot(dict):
    """Cumulative counts of one release: {"requests", "errors", "buckets": {le: count}}."""

    def minus(self, earlier: "Snapshot") -> "Snapshot":
        return Snapshot(
            requests=self["requests"] - earlier["requests"],
            errors=self["errors"] - earlier["errors"],
            buckets={
                le: count - earlier["buckets"].get(le, 0) for le, count in self["buckets"].items()
            },
        )

    @property
    def error_rate(self) -> float:
        return self["errors"] / self["requests"] if self["requests"] else 0.0

    @property
    def p95(self) -> float | None:
        """Interpolated within the histogram's buckets, as PromQL's histogram_quantile."""
        buckets = sorted(self["buckets"].items())
        total = buckets[-1][1] if buckets else 0
        if not total:
            return None
        rank, lower, below = 0.95 * total, 0.0, 0.0
        for upper, count in buckets:
            if count >= rank:
                if math.isinf(upper):
                    return lower
                return lower + (upper - lower) * (rank - below) / max(count - below, 1e-9)
            lower, below = upper, count
        return lower

    def summary(self) -> dict:
        p95 = self.p95
        return {
            "requests": self["requests"],
            "errors": self["errors"],
            "error_rate": round(self.error_rate, 4),
            "p95_seconds": round(p95, 4) if p95 is not None else None,
        }


def parse(text: str) -> Snapshot:
    """The user-facing traffic in a /metrics page (probe routes left out)."""
    snapshot = Snapshot(requests=0, errors=0, buckets={})
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if route in PROBE_ROUTES:
                continue
            if sample.name == "http_requests_total":
                snapshot["requests"] += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    snapshot["errors"] += sample.value
            elif sample.name == "http_request_duration_seconds_bucket":
                le = float(sample.labels["le"])
                snapshot["buckets"][le] = snapshot["buckets"].get(le, 0) + sample.value
    return snapshot


def metrics_token(environment) -> str:
    """The environment's METRICS_TOKEN as its containers get it (secret_env or env)."""
    deploy_settings = environment.deploy_settings or {}
    variable = (deploy_settings.get("secret_env") or {}).get("METRICS_TOKEN")
    if variable:
        return read_secret(variable)
    return (deploy_settings.get("env") or {}).get("METRICS_TOKEN", "")


def scrape(base_url: str, token: str = "", timeout: float = 5.0) -> Snapshot:
    request = urllib.request.Request(
        base_url.rstrip("/") + "/metrics",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    # base_url is an environment's http(s) URL, set by release staff.
    with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
        return parse(response.read().decode())


def settings_of(environment) -> dict:
    return {**DEFAULTS, **((environment.deploy_settings or {}).get("verify") or {})}


def baseline(environment, log) -> Snapshot | None:
    """The running release's numbers, read just before the switch (None: unknown)."""
    if not environment.base_url or not settings_of(environment)["bake_seconds"]:
        return None
    try:
        found = scrape(environment.base_url, metrics_token(environment))
    except (urllib.error.URLError, OSError, ValueError) as error:
        log(f"verification: no baseline from the running release ({error})")
        return None
    log(
        f"verification: baseline {found['requests']:.0f} requests, "
        f"5xx {found.error_rate:.1%}, p95 {_seconds(found.p95)}"
    )
    return found


def verify(environment, before: Snapshot | None, log, cancelled: threading.Event) -> dict:
    """Watch the new release for the bake window; {"passed", "reason", "baseline", "new",
    "thresholds"}. Probe traffic runs meanwhile, so a quiet hour still gets judged."""
    options = settings_of(environment)
    token = metrics_token(environment)
    start = scrape(environment.base_url, token)
    probes = _Prober(environment.base_url, options["probe_paths"], options["probe_interval"])
    log(
        f"verification: watching for {options['bake_seconds']} s "
        f"(probe traffic on {', '.join(options['probe_paths']) or 'no path'})"
    )
    with probes:
        cancelled.wait(float(options["bake_seconds"]))
        # A starved machine may have sent few probes in the window: wait for the answers a
        # verdict needs (a positive signal), not for more time to pass.
        if not cancelled.is_set() and not probes.reached(options["min_requests"]):
            log(
                f"verification: {probes.answered} probe answers so far; waiting for "
                f"{options['min_requests']} (at most {options['max_extra_seconds']} s more)"
            )
            probes.reached(options["min_requests"], timeout=float(options["max_extra_seconds"]))
    now = scrape(environment.base_url, token).minus(start)
    result = judge(now, before, options)
    result["probes"] = probes.sent
    verdict = "passed" if result["passed"] else f"FAILED: {result['reason']}"
    new, base = result["new"], result["baseline"] or {}
    log(
        f"verification: new release {new['requests']:.0f} requests, 5xx {new['error_rate']:.1%}"
        f" vs baseline {base.get('error_rate', 0):.1%}; p95 {_seconds(new['p95_seconds'])}"
        f" vs {_seconds(base.get('p95_seconds'))}: {verdict}"
    )
    return result


def judge(new: Snapshot, before: Snapshot | None, options: dict) -> dict:
    """The decision and the numbers that made it."""
    base_rate = before.error_rate if before else 0.0
    base_p95 = before.p95 if before else None
    error_limit = max(options["max_error_rate"], base_rate + options["max_error_increase"])
    p95_limit = max(options["min_p95_seconds"], (base_p95 or 0) * options["max_p95_ratio"])
    reason = ""
    if new["requests"] >= options["min_requests"] and new.error_rate > error_limit:
        reason = f"5xx share {new.error_rate:.1%} over the limit {error_limit:.1%}"
    elif new.p95 is not None and base_p95 is not None and new.p95 > p95_limit:
        reason = f"p95 {new.p95:.3f} s over the limit {p95_limit:.3f} s"
    return {
        "passed": not reason,
        "reason": reason,
        "new": new.summary(),
        "baseline": before.summary() if before else None,
        "thresholds": {"max_error_rate": round(error_limit, 4), "max_p95_seconds": p95_limit},
    }


def _seconds(value) -> str:
    return f"{value:.3f} s" if value is not None else "n/a"


class _Prober:
    """GETs the probe paths in rounds on a thread of its own while the bake lasts."""

    def __init__(self, base_url: str, paths, interval: float):
        self.base, self.paths, self.interval = base_url.rstrip("/"), list(paths), interval
        self.sent = self.answered = 0
        self._answers = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verification-probes")

    def __enter__(self):
        if self.paths:
            self._thread.start()
        return self

    def reached(self, count: int, timeout: float = 0) -> bool:
        """Whether `count` probes got an HTTP answer, waiting up to `timeout` seconds."""
        if not self.paths:
            return True
        with self._answers:
            return self._answers.wait_for(lambda: self.answered >= count, timeout=timeout)

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    # The environment's own URL (release staff set it).
                    with urllib.request.urlopen(self.base + path, timeout=5):  # nosec B310
                        pass
                    answered = True
                except urllib.error.HTTPError:
                    answered = True  # a 5xx is what the metrics count
                except (urllib.error.URLError, OSError):
                    answered = False
                self.sent += 1
                if answered:
                    with self._answers:
                        self.answered += 1
                        self._answers.notify_all()
            self._stop.wait(self.interval)
