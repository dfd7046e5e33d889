# Shared by tests/container/run.sh and overrides.sh: counters, the docker
# client, and the engine with the base image debian:bookworm-slim (used as it
# is, pulled, or made by shared/tools/docker-offline-base.sh where no image
# registry is reachable). Sourced after `root` is set; the caller owns `tmp`
# and its EXIT trap.
# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp is the caller's

shared="${LX_SHARED_DIR:-$root/../shared}"
base_tool="$shared/tools/docker-offline-base.sh"
work="${LX_DOCKER_WORK:-/tmp/lexiaid-docker}"
BASE_IMAGE=debian:bookworm-slim
# The engine's own client: Debian's /usr/bin/docker when there (another client
# may stand first on PATH), else the one on PATH; LX_DOCKER overrides.
if [ -n "${LX_DOCKER:-}" ]; then
    DOCKER=$LX_DOCKER
elif [ -x /usr/bin/docker ]; then
    DOCKER=/usr/bin/docker
else
    DOCKER=$(command -v docker || echo /usr/bin/docker)
fi
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

# engine_start NAME: an engine that answers and the base image, then the
# tools the tests use (started_dockerd is set when this run started dockerd).
# In order: an engine that has the base image is used as it is; one that can
# pull it pulls it; otherwise ../shared/tools/docker-offline-base.sh (where
# it is) installs and starts an engine and makes the image from Debian's
# mirror. When none of these works, it says so and exits 1.
engine_start() {
    local why=""
    if timeout 30 "$DOCKER" info >/dev/null 2>&1; then
        if timeout 30 "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
            echo "engine: answering; base: $BASE_IMAGE present"
        elif timeout "${LX_PULL_TIMEOUT:-300}" "$DOCKER" pull "$BASE_IMAGE" >"$tmp/pull.log" 2>&1; then
            echo "engine: answering; base: $BASE_IMAGE pulled"
        else
            why="the engine cannot pull $BASE_IMAGE ($(tail -n 1 "$tmp/pull.log" 2>/dev/null))"
        fi
    else
        why="no Docker engine answers ($DOCKER info)"
    fi
    if [ -n "$why" ]; then
        if [ ! -f "$base_tool" ]; then
            echo "$1: $why, and $base_tool, which makes $BASE_IMAGE where no image registry is" \
                "reachable, is not there (set LX_SHARED_DIR). Start a Docker engine that has or" \
                "can pull $BASE_IMAGE, or provide that script; LX_CONTAINER_TESTS=0 skips the" \
                "container tests." >&2
            exit 1
        fi
        echo "engine: $why; using $base_tool"
        bash "$base_tool" "$work" | tee "$tmp/base.log"
        # It installs Debian's engine: from now on its own client.
        if [ -z "${LX_DOCKER:-}" ] && [ -x /usr/bin/docker ]; then
            DOCKER=/usr/bin/docker
        fi
        if grep -q '^engine: started dockerd' "$tmp/base.log"; then
            started_dockerd="$(cat "$work/dockerd.pid")"
        fi
    fi
    command -v docker-compose >/dev/null || {
        echo "$1: docker-compose (v1, Debian's docker-compose package) is missing" >&2
        exit 1
    }
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
