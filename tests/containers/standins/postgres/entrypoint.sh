#!/bin/sh
# Initialise the cluster on first start (user, password, database), then run postgres.
# Like the official image: POSTGRES_HOST_AUTH_METHOD (e.g. trust) sets how TCP clients
# authenticate; otherwise POSTGRES_PASSWORD is required and scram-sha-256 is used.
set -eu
BIN="$(ls -d /usr/lib/postgresql/*/bin | tail -1)"
export PATH="$BIN:$PATH"
USER_NAME="${POSTGRES_USER:-postgres}"
HOST_AUTH="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ "$HOST_AUTH" != "trust" ] && [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "Error: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
  initdb -D "$PGDATA" -U "$USER_NAME" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="$HOST_AUTH" >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 $HOST_AUTH" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "${POSTGRES_DB:-$USER_NAME}" != "postgres" ]; then
    createdb -U "$USER_NAME" "${POSTGRES_DB:-$USER_NAME}"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
