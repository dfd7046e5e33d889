# Shared by tests/container/run.sh and overrides.sh: counters, the docker
# client, and starting/stopping the engine with shared/tools/docker-offline-base.sh.
# Sourced after `root` is set; the caller owns `tmp` and its EXIT trap.
# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp is the caller's

shared="${LX_SHARED_DIR:-$root/../shared}"
base_tool="$shared/tools/docker-offline-base.sh"
work="${LX_DOCKER_WORK:-/tmp/lexiaid-docker}"
DOCKER=/usr/bin/docker           # the engine's own client (another may stand first on PATH)
started_dockerd=""

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...
    local what="$1"; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
now() { echo "${EPOCHREALTIME/,/.}"; }
dk() { timeout "${DK_TIMEOUT:-60}" "$DOCKER" "$@"; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# engine_start NAME: the engine and the base image (started_dockerd is set
# when this run started dockerd), then the tools the tests use.
engine_start() {
    if [ ! -f "$base_tool" ]; then
        echo "$1: $base_tool not found (set LX_SHARED_DIR)" >&2
        exit 1
    fi
    bash "$base_tool" "$work" | tee "$tmp/base.log"
    if grep -q '^engine: started dockerd' "$tmp/base.log"; then
        started_dockerd="$(cat "$work/dockerd.pid")"
    fi
    command -v docker-compose >/dev/null || { echo "docker-compose missing" >&2; exit 1; }
    command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh --test)" >&2; exit 1; }
}

# engine_stop: stops dockerd if this run started it (from the EXIT trap).
engine_stop() {
    if [ -n "$started_dockerd" ]; then
        kill "$started_dockerd" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$started_dockerd" 2>/dev/null && kill -9 "$started_dockerd" 2>/dev/null
        echo "stopped the dockerd started here (pid $started_dockerd)"
    fi
}
