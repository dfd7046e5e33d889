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
LEXIAID_BIN=${LEXIAID_BIN:-$ROOT/_build/lexiaid}
LEXIAID_PLUGIN=${LEXIAID_PLUGIN:-$ROOT/_build/plugins/health/.libs/health.so}
LEXIAID_BENCH_CONF=${LEXIAID_BENCH_CONF:-}
LEXIAID_CONF_FLAG=${LEXIAID_CONF_FLAG:--c}
read -r -a SERVERS <<<"${BENCH_SERVERS:-lexiaid bare nginx gunicorn}"
START_TIMEOUT_S=15 # exec -> first 200, at most
STOP_TIMEOUT_S=12  # SIGTERM -> exit, at most (lexiaid's default grace is 10 s)
SAMPLE_S=0.5       # RSS/CPU sampling period under load

BENCH_NAME=run.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_args "${BASH_SOURCE[0]}" "$@"

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
bench_init

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
    data_dir = "$TMP/data";
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
            run_wrk "$s" "$c" "$run" /health "${pids[@]}"
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
