#!/bin/sh
# The postgres image's contract, as docker-compose.yml uses it: on an empty $PGDATA,
# initdb with POSTGRES_USER and POSTGRES_PASSWORD (scram-sha-256 over TCP), listening on
# every address unless POSTGRES_LISTEN_ADDRESSES says otherwise; then `postgres ARGS`.
# PGPORT, as usual, is the port.
set -eu
if [ "${1:-}" = postgres ]; then
  shift
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
    initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" --encoding=UTF8 \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '${POSTGRES_LISTEN_ADDRESSES:-*}'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  fi
  exec postgres "$@"
fi
exec "$@"
