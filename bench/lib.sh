# bench/lib.sh: helpers shared by bench/run.sh, bench/auth.sh and bench/storage.sh (sourced,
# not run). Defines functions and CLK_TCK; bench_init creates the scratch directory
# and the traps.
#
# The caller sets, before calling them:
#   BENCH_NAME       the script's name, for messages (default: bench)
#   START_TIMEOUT_S  exec -> first 200, at most (wait_first_200)
#   STOP_TIMEOUT_S   SIGTERM -> exit, at most (stop_server)
#   SAMPLE_S         RSS/CPU sampling period under load (run_wrk)
#   DURATION         seconds per wrk run (run_wrk)
#   PORT             the port run_wrk loads
#   WRK_ARGS         optional array of extra wrk arguments (run_wrk), e.g.
#                    (-H "Authorization: Bearer ...")
# bench_init sets TMP (removed at exit) and STARTED (pids to reap at exit).
# The set variables are outputs for the caller:
# shellcheck shell=bash disable=SC2034,SC2153

log() { printf '[bench] %s\n' "$*" >&2; }

# bench_args SCRIPT ARGS...: the options both scripts take (--quick, -h);
# sets QUICK, DURATION, RUNS and CONNS. -h prints SCRIPT's header comment.
bench_args() {
    local script=$1 arg
    shift
    QUICK=0
    for arg in "$@"; do
        case $arg in
        --quick) QUICK=1 ;;
        -h | --help)
            sed -n '2,/^$/s/^# \{0,1\}//p' "$script"
            exit 0
            ;;
        *)
            echo "${script##*/}: unknown argument '$arg' (usage: bench/${script##*/} [--quick])" >&2
            exit 2
            ;;
        esac
    done
    if ((QUICK)); then DURATION=3 RUNS=1; else DURATION=10 RUNS=3; fi
    CONNS=(64 256)
}
die() {
    printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2
    exit 1
}

# ------------------------------------------------------------------ state
# bench_init: the scratch directory and the exit traps (every server started
# with start_server is stopped, with its whole process tree, on any exit).
bench_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/lexiaid-bench.XXXXXX")
    STARTED=() # server pids still to be reaped
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

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

# run_wrk NAME CONNS RUN URLPATH PIDS...: one wrk run (with WRK_ARGS) against
# http://127.0.0.1:$PORT$URLPATH while sampling the server's RSS and CPU and
# wrk's CPU. NAME must be unique per server and path. Sets W_RPS W_P50 W_P99
# W_RSS_KB W_USREQ W_NOTE.
run_wrk() {
    local name=$1 conns=$2 run=$3 urlpath=$4
    shift 4
    local pids=("$@") out="$TMP/wrk-$name-$conns-$run.txt"
    local wpid wrkpid='' t0 t1='' c0 c1=0 wc0=0 wc1=0 peak=0 m rc=0
    c0=$(cpu_of "${pids[@]}")
    t0=${EPOCHREALTIME/./}
    timeout -k 2 $((DURATION + 15)) wrk -t1 -c"$conns" -d"${DURATION}s" --latency \
        "${WRK_ARGS[@]+"${WRK_ARGS[@]}"}" "http://127.0.0.1:$PORT$urlpath" >"$out" 2>&1 &
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

# ------------------------------------------------------------------ report
num() { # 123456.78 -> 123,457
    [[ -n $1 ]] || { echo "—"; return; }
    printf '%.0f' "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'
}
ms() { [[ -n $1 ]] && printf '%.2f ms' "$1" || echo "—"; }

# ------------------------------------------------------------------ tokens
# bench_make_key: an RSA-2048 key and a self-signed certificate in $TMP
# (key.pem, cert.pem) and KID, shaped like Google's (40 hex digits).
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
bench_make_key() {
    log "making an RSA-2048 key and a self-signed certificate"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        -days 2 -subj /CN=lexiaid-bench >/dev/null 2>&1 || die "openssl cannot make a key"
    KID=$(openssl x509 -in "$TMP/cert.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
}

# mint_token UID: a Firebase-shaped ID token of project $PROJECT for UID,
# valid for about an hour, signed with $TMP/key.pem.
mint_token() {
    local uid=$1 now h p s
    now=$(date +%s)
    h=$(printf '{"alg":"RS256","kid":"%s","typ":"JWT"}' "$KID" | b64url)
    p=$(printf '{"name":"Bench User","picture":"https://example.com/u/bench.png","iss":"https://securetoken.google.com/%s","aud":"%s","auth_time":%d,"user_id":"%s","sub":"%s","iat":%d,"exp":%d,"email":"%s@example.com","email_verified":true,"firebase":{"identities":{"email":["%s@example.com"]},"sign_in_provider":"password"}}' \
        "$PROJECT" "$PROJECT" $((now - 60)) "$uid" "$uid" $((now - 60)) $((now + 3500)) "$uid" "$uid" | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$TMP/key.pem" -binary | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}

# start_keys NAME DELAY_MS: the key server (bench/auth_util.py) serving
# $TMP/cert.pem under $KID; sets KPID, KPORT and KLOG.
start_keys() {
    local name=$1 delay=$2 i
    KLOG=$TMP/$name.log
    : >"$KLOG"
    start_server "$name" /dev/null python3 -S "$ROOT/bench/auth_util.py" serve \
        "$TMP/cert.pem" "$KID" "$TMP/$name.port" "$KLOG" "$delay"
    KPID=$SPID
    for ((i = 0; i < 100; i++)); do
        [[ -s $TMP/$name.port ]] && break
        kill -0 "$KPID" 2>/dev/null || die "the key server died: $(tail -n 3 "$TMP/$name.err")"
        sleep 0.05
    done
    [[ -s $TMP/$name.port ]] || die "the key server did not start"
    KPORT=$(<"$TMP/$name.port")
}
