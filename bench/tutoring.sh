#!/usr/bin/env bash
# bench/tutoring.sh: slow AI calls. A fake OpenAI-compatible provider
# (bench/fake_llm.py) answers every chat completion after 2 s; 1,000
# connections keep a chat request each in flight (wrk -c1000, POST
# /api/v2/agent/chat {"query": ...} with a signed test token, no document:
# one model call and the thread's writes per request) for 30 s against
#   - lexiaid with ONE worker: auth, storage on SQLite in a scratch data
#     directory, the tutoring plugin with provider openai at the fake;
#   - the same with its data directory on tmpfs (/dev/shm), where the
#     database's durable commits cost nothing;
#   - the original's model: Flask under gunicorn with 4 sync workers whose
#     chat route makes the same blocking call to the same fake provider
#     (bench/flask_chat.py).
# Reported for each: requests answered, errors (non-2xx, socket errors),
# answers slower than 10 s, requests still waiting when the run ended,
# throughput against the ideal (connections ÷ model latency = 500 req/s),
# latency percentiles, server CPU per answer, and memory: the lexiaid
# worker's VmRSS sampled every 0.5 s under load minus its idle VmRSS, per
# request in flight; the sum over gunicorn's master and workers. See
# docs/performance.md ("Slow AI calls").
#
# Usage: bench/tutoring.sh [--quick]
#   --quick   10 s of load per server instead of 30 s
#
# Environment:
#   LEXIAID_BIN         the binary (default: _build/lexiaid)
#   LX_BENCH_PLUGINS    the directory above health/, auth/, storage/ and
#                       tutoring/ (default: _build/plugins; NAME/.libs/NAME.so)
#   LEXIAID_HTTP_CLIENT_MODULE  the core's HTTP client module (default: the
#                       build's core/.libs/lx_http_client.so next to the binary)
#   LX_BENCH_CONNS      connections (default 1000)
#   LX_BENCH_DELAY_S    the fake model's latency in seconds (default 2)
#   LX_BENCH_DB_CONNECTIONS  storage's database connections per worker
#                       (default 4, the plugin's default)
#   LX_BENCH_SERVERS    which servers (default: "lexiaid lexiaid-shm gunicorn";
#                       lexiaid-shm is lexiaid with its data directory on
#                       tmpfs, /dev/shm, where fsync costs nothing: it shows
#                       how much of lexiaid's figure is the database's write path)
#
# Everything runs on 127.0.0.1 with the open-file limit raised to the hard
# limit (lexiaid needs about 2 descriptors per chat in flight: the client's
# and the provider's connection). It needs wrk, curl, python3, openssl, awk,
# timeout, and gunicorn with Flask for the reference; it installs nothing.
# It measures, it does not judge: it exits 0 after a complete run whatever
# the figures. A lexiaid run that goes wrong (a warm-up chat that does not
# answer 200 from the model, a worker that dies) is reported with its log.
#
# Output: a markdown report on stdout and in bench/results/tutoring.md, the
# raw files (wrk outputs, memory samples, the fake's timeline, server logs)
# in bench/results/tutoring/; progress on stderr.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEXIAID_BIN=${LEXIAID_BIN:-$ROOT/_build/lexiaid}
PLUGINS=${LX_BENCH_PLUGINS:-$ROOT/_build/plugins}
if [[ -z ${LEXIAID_HTTP_CLIENT_MODULE:-} ]]; then
    m=$(dirname "$LEXIAID_BIN")/core/.libs/lx_http_client.so
    [[ -r $m ]] && export LEXIAID_HTTP_CLIENT_MODULE=$m
fi
if [[ -z ${LEXIAID_EXTRACTOR:-} ]]; then # never run here (no uploads), but checked at start
    m=$(dirname "$LEXIAID_BIN")/plugins/storage/extract/lexiaid-extract
    [[ -x $m ]] && export LEXIAID_EXTRACTOR=$m
