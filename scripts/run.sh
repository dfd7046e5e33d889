#!/usr/bin/env bash
# Quick start: installs what is missing, builds, installs under ./_inst and
# starts a local instance at http://127.0.0.1:5000 with the Firebase Auth
# Emulator (demo project, 127.0.0.1:9099) in front of the auth plugin, so that
# sign-up, scripts/token.sh and signed-in requests work offline. Ctrl-C (or
# SIGINT/SIGTERM to this script) stops lexiaid, then the emulator.
#
#   LEXIAID_EMULATOR=0            no emulator: the auth plugin uses the real Firebase
#                                 project in FIREBASE_PROJECT_ID (or .env), if any
#   LEXIAID_LISTEN                default 127.0.0.1:5000
#   FIREBASE_AUTH_EMULATOR_HOST   default 127.0.0.1:9099 (where the emulator listens)
#   FIREBASE_PROJECT_ID           default demo-lexiaid (the emulator's project)
#   LEXIAID_AUTH_MODE             default emulator (when the emulator runs)
#   LEXIAID_EMULATOR_TIMEOUT      seconds to wait for the emulator (default 120)
# The other variables of etc/lexiaid.conf apply as usual.
#
# The emulator needs Node.js >= 20 and npm (Debian 12's nodejs is 18: use
# NodeSource's nodejs 20.x). Without them lexiaid starts without it: /health
# works, signed-in routes answer 503 AUTH_NOT_CONFIGURED. firebase-tools is
# installed once from tests/auth-emulator/package-lock.json into
# _inst/auth-emulator (about 240 MB); its log is _inst/auth-emulator/run/emulator.log.
set -euo pipefail
# Started with `&` by a non-interactive shell, SIGINT arrives ignored, and bash
# cannot trap a signal ignored on entry: start again with its default action.
sigign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2>/dev/null || true)
if [ -n "$sigign" ] && (( 0x$sigign & 2 )) && [ -z "${LX_RUN_REEXEC:-}" ]; then
    LX_RUN_REEXEC=1 exec env --default-signal=INT "$BASH" "$0" "$@"
fi
unset LX_RUN_REEXEC
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/deps.sh
[ -x configure ] || autoreconf -fi
# Its own build directory: _build is the developers' (any configure options,
# any prefix), and `make install` here must go to ./_inst.
build="$root/_build-run"
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$(sed -n 's/^prefix = //p' Makefile)" != "$root/_inst" ]; then
    ../configure --prefix="$root/_inst" >/dev/null
fi
make -j"$(nproc)"
make install >/dev/null
cd "$root"
export LEXIAID_LISTEN="${LEXIAID_LISTEN:-127.0.0.1:5000}"

say() { echo "run.sh: $*" >&2; }

emu_dir="$root/_inst/auth-emulator"
emu_host="${FIREBASE_AUTH_EMULATOR_HOST:-127.0.0.1:9099}"
emu_project="${FIREBASE_PROJECT_ID:-demo-lexiaid}"
emu_pid=""     # set when this script started the emulator (and must stop it)
emu_on=0       # 1 when an emulator answers at $emu_host
lx_pid=""

stop_emulator() {
    [ -n "$emu_pid" ] || return 0
    local pid="$emu_pid"
    emu_pid=""
    # It runs in a session of its own (setsid): its pid is its process group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 75); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    say "Auth Emulator stopped"
}
trap stop_emulator EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

