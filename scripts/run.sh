#!/usr/bin/env bash
# Quick start: installs what is missing, builds, installs under ./_inst and
# starts a local instance at http://127.0.0.1:5000 with the Firebase Auth
# Emulator (demo project, 127.0.0.1:9099) in front of the auth plugin, so that
# sign-up, scripts/token.sh and signed-in requests work offline. Ctrl-C (or
# SIGINT/SIGTERM to this script) stops lexiaid, then the emulator, which then
# writes its accounts to $LEXIAID_DATA_DIR/auth-emulator: the next start reads
# them back (scripts/emulator.sh), so sign-ins keep working across restarts.
#
#   LEXIAID_EMULATOR=0            no emulator: the auth plugin uses the real Firebase
#                                 project in FIREBASE_PROJECT_ID (or .env), if any
#   LEXIAID_LISTEN                default 127.0.0.1:5000
#   FIREBASE_AUTH_EMULATOR_HOST   default 127.0.0.1:9099 (where the emulator listens)
#   FIREBASE_PROJECT_ID           default demo-lexiaid (the emulator's project)
#   LEXIAID_AUTH_MODE             default emulator (when the emulator runs)
#   LEXIAID_EMULATOR_TIMEOUT      seconds to wait for the emulator (default 120)
#   LEXIAID_DATA_DIR              default _inst/data (documents, database and
#                                 the emulator's accounts)
#   LEXIAID_EMULATOR_DATA         the accounts' directory ("" keeps them in memory)
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

# Documents and the database live under _inst/data unless said otherwise;
# the emulator's accounts beside them (_inst/data/auth-emulator), so that a
# restart keeps both.
export LEXIAID_DATA_DIR="${LEXIAID_DATA_DIR:-$root/_inst/data}"
mkdir -p "$LEXIAID_DATA_DIR"
# The emulator's functions and emu_* settings (start_emulator, stop_emulator).
. "$root/scripts/emulator.sh"
emu_on=0       # 1 when an emulator answers at $emu_host
lx_pid=""
trap stop_emulator EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
