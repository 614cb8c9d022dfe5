#!/usr/bin/env bash
# How long backup and restore take at N posts, and what the migrate step costs: seeds
# lawvriksh_bench_<N> (reused), then times `manage.py backup`, `manage.py restore latest
# --into ...` (verify + restore + compare every table) and `prepare_database --migrate`
# on a fresh database (every migration, one transaction) and on an up-to-date one.
#
#   bench/backup_restore.sh              # N = 100000
#   POSTS=1000 bench/backup_restore.sh
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
POSTS="${POSTS:-100000}"
PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DB="lawvriksh_bench_${POSTS}"
PY="$PWD/.venv/bin/python"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

export DJANGO_SETTINGS_MODULE=config.settings.test DJANGO_READ_DOT_ENV_FILE=false
export BACKUP_DIR="$WORK/backups" ENVIRONMENT_NAME=bench
url() { echo "postgres://$PGUSER@$PGHOST:$PGPORT/$1"; }
psql_admin() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qtAc "$1"; }
seconds() { local start=$1; echo "$(($(date +%s%N) - start))" | awk '{printf "%.1f", $1/1e9}'; }

if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  psql_admin "CREATE DATABASE $DB"
fi
DATABASE_URL="$(url "$DB")" "$PY" manage.py migrate --verbosity 0
DATABASE_URL="$(url "$DB")" "$PY" manage.py seed_demo --posts "$POSTS" >/dev/null
size="$(psql_admin "SELECT pg_size_pretty(pg_database_size('$DB'))")"
posts="$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$DB" -qtAc 'SELECT count(*) FROM blog_post')"

start=$(date +%s%N)
DATABASE_URL="$(url "$DB")" "$PY" manage.py backup | tail -1
backup_s="$(seconds "$start")"
dump="$(ls -l "$WORK"/backups/*.dump | awk '{print $5}')"

psql_admin "DROP DATABASE IF EXISTS ${DB}_restored WITH (FORCE)"
start=$(date +%s%N)
DATABASE_URL="$(url "$DB")" "$PY" manage.py restore latest --into "${DB}_restored" | tail -2 | head -1
restore_s="$(seconds "$start")"
psql_admin "DROP DATABASE IF EXISTS ${DB}_restored WITH (FORCE)"

psql_admin "DROP DATABASE IF EXISTS lawvriksh_bench_migrate WITH (FORCE)"
psql_admin "CREATE DATABASE lawvriksh_bench_migrate"
start=$(date +%s%N)
DATABASE_URL="$(url lawvriksh_bench_migrate)" "$PY" manage.py prepare_database --migrate >/dev/null
fresh_s="$(seconds "$start")"
start=$(date +%s%N)
DATABASE_URL="$(url lawvriksh_bench_migrate)" "$PY" manage.py prepare_database --migrate >/dev/null
noop_s="$(seconds "$start")"
psql_admin "DROP DATABASE IF EXISTS lawvriksh_bench_migrate WITH (FORCE)"

cat <<EOF

| measure ($posts posts, database $size) | seconds |
|---|---|
| manage.py backup (dump $((dump / 1000000)) MB, check, store, retention) | $backup_s |
| manage.py restore latest --into … (verify, restore, compare every table) | $restore_s |
| prepare_database --migrate, fresh database (every migration, one transaction) | $fresh_s |
| prepare_database --migrate, nothing to apply | $noop_s |
EOF
