#!/usr/bin/env bash
# Load benchmark of the blog API: seed N posts on PostgreSQL, serve with gunicorn
# (production settings, DEBUG off, 2 sync workers, persistent connections) on 127.0.0.1,
# measure each endpoint with wrk through bench/measure.py (an idle machine first, the CPU of
# app / PostgreSQL / wrk / other accounted), print a table (and write bench/results/<stamp>/).
#
#   bench/run.sh                         # N = 1000 and 100000, cache cold and warm
#   SIZES=1000 DURATION=5 bench/run.sh   # a quick run
#   SIZES=1000 MODES="warm warm-bare" ENDPOINTS="list detail floor-healthz" bench/run.sh
#                                        # the cost of /metrics and request ids, side by side
#
# Modes: cold (response cache off), warm (on); both with the metrics and request-id
# middleware as in the image (prometheus multiprocess files in a temporary directory);
# warm-bare = warm without those two middlewares (OBSERVABILITY_MIDDLEWARE=false).
# Settings (environment): SIZES="1000 100000" MODES="cold warm" DURATION=15 WARMUP=3
#   THREADS=2 CONNECTIONS=16 WORKERS=2 PORT=8200
#   ENDPOINTS="" (labels to keep, e.g. "list search"; empty = all)
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres (the server the databases are made on;
#   PGHOST may be a Unix-socket directory, e.g. the anchors' /tmp/blogbench/pg/run)
# Databases are named lawvriksh_bench_<N> and are reused (seeding only tops them up).
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
ROOT="$PWD"

SIZES="${SIZES:-1000 100000}"
MODES="${MODES:-cold warm}"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
WORKERS="${WORKERS:-2}"
ENDPOINTS="${ENDPOINTS:-}"
PORT="${PORT:-8200}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
OUT="${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}"
PY="$ROOT/.venv/bin/python"
RUN="${RUN:-1}"   # the pass number recorded with each result (bench/compare.sh sets it)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v wrk >/dev/null || { log "wrk missing: apt-get install wrk"; exit 1; }
[ -x "$PY" ] || make install >/dev/null
mkdir -p "$OUT"

export DJANGO_SETTINGS_MODULE=config.settings.production
export DJANGO_READ_DOT_ENV_FILE=false
export SECRET_KEY="bench-only-secret-key-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS=127.0.0.1,localhost
export SECURE_SSL_REDIRECT=false        # plain HTTP on loopback; TLS is the proxy's job
export CONN_MAX_AGE=600
export THROTTLE_ANON=100000000/minute   # one client address generates all the load
export LOG_LEVEL=WARNING

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap stop_server EXIT

for n in $SIZES; do
  db="lawvriksh_bench_$n"
  host="$PGHOST"
  case "$host" in /*) host="$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGHOST")" ;; esac
  export DATABASE_URL="postgres://$PGUSER@$host:$PGPORT/$db"
  if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE $db"
  fi
  log "N=$n: migrate and seed ($db)"
  "$PY" manage.py migrate --noinput -v0
  "$PY" manage.py collectstatic --noinput -v0
  "$PY" manage.py seed_demo --posts "$n" >&2
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -qc "VACUUM ANALYZE" >/dev/null
  # PostgreSQL's postmaster, so its CPU is accounted apart from the app's.
  datadir="$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -tAc "SHOW data_directory")"
  PG_PID="$(head -n1 "$datadir/postmaster.pid" 2>/dev/null || true)"

  for mode in $MODES; do
    if [ "$mode" = cold ]; then export API_RESPONSE_CACHE_SECONDS=0; else export API_RESPONSE_CACHE_SECONDS=300; fi
    if [ "$mode" = warm-bare ]; then
      export OBSERVABILITY_MIDDLEWARE=false
      unset PROMETHEUS_MULTIPROC_DIR
    else
      export OBSERVABILITY_MIDDLEWARE=true
      export PROMETHEUS_MULTIPROC_DIR="$OUT/prometheus-$n-$mode"
      rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    "$ROOT/.venv/bin/gunicorn" config.wsgi:application --workers "$WORKERS" --worker-class sync \
      --bind "127.0.0.1:$PORT" --backlog 2048 --timeout 30 --log-level warning \
      >"$OUT/gunicorn-$n-$mode.log" 2>&1 &
    SERVER_PID=$!
    base="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.2; done

    # A visible post, one of its tags, a word to search for.
    sample="$(curl -sf "$base/api/v1/posts/?page_size=1")"
    slug="$(printf '%s' "$sample" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["slug"])')"
    tag="$(printf '%s' "$sample" | "$PY" -c 'import json,sys; t=json.load(sys.stdin)["results"][0]["tags"]; print(t[0]["slug"] if t else "privacy")')"
    list_etag="$(curl -sfI "$base/api/v1/posts/?page_size=20" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')"
    detail_etag="$(curl -sfI "$base/api/v1/posts/$slug/" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')"

    run() {  # label url [header]
      local label="$1" url="$2" header="${3:-}" args=()
      if [ -n "$ENDPOINTS" ] && [[ " $ENDPOINTS " != *" $label "* ]]; then return 0; fi
      [ -n "$header" ] && args=(-H "$header")
      code="$(curl -s -o /dev/null -w '%{http_code}' ${header:+-H "$header"} "$url")"
      case "$code" in 200|304) ;; *) log "N=$n $mode $label answered $code"; exit 1 ;; esac
      timeout $((WARMUP + 10)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${args[@]}" "$url" >/dev/null
      "$PY" bench/measure.py --url "$url" ${header:+--header "$header"} \
        --system "lawvriksh-$mode" --n "$n" --endpoint "$label" --run "$RUN" \
        --server-pid "$SERVER_PID" --pg-pid "$PG_PID" --duration "$DURATION" \
        --threads "$THREADS" --connections "$CONNECTIONS" \
        --out "$OUT/results.jsonl" --wrk-log "$OUT/wrk-$n-$mode-$label-run$RUN.txt"
    }
    run list "$base/api/v1/posts/?page_size=20"
    run list-tag "$base/api/v1/posts/?page_size=20&tag=$tag"
    run search "$base/api/v1/posts/?page_size=20&search=arbitration"
    run detail "$base/api/v1/posts/$slug/"
    run list-304 "$base/api/v1/posts/?page_size=20" "If-None-Match: $list_etag"
    run detail-304 "$base/api/v1/posts/$slug/" "If-None-Match: $detail_etag"
    run floor-healthz "$base/healthz"   # Django + middleware, no database: the framework floor
    stop_server
  done
done

"$PY" bench/report.py "$OUT/results.jsonl" | tee "$OUT/results.md"