fi
DELAY_S=${LX_BENCH_DELAY_S:-2}
DB_CONNS=${LX_BENCH_DB_CONNECTIONS:-4} # storage's connections per worker (its default)
read -r -a SERVERS <<<"${LX_BENCH_SERVERS:-lexiaid lexiaid-shm gunicorn}"
PROJECT=bench-project
START_TIMEOUT_S=15
STOP_TIMEOUT_S=12
SAMPLE_S=0.5
SLOW_MS=10000 # an answer later than this counts as "slow" (5 × the model's 2 s)
MARK=photosynthesis # in the fake model's answer (bench/fake_llm.py)
QUERY="What is photosynthesis? Please explain it simply."
MODEL=gpt-fake-bench

BENCH_NAME=tutoring.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_args "${BASH_SOURCE[0]}" "$@"
if ((QUICK)); then DURATION=10; else DURATION=30; fi
NCONNS=${LX_BENCH_CONNS:-1000} # (bench_args sets CONNS for the other benches)

((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5 (EPOCHREALTIME); this is $BASH_VERSION"
missing=()
for t in wrk curl python3 openssl awk timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
GUNICORN_PY=
if [[ " ${SERVERS[*]} " == *" gunicorn "* ]]; then
    if command -v gunicorn >/dev/null 2>&1; then
        GUNICORN_PY=$(head -n1 "$(command -v gunicorn)")
        GUNICORN_PY=${GUNICORN_PY#\#!}
        GUNICORN_PY=${GUNICORN_PY%% *}
        [[ -x $GUNICORN_PY ]] || GUNICORN_PY=python3
        "$GUNICORN_PY" -c 'import flask' >/dev/null 2>&1 || missing+=("Flask for $GUNICORN_PY (python3-flask)")
    else
        missing+=(gunicorn)
    fi
fi
((${#missing[@]} == 0)) || die "missing: ${missing[*]}"
if [[ " ${SERVERS[*]} " == *" lexiaid"* ]]; then
    for f in "$LEXIAID_BIN" "$PLUGINS"/{health,auth,storage,tutoring}/.libs/*.so; do
        [[ -r $f ]] || die "no $f: build lexiaid first (see docs/performance.md)"
    done
fi

# Descriptors: wrk holds NCONNS, lexiaid 2 per chat in flight, the fake NCONNS.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] || ((NOFILE >= 2 * NCONNS + 256)) ||
    die "the open-file limit is $NOFILE (hard); $((2 * NCONNS + 256)) are needed for $NCONNS connections"

bench_init
RAW=$ROOT/bench/results/tutoring
mkdir -p "$RAW"
rm -f "$RAW"/*
bench_make_key
TOKEN=$(mint_token bench-user-0001)
AUTH=(-H "Authorization: Bearer $TOKEN")

declare -A R=() # R[server:field]

# start_fake NAME: a fresh fake provider; sets FPID, FPORT, FLOG.
start_fake() {
    local name=$1 i
    FLOG=$TMP/$name.stats
    start_server "$name" /dev/null python3 -S "$ROOT/bench/fake_llm.py" "$TMP/$name.port" "$FLOG" "$DELAY_S"
    FPID=$SPID
    for ((i = 0; i < 200; i++)); do
        [[ -s $TMP/$name.port ]] && break
        kill -0 "$FPID" 2>/dev/null || die "the fake provider died: $(tail -n 3 "$TMP/$name.err")"
        sleep 0.05
    done
    [[ -s $TMP/$name.port ]] || die "the fake provider did not start"
    FPORT=$(<"$TMP/$name.port")
}

# fake_stat FIELD: from the fake's last timeline line (in_flight conns
# requests answered cancelled peak).
fake_stat() {
    local line f
    line=$(tail -n 1 "$FLOG" 2>/dev/null || true)
    read -r -a f <<<"$line"
    case $1 in
    in_flight) echo "${f[1]:-0}" ;; conns) echo "${f[2]:-0}" ;; requests) echo "${f[3]:-0}" ;;
    answered) echo "${f[4]:-0}" ;; cancelled) echo "${f[5]:-0}" ;; peak) echo "${f[6]:-0}" ;;
    esac
}

children_of() { # PID -> its direct children
    local f line rest ppid kids=()
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        rest=${line##*) }
        read -r _ ppid _ <<<"$rest"
        [[ $ppid == "$1" ]] && kids+=("${line%% *}")
    done
    echo "${kids[*]}"
}

rss_of() { # PIDS... -> summed VmRSS in kB
    local m
    read -r m _ <<<"$(mem_of "$@")"
    echo "$m"
}

chat_once() { # PORT OUTFILE -> the status code
    curl -s -o "$2" -w '%{http_code}' --max-time 30 -X POST "${AUTH[@]}" \
        -H 'Content-Type: application/json' --data "{\"query\":\"$QUERY\"}" \
        "http://127.0.0.1:$1/api/v2/agent/chat" || true
}

# steady_median COLUMN SAMPLES: the median of a column of the samples taken
# in the second half of the run (the steady state).
steady_median() {
    local col=$1 f=$2
    # shellcheck disable=SC2046
    median $(awk -v c="$col" 'NR > 1 { t[++n] = $1; v[n] = $c } END {
        for (i = 1; i <= n; i++) if (t[i] >= t[n] / 2) print v[i] }' "$f")
}

# load NAME PORT MEMPIDS_FN: wrk -c$NCONNS against the chat route while
# sampling memory (MEMPIDS_FN prints the pids whose RSS is summed) and the
# fake's in-flight count; sets R[NAME:*].
load() {
    local name=$1 port=$2 mempids_fn=$3
    local out="$TMP/wrk-$name.txt" samples="$RAW/$name-samples.txt"
    local wpid c0 c1 f0 f1 t0 t1 m peak=0 rc=0 pids all
    all=$(tree_pids "${R[$name:pid]}")
    # shellcheck disable=SC2086
    c0=$(cpu_of $all)
    f0=$(cpu_of "$FPID")
    t0=${EPOCHREALTIME/./}
    echo "# t_ms rss_kb fake_in_flight fake_conns" >"$samples"
    LX_BENCH_QUERY=$QUERY LX_BENCH_MARK=$MARK LX_BENCH_SLOW_MS=$SLOW_MS \
        timeout -k 2 $((DURATION + 20)) wrk -t1 -c"$NCONNS" -d"${DURATION}s" --timeout "$((DURATION + 30))s" \
        --latency -s "$ROOT/bench/tutoring.lua" "${AUTH[@]}" \
        "http://127.0.0.1:$port/api/v2/agent/chat" >"$out" 2>&1 &
    wpid=$!
    while kill -0 "$wpid" 2>/dev/null; do
        pids=$($mempids_fn)
        # shellcheck disable=SC2086
        m=$(rss_of $pids)
        ((m > peak)) && peak=$m
        printf '%d %d %d %d\n' $(((${EPOCHREALTIME/./} - t0) / 1000)) "$m" "$(fake_stat in_flight)" \
            "$(fake_stat conns)" >>"$samples"
        sleep "$SAMPLE_S"
    done
    wait "$wpid" || rc=$?
    t1=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    c1=$(cpu_of $all)
    f1=$(cpu_of "$FPID")
    cp "$out" "$RAW/wrk-$name.txt"
    R[$name:wrk_rc]=$rc
    local k v
    while read -r _ k v; do
        R[$name:$k]=$v
    done < <(grep '^LX ' "$out" || true)
    R[$name:peak_rss]=$peak
    # The median of the samples taken in the second half of the run (steady state).
    R[$name:med_rss]=$(steady_median 2 "$samples")
    R[$name:fake_peak]=$(fake_stat peak)
    R[$name:fake_med_inflight]=$(steady_median 3 "$samples")
    R[$name:cpu_ticks]=$((c1 - c0))
    R[$name:wall_s]=$(awk -v d="$((t1 - t0))" 'BEGIN { printf "%.1f", d / 1e6 }')
    R[$name:server_cpu]=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v d="$((t1 - t0))" 'BEGIN { printf "%.0f%%", 100 * c / hz / (d / 1e6) }')
    R[$name:fake_cpu]=$(awk -v c="$((f1 - f0))" -v hz="$CLK_TCK" -v d="$((t1 - t0))" 'BEGIN { printf "%.0f%%", 100 * c / hz / (d / 1e6) }')
    local waiting=$((${R[$name:sent]:-0} - ${R[$name:answered]:-0} - ${R[$name:errors_read]:-0} - ${R[$name:errors_write]:-0}))
    # (wrk may call request() once more for a connection as it stops)
    ((waiting < 0)) && waiting=0
    ((waiting > NCONNS)) && waiting=$NCONNS
    R[$name:waiting]=$waiting
    log "$name: ${R[$name:answered]:-?} answered (${R[$name:status_2xx]:-?} × 2xx, ${R[$name:marked]:-?} with the model's words), ${R[$name:status_other]:-?} other statuses, socket errors c/r/w ${R[$name:errors_connect]:-?}/${R[$name:errors_read]:-?}/${R[$name:errors_write]:-?}, $waiting waiting at the end; p50 ${R[$name:p50_ms]:-?} ms p99 ${R[$name:p99_ms]:-?} ms; peak RSS $(mib "$peak")"
}

# ------------------------------------------------------------------ lexiaid
lexiaid_worker() { children_of "${R[$S:pid]}"; } # S: the lexiaid variant being run

write_conf() { # FILE DATADIR
    cat >"$1" <<EOF
# Generated by bench/tutoring.sh
server = {
    listen = "127.0.0.1:$PORT";
    workers = 1;
    data_dir = "$2";
    log_format = "json";
};
plugins = (
    { name = "health"; file = "$PLUGINS/health/.libs/health.so"; },
    { name = "auth"; file = "$PLUGINS/auth/.libs/auth.so";
      config = { project_id = "$PROJECT"; certs_url = "http://127.0.0.1:$KPORT/certs"; }; },
    { name = "storage"; file = "$PLUGINS/storage/.libs/storage.so";
      config = { backend = "sqlite"; connections = $DB_CONNS; extractor = "${LEXIAID_EXTRACTOR:-}"; }; },
    { name = "tutoring"; file = "$PLUGINS/tutoring/.libs/tutoring.so";
      config = { provider = "openai";
                 openai = { base_url = "http://127.0.0.1:$FPORT/v1"; api_key = "sk-bench-fake";
                            model = "$MODEL"; }; }; }
);
routes = (
    { method = "GET"; path = "/health"; handler = "health.live"; },
    { method = "POST"; path = "/api/users/init"; handler = "storage.user_init"; before = ["auth.require_user"]; },
    { method = "POST"; path = "/api/v2/agent/chat"; handler = "tutoring.chat";
      before = ["auth.require_user"]; timeout = "130s"; }
);
EOF
}

# The server's log lines at warn or error, and its exit, into the raw
# directory; a note for the report.
lexiaid_logs() {
    cp "$TMP/$S.err" "$RAW/$S.err"
    grep -v '"level":"info"' "$TMP/$S.out" | head -n 2000 >"$RAW/$S-out-not-info.txt" || true
    awk 'match($0, /"status":[0-9]+/) { s = substr($0, RSTART + 9, RLENGTH - 9); n[s]++ }
        END { for (s in n) printf "%s %d\n", s, n[s] }' "$TMP/$S.out" | sort >"$RAW/$S-access-statuses.txt"
}

# bench_lexiaid NAME DATADIR: NAME lexiaid (DATADIR on disk) or lexiaid-shm
# (on tmpfs, where fsync costs nothing).
bench_lexiaid() {
    S=$1
    local data=$2 conf=$TMP/$1.conf pid st i w0 w1
    start_fake "fake-$S"
    PORT=$(free_port)
    mkdir -p "$data"
    write_conf "$conf" "$data"
    cp "$conf" "$RAW/$S.conf"
    log "$S: 1 worker on 127.0.0.1:$PORT, data in $data ($(stat -f -c %T "$data")), the fake provider on $FPORT"
    start_server "$S" "$TMP/$S.out" "$LEXIAID_BIN" -c "$conf"
    pid=$SPID
    R[$S:pid]=$pid
    if ! wait_first_200 "$PORT" "$pid"; then
        lexiaid_logs
        die "$S did not start: $(tail -n 5 "$TMP/$S.err" | tr '\n' ' ' | cut -c1-600)"
    fi
    for ((i = 0; i < 100; i++)); do
        st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "${AUTH[@]}" "http://127.0.0.1:$PORT/api/users/init" || true)
        [[ $st == 200 ]] && break
        sleep 0.05
    done
    [[ $st == 200 ]] || die "$S: POST /api/users/init answered $st"
    # One chat first: it must come from the model (provider openai, the
    # fake's words), else the figures would measure something else.
    st=$(chat_once "$PORT" "$TMP/warmup.json")
    cp "$TMP/warmup.json" "$RAW/$S-warmup.json"
    if [[ $st != 200 ]] || ! grep -q "$MARK" "$TMP/warmup.json" || ! grep -q '"provider": *"openai"' "$TMP/warmup.json"; then
        lexiaid_logs
        die "$S: the warm-up chat answered $st without the model's answer: $(head -c 400 "$TMP/warmup.json"); logs in ${RAW#"$ROOT"/}/"
    fi
    w0=$(lexiaid_worker)
    [[ -n $w0 && $w0 != *" "* ]] || die "$S: expected one worker process, found '$w0'"
    sleep 1
    R[$S:idle_rss]=$(rss_of "$w0")
    R[$S:idle_rss_tree]=$(rss_of "$pid" "$w0")
    log "$S: warm-up chat answered by the model; worker $w0 idle VmRSS $(mib "${R[$S:idle_rss]}")"
    log "$S: wrk -t1 -c$NCONNS -d${DURATION}s POST /api/v2/agent/chat"
    load "$S" "$PORT" lexiaid_worker
    R[$S:fake_requests]=$(fake_stat requests)
    R[$S:fake_cancelled_at_end]=$(fake_stat cancelled)
    # wrk closed its connections: the calls still waiting must be cancelled.
    sleep 3
    R[$S:fake_cancelled]=$(fake_stat cancelled)
    R[$S:fake_in_flight_after]=$(fake_stat in_flight)
    R[$S:fake_requests_after]=$(fake_stat requests)
    w1=$(lexiaid_worker)
    R[$S:worker_same]=$([[ $w1 == "$w0" ]] && echo yes || echo "no (worker $w0, now '$w1')")
    R[$S:after_rss]=$(rss_of "$w1")
    st=$(chat_once "$PORT" "$TMP/after.json")
    R[$S:after_chat]=$st
    R[$S:db]=$(cd "$data" && for f in *.db *.db-wal; do [[ -e $f ]] && printf '%s %s; ' "$f" "$(mib $(($(stat -c %s "$f") / 1024)))"; done)
    stop_server "$pid"
    R[$S:stop]="SIGTERM → exit in $STOP_MS ms, status $STOP_RC"
    stop_server "$FPID"
    cp "$FLOG" "$RAW/fake-$S.stats"
    lexiaid_logs
    R[$S:log_errors]=$(cat "$TMP/$S.out" "$TMP/$S.err" | grep -c '"level":"error"' || true)
    R[$S:log_warns]=$(cat "$TMP/$S.out" "$TMP/$S.err" | grep -c '"level":"warn"' || true)
    R[$S:access]=$(tr '\n' ' ' <"$RAW/$S-access-statuses.txt")
    log "$S: after the load: worker unchanged: ${R[$S:worker_same]}; calls cancelled at the provider ${R[$S:fake_cancelled]}; a new chat answered ${R[$S:after_chat]}; ${R[$S:stop]}; log: ${R[$S:log_errors]} errors, ${R[$S:log_warns]} warnings"
}

# ------------------------------------------------------------------ gunicorn
gunicorn_tree() { tree_pids "${R[gunicorn:pid]}"; }

bench_gunicorn() {
    local pid st i pids
    start_fake fake-gunicorn
    PORT=$(free_port)
    log "gunicorn: 4 sync workers on 127.0.0.1:$PORT, the fake provider on $FPORT"
    start_server gunicorn "$TMP/gunicorn.out" env PYTHONDONTWRITEBYTECODE=1 \
        LX_BENCH_LLM_URL="http://127.0.0.1:$FPORT/v1" LX_BENCH_LLM_MODEL="$MODEL" \
        gunicorn --workers 4 --worker-class sync --timeout 120 --bind "127.0.0.1:$PORT" \
        --chdir "$ROOT" bench.flask_chat:app
    pid=$SPID
    R[gunicorn:pid]=$pid
    wait_first_200 "$PORT" "$pid" || die "gunicorn did not start: $(tail -n 5 "$TMP/gunicorn.err" | tr '\n' ' ')"
    for ((i = 0; i < 100; i++)); do
        read -r -a pids <<<"$(gunicorn_tree)"
        ((${#pids[@]} >= 5)) && break
        sleep 0.1
    done
    st=$(chat_once "$PORT" "$TMP/gwarmup.json")
    if [[ $st != 200 ]] || ! grep -q "$MARK" "$TMP/gwarmup.json"; then
        die "gunicorn: the warm-up chat answered $st: $(head -c 300 "$TMP/gwarmup.json") $(tail -n 5 "$TMP/gunicorn.err")"
    fi
    sleep 1
    # shellcheck disable=SC2046
    R[gunicorn:idle_rss]=$(rss_of $(gunicorn_tree))
    R[gunicorn:nprocs]=${#pids[@]}
    log "gunicorn: warm-up chat answered; idle RSS $(mib "${R[gunicorn:idle_rss]}") over ${#pids[@]} processes"
    log "gunicorn: wrk -t1 -c$NCONNS -d${DURATION}s POST /api/v2/agent/chat"
    load gunicorn "$PORT" gunicorn_tree
    R[gunicorn:fake_requests]=$(fake_stat requests)
    # Requests still queued in the kernel would keep the workers busy for
    # minutes after the run: stop now.
    stop_server "$pid"
    R[gunicorn:stop]="SIGTERM → exit in $STOP_MS ms, status $STOP_RC"
    stop_server "$FPID"
    cp "$FLOG" "$RAW/fake-gunicorn.stats"
    cp "$TMP/gunicorn.err" "$RAW/gunicorn.err"
}

# ------------------------------------------------------------------ run
SHMDIR=
if [[ " ${SERVERS[*]} " == *" lexiaid-shm "* ]]; then
    [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] || die "lexiaid-shm needs /dev/shm on tmpfs"
    SHMDIR=$(mktemp -d /dev/shm/lexiaid-bench.XXXXXX)
fi
trap '[[ -n $SHMDIR ]] && rm -rf "$SHMDIR"; cleanup' EXIT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
start_keys keys 0
log "mode: $( ((QUICK)) && echo quick || echo full): $DURATION s of load per server, $NCONNS connections, model latency $DELAY_S s; open files $NOFILE"
for s in "${SERVERS[@]}"; do
    case $s in
    lexiaid) bench_lexiaid lexiaid "$TMP/data" ;;
    lexiaid-shm) bench_lexiaid lexiaid-shm "$SHMDIR/data" ;;
    gunicorn) bench_gunicorn ;;
    *) die "unknown server '$s' in LX_BENCH_SERVERS (lexiaid lexiaid-shm gunicorn)" ;;
    esac
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
label() {
    case $1 in
    lexiaid) echo "lexiaid, 1 worker, SQLite on disk" ;;
    lexiaid-shm) echo "lexiaid, 1 worker, SQLite on tmpfs" ;;
    gunicorn) echo "gunicorn + Flask, 4 sync workers" ;;
    esac
}
fmt() { [[ -n $1 ]] && awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }' || echo "—"; }
rps() { # NAME -> answers per second over wrk's run
    awk -v n="${R[$1:answered]:-}" -v d="${R[$1:duration_s]:-}" 'BEGIN { if (n == "" || d == "" || d == 0) print ""; else printf "%.1f", n / d }'
}
# model_rate STATSLOG: the provider's answers per 5 s window of the run, from
# the first call after the warm-up on (bench/fake_llm.py's timeline).
model_rate() {
    awk -v n="$((DURATION / 5))" '$4 > 1 && !t0 { t0 = $1; a0 = $5 } t0 { w = int(($1 - t0) / 5000); last[w] = $5 }
        END { prev = a0; for (i = 0; i < n && i in last; i++) { printf "%s%d", (i ? ", " : ""), last[i] - prev; prev = last[i] } }' "$1"
}
secs() { [[ -n $1 ]] && awk -v v="$1" 'BEGIN { printf "%.2f s", v / 1000 }' || echo "—"; }

report() {
    local cpu rev s ideal rg
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev+=" (with local changes)"
    ideal=$(awk -v c="$NCONNS" -v d="$DELAY_S" 'BEGIN { printf "%.0f", c / d }')
    echo "# lexiaid tutoring bench (slow AI calls): $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Load: \`wrk -t1 -c$NCONNS -d${DURATION}s --timeout $((DURATION + 30))s\` POST /api/v2/agent/chat {\"query\": \"...\"} with a signed token (bench/tutoring.lua); no document"
    echo "- Provider: bench/fake_llm.py (asyncio), every chat completion answered after $DELAY_S s; ideal throughput = connections ÷ latency = $ideal req/s"
    echo "- lexiaid: 1 worker, auth (RS256), storage on SQLite (WAL, synchronous=FULL) in a scratch data dir on disk (and, lexiaid-shm, on tmpfs), tutoring provider openai at the fake; gunicorn: 4 sync workers, --timeout 120, bench/flask_chat.py (urllib)"
    echo "- Machine: $(nproc) CPUs ($cpu), kernel $(uname -r); repository $rev; open-file limit $NOFILE"
    echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END"
    echo
    echo "| server | answered | req/s | ÷ ideal ($ideal) | non-2xx | socket errors (c/r/w) | > $((SLOW_MS / 1000)) s | waiting at the end | p50 | p90 | p99 | max | server CPU/answer |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in "${SERVERS[@]}"; do
        local r
        r=$(rps "$s")
        printf '| %s | %s | %s | %s | %s | %s/%s/%s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$s")" \
            "$(num "${R[$s:answered]:-}")" "$(fmt "$r")" \
            "$(awk -v r="$r" -v i="$ideal" 'BEGIN { if (r == "") print "—"; else printf "%.1f%%", 100 * r / i }')" \
            "${R[$s:status_other]:-—}" "${R[$s:errors_connect]:-—}" "${R[$s:errors_read]:-—}" "${R[$s:errors_write]:-—}" \
            "$(num "${R[$s:slow]:-}")" "$(num "${R[$s:waiting]:-}")" \
            "$(secs "${R[$s:p50_ms]:-}")" "$(secs "${R[$s:p90_ms]:-}")" "$(secs "${R[$s:p99_ms]:-}")" "$(secs "${R[$s:max_ms]:-}")" \
            "$(awk -v t="${R[$s:cpu_ticks]:-}" -v hz="$CLK_TCK" -v n="${R[$s:answered]:-0}" 'BEGIN {
                if (t == "" || n == 0) print "—"; else printf "%.2f ms", t / hz / n * 1000 }')"
    done
    echo
    echo "| server | idle RSS | RSS under load: median / peak | calls waiting at the provider (median / peak) | RSS per request in flight |"
    echo "|---|---|---|---|---|"
    for s in lexiaid lexiaid-shm; do
        [[ -n ${R[$s:peak_rss]:-} ]] || continue
        printf '| %s (the worker) | %s | %s / %s | %s / %s | %s |\n' "$(label "$s")" "$(mib "${R[$s:idle_rss]}")" \
            "$(mib "${R[$s:med_rss]}")" "$(mib "${R[$s:peak_rss]}")" \
            "${R[$s:fake_med_inflight]:-—}" "${R[$s:fake_peak]:-—}" \
            "$(awk -v p="${R[$s:peak_rss]}" -v m="${R[$s:med_rss]}" -v i="${R[$s:idle_rss]}" -v c="$NCONNS" 'BEGIN {
                printf "%.1f KiB: (peak − idle) ÷ %d (%.1f KiB by the median)", (p - i) / c, c, (m - i) / c }')"
    done
    if [[ -n ${R[gunicorn:peak_rss]:-} ]]; then
        printf '| %s (master + workers, %s processes) | %s | %s / %s | %s / %s | %s |\n' "$(label gunicorn)" "${R[gunicorn:nprocs]}" \
            "$(mib "${R[gunicorn:idle_rss]}")" "$(mib "${R[gunicorn:med_rss]}")" "$(mib "${R[gunicorn:peak_rss]}")" \
            "${R[gunicorn:fake_med_inflight]:-—}" "${R[gunicorn:fake_peak]:-—}" \
            "$(awk -v p="${R[gunicorn:peak_rss]}" -v c=4 'BEGIN {
                printf "%.1f MiB: the whole tree ÷ the 4 requests it holds (the others wait in the kernel)", p / 1024 / c }')"
    fi
    echo
    echo "Ratios (compare within one run):"
    echo
    rg=$(rps gunicorn)
    for s in lexiaid lexiaid-shm; do
        [[ -n ${R[$s:pid]:-} ]] || continue
        local rl
        rl=$(rps "$s")
        if [[ -n $rl && -n $rg ]]; then
            awk -v l="$(label "$s")" -v a="$rl" -v b="$rg" 'BEGIN { if (b > 0) printf "- throughput %s ÷ gunicorn: %.0f× (%.1f ÷ %.1f req/s)\n", l, a / b, a, b }'
        else
            echo "- throughput $(label "$s") ÷ gunicorn: n/a (a server was not run or failed)"
        fi
        if [[ -n ${R[$s:peak_rss]:-} && -n ${R[gunicorn:peak_rss]:-} ]]; then
            awk -v l="$(label "$s")" -v p="${R[$s:peak_rss]}" -v lt="${R[$s:idle_rss_tree]}" -v li="${R[$s:idle_rss]}" \
                -v g="${R[gunicorn:peak_rss]}" -v c="$NCONNS" 'BEGIN {
                printf "- memory, %s: %d requests in flight in a worker of %.1f MiB at its peak (master + worker idle: %.1f MiB); gunicorn: 4 in %.1f MiB\n", l, c, p / 1024, lt / 1024, g / 1024
                if (p > li) printf "- memory per request in flight, %s: %.1f KiB against gunicorn'"'"'s %.1f MiB (%.0f× less)\n", l, (p - li) / c, g / 1024 / 4, (g / 4) / ((p - li) / c) }'
        fi
    done
    echo
    echo "Checks and notes:"
    echo
    for s in lexiaid lexiaid-shm; do
        [[ -n ${R[$s:pid]:-} ]] || continue
        echo "- $s: answers carrying the model's words: ${R[$s:marked]:-?} of ${R[$s:status_2xx]:-?} × 2xx; statuses in the access log: ${R[$s:access]:-?}"
        echo "- $s: model calls received by the provider during the run: ${R[$s:fake_requests]:-?}; peak waiting at once: ${R[$s:fake_peak]:-?}; CPU over the run: server ${R[$s:server_cpu]:-?} of a core, fake provider ${R[$s:fake_cpu]:-?}"
        echo "- $s: after wrk closed its $NCONNS connections: calls cancelled at the provider ${R[$s:fake_cancelled_at_end]:-?} → ${R[$s:fake_cancelled]:-?} (3 s later), still waiting there ${R[$s:fake_in_flight_after]:-?}"
        echo "- $s: the worker after the run: unchanged: ${R[$s:worker_same]:-?}; VmRSS 3 s after $(mib "${R[$s:after_rss]:-}"); a new chat then answered ${R[$s:after_chat]:-?}; database files: ${R[$s:db]:-?}"
        echo "- $s: model calls answered by the provider, per 5 s of the run: $(model_rate "$RAW/fake-$s.stats")"
        echo "- $s: ${R[$s:stop]:-?}; log lines at error: ${R[$s:log_errors]:-?}, at warn: ${R[$s:log_warns]:-?} (in bench/results/tutoring/)"
    done
    if [[ -n ${R[gunicorn:pid]:-} ]]; then
        echo "- gunicorn: model calls received by the provider during the run: ${R[gunicorn:fake_requests]:-?}; CPU over the run: server ${R[gunicorn:server_cpu]:-?} of a core, fake provider ${R[gunicorn:fake_cpu]:-?}; ${R[gunicorn:stop]:-?}"
        echo "- gunicorn: each sync worker holds one request for the model's $DELAY_S s; the other connections wait in the kernel's accept queue, so its latencies are bounded by the run's length, not by the server (steady state: $NCONNS ÷ (4 ÷ $DELAY_S s) = $(awk -v c="$NCONNS" -v d="$DELAY_S" 'BEGIN { printf "%.0f", c * d / 4 }') s)"
    fi
    echo "- \"waiting at the end\": requests sent and not answered when wrk stopped (wrk does not count them); \"> $((SLOW_MS / 1000)) s\": answered, but more than $((SLOW_MS / 1000)) s after they were sent (included in the percentiles)"
}

report | tee "$ROOT/bench/results/tutoring.md"
log "written to bench/results/tutoring.md (raw files in bench/results/tutoring/)"
exit 0
