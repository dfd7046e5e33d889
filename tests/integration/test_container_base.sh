#!/usr/bin/env bash
# The container suite's engine and base image away from our machines
# (tests/container/lib.sh, engine_start): a hosted CI with a Docker engine
# and a registry, and no ../shared/tools/docker-offline-base.sh, must get
# debian:bookworm-slim from the engine (present, or pulled); the script is
# used only when the engine cannot; when neither works the failure says what
# is missing. The engine's client and the script are stand-ins on loopback
# (no engine or registry here), each recording what it was asked.
# Exit 0 on success, 1 on failure (each failure says what and why).
set -u
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

: "${LX_SRCDIR:?LX_SRCDIR is not set}"
root=$LX_SRCDIR
t=$(mktemp -d "${TMPDIR:-/tmp}/lx-base.XXXXXX")
trap 'rm -rf "$t"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The docker client: `info`, `image inspect` and `pull` answer as FAKE_*
# say (1: success); every call is recorded.
mkdir -p "$t/bin" "$t/shared/tools"
cat >"$t/bin/docker" <<'SH'
#!/bin/sh
echo "$*" >>"$FAKE_LOG"
case "$1" in
info) [ "$FAKE_INFO" = 1 ] ;;
image) [ "$FAKE_INSPECT" = 1 ] ;;
pull) [ "$FAKE_PULL" = 1 ] || { echo "Error response from daemon: no registry" >&2; exit 1; } ;;
*) exit 0 ;;
esac
SH
printf '#!/bin/sh\nexit 0\n' >"$t/bin/docker-compose"
cat >"$t/shared/tools/docker-offline-base.sh" <<'SH'
#!/bin/sh
echo "offline-base $*" >>"$FAKE_LOG"
echo "engine: already answering"
echo "base: imported debian:bookworm-slim"
SH
chmod +x "$t/bin/docker" "$t/bin/docker-compose"

# run_case NAME INFO INSPECT PULL SHARED_DIR: engine_start in a subshell;
# sets out (its output), rc and calls (what the stand-ins were asked).
run_case() {
    local name=$1
    : >"$t/log"
    mkdir -p "$t/tmp-$name"
    out=$(export FAKE_LOG="$t/log" FAKE_INFO=$2 FAKE_INSPECT=$3 FAKE_PULL=$4 \
        LX_DOCKER="$t/bin/docker" LX_SHARED_DIR=$5 LX_DOCKER_WORK="$t/work" \
        PATH="$t/bin:$PATH"
        tmp="$t/tmp-$name"
        # shellcheck source=tests/container/lib.sh
        . "$root/tests/container/lib.sh"
        engine_start "$name" 2>&1)
    rc=$?
    calls=$(cat "$t/log")
}

run_case present 1 1 0 "$t/nowhere"
[ "$rc" -eq 0 ] || fail "an engine with the base image: exit $rc: $out"
grep -q "pull\|offline-base" <<<"$calls" && fail "an engine with the base image: pulled or ran the script: $calls"

run_case pull 1 0 1 "$t/nowhere"
[ "$rc" -eq 0 ] || fail "an engine that can pull: exit $rc: $out"
grep -q "^pull debian:bookworm-slim" <<<"$calls" || fail "an engine that can pull: no pull: $calls"
grep -q "offline-base" <<<"$calls" && fail "an engine that can pull: ran the script"

run_case script 1 0 0 "$t/shared"
[ "$rc" -eq 0 ] || fail "no registry, the script there: exit $rc: $out"
grep -q "^offline-base " <<<"$calls" || fail "no registry, the script there: not run: $calls"

run_case noengine 0 0 0 "$t/shared"
[ "$rc" -eq 0 ] || fail "no engine, the script there: exit $rc: $out"
grep -q "^offline-base " <<<"$calls" || fail "no engine, the script there: not run: $calls"

run_case neither 1 0 0 "$t/nowhere"
[ "$rc" -ne 0 ] || fail "no registry and no script: exit 0"
grep -q "cannot pull debian:bookworm-slim" <<<"$out" && grep -q "docker-offline-base.sh" <<<"$out" &&
    grep -q "LX_CONTAINER_TESTS=0" <<<"$out" || fail "no registry and no script: unclear message: $out"

run_case nothing 0 0 0 "$t/nowhere"
[ "$rc" -ne 0 ] || fail "no engine and no script: exit 0"
grep -q "no Docker engine answers" <<<"$out" || fail "no engine and no script: unclear message: $out"

if [ "$failures" -eq 0 ]; then
    echo "6 passed, 0 failed"
    exit 0
fi
echo "$failures check(s) failed"
exit 1
