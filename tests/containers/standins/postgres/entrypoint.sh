#!/bin/sh
# Initialise the cluster on first start (user, password, database), then run postgres.
set -eu
BIN="$(ls -d /usr/lib/postgresql/*/bin | tail -1)"
export PATH="$BIN:$PATH"
USER_NAME="${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$USER_NAME" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "${POSTGRES_DB:-$USER_NAME}" != "postgres" ]; then
    createdb -U "$USER_NAME" "${POSTGRES_DB:-$USER_NAME}"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
