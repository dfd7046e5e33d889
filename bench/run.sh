#!/usr/bin/env bash
# bench/run.sh: lexiaid against its floor (a bare evhttp loop), nginx, and the
# stack it replaces (gunicorn + Flask), all answering GET /health with
# 200 {"status":"ok"} on 127.0.0.1. See docs/performance.md.
#
# Usage: bench/run.sh [--quick]
#   --quick   one 3 s wrk run per server and connection count (default: three
#             10 s runs, median of each figure)
#
# Environment:
#   LEXIAID_BIN          the binary (default: _build/lexiaid under the repo root)
#   LEXIAID_PLUGIN       the health plugin (default: _build/plugins/health/.libs/health.so)
#   LEXIAID_BENCH_CONF   a config to use instead of the generated one; "@PORT@"
#                        in it is replaced by the chosen port (without it, the
#                        port is read from its listen line)
#   LEXIAID_CONF_FLAG    how lexiaid is told its config (default: -c)
#   BENCH_SERVERS        which servers to run (default: "lexiaid bare nginx gunicorn")
#
# It installs nothing: it needs wrk, nginx, gunicorn with Flask importable by
# gunicorn's Python, python3, gcc and libevent's headers (pkg-config), and
# names whatever is missing. It measures, it does not judge: after a complete
# run it exits 0 whatever the figures; it exits non-zero only when it cannot
# run. A missing lexiaid binary is reported in the table, not fatal.
#
# Output: a markdown report on stdout and in bench/results/latest.md; progress
# on stderr.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
for arg in "$@"; do
    case $arg in
    --quick) QUICK=1 ;;
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument '$arg' (usage: bench/run.sh [--quick])" >&2
        exit 2
        ;;
    esac
done

if ((QUICK)); then DURATION=3 RUNS=1; else DURATION=10 RUNS=3; fi
CONNS=(64 256)
LEXIAID_BIN=${LEXIAID_BIN:-$ROOT/_build/lexiaid}
LEXIAID_PLUGIN=${LEXIAID_PLUGIN:-$ROOT/_build/plugins/health/.libs/health.so}
LEXIAID_BENCH_CONF=${LEXIAID_BENCH_CONF:-}
LEXIAID_CONF_FLAG=${LEXIAID_CONF_FLAG:--c}
read -r -a SERVERS <<<"${BENCH_SERVERS:-lexiaid bare nginx gunicorn}"
START_TIMEOUT_S=15 # exec -> first 200, at most
STOP_TIMEOUT_S=12  # SIGTERM -> exit, at most (lexiaid's default grace is 10 s)
SAMPLE_S=0.5       # RSS/CPU sampling period under load

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf 'run.sh: %s\n' "$*" >&2
    exit 1
}

# ------------------------------------------------------------------ tools
((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5 (EPOCHREALTIME); this is $BASH_VERSION"
[[ -r /proc/self/smaps_rollup ]] || die "needs Linux /proc with smaps_rollup (kernel >= 4.14)"

declare -A WANT=()
for s in "${SERVERS[@]}"; do
    case $s in
    lexiaid) ;;
    bare) WANT[gcc]=1 WANT[pkg-config]=1 ;;
    nginx) WANT[nginx]=1 ;;
    gunicorn) WANT[gunicorn]=1 ;;
    *) die "unknown server '$s' in BENCH_SERVERS (lexiaid bare nginx gunicorn)" ;;
    esac
done
missing=()
for t in wrk python3 awk timeout "${!WANT[@]}"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [[ -n ${WANT[pkg-config]:-} ]] && command -v pkg-config >/dev/null 2>&1 &&
    ! pkg-config --exists libevent; then
    missing+=("libevent headers (libevent-dev)")
