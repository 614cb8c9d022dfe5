#!/bin/sh
# Container entrypoint: wait for the database (and migrate when RUN_MIGRATIONS=1), then exec
# the command, so gunicorn or db_worker becomes PID 1's child-free successor and gets signals.
set -eu

if [ "${WAIT_FOR_DB:-1}" = "1" ]; then
  if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python3 /app/manage.py prepare_database --timeout "${DB_WAIT_TIMEOUT:-60}" --migrate
  else
    python3 /app/manage.py prepare_database --timeout "${DB_WAIT_TIMEOUT:-60}"
  fi
fi

exec "$@"