emulator_answers() {
    curl -sf --max-time 2 "http://$emu_host/" 2>/dev/null | grep -q '"ready"'
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

node_ok() {
    local v
    v=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')
    if [ -z "$v" ] || [ "$v" -lt 20 ] || ! command -v npm >/dev/null; then
        say "the Firebase Auth Emulator needs Node.js >= 20 and npm (found: node ${v:-none}," \
            "npm $(command -v npm >/dev/null && echo yes || echo none)); Debian 12's nodejs is 18:" \
            "install NodeSource's nodejs 20.x"
        return 1
    fi
}

# npm ci into $emu_dir unless it already holds this very package-lock.json.
install_firebase_tools() {
    local want have=""
    want=$(sha256sum tests/auth-emulator/package-lock.json | cut -d' ' -f1)
    [ -f "$emu_dir/.installed-lock" ] && have=$(cat "$emu_dir/.installed-lock")
    if [ "$have" = "$want" ] && [ -f "$emu_dir/node_modules/firebase-tools/lib/bin/firebase.js" ]; then
        return 0
    fi
    say "installing firebase-tools (tests/auth-emulator/package-lock.json) into $emu_dir (once, ~240 MB)"
    mkdir -p "$emu_dir"
    rm -f "$emu_dir/.installed-lock"
    cp tests/auth-emulator/package.json tests/auth-emulator/package-lock.json "$emu_dir/"
    if ! (cd "$emu_dir" && CI=true NO_UPDATE_NOTIFIER=1 \
            npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$emu_dir/npm-ci.log" 2>&1); then
        tail -n 20 "$emu_dir/npm-ci.log" >&2
        say "npm ci failed (log: $emu_dir/npm-ci.log)"
        return 1
    fi
    echo "$want" >"$emu_dir/.installed-lock"
}

start_emulator() {
    local host="${emu_host%:*}" port="${emu_host##*:}" run="$emu_dir/run" started deadline
    if [ -z "$host" ] || [ "$host" = "$emu_host" ] || ! [[ "$port" =~ ^[0-9]+$ ]]; then
        say "FIREBASE_AUTH_EMULATOR_HOST must be host:port (not \"$emu_host\")"
        return 1
    fi
    if emulator_answers; then
        say "an Auth Emulator already answers at $emu_host: using it (this script will not stop it)"
        return 0
    fi
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        say "$emu_host is taken by something that is not an Auth Emulator;" \
            "set FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:<free port>"
        return 1
    fi
    node_ok || return 1
    install_firebase_tools || return 1
    case "$emu_project" in
    demo-*) ;;
    *) say "warning: FIREBASE_PROJECT_ID=$emu_project has no demo- prefix; the emulator may" \
           "try to reach that real project (LEXIAID_EMULATOR=0 uses a real project without it)" ;;
    esac
    mkdir -p "$run/config"
    # Offline: no UI (it would download a zip), hub and logging on free ports.
    cat >"$run/firebase.json" <<EOF
{
  "emulators": {
    "auth": { "host": "$host", "port": $port },
    "hub": { "host": "127.0.0.1", "port": $(free_port) },
    "logging": { "host": "127.0.0.1", "port": $(free_port) },
    "ui": { "enabled": false },
    "singleProjectMode": true
  }
}
EOF
    say "starting the Firebase Auth Emulator on $emu_host (project $emu_project; log: $run/emulator.log)"
    # node itself (not npx, whose death would orphan node), in a session of its
    # own so that a terminal's Ctrl-C reaches lexiaid first; CI and
    # NO_UPDATE_NOTIFIER: no prompts, no update check; its own config dir.
    (cd "$run" && CI=true NO_UPDATE_NOTIFIER=1 XDG_CONFIG_HOME="$run/config" \
        exec setsid node "$emu_dir/node_modules/firebase-tools/lib/bin/firebase.js" \
        emulators:start --only auth --project "$emu_project" \
        </dev/null >"$run/emulator.log" 2>&1) &
    emu_pid=$!
    started=$SECONDS
    deadline=$((SECONDS + ${LEXIAID_EMULATOR_TIMEOUT:-120}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if emulator_answers; then
            say "Auth Emulator ready at http://$emu_host (in $((SECONDS - started)) s)"
            return 0
        fi
        if ! kill -0 "$emu_pid" 2>/dev/null; then
            tail -n 30 "$run/emulator.log" >&2
            say "the Auth Emulator exited (log: $run/emulator.log)"
            wait "$emu_pid" 2>/dev/null || true
            emu_pid=""
            return 1
        fi
        sleep 0.5
    done
    tail -n 30 "$run/emulator.log" >&2
    say "the Auth Emulator did not answer within ${LEXIAID_EMULATOR_TIMEOUT:-120}s (log: $run/emulator.log)"
    stop_emulator
    return 1
}

if [ "${LEXIAID_EMULATOR:-1}" = "0" ]; then
    say "LEXIAID_EMULATOR=0: no Auth Emulator; auth uses FIREBASE_PROJECT_ID (or .env) if set"
elif start_emulator; then
    emu_on=1
else
    say "starting lexiaid WITHOUT the Auth Emulator: /health works, signed-in routes answer" \
        "503 AUTH_NOT_CONFIGURED (LEXIAID_EMULATOR=0 silences this)"
fi
if [ "$emu_on" = 1 ]; then
    export LEXIAID_AUTH_MODE="${LEXIAID_AUTH_MODE:-emulator}"
    export FIREBASE_AUTH_EMULATOR_HOST="$emu_host"
    export FIREBASE_PROJECT_ID="$emu_project"
fi

# Documents and the database live under _inst/data unless said otherwise.
export LEXIAID_DATA_DIR="${LEXIAID_DATA_DIR:-$root/_inst/data}"
mkdir -p "$LEXIAID_DATA_DIR"
echo "lexiaid: serving on http://$LEXIAID_LISTEN (Ctrl-C stops it); data in $LEXIAID_DATA_DIR"
# A child, not exec: the EXIT trap must stop the emulator after lexiaid ends.
# In the terminal's process group, so Ctrl-C reaches it as before; a signal
# sent to this script is forwarded.
"$root/_inst/bin/lexiaid" -c "$root/_inst/etc/lexiaid/lexiaid.conf" &
lx_pid=$!
trap 'kill -INT "$lx_pid" 2>/dev/null || true' INT
trap 'kill -TERM "$lx_pid" 2>/dev/null || true' TERM
rc=0
while :; do
    st=0
    wait "$lx_pid" || st=$?
    # above 128: wait was cut short by a forwarded signal; lexiaid drains
    if [ "$st" -gt 128 ] && kill -0 "$lx_pid" 2>/dev/null; then
        continue
    fi
    rc=$st
    break
done
trap - INT TERM
exit "$rc"