fi
GUNICORN_PY=
if [[ -n ${WANT[gunicorn]:-} ]] && command -v gunicorn >/dev/null 2>&1; then
    # Flask must be importable by the Python that runs gunicorn, not by
    # whichever python3 is first on PATH.
    shebang=$(head -n1 "$(command -v gunicorn)")
    GUNICORN_PY=${shebang#\#!}
    GUNICORN_PY=${GUNICORN_PY%% *}
    [[ -x $GUNICORN_PY ]] || GUNICORN_PY=python3
    "$GUNICORN_PY" -c 'import flask' >/dev/null 2>&1 || missing+=("Flask for $GUNICORN_PY (python3-flask)")
fi
((${#missing[@]} == 0)) || die "missing: ${missing[*]} (CI installs wrk nginx-light gunicorn python3-flask)"

# ------------------------------------------------------------------ state
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lexiaid-bench.XXXXXX")
STARTED=() # server pids still to be reaped

kill_tree() { # SIG PID...: the pids and their descendants
    local sig=$1 p
    shift
    for p in "$@"; do
        local kids
        kids=$(tree_pids "$p")
        # shellcheck disable=SC2086
        kill "-$sig" $kids 2>/dev/null || true
    done
}

cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${STARTED[@]}"; do
        kill_tree TERM "$p"
    done
    for p in "${STARTED[@]}"; do
        local i
        for ((i = 0; i < 40; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.05
        done
        kill_tree KILL "$p"
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ /proc helpers
# The pid and all its descendants, one scan of /proc (no forks).
tree_pids() {
    local root=$1 f line rest pid ppid
    local -A children=()
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        pid=${line%% *}
        rest=${line##*) }
        read -r _ ppid _ <<<"$rest"
        children[$ppid]+=" $pid"
    done
    local queue=("$root") found=() p
    while ((${#queue[@]})); do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        [[ -d /proc/$p ]] || continue
        found+=("$p")
        # shellcheck disable=SC2206
        [[ -n ${children[$p]:-} ]] && queue+=(${children[$p]})
    done
    echo "${found[*]}"
}

# "RSS_KB PSS_KB NPROCS" summed over the given pids.
mem_of() {
    local rss=0 pss=0 n=0 p k v _
    for p in "$@"; do
        [[ -r /proc/$p/status ]] || continue
        while read -r k v _; do
            [[ $k == VmRSS: ]] && { rss=$((rss + v)); break; }
        done 2>/dev/null </proc/"$p"/status
        while read -r k v _; do
            [[ $k == Pss: ]] && { pss=$((pss + v)); break; }
        done 2>/dev/null </proc/"$p"/smaps_rollup
        n=$((n + 1))
    done
    echo "$rss $pss $n"
}

# utime+stime in clock ticks summed over the given pids.
cpu_of() {
    local t=0 p line rest f
    for p in "$@"; do
        { read -r line </proc/"$p"/stat; } 2>/dev/null || continue
        rest=${line##*) }
        read -r -a f <<<"$rest"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

mib() { awk -v k="$1" 'BEGIN { if (k == "") print "—"; else printf "%.1f MiB", k / 1024 }'; }
# Time stamps are ${EPOCHREALTIME/./} (microseconds) expanded in place: a
# $(...) would fork, and a fork costs several ms on a small loaded VM, enough
# to skew exec -> first 200.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

free_port() {
    local p
    while :; do
        p=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
        [[ $p != 5000 ]] && { echo "$p"; return; }
    done
}

# ------------------------------------------------------------------ servers
# start_server NAME OUT CMD...: exec CMD from $TMP (so nothing lands in the
# repo), stdout to OUT, stderr to $TMP/NAME.err. Sets SPID and T0_US.
start_server() {
    local name=$1 out=$2
    shift 2
    T0_US=${EPOCHREALTIME/./}
    (cd "$TMP" && exec "$@") >"$out" 2>"$TMP/$name.err" &
    SPID=$!
    STARTED+=("$SPID")
}

# wait_first_200 PORT PID: polls GET /health over bash's /dev/tcp in a tight
# loop. Sets FIRST200_MS; returns 1 if the server died or timed out.
wait_first_200() {
    local port=$1 pid=$2 line deadline
    deadline=$((${EPOCHREALTIME/./} + START_TIMEOUT_S * 1000000))
    while :; do
        if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 2>/dev/null || true
            line=
            read -r -t 2 line <&3 2>/dev/null || true
            exec 3>&- 3<&-
            if [[ $line == "HTTP/1."[01]" 200"* ]]; then
                local us=$((${EPOCHREALTIME/./} - T0_US))
                printf -v FIRST200_MS '%d.%d' $((us / 1000)) $((us % 1000 / 100))
                return 0
            fi
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        ((${EPOCHREALTIME/./} < deadline)) || return 1
    done
}

# stop_server PID: SIGTERM, wait for the exit, then make sure the whole
# tree is gone. Sets STOP_MS and STOP_RC.
stop_server() {
    local pid=$1 kids t0 i
    kids=$(tree_pids "$pid")
    t0=${EPOCHREALTIME/./}
    kill -TERM "$pid" 2>/dev/null || true
    STOP_RC=timeout
    for ((i = 0; i < STOP_TIMEOUT_S * 100; i++)); do
        local st=''
        { read -r st </proc/"$pid"/stat; } 2>/dev/null || true
        st=${st##*) }
        if [[ -z $st || ${st:0:1} == Z ]]; then
            STOP_RC=0
            wait "$pid" 2>/dev/null || STOP_RC=$?
            break
        fi
        sleep 0.01
    done
    STOP_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
    # shellcheck disable=SC2086
    kill -KILL $kids 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${STARTED[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    STARTED=("${keep[@]+"${keep[@]}"}")
}

# ------------------------------------------------------------------ wrk
# to_ms "330.00us" -> 0.330
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# run_wrk NAME CONNS RUN PIDS...: one wrk run against $PORT while sampling the
# server's RSS and CPU and wrk's CPU. Sets W_RPS W_P50 W_P99 W_RSS_KB W_NOTE.
run_wrk() {
    local name=$1 conns=$2 run=$3
    shift 3
    local pids=("$@") out="$TMP/wrk-$name-$conns-$run.txt"
    local wpid wrkpid='' t0 t1='' c0 c1=0 wc0=0 wc1=0 peak=0 m rc=0
    c0=$(cpu_of "${pids[@]}")
    t0=${EPOCHREALTIME/./}
    timeout -k 2 $((DURATION + 15)) wrk -t1 -c"$conns" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$PORT/health" >"$out" 2>&1 &
    wpid=$!
    while kill -0 "$wpid" 2>/dev/null; do
        if [[ -z $wrkpid ]]; then
            wrkpid=$(tree_pids "$wpid")
            wrkpid=${wrkpid#* }
            [[ $wrkpid == "$wpid" ]] && wrkpid=
            [[ -n $wrkpid ]] && wc0=$(cpu_of "$wrkpid") && t0=${EPOCHREALTIME/./} && c0=$(cpu_of "${pids[@]}")
        else
            local w
            w=$(cpu_of "$wrkpid")
            ((w > 0)) && wc1=$w && t1=${EPOCHREALTIME/./} && c1=$(cpu_of "${pids[@]}")
        fi
        read -r m _ <<<"$(mem_of "${pids[@]}")"
        ((m > peak)) && peak=$m
        sleep "$SAMPLE_S"
    done
    wait "$wpid" || rc=$?
    W_RSS_KB=$peak
    W_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    W_P50=$(awk '$1 == "50%" { print $2 }' "$out")
    W_P99=$(awk '$1 == "99%" { print $2 }' "$out")
    W_NOTE='' W_USREQ=''
    if ((rc != 0)) || [[ -z $W_RPS || -z $W_P50 || -z $W_P99 ]]; then
        W_RPS='' W_P50='' W_P99=
        W_NOTE="wrk failed (rc $rc): $(tr '\n' ' ' <"$out" | cut -c1-200)"
        return 0
    fi
    W_P50=$(to_ms "$W_P50")
    W_P99=$(to_ms "$W_P99")
    local errs non2xx reqs
    errs=$(sed -n 's/^ *Socket errors: *//p' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    [[ -n $errs ]] && W_NOTE+="socket errors: $errs; "
    [[ -n $non2xx ]] && W_NOTE+="non-2xx: $non2xx; "
    # CPU over the sampled window: wrk's share of a core, and the server's
    # CPU time per request (requests spread evenly over the run).
    if [[ -n $wrkpid && -n $t1 ]] && ((t1 > t0)); then
        W_NOTE+=$(awk -v wc="$((wc1 - wc0))" -v sc="$((c1 - c0))" -v dt="$((t1 - t0))" \
            -v hz="$CLK_TCK" -v reqs="$reqs" -v dur="$DURATION" 'BEGIN {
                s = dt / 1e6; r = reqs / dur * s
                printf "wrk CPU %.0f%% of a core, server CPU %.0f%% (%.1f µs/req)",
                    100 * wc / hz / s, 100 * sc / hz / s, (r > 0 ? sc / hz / r * 1e6 : 0) }')
        W_USREQ=$(awk -v sc="$((c1 - c0))" -v dt="$((t1 - t0))" -v hz="$CLK_TCK" \
            -v reqs="$reqs" -v dur="$DURATION" 'BEGIN {
                r = reqs / dur * dt / 1e6; if (r > 0 && sc > 0) printf "%.2f", sc / hz / r * 1e6 }')
    fi
    return 0
}

median() { # numbers... -> the median (middle of the sorted list; lower middle if even)
    (($#)) || { echo ""; return; }
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# ------------------------------------------------------------------ build the floor
if [[ " ${SERVERS[*]} " == *" bare "* ]]; then
    log "building bare_evhttp (gcc -O2)"
    # shellcheck disable=SC2046
    gcc -std=c11 -O2 -Wall -Wextra -o "$TMP/bare_evhttp" "$ROOT/bench/bare_evhttp.c" \
        $(pkg-config --cflags --libs libevent) || die "cannot build bench/bare_evhttp.c"
fi

# ------------------------------------------------------------------ per server
declare -A R=() # results: R[server:field] and R[server:conns:field]

server_label() {
    case $1 in
    lexiaid) echo "lexiaid, 2 workers" ;;
    bare) echo "bare evhttp, 2 processes" ;;
    nginx) echo "nginx, 2 workers" ;;
    gunicorn) echo "gunicorn + Flask, 4 sync workers" ;;
    esac
}

# Sets CMD (array), OUT and EXPECT_PROCS for server $1 on $PORT; returns 1
# (with R[$1:skip]) when it cannot be started.
prepare() {
    local s=$1
    OUT="$TMP/$s.out"
    case $s in
    lexiaid)
        if [[ ! -x $LEXIAID_BIN ]]; then
            R[$s:skip]="pending the core: no binary at ${LEXIAID_BIN#"$ROOT"/}"
            return 1
        fi
        local conf="$TMP/lexiaid.conf"
        if [[ -n $LEXIAID_BENCH_CONF ]]; then
            [[ -r $LEXIAID_BENCH_CONF ]] || die "LEXIAID_BENCH_CONF=$LEXIAID_BENCH_CONF is not readable"
            if grep -q '@PORT@' "$LEXIAID_BENCH_CONF"; then
                sed "s/@PORT@/$PORT/g" "$LEXIAID_BENCH_CONF" >"$conf"
            else
                cp "$LEXIAID_BENCH_CONF" "$conf"
                PORT=$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*"[^"]*:\([0-9]\+\)".*/\1/p' "$conf" | head -n1)
                [[ -n $PORT ]] || die "cannot find the port in $LEXIAID_BENCH_CONF (use @PORT@)"
            fi
        else
            if [[ ! -r $LEXIAID_PLUGIN ]]; then
                R[$s:skip]="pending the core: no plugin at ${LEXIAID_PLUGIN#"$ROOT"/}"
                return 1
            fi
            cat >"$conf" <<EOF
# Generated by bench/run.sh
server = {
    listen = "127.0.0.1:$PORT";
    workers = 2;
    log_format = "json";
};
plugins = (
    { name = "health"; file = "$LEXIAID_PLUGIN"; }
);
routes = (
    { method = "GET"; path = "/health"; handler = "health.live"; }
);
EOF
        fi
        # The access log goes to stdout: discarded, but still written.
        OUT=/dev/null
        CMD=("$LEXIAID_BIN" "$LEXIAID_CONF_FLAG" "$conf")
        EXPECT_PROCS=3
        ;;
    bare)
        CMD=("$TMP/bare_evhttp" "$PORT" 2)
        EXPECT_PROCS=3
        ;;
    nginx)
        sed -e "s|@WORKERS@|2|g" -e "s|@PORT@|$PORT|g" -e "s|@TMPDIR@|$TMP/nginx|g" \
            -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
            "$ROOT/bench/nginx.conf.in" >"$TMP/nginx.conf"
        mkdir -p "$TMP/nginx"
        CMD=(nginx -p "$TMP/nginx/" -e stderr -c "$TMP/nginx.conf")
        EXPECT_PROCS=3
        ;;
    gunicorn)
        # env: no bench/__pycache__ left in the tree
        CMD=(env PYTHONDONTWRITEBYTECODE=1 gunicorn --workers 4 --worker-class sync --bind "127.0.0.1:$PORT"
            --chdir "$ROOT" bench.flask_app:app)
        EXPECT_PROCS=5
        ;;
    esac
    return 0
}

bench_server() {
    local s=$1 c run pid
    PORT=$(free_port)
    prepare "$s" || { log "$s: skipped (${R[$s:skip]})"; return 0; }
    log "$s: starting on 127.0.0.1:$PORT"
    start_server "$s" "$OUT" "${CMD[@]}"
    pid=$SPID
    if ! wait_first_200 "$PORT" "$pid"; then
        R[$s:skip]="did not answer 200 within ${START_TIMEOUT_S} s: $(tail -n 3 "$TMP/$s.err" | tr '\n' ' ' | cut -c1-300)"
        log "$s: ${R[$s:skip]}"
        stop_server "$pid"
        return 0
    fi
    R[$s:first200]=$FIRST200_MS
    # Idle: once every process is up (gunicorn boots its workers after the
    # first one answers), then a short settle.
    local pids i
    for ((i = 0; i < 100; i++)); do
        pids=$(tree_pids "$pid")
        read -r -a pids <<<"$pids"
        ((${#pids[@]} >= EXPECT_PROCS)) && break
        sleep 0.1
    done
    sleep 1
    read -r -a pids <<<"$(tree_pids "$pid")"
    local rss pss n
    read -r rss pss n <<<"$(mem_of "${pids[@]}")"
    R[$s:idle_rss]=$rss R[$s:idle_pss]=$pss R[$s:nprocs]=$n
    log "$s: first 200 after $FIRST200_MS ms; idle RSS $(mib "$rss") over $n processes"

    for c in "${CONNS[@]}"; do
        local rps=() p50=() p99=() rss=() usreq=() notes=()
        for ((run = 1; run <= RUNS; run++)); do
            log "$s: wrk -t1 -c$c -d${DURATION}s, run $run/$RUNS"
            run_wrk "$s" "$c" "$run" "${pids[@]}"
            [[ -n $W_RPS ]] && rps+=("$W_RPS") p50+=("$W_P50") p99+=("$W_P99")
            rss+=("$W_RSS_KB")
            [[ -n $W_USREQ ]] && usreq+=("$W_USREQ")
            [[ -n $W_NOTE ]] && notes+=("run $run: $W_NOTE")
            [[ -n $W_RPS ]] && log "$s: c$c: $W_RPS req/s, p50 $W_P50 ms, p99 $W_P99 ms${W_NOTE:+ ($W_NOTE)}"
        done
        R[$s:$c:rps]=$(median "${rps[@]+"${rps[@]}"}")
        R[$s:$c:p50]=$(median "${p50[@]+"${p50[@]}"}")
        R[$s:$c:p99]=$(median "${p99[@]+"${p99[@]}"}")
        R[$s:$c:rss]=$(median "${rss[@]}")
        R[$s:$c:usreq]=$(median "${usreq[@]+"${usreq[@]}"}")
        R[$s:$c:notes]=$(printf '%s\n' "${notes[@]+"${notes[@]}"}")
    done
    stop_server "$pid"
    R[$s:stop]="SIGTERM → exit in $STOP_MS ms, status $STOP_RC"
    log "$s: stopped (${R[$s:stop]})"
}

# ------------------------------------------------------------------ run
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "mode: $( ((QUICK)) && echo quick || echo full): ${RUNS} × ${DURATION} s per server and connection count"
for s in "${SERVERS[@]}"; do
    bench_server "$s"
done

# ------------------------------------------------------------------ report
num() { # 123456.78 -> 123,457
    [[ -n $1 ]] || { echo "—"; return; }
    printf '%.0f' "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'
}
ms() { [[ -n $1 ]] && printf '%.2f ms' "$1" || echo "—"; }
ver() { "$@" 2>&1 | head -n1 || true; }

versions() {
    local v
    v="wrk: $(wrk -v 2>&1 | head -n1 | sed -e 's/ Copyright.*//' -e 's/^wrk //' || true)"
    command -v nginx >/dev/null && v+="; nginx: $(ver nginx -v | sed 's/^nginx version: //')"
    command -v gunicorn >/dev/null && v+="; gunicorn: $(ver gunicorn --version | sed 's/^gunicorn (version \(.*\))$/\1/')"
    [[ -n $GUNICORN_PY ]] && v+="; Flask: $("$GUNICORN_PY" -c 'import importlib.metadata as m, sys; print(m.version("flask"), "on Python", sys.version.split()[0])' 2>/dev/null || echo '?')"
    command -v pkg-config >/dev/null && v+="; libevent: $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
    command -v gcc >/dev/null && v+="; gcc: $(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"
    if [[ -x $LEXIAID_BIN ]]; then
        v+="; lexiaid: $(timeout 2 "$LEXIAID_BIN" --version 2>&1 | head -n1 || echo '?')"
    fi
    echo "$v"
}

report() {
    local cpu os rev
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    # shellcheck disable=SC1091
    os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown)
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev+=" (with local changes)"
    echo "# lexiaid bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Mode: $( ((QUICK)) && echo "quick: 1 run of ${DURATION} s" || echo "full: median of ${RUNS} runs of ${DURATION} s") per server and connection count; \`wrk -t1 -c{64,256} --latency http://127.0.0.1:PORT/health\`"
    echo "- Machine: $(nproc) CPUs ($cpu), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $os"
    echo "- Versions: $(versions)"
    echo "- Repository: $rev"
    echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews every figure)"
    echo
    echo "| server | conns | req/s | p50 | p99 | idle RSS (sum) | idle PSS | RSS under load | exec→first 200 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    local s c first
    for s in "${SERVERS[@]}"; do
        if [[ -n ${R[$s:skip]:-} && -z ${R[$s:first200]:-} ]]; then
            echo "| $(server_label "$s") | 64, 256 | ${R[$s:skip]} | | | | | | |"
            continue
        fi
        first=1
        for c in "${CONNS[@]}"; do
            if ((first)); then
                printf '| %s | %s | %s | %s | %s | %s (%s procs) | %s | %s | %s ms |\n' \
                    "$(server_label "$s")" "$c" "$(num "${R[$s:$c:rps]}")" "$(ms "${R[$s:$c:p50]}")" \
                    "$(ms "${R[$s:$c:p99]}")" "$(mib "${R[$s:idle_rss]}")" "${R[$s:nprocs]}" \
                    "$(mib "${R[$s:idle_pss]}")" "$(mib "${R[$s:$c:rss]}")" "${R[$s:first200]}"
                first=0
            else
                printf '| 〃 | %s | %s | %s | %s | | | %s | |\n' "$c" "$(num "${R[$s:$c:rps]}")" \
                    "$(ms "${R[$s:$c:p50]}")" "$(ms "${R[$s:$c:p99]}")" "$(mib "${R[$s:$c:rss]}")"
            fi
        done
    done
    echo
    echo "Ratios and targets (figures, not a verdict; compare within one run):"
    echo
    local note
    ratio() { # LABEL A B TARGET_MIN SUFFIX
        if [[ -n $2 && -n $3 ]]; then
            awk -v l="$1" -v a="$2" -v b="$3" -v t="$4" -v sfx="$5" 'BEGIN {
                r = a / b; printf "- %s: %.2f%s (target ≥ %s%s: %s)\n", l, r, sfx, t, sfx, (r >= t ? "met" : "not met") }'
        else
            echo "- $1: n/a (pending the core or a failed run) (target ≥ $4$5)"
        fi
    }
    for c in "${CONNS[@]}"; do
        ratio "lexiaid ÷ bare evhttp, req/s @$c" "${R[lexiaid:$c:rps]:-}" "${R[bare:$c:rps]:-}" 0.9 ""
    done
    for c in "${CONNS[@]}"; do
        ratio "lexiaid ÷ gunicorn, req/s @$c" "${R[lexiaid:$c:rps]:-}" "${R[gunicorn:$c:rps]:-}" 12 "×"
    done
    if [[ -n ${R[lexiaid:256:p99]:-} ]]; then
        awk -v v="${R[lexiaid:256:p99]}" 'BEGIN { printf "- lexiaid p99 @256: %.2f ms (target < 7 ms: %s)\n", v, (v < 7 ? "met" : "not met") }'
    else
        echo "- lexiaid p99 @256: n/a (target < 7 ms)"
    fi
    if [[ -n ${R[lexiaid:idle_rss]:-} ]]; then
        awk -v k="${R[lexiaid:idle_rss]}" -v n="${R[lexiaid:nprocs]}" 'BEGIN {
            printf "- lexiaid idle RSS, master + 2 workers (%d processes): %.1f MiB = %.1f MB (target < 12 MB: %s)\n",
                n, k / 1024, k * 1.024 / 1000, (k * 1.024 / 1000 < 12 ? "met" : "not met") }'
    else
        echo "- lexiaid idle RSS, master + 2 workers: n/a (target < 12 MB)"
    fi
    if [[ -n ${R[lexiaid:first200]:-} ]]; then
        awk -v v="${R[lexiaid:first200]}" 'BEGIN { printf "- lexiaid exec → first 200: %.1f ms (target < 30 ms: %s)\n", v, (v < 30 ? "met" : "not met") }'
    else
        echo "- lexiaid exec → first 200: n/a (target < 30 ms)"
    fi
    echo
    echo "Server CPU time per request (utime+stime of the server's processes ÷ requests; steadier than req/s"
    echo "on a shared machine, since it does not depend on how much CPU the server was given):"
    echo
    for c in "${CONNS[@]}"; do
        local line="- @$c:" sep=" "
        for s in "${SERVERS[@]}"; do
            [[ -n ${R[$s:$c:usreq]:-} ]] || continue
            line+="$sep${s/bare/bare evhttp} ${R[$s:$c:usreq]} µs"
            sep="; "
        done
        if [[ -n ${R[lexiaid:$c:usreq]:-} && -n ${R[bare:$c:usreq]:-} ]]; then
            line+=$(awk -v l="${R[lexiaid:$c:usreq]}" -v b="${R[bare:$c:usreq]}" \
                'BEGIN { printf " (bare ÷ lexiaid: %.2f, the CPU-side view of lexiaid ÷ bare evhttp)", b / l }')
        fi
        echo "$line"
    done
    echo
    echo "Notes per run (wrk's own CPU share shows when the load generator, not the server, is the limit):"
    echo
    for s in "${SERVERS[@]}"; do
        [[ -n ${R[$s:stop]:-} ]] && echo "- $(server_label "$s"): ${R[$s:stop]}"
        for c in "${CONNS[@]}"; do
            while IFS= read -r note; do
                [[ -n $note ]] && echo "  - @$c $note"
            done <<<"${R[$s:$c:notes]:-}"
        done
    done
}

mkdir -p "$ROOT/bench/results"
report | tee "$ROOT/bench/results/latest.md"
log "written to bench/results/latest.md"
exit 0
