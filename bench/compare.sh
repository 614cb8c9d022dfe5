#!/usr/bin/env bash
# The goals table in one window: the anchors' harness (Wagtail 8 API v2 as the peer, a raw
# psycopg + orjson WSGI app as the limit; ../shared/bench-anchors, when present) and this
# project's bench/run.sh, interleaved pass by pass on the anchors' PostgreSQL cluster, then
# bench/compare.py prints each ratio's median and spread over the passes.
#
#   bench/compare.sh                          # 3 passes of 10 s runs (~15 min)
#   REPEATS=5 DURATION=15 bench/compare.sh
#   ANCHORS=/path/to/bench-anchors bench/compare.sh
#
# Without the anchors it measures this project alone (the ratios then read "not measured").
# Every measurement waits for an idle machine and records the CPU used outside it.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
ROOT="$PWD"

REPEATS="${REPEATS:-3}"
export DURATION="${DURATION:-10}" WARMUP="${WARMUP:-3}"
ANCHORS="${ANCHORS:-$ROOT/../shared/bench-anchors}"
BIG_N="${BIG_N:-100000}"
OUT="${OUT:-$ROOT/bench/results/compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$ANCHORS/run.sh" ]; then
  # The anchors' cluster serves both; start it here so their run.sh does not stop it between
  # passes (it stops only what it started).
  # shellcheck source=/dev/null
  source "$ANCHORS/lib.sh"
  ensure_dirs
  [ -x "$VENV_RAW/bin/gunicorn" ] && [ -x "$VENV_WAGTAIL/bin/gunicorn" ] ||
    { "$ANCHORS/setup_system.sh"; "$ANCHORS/setup_wagtail.sh"; "$ANCHORS/setup_raw.sh"; }
  pg_start
  trap 'stop_pg_if_started_here' EXIT
  export PGHOST="$PG_SOCKDIR" PGPORT="$PG_PORT"
else
  log "no anchors at $ANCHORS: measuring this project only"
  ANCHORS=""
fi

for pass in $(seq 1 "$REPEATS"); do
  log "pass $pass of $REPEATS"
  if [ -n "$ANCHORS" ]; then
    SIZES=1000 REPEATS=1 DURATION="$DURATION" WARMUP="$WARMUP" OUT="$OUT/pass$pass/anchors" \
      "$ANCHORS/run.sh" >"$OUT/pass$pass-anchors.log" 2>&1 || log "anchors pass $pass failed"
  fi
  RUN="$pass" SIZES=1000 OUT="$OUT/pass$pass/lawvriksh" bench/run.sh >"$OUT/pass$pass-lawvriksh.log" 2>&1
  RUN="$pass" SIZES="$BIG_N" MODES=cold ENDPOINTS="list search" OUT="$OUT/pass$pass/lawvriksh-big" \
    bench/run.sh >"$OUT/pass$pass-lawvriksh-big.log" 2>&1
done

.venv/bin/python bench/compare.py "$OUT" | tee "$OUT/compare.md"
