"""Smoke tests run by the worker after a deployment: the environment answers as it should."""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def _get(url: str, timeout: float) -> tuple[int | None, str]:
    if not url.startswith(("https://", "http://")):
        return None, "not an HTTP(S) URL"
    try:
        # The scheme is checked just above.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
            return response.status, response.read(20000).decode(errors="replace")
    except urllib.error.HTTPError as error:  # a 503 /readyz says why in its body
        return error.code, error.read(20000).decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))


def run_smoke_tests(
    base_url: str,
    *,
    expected_commit: str | None,
    extra_paths=(),
    attempts: int = 5,
    backoff: float = 1.0,
    request_timeout: float = 5.0,
    overall_timeout: float = 60.0,
    cancelled=None,
) -> dict:
    """/healthz 200, /readyz 200, /api/v1/version/ reporting `expected_commit` (when given),
    plus `extra_paths` ([path, expected status]); each retried with backoff, all within
    `overall_timeout`; stopped early when the `cancelled` event (a threading.Event) is set.
    Returns {"passed": bool, "checks": [...], "error": "..."}."""
    deadline = time.monotonic() + overall_timeout
    base = base_url.rstrip("/")
    checks = [("/healthz", 200), ("/readyz", 200), ("/api/v1/version/", 200), *extra_paths]
    results = []
    for path, expected in checks:
        detail = ""
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if cancelled is not None and cancelled.is_set():
                return {"passed": False, "checks": results, "error": "cancelled"}
            if remaining <= 0:
                return {"passed": False, "checks": results, "error": f"timed out at {path}"}
            status, body = _get(base + path, min(request_timeout, remaining))
            ok = status == expected
            detail = f"HTTP {status}" if status is not None else f"no answer ({body})"
            if ok and path == "/api/v1/version/" and expected_commit:
                try:
                    commit = json.loads(body).get("commit")
                except ValueError:
                    commit = None
                ok = commit == expected_commit
                detail = f"commit {commit!r}, expected {expected_commit!r}"
            if path == "/readyz" and status is not None:
                detail += schema_detail(body)
            if ok:
                break
            pause = min(backoff * 2**attempt, max(0, deadline - time.monotonic()))
            if cancelled is not None:
                cancelled.wait(pause)
            else:
                time.sleep(pause)
        results.append({"path": path, "ok": ok, "detail": detail})
        if not ok:
            return {"passed": False, "checks": results, "error": f"{path}: {detail}"}
    return {"passed": True, "checks": results, "error": ""}


def schema_detail(body: str) -> str:
    """`, schema ahead: blog.0007_x` from a /readyz answer: what the smoke log and the
    dashboard show of a schema ahead of the code (a rollback across a migration) or behind."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    state = answer.get("migrations")
    names = answer.get("unknown_migrations") or answer.get("unapplied") or []
    if state in ("ahead", "behind"):
        return f", schema {state}: {', '.join(map(str, names))}"
    return f", schema {state}" if state else ""


def readiness(base_url: str, timeout: float = 3.0) -> dict:
    """The environment's /readyz now, for the Releases page: {"ok", "detail"}."""
    status, body = _get(base_url.rstrip("/") + "/readyz", timeout)
    if status is None:
        return {"ok": False, "detail": f"no answer ({body})"}
    return {"ok": status == 200, "detail": f"HTTP {status}{schema_detail(body)}"}


def main(argv=None) -> int:
    """`python3 -m releases.smoke URL [--commit SHA]`: the smoke job of .gitlab-ci.yml."""
    parser = argparse.ArgumentParser(description="Smoke-test a running LawVriksh Blog.")
    parser.add_argument("base_url")
    parser.add_argument("--commit", default=None, help="The commit /api/v1/version/ must report.")
    parser.add_argument("--path", action="append", default=[], help="Also GET this path (200).")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    result = run_smoke_tests(
        args.base_url,
        expected_commit=args.commit,
        extra_paths=[(path, 200) for path in args.path],
        overall_timeout=args.timeout,
    )
    for check in result["checks"]:
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {check['path']}: {check['detail']}")
    print("smoke tests passed" if result["passed"] else f"smoke tests failed: {result['error']}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
