#!/bin/sh
# postgres-entrypoint.sh: initdb on the first start, then `exec postgres` (PID 1).
#
# Environment: PGDATA (the volume), POSTGRES_USER, POSTGRES_DB, and the superuser's password as
# POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (a Docker or Kubernetes secret; trailing newline
# dropped). Both set: exit 64; an unreadable file: exit 66; none on a first start: exit 64.
# The password is only needed to initialise an empty volume; later starts ignore it (change it
# with ALTER ROLE). Arguments: `postgres [options]` (the default) or any other command, as it is.
set -eu

if [ "${1:-postgres}" != postgres ]; then
    exec "$@"
fi
[ $# -gt 0 ] && shift

if [ "$(id -u)" = 0 ]; then
    echo "postgres-entrypoint: refusing to run as root" >&2
    exit 64
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password="${POSTGRES_PASSWORD:-}"
    file="${POSTGRES_PASSWORD_FILE:-}"
    if [ -n "$password" ] && [ -n "$file" ]; then
        echo "postgres-entrypoint: both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set; set only one" >&2
        exit 64
    fi
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "postgres-entrypoint: POSTGRES_PASSWORD_FILE=$file is missing or unreadable by uid $(id -u)" >&2
            exit 66
        fi
        password="$(cat "$file")"   # $(...) drops the trailing newline
    fi
    if [ -z "$password" ]; then
        echo "postgres-entrypoint: an empty volume needs POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
        exit 64
    fi
    case "$POSTGRES_USER$POSTGRES_DB" in
        *[!A-Za-z0-9_]*) echo "postgres-entrypoint: POSTGRES_USER and POSTGRES_DB: letters, digits, _ only" >&2; exit 64 ;;
    esac

    echo "postgres-entrypoint: initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    pwfile="$(mktemp)"
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "$password" > "$pwfile"
    unset password POSTGRES_PASSWORD
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    trap - EXIT
    # Reachable from the compose network (no host port is published), by password only.
    {
        echo "listen_addresses = '*'"
        echo "password_encryption = 'scram-sha-256'"
    } >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # Single-user mode: no server, no socket, no password needed yet.
        echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" |
            postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "postgres-entrypoint: initialised"
fi

unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE
exec postgres -D "$PGDATA" "$@"
