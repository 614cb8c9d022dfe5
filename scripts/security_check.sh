#!/usr/bin/env bash
# Static analysis (bandit, fails on medium+ findings) and the dependency audit (pip-audit).
# pip-audit needs PyPI's vulnerability service; where it cannot reach it (these CI machines)
# it says so and does not fail: GitLab's security job runs the real audit.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"

echo "== bandit"
"$BIN/bandit" -q -r blog core releases config scripts docker -ll

echo "== pip-audit"
set +o errexit
output="$("$BIN/pip-audit" --strict -r requirements.txt 2>&1)"
status=$?
set -o errexit
if [ $status -eq 0 ]; then
  echo "$output"
elif grep -q "could not be audited\|Connection\|Max retries" <<<"$output"; then
  echo "pip-audit: the vulnerability service is unreachable from here; NOT audited (offline)."
  echo "           The GitLab security job audits requirements.txt on every pipeline."
else
  echo "$output"
  exit $status
fi
