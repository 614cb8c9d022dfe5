#!/usr/bin/env python3
"""Ask the release dashboard to deploy this pipeline's build, then wait for the outcome
(stdlib only; the deploy-staging job of .gitlab-ci.yml).

    python3 scripts/ci_deploy.py [--environment staging] [--timeout 900]

Uses RELEASES_URL and RELEASES_ID_TOKEN / RELEASES_TOKEN like ci_report.py; the build is
RELEASES_IMAGE_TAG or CI_COMMIT_SHA. Exit 0 when the deployment succeeded, 1 when it failed,
was refused or did not finish in time, 2 when the dashboard never answered.
"""

import argparse
import json
import sys
import time

from ci_report import env, identity, post, refusal, say

FINISHED = {"succeeded", "failed", "rolled_back", "cancelled", "superseded"}


class Progress:
    """Prints what is new in a deployment since the last poll: status changes, log lines."""

    def __init__(self):
        self.status, self.lines = None, 0

    def show(self, deployment: dict) -> None:
        if deployment["status"] != self.status:
            self.status = deployment["status"]
            say(f"ci_deploy: deployment {deployment['id']} is {self.status}")
        lines = (deployment.get("log") or "").splitlines()
        for line in lines[self.lines :]:
            say(f"  {line}")
        self.lines = len(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--environment", default="staging")
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds to wait.")
    parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls.")
    args = parser.parse_args(argv)

    base = env("RELEASES_URL").rstrip("/")
    if not base:
        say("ci_deploy: RELEASES_URL is not set", error=True)
        return 2
    build = env("RELEASES_IMAGE_TAG") or env("CI_COMMIT_SHA")
    reason = f"pipeline {env('CI_PIPELINE_ID', '?')} ({env('CI_COMMIT_REF_NAME', '?')})"
    name, _ = identity()
    say(f"ci_deploy: asking {base} to deploy {build[:12]} to {args.environment} (as {name})")
    status, text = post(
        f"{base}/api/v1/releases/environments/{args.environment}/deploy/",
        {"build": build, "reason": reason},
    )
    if status is None:
        say(f"ci_deploy: the dashboard did not answer ({text})", error=True)
        return 2
    if status >= 300:
        refusal(status, text, "deployment request")
        return 1
    deployment = json.loads(text)
    progress = Progress()
    progress.show(deployment)
    deadline = time.monotonic() + args.timeout
    url = f"{base}/api/v1/releases/deployments/{deployment['id']}/"
    while deployment["status"] not in FINISHED:
        if time.monotonic() >= deadline:
            say(f"ci_deploy: still {deployment['status']} after {args.timeout:g}s", error=True)
            return 1
        time.sleep(args.interval)
        status, text = post(url, None, method="GET")
        if status == 200:
            deployment = json.loads(text)
            progress.show(deployment)
        elif status is not None:
            say(f"ci_deploy: HTTP {status} while polling: {text[:300]}", error=True)
    say(f"ci_deploy: deployment {deployment['id']} {deployment['status']}")
    return 0 if deployment["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
