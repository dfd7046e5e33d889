#!/usr/bin/env bash
# The Firebase Auth Emulator of the local instance (scripts/run.sh): install
# firebase-tools once, start the emulator, stop it. Its accounts are kept in
# a data directory: imported at start (--import) and written back when it
# stops (--export-on-exit), so that students can still sign in after a
# restart while their documents are still there.
#
# Sourced by scripts/run.sh (the functions below, with emu_* variables), or
# run on its own:
#   scripts/emulator.sh start        starts it in the background, prints its pid
#   scripts/emulator.sh stop PID     stops it (it writes its accounts first)
# Environment of the command form (run.sh sets the same):
#   FIREBASE_AUTH_EMULATOR_HOST   host:port to listen on (default 127.0.0.1:9099)
#   FIREBASE_PROJECT_ID           the demo project (default demo-lexiaid)
#   LEXIAID_EMULATOR_DIR          where firebase-tools is installed
#                                 (default _inst/auth-emulator)
#   LEXIAID_EMULATOR_RUN_DIR      its firebase.json and log (default DIR/run)
#   LEXIAID_EMULATOR_DATA         the accounts' directory (default
#                                 $LEXIAID_DATA_DIR/auth-emulator, or
#                                 _inst/data/auth-emulator); "" keeps them in
#                                 memory only
#   LEXIAID_EMULATOR_TIMEOUT      seconds to wait for it (default 120)
#   LEXIAID_EMULATOR_STOP_TIMEOUT seconds a stop waits for the accounts'
#                                 export before it kills (default 60)
#
# The emulator needs Node.js >= 20 and npm (Debian 12's nodejs is 18: use
# NodeSource's nodejs 20.x). firebase-tools comes from the npm registry,
# pinned by tests/auth-emulator/package-lock.json (about 240 MB).

emu_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
emu_dir="${LEXIAID_EMULATOR_DIR:-$emu_root/_inst/auth-emulator}"
emu_run="${LEXIAID_EMULATOR_RUN_DIR:-$emu_dir/run}"
emu_host="${FIREBASE_AUTH_EMULATOR_HOST:-127.0.0.1:9099}"
emu_project="${FIREBASE_PROJECT_ID:-demo-lexiaid}"
emu_data="${LEXIAID_EMULATOR_DATA-${LEXIAID_DATA_DIR:-$emu_root/_inst/data}/auth-emulator}"
emu_pid="" # set when we started the emulator (and must stop it)

emu_say() { echo "emulator: $*" >&2; }

emulator_answers() {
    curl -sf --max-time 2 "http://$emu_host/" 2>/dev/null | grep -q '"ready"'
}

emu_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

emu_node_ok() {
    local v
    v=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')
    if [ -z "$v" ] || [ "$v" -lt 20 ] || ! command -v npm >/dev/null; then
        emu_say "the Firebase Auth Emulator needs Node.js >= 20 and npm (found: node ${v:-none}," \
            "npm $(command -v npm >/dev/null && echo yes || echo none)); Debian 12's nodejs is 18:" \
            "install NodeSource's nodejs 20.x"
        return 1
    fi
}

