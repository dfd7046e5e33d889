#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: data and Unix socket
# inside DIR, no TCP port, fsync off, a superuser `lexiaid` trusted on the
# socket. Installs nothing (scripts/deps.sh --test lists postgresql).
#
#   scripts/pg-test.sh start DIR   makes the cluster when absent, starts it,
#                                  waits until it accepts connections and
#                                  prints its libpq conninfo on stdout
#   scripts/pg-test.sh stop DIR    stops it (nothing running is fine)
#   scripts/pg-test.sh url DIR     prints the conninfo only
#   scripts/pg-test.sh bindir      prints the directory of the server's
#                                  programs (initdb, pg_ctl), or fails
#                                  saying where it looked
#
# Run as root (CI), initdb and the server run as the `postgres` system user,
# which then owns DIR; as any other user, as that user. DIR must be
# reachable by that user (e.g. under /tmp) and short enough for a socket path.
#   LX_PG_BINDIR   where initdb and pg_ctl are; otherwise the first of:
#                  `pg_config --bindir`, initdb on PATH, and the newest
#                  /usr/lib/postgresql/*/bin (Debian's postgresql-common)
set -euo pipefail

port=5432

usage() {
    echo "usage: $0 start|stop|url DIR | $0 bindir" >&2
    exit 2
}

# The server's programs: a directory holding initdb, pg_ctl and pg_isready.
is_bindir() {
    [ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/pg_isready" ]
}
find_bindir() {
    local d tried=()
    if [ -n "${LX_PG_BINDIR:-}" ]; then
        is_bindir "$LX_PG_BINDIR" && { echo "$LX_PG_BINDIR"; return 0; }
        echo "pg-test: LX_PG_BINDIR=$LX_PG_BINDIR has no initdb, pg_ctl and pg_isready" >&2
        return 1
    fi
    # pg_config may come from libpq-dev alone and name a directory without a server.
    d=$(pg_config --bindir 2>/dev/null || true)
    is_bindir "$d" && { echo "$d"; return 0; }
    tried+=("pg_config --bindir (${d:-no pg_config})")
    d=$(command -v initdb 2>/dev/null || true)
    [ -n "$d" ] && d=$(dirname "$(readlink -f "$d")")
    is_bindir "$d" && { echo "$d"; return 0; }
    tried+=("initdb on PATH (${d:-none})")
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -n -r); do
        is_bindir "$d" && { echo "$d"; return 0; }
    done
    tried+=("/usr/lib/postgresql/*/bin")
    echo "pg-test: no PostgreSQL server programs (initdb, pg_ctl, pg_isready) found; tried:" \
        "$(IFS=';'; echo "${tried[*]}")." \
        "Install the server (Debian: apt-get install postgresql; scripts/deps.sh --test)" \
        "or set LX_PG_BINDIR" >&2
    return 1
}

if [ "${1:-}" = bindir ] && [ "$#" -eq 1 ]; then
    find_bindir
    exit $?
fi
[ "$#" -eq 2 ] || usage
cmd="$1"
case "$cmd" in start | stop | url) ;; *) usage ;; esac
if [ "$cmd" = start ]; then
    bindir=$(find_bindir) || exit 1
elif [ "$cmd" = stop ]; then
    bindir=$(find_bindir 2>/dev/null) || exit 0 # no server programs: nothing of ours runs
fi
[ -n "$2" ] || usage
if [ "$cmd" = start ]; then
    mkdir -p "$2"
fi
if [ ! -d "$2" ]; then
    [ "$cmd" = stop ] && exit 0
    echo "pg-test: no directory $2" >&2
    exit 1
fi
dir="$(cd "$2" && pwd)"
data="$dir/data"

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

conninfo() {
    printf 'host=%s port=%s user=lexiaid dbname=postgres\n' "$dir" "$port"
}

is_running() {
    [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case "$cmd" in
url)
    conninfo
    ;;
stop)
    if is_running; then
        as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
start)
    # A Unix socket path holds at most 107 bytes.
    if [ "${#dir}" -gt 80 ]; then
        echo "pg-test: $dir is too long for a Unix socket path" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "pg-test: the postgres user cannot reach $dir (a parent is private?)" >&2
            exit 1
        fi
    fi
    chmod 700 "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$data" -U lexiaid --auth=trust -E UTF8 --locale=C \
            --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
        # Written by the owner so that the file keeps its owner.
        as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/pg-test.sh: a throwaway test cluster
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    fi
    if ! is_running; then
        as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
            tail -n 30 "$dir/server.log" >&2 || true
            exit 1
        }
    fi
    for _ in $(seq 1 60); do
        if "$bindir/pg_isready" -q -h "$dir" -p "$port" -U lexiaid -d postgres; then
            conninfo
            exit 0
        fi
        sleep 0.5
    done
    echo "pg-test: the server in $dir does not accept connections; see $dir/server.log" >&2
    exit 1
    ;;
esac
