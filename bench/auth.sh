#!/usr/bin/env bash
# bench/auth.sh: what verifying Firebase ID tokens costs. A protected route,
# GET /api/auth/me behind auth.require_user with a valid RS256 token, against
# GET /health of the same server in the same run, with the verified-token
# cache on (the default) and off (token_cache = 0: an RSA-2048 verification
# per request); then a cold start against a key server that answers 300 ms
# late, to see that waiting requests pay one key round trip, not more. See
# docs/performance.md ("Auth").
#
# Usage: bench/auth.sh [--quick]
#   --quick   one 3 s wrk run per figure and one cold start (default: three
#             10 s runs, median of each figure, and three cold starts)
#
# Environment:
#   LX_AUTH_BENCH_PATH          the protected route measured (default:
#                               /protected/health, health.live behind
#                               auth.require_user, so that the difference
#                               with /health is auth alone; /api/auth/me
#                               adds the principal's JSON reply)
#   LEXIAID_BIN                 the binary (default: _build/lexiaid)
#   LEXIAID_PLUGIN_DIR          where health.so and auth.so are
#                               (default: _build/plugins/*/.libs)
#   LEXIAID_HTTP_CLIENT_MODULE  lexiaid's HTTP client module (default:
#                               _build/core/.libs/lx_http_client.so when it
#                               exists)
#
# Everything runs on 127.0.0.1: an RSA key and a self-signed certificate made
# with the openssl CLI, a token minted with it, a Python key server
# (bench/auth_util.py) serving the {kid: certificate} map with
# Cache-Control: max-age=3600, and lexiaid with 2 workers and its JSON access
# log written to /dev/null. Every server is stopped on any exit. It needs
# wrk, python3, openssl, awk and timeout, and installs nothing. It measures,
# it does not judge: it exits 0 after a complete run whatever the figures.
#
# Output: a markdown report on stdout and in bench/results/auth.md; progress
# on stderr.

set -euo pipefail
PPATH=${LX_AUTH_BENCH_PATH:-/protected/health}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEXIAID_BIN=${LEXIAID_BIN:-$ROOT/_build/lexiaid}
HEALTH_SO=${LEXIAID_PLUGIN_DIR:-$ROOT/_build/plugins/health/.libs}/health.so
AUTH_SO=${LEXIAID_PLUGIN_DIR:-$ROOT/_build/plugins/auth/.libs}/auth.so
if [[ -z ${LEXIAID_HTTP_CLIENT_MODULE:-} && -r $ROOT/_build/core/.libs/lx_http_client.so ]]; then
    export LEXIAID_HTTP_CLIENT_MODULE=$ROOT/_build/core/.libs/lx_http_client.so
fi
PROJECT=bench-project
START_TIMEOUT_S=15 # exec -> first 200, at most
STOP_TIMEOUT_S=12  # SIGTERM -> exit, at most
SAMPLE_S=0.5       # CPU sampling period under load
COLD_DELAY_MS=300  # the cold key server's answer time
COLD_REQUESTS=50   # requests fired at a cold start
TARGET_UNCACHED=0.5
TARGET_CACHED=0.85

BENCH_NAME=auth.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_args "${BASH_SOURCE[0]}" "$@"