# npm ci into $emu_dir unless it already holds this very package-lock.json.
install_firebase_tools() {
    local want have=""
    want=$(sha256sum "$emu_root/tests/auth-emulator/package-lock.json" | cut -d' ' -f1)
    [ -f "$emu_dir/.installed-lock" ] && have=$(cat "$emu_dir/.installed-lock")
    if [ "$have" = "$want" ] && [ -f "$emu_dir/node_modules/firebase-tools/lib/bin/firebase.js" ]; then
        return 0
    fi
    emu_say "installing firebase-tools (tests/auth-emulator/package-lock.json) into $emu_dir (once, ~240 MB)"
    mkdir -p "$emu_dir"
    rm -f "$emu_dir/.installed-lock"
    cp "$emu_root/tests/auth-emulator/package.json" "$emu_root/tests/auth-emulator/package-lock.json" "$emu_dir/"
    if ! (cd "$emu_dir" && CI=true NO_UPDATE_NOTIFIER=1 \
            npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$emu_dir/npm-ci.log" 2>&1); then
        tail -n 20 "$emu_dir/npm-ci.log" >&2
        emu_say "npm ci failed (log: $emu_dir/npm-ci.log)"
        return 1
    fi
    echo "$want" >"$emu_dir/.installed-lock"
}

# Stops the emulator we started (emu_pid): SIGTERM to its process group, so
# that it writes its accounts to $emu_data, then up to LEXIAID_EMULATOR_STOP_TIMEOUT
# seconds (default 60: the export takes a few seconds on a loaded machine) for that.
stop_emulator() {
    [ -n "$emu_pid" ] || return 0
    local pid="$emu_pid" wait_s="${LEXIAID_EMULATOR_STOP_TIMEOUT:-60}"
    emu_pid=""
    # It runs in a session of its own (setsid): its pid is its process group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((wait_s * 5))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        emu_say "the Auth Emulator did not stop within $wait_s s: killed (accounts made since it" \
            "started may be lost; log: $emu_run/emulator.log)"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    emu_say "Auth Emulator stopped${emu_data:+; its accounts are in $emu_data}"
}

start_emulator() {
    local host="${emu_host%:*}" port="${emu_host##*:}" started deadline
    local -a keep=()
    if [ -z "$host" ] || [ "$host" = "$emu_host" ] || ! [[ "$port" =~ ^[0-9]+$ ]]; then
        emu_say "FIREBASE_AUTH_EMULATOR_HOST must be host:port (not \"$emu_host\")"
        return 1
    fi
    if emulator_answers; then
        emu_say "an Auth Emulator already answers at $emu_host: using it (it will not be stopped here)"
        return 0
    fi
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        emu_say "$emu_host is taken by something that is not an Auth Emulator;" \
            "set FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:<free port>"
        return 1
    fi
    emu_node_ok || return 1
    install_firebase_tools || return 1
    case "$emu_project" in
    demo-*) ;;
    *) emu_say "warning: FIREBASE_PROJECT_ID=$emu_project has no demo- prefix; the emulator may" \
           "try to reach that real project (LEXIAID_EMULATOR=0 uses a real project without it)" ;;
    esac
    mkdir -p "$emu_run/config"
    # The accounts survive restarts: read at start, written at a clean stop.
    # (The emulator skips the import while the directory holds no export.)
    if [ -n "$emu_data" ]; then
        mkdir -p "$emu_data"
        emu_data="$(cd "$emu_data" && pwd)"
        keep=(--import "$emu_data" --export-on-exit "$emu_data")
    fi
    # Offline: no UI (it would download a zip), hub and logging on free ports.
    cat >"$emu_run/firebase.json" <<EOF
{
  "emulators": {
    "auth": { "host": "$host", "port": $port },
    "hub": { "host": "127.0.0.1", "port": $(emu_free_port) },
    "logging": { "host": "127.0.0.1", "port": $(emu_free_port) },
    "ui": { "enabled": false },
    "singleProjectMode": true
  }
}
EOF
    emu_say "starting the Firebase Auth Emulator on $emu_host (project $emu_project;" \
        "accounts: ${emu_data:-in memory only}; log: $emu_run/emulator.log)"
    # node itself (not npx, whose death would orphan node), in a session of its
    # own so that a terminal's Ctrl-C reaches lexiaid first; CI and
    # NO_UPDATE_NOTIFIER: no prompts, no update check; its own config dir, and
    # its own TMPDIR: the hub's locator file (TMPDIR/hub-PROJECT.json) is how
    # the export at exit finds its hub, and another emulator of the same
    # project would otherwise be found instead.
    mkdir -p "$emu_run/tmp"
    (cd "$emu_run" && CI=true NO_UPDATE_NOTIFIER=1 XDG_CONFIG_HOME="$emu_run/config" \
        TMPDIR="$emu_run/tmp" exec setsid node "$emu_dir/node_modules/firebase-tools/lib/bin/firebase.js" \
        emulators:start --only auth --project "$emu_project" "${keep[@]}" \
        </dev/null >"$emu_run/emulator.log" 2>&1) &
    emu_pid=$!
    started=$SECONDS
    deadline=$((SECONDS + ${LEXIAID_EMULATOR_TIMEOUT:-120}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        # Ready once it says so: it answers HTTP before it has imported the
        # accounts kept from its last run (the import goes through that port).
        if grep -q "All emulators ready" "$emu_run/emulator.log" 2>/dev/null && emulator_answers; then
            emu_say "Auth Emulator ready at http://$emu_host (in $((SECONDS - started)) s)"
            return 0
        fi
        if ! kill -0 "$emu_pid" 2>/dev/null; then
            tail -n 30 "$emu_run/emulator.log" >&2
            emu_say "the Auth Emulator exited (log: $emu_run/emulator.log)"
            wait "$emu_pid" 2>/dev/null || true
            emu_pid=""
            return 1
        fi
        sleep 0.5
    done
    tail -n 30 "$emu_run/emulator.log" >&2
    emu_say "the Auth Emulator did not answer within ${LEXIAID_EMULATOR_TIMEOUT:-120}s (log: $emu_run/emulator.log)"
    stop_emulator
    return 1
}

# The command form (not when sourced).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
    start)
        start_emulator
        if [ -n "$emu_pid" ]; then echo "$emu_pid"; fi
        ;;
    stop)
        [ -n "${2:-}" ] || { echo "usage: scripts/emulator.sh stop PID" >&2; exit 2; }
        emu_pid=$2
        stop_emulator
        ;;
    *)
        echo "usage: scripts/emulator.sh start | stop PID" >&2
        exit 2
        ;;
    esac
fi
