#!/usr/bin/env python3
"""Report this CI job's build or stage result to the release dashboard (stdlib only).

    python3 scripts/ci_report.py start                            # every job's before_script
    python3 scripts/ci_report.py build [--digest sha256:...] [--migrations plan.json]
                                                                  # in the build job
    python3 scripts/ci_report.py stage [--summary "212 passed"]   # in every job's after_script

Reads GitLab's predefined variables (CI_COMMIT_SHA, CI_REGISTRY_IMAGE, CI_PIPELINE_ID,
CI_JOB_ID, CI_JOB_NAME, CI_JOB_STAGE, CI_JOB_STATUS, ...) and:
  RELEASES_URL       the dashboard, e.g. https://blog.example.com
  RELEASES_TOKEN     a CI token from `manage.py create_ci_token`; when set, it is used, or
  RELEASES_ID_TOKEN  a GitLab id_token whose aud is RELEASES_URL (`id_tokens:` in the job).
Retries with backoff on 5xx and connection errors. The dashboard being down never fails the
job (it says so); a configuration error (401/403: wrong token, OIDC not configured, audience
or project mismatch) always does, with the dashboard's reason. Other refusals (409: e.g. a
digest already recorded) are printed and fail the job only with --strict.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ATTEMPTS = int(os.environ.get("RELEASES_RETRIES", "5"))
BACKOFF = float(os.environ.get("RELEASES_BACKOFF", "1.0"))  # seconds, doubled per attempt
TIMEOUT = float(os.environ.get("RELEASES_TIMEOUT", "10"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def build_body(digest: str, migrations: list | None = None) -> dict:
    body = {
        "repository": env("CI_REGISTRY_IMAGE"),
        "tag": env("RELEASES_IMAGE_TAG") or env("CI_COMMIT_SHA"),
        "commit_sha": env("CI_COMMIT_SHA"),
        "commit_message": env("CI_COMMIT_MESSAGE")[:10000],
        "commit_author": env("CI_COMMIT_AUTHOR"),
        "commit_time": env("CI_COMMIT_TIMESTAMP") or None,
        "ref": env("CI_COMMIT_REF_NAME"),
        "pipeline_id": int(env("CI_PIPELINE_ID")) if env("CI_PIPELINE_ID") else None,
        "pipeline_url": env("CI_PIPELINE_URL"),
        "project_path": env("CI_PROJECT_PATH"),
    }
    if digest:
        body["digest"] = digest
    if migrations is not None:
        body["migrations"] = migrations
    return body


def read_plan(path: str) -> list | None:
    """The `migrations` of `manage.py migration_plan --output` (None: no file given)."""
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["migrations"]


def stage_body(summary: str, details: dict) -> dict:
    status = env("CI_JOB_STATUS") or "running"  # set in after_script; running otherwise
    return {
        "stage": env("CI_JOB_STAGE"),
        "job_name": env("CI_JOB_NAME"),
        "job_id": int(env("CI_JOB_ID") or 0),
        "status": status,
        "started_at": env("CI_JOB_STARTED_AT") or None,
        "job_url": env("CI_JOB_URL"),
        "summary": summary,
        "details": details,
    }


def identity() -> tuple[str, str]:
    """(variable name, token): an explicitly set RELEASES_TOKEN wins over the id_token GitLab
    always sets when a job declares `id_tokens`."""
    for name in ("RELEASES_TOKEN", "RELEASES_ID_TOKEN"):
        if env(name):
            return name, env(name)
    return "", ""


def say(message: str, error: bool = False) -> None:
    print(message, file=sys.stderr if error else sys.stdout, flush=True)


def post(url: str, body: dict | None, method: str = "POST") -> tuple[int | None, str]:
    """Send JSON with retries; (status, text) or (None, reason) when it never answered."""
    _, token = identity()
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "User-Agent": "lawvriksh-ci-report/1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    reason = ""
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        if not url.startswith(("https://", "http://")):
            return None, f"RELEASES_URL must be an HTTP(S) URL, not {url[:40]!r}"
        try:
            # The scheme is checked just above.
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # nosec B310
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            if error.code < 500:
                return error.code, text
            reason = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            reason = str(getattr(error, "reason", error))
        if attempt < ATTEMPTS:
            delay = BACKOFF * 2 ** (attempt - 1)
            say(f"ci_report: {reason}; retrying in {delay:.1f} s", error=True)
            time.sleep(delay)
    return None, reason


def refusal(status: int, text: str, what: str) -> int:
    """Say why the dashboard refused; 1 for a configuration error (401/403), else 0."""
    try:
        detail = json.loads(text).get("detail") or text
    except (ValueError, AttributeError):
        detail = text
    name, _ = identity()
    say(f"ci_report: the dashboard refused the {what} (HTTP {status}): {str(detail)[:500]}", True)
    if status in (401, 403):
        say(
            f"ci_report: configuration error with {name or 'no token'}: check RELEASES_TOKEN, or "
            "the dashboard's GITLAB_OIDC_ISSUER / GITLAB_OIDC_AUDIENCE (= RELEASES_URL) / "
            "GITLAB_OIDC_PROJECTS for id_tokens",
            error=True,
        )
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["start", "build", "stage"])
    parser.add_argument("--digest", default="", help="The pushed image's sha256 digest.")
    parser.add_argument("--summary", default="", help='e.g. "212 passed"')
    parser.add_argument("--details", default="{}", help="A small JSON object.")
    parser.add_argument("--strict", action="store_true", help="Fail when refused (4xx).")
    parser.add_argument(
        "--migrations", default="", help="The image's plan (manage.py migration_plan --output)."
    )
    args = parser.parse_args(argv)

    base = env("RELEASES_URL").rstrip("/")
    if not base:
        say("ci_report: RELEASES_URL is not set; nothing reported", error=True)
        return 0
    name, _ = identity()
    builds = f"{base}/api/v1/releases/builds/"
    what = "build report"
    status, text = post(builds, build_body(args.digest, read_plan(args.migrations)))
    if status is not None and status < 300 and args.what in ("start", "stage"):
        try:
            details = json.loads(args.details)
        except ValueError:
            details = {"raw": args.details[:500]}
        body = stage_body(args.summary, details)
        if args.what == "start":
            body["status"] = "running"
        stages = f"{builds}{env('RELEASES_IMAGE_TAG') or env('CI_COMMIT_SHA')}/stages/"
        stages += "?" + urllib.parse.urlencode({"repository": env("CI_REGISTRY_IMAGE")})
        what = f"{body['stage']} stage report"
        status, text = post(stages, body)
    if status is None:
        say(f"ci_report: the dashboard did not answer ({text}); nothing reported", error=True)
        return 0
    if status >= 300:
        failed = refusal(status, text, what)
        return 1 if args.strict else failed
    say(f"ci_report: {what} accepted (HTTP {status}, as {name or 'anonymous'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