# ------------------------------------------------------------------ tools
((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5 (EPOCHREALTIME); this is $BASH_VERSION"
missing=()
for t in wrk python3 openssl awk timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
((${#missing[@]} == 0)) || die "missing: ${missing[*]}"
for f in "$LEXIAID_BIN" "$HEALTH_SO" "$AUTH_SO"; do
    [[ -r $f ]] || die "no $f: build lexiaid first (see docs/performance.md)"
done

bench_init

# ------------------------------------------------------------------ key and token
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

log "making an RSA-2048 key and a self-signed certificate"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 2 -subj /CN=lexiaid-bench >/dev/null 2>&1 || die "openssl cannot make a key"
# A kid shaped like Google's: 40 hex digits.
KID=$(openssl x509 -in "$TMP/cert.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')

# A Firebase-shaped ID token, valid for about an hour.
mint_token() {
    local now h p s
    now=$(date +%s)
    h=$(printf '{"alg":"RS256","kid":"%s","typ":"JWT"}' "$KID" | b64url)
    p=$(printf '{"name":"Bench User","picture":"https://example.com/u/bench.png","iss":"https://securetoken.google.com/%s","aud":"%s","auth_time":%d,"user_id":"bench-user-0001","sub":"bench-user-0001","iat":%d,"exp":%d,"email":"bench@example.com","email_verified":true,"firebase":{"identities":{"email":["bench@example.com"]},"sign_in_provider":"password"}}' \
        "$PROJECT" "$PROJECT" $((now - 60)) $((now - 60)) $((now + 3500)) | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$TMP/key.pem" -binary | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}
TOKEN=$(mint_token)

# ------------------------------------------------------------------ servers
# start_keys NAME DELAY_MS: the key server; sets KPORT and KLOG.
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

# write_conf FILE TOKEN_CACHE: lexiaid on $PORT with keys from $KPORT
# (TOKEN_CACHE empty: the default).
write_conf() {
    local tc=''
    [[ -n $2 ]] && tc=" token_cache = $2;"
    cat >"$1" <<EOF
# Generated by bench/auth.sh
server = {
    listen = "127.0.0.1:$PORT";
    workers = 2;
    log_format = "json";
};
plugins = (
    { name = "health"; file = "$HEALTH_SO"; },
    { name = "auth"; file = "$AUTH_SO";
      config = { project_id = "$PROJECT"; certs_url = "http://127.0.0.1:$KPORT/certs";$tc }; }
);
routes = (
    { method = "GET"; path = "/health"; handler = "health.live"; },
    { method = "GET"; path = "/api/auth/me"; handler = "auth.me"; before = ["auth.require_user"]; },
    { method = "GET"; path = "/protected/health"; handler = "health.live"; before = ["auth.require_user"]; }
);
EOF
}

# http_status PORT PATH [HEADER]: the status of one GET over /dev/tcp (no
# fork), 0 when there is no answer.
http_status() {
    local port=$1 path=$2 hdr=${3:-} line=''
    [[ -n $hdr ]] && hdr+=$'\r\n'
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
        printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n' "$path" "$hdr" >&3 2>/dev/null || true
        read -r -t 2 line <&3 2>/dev/null || true
        exec 3>&- 3<&-
    fi
    line=${line#HTTP/1.? }
    line=${line%% *}
    [[ $line =~ ^[0-9]{3}$ ]] && echo "$line" || echo 0
}

# ------------------------------------------------------------------ warm runs
declare -A R=() # R[mode:path:conns:field]
MODES=(cache nocache)
mode_label() {
    case $1 in
    cache) echo "token cache on (default)" ;;
    nocache) echo "token_cache = 0 (verify every time)" ;;
    esac
}

bench_mode() {
    local mode=$1 conf pid pids c run path i st name
    PORT=$(free_port)
    conf=$TMP/lexiaid-$mode.conf
    local tc=''
    [[ $mode == nocache ]] && tc=0
    write_conf "$conf" "$tc"
    log "$mode: lexiaid on 127.0.0.1:$PORT, keys from 127.0.0.1:$KPORT"
    start_server "lexiaid-$mode" /dev/null "$LEXIAID_BIN" -c "$conf"
    pid=$SPID
    wait_first_200 "$PORT" "$pid" ||
        die "lexiaid did not answer /health: $(tail -n 3 "$TMP/lexiaid-$mode.err" | tr '\n' ' ')"
    # Both workers hold the keys once the route answers 200 a few times.
    for ((i = 0; i < 200; i++)); do
        st=$(http_status "$PORT" "$PPATH" "Authorization: Bearer $TOKEN")
        [[ $st == 200 ]] && break
        sleep 0.05
    done
    [[ $st == 200 ]] || die "GET $PPATH answered $st with a valid token: $(tail -n 3 "$TMP/lexiaid-$mode.err" | tr '\n' ' ')"
    read -r -a pids <<<"$(tree_pids "$pid")"
    for c in "${CONNS[@]}"; do
        for ((run = 1; run <= RUNS; run++)); do
            # /health and the protected route back to back, so that noise
            # from the rest of the machine hits both.
            for path in /health "$PPATH"; do
                name=$mode-${path//[^a-z]/}
                WRK_ARGS=()
                [[ $path == "$PPATH" ]] && WRK_ARGS=(-H "Authorization: Bearer $TOKEN")
                log "$mode: wrk -t1 -c$c -d${DURATION}s $path, run $run/$RUNS"
                run_wrk "$name" "$c" "$run" "$path" "${pids[@]}"
                local key=$mode:$path:$c
                if [[ -n $W_RPS ]]; then
                    R[$key:rps]+=" $W_RPS" R[$key:p50]+=" $W_P50" R[$key:p99]+=" $W_P99"
                    [[ -n $W_USREQ ]] && R[$key:us]+=" $W_USREQ"
                fi
                [[ -n $W_NOTE ]] && R[$key:notes]+="run $run: $W_NOTE"$'\n'
                log "$mode: c$c $path: ${W_RPS:-?} req/s, p50 ${W_P50:-?} ms, p99 ${W_P99:-?} ms${W_NOTE:+ ($W_NOTE)}"
            done
        done
    done
    stop_server "$pid"
}

# ------------------------------------------------------------------ cold start
# cold_run N: a fresh key server answering COLD_DELAY_MS late, lexiaid
# started against it, COLD_REQUESTS requests fired as soon as /health
# answers (by a client started first, so that its own start-up does not
# delay them). Sets R[cold:N].
cold_run() {
    local n=$1 conf pid bpid out rc=0 i
    start_keys "keys-cold-$n" "$COLD_DELAY_MS"
    local kpid=$KPID
    PORT=$(free_port)
    conf=$TMP/lexiaid-cold-$n.conf
    write_conf "$conf" ""
    log "cold start $n: keys answer after $COLD_DELAY_MS ms; $COLD_REQUESTS requests at once"
    out=$TMP/burst-$n.txt
    timeout -k 2 30 python3 -S "$ROOT/bench/auth_util.py" burst "$PORT" "$PPATH" "$TOKEN" \
        "$COLD_REQUESTS" "$TMP/burst-$n.ready" >"$out" &
    bpid=$!
    STARTED+=("$bpid")
    for ((i = 0; i < 300; i++)); do
        [[ -e $TMP/burst-$n.ready ]] && break
        kill -0 "$bpid" 2>/dev/null || break
        sleep 0.02
    done
    [[ -e $TMP/burst-$n.ready ]] || die "the burst client did not start"
    start_server "lexiaid-cold-$n" /dev/null "$LEXIAID_BIN" -c "$conf"
    pid=$SPID
    wait "$bpid" || rc=$?
    stop_server "$bpid"
    ((rc == 0)) || die "the burst client failed (status $rc): $(tail -n 3 "$TMP/lexiaid-cold-$n.err" | tr '\n' ' ')"
    # Whatever came late would be counted too.
    sleep 0.5
    stop_server "$pid"
    stop_server "$kpid"
    # fetches|answers|latency min|median|max (ms)|keys answered -> last
    # reply (ms)|exec -> first key request (ms)|exec -> requests sent (ms)
    local fetches first kdone sent last answers lat
    read -r fetches first kdone < <(awk '{ n++; if (f == "" || $1 < f) f = $1; if ($2 > d) d = $2 }
        END { printf "%d %.0f %.0f\n", n, f, d }' "$KLOG")
    read -r sent last < <(awk '$2 > 0 && (s == "" || $2 < s) { s = $2 } $3 > m { m = $3 }
        END { printf "%.0f %.0f\n", s, m }' "$out")
    answers=$(awk '{ print ($1 == 0 ? "error" : $1) }' "$out" | sort | uniq -c |
        awk '{ printf "%s%s × %s", (NR > 1 ? ", " : ""), $1, $2 }')
    lat=$(awk '{ printf "%.1f\n", ($3 - $2) / 1000 }' "$out" | sort -g |
        awk '{ a[NR] = $1 } END { printf "%s|%s|%s", a[1], a[int((NR + 1) / 2)], a[NR] }')
    R[cold:$n]=$fetches\|$answers\|$lat\|$(awk -v l="$last" -v d="$kdone" -v f="$first" -v s="$sent" -v t0="$T0_US" \
        'BEGIN { printf "%.1f|%.1f|%.1f", (d > 0 ? (l - d) / 1000 : -1), (f > 0 ? (f - t0) / 1000 : -1),
                 (s > 0 ? (s - t0) / 1000 : -1) }')
    log "cold start $n: ${R[cold:$n]}"
}

# ------------------------------------------------------------------ run
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "mode: $( ((QUICK)) && echo quick || echo full): ${RUNS} × ${DURATION} s per figure"
SPEED=$(openssl speed -seconds $((QUICK ? 1 : 3)) rsa2048 2>/dev/null |
    awk '$1 == "rsa" && $2 == "2048" { print $NF }' || true)
start_keys keys-warm 0
for m in "${MODES[@]}"; do
    bench_mode "$m"
done
stop_server "$KPID"
WARM_FETCHES=$(wc -l <"$KLOG")
for ((i = 1; i <= RUNS; i++)); do
    cold_run "$i"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
med() { # "a b c" -> the median
    # shellcheck disable=SC2086
    median $1
}

report() {
    local cpu rev m c hp mp
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev+=" (with local changes)"
    echo "# lexiaid auth bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Mode: $( ((QUICK)) && echo "quick: 1 run of ${DURATION} s" || echo "full: median of ${RUNS} runs of ${DURATION} s") per figure; \`wrk -t1 -c{64,256} --latency\`, /health and $PPATH back to back in each run"
    echo "- Token: RS256, RSA-2048, ${#TOKEN} bytes, sent as \`Authorization: Bearer\`; lexiaid 2 workers, JSON access log to /dev/null"
    echo "- Machine: $(nproc) CPUs ($cpu), kernel $(uname -r); repository $rev"
    echo "- Versions: $(wrk -v 2>&1 | head -n1 | sed -e 's/ Copyright.*//' || true); $(openssl version)"
    echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END (2 shared vCPUs: anything else running skews every figure)"
    if [[ -n $SPEED ]]; then
        awk -v s="$SPEED" 'BEGIN { printf "- `openssl speed rsa2048` in this run: %.0f verifies/s on one core (%.1f µs each)\n", s, 1e6 / s }'
    fi
    echo
    echo "| server | conns | /health req/s | p50 / p99 | CPU/req | $PPATH req/s | p50 / p99 | CPU/req | ratio | target |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for m in "${MODES[@]}"; do
        local target=$TARGET_CACHED
        [[ $m == nocache ]] && target=$TARGET_UNCACHED
        for c in "${CONNS[@]}"; do
            hp=$m:/health:$c mp=$m:$PPATH:$c
            local hr hr50 hr99 hu mr mr50 mr99 mu
            hr=$(med "${R[$hp:rps]:-}") hr50=$(med "${R[$hp:p50]:-}") hr99=$(med "${R[$hp:p99]:-}") hu=$(med "${R[$hp:us]:-}")
            mr=$(med "${R[$mp:rps]:-}") mr50=$(med "${R[$mp:p50]:-}") mr99=$(med "${R[$mp:p99]:-}") mu=$(med "${R[$mp:us]:-}")
            printf '| %s | %s | %s | %s / %s | %s µs | %s | %s / %s | %s µs | %s | ≥ %s× |\n' \
                "$(mode_label "$m")" "$c" "$(num "$hr")" "$(ms "$hr50")" "$(ms "$hr99")" "${hu:-—}" \
                "$(num "$mr")" "$(ms "$mr50")" "$(ms "$mr99")" "${mu:-—}" \
                "$(awk -v a="$mr" -v b="$hr" -v t="$target" 'BEGIN {
                    if (a == "" || b == "" || b == 0) print "n/a"
                    else printf "%.2f× (%s)", a / b, (a / b >= t ? "met" : "not met") }')" "$target"
        done
    done
    echo
    echo "CPU/req is the server's utime+stime over the run ÷ requests (steadier than req/s on a shared"
    echo "machine). What the protected route adds to a request, in server CPU ($PPATH − /health):"
    echo
    for m in "${MODES[@]}"; do
        local line sep=" "
        line="- $(mode_label "$m"):"
        for c in "${CONNS[@]}"; do
            line+=$sep$(awk -v a="$(med "${R[$m:$PPATH:$c:us]:-}")" -v b="$(med "${R[$m:/health:$c:us]:-}")" -v c="$c" \
                'BEGIN { if (a == "" || b == "") printf "n/a @%s", c; else printf "%.1f µs @%s", a - b, c }')
            sep="; "
        done
        echo "$line"
    done
    echo
    echo "Cold start: a key server answering ${COLD_DELAY_MS} ms late; lexiaid (2 workers, keys fetched when a"
    echo "worker starts) started against it and ${COLD_REQUESTS} requests to $PPATH fired at once as soon as"
    echo "/health answered. Key fetches during the warm runs: $WARM_FETCHES (one per worker and start)."
    echo
    echo "| start | key fetches (2 workers) | answers | exec → key request / requests sent | latency min / median / max | last key answer → last reply | one round trip? |"
    echo "|---|---|---|---|---|---|---|"
    for ((i = 1; i <= RUNS; i++)); do
        local f s lmin lmed lmax after first sent
        IFS='|' read -r f s lmin lmed lmax after first sent <<<"${R[cold:$i]}"
        printf '| %d | %s | %s | %s / %s ms | %s / %s / %s ms | %s ms | %s |\n' "$i" "$f" "$s" "$first" "$sent" \
            "$lmin" "$lmed" "$lmax" "$after" "$(awk -v f="$f" -v l="$lmax" -v d="$COLD_DELAY_MS" 'BEGIN {
                print (f <= 2 && l < 2 * d ? "yes" : "no") }')"
    done
    echo
    echo "Notes per run (wrk's own CPU share shows when the load generator, not the server, is the limit):"
    echo
    local p
    for m in "${MODES[@]}"; do
        for c in "${CONNS[@]}"; do
            for p in /health "$PPATH"; do
                while IFS= read -r note; do
                    if [[ -n $note ]]; then echo "- $m @$c $p $note"; fi
                done <<<"${R[$m:$p:$c:notes]:-}"
            done
        done
    done
}

mkdir -p "$ROOT/bench/results"
report | tee "$ROOT/bench/results/auth.md"
log "written to bench/results/auth.md"
exit 0
