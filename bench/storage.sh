#!/usr/bin/env bash
# bench/storage.sh: the storage plugin before and after a change, side by
# side in one run, on SQLite and on PostgreSQL (bench/storage_bench.py does
# the measuring; see docs/performance.md, "Storage: before and after").
#
#   uploads   8 clients uploading 20 KB text files (the answer waits for the
#             text, as the frontend's does): uploads/s, p50, p99; one alone
#   chat      4 clients, each on its own 50-turn thread about a document,
#             the fake model answering at once: turns/s, p50, p99, and the
#             CPU ms per turn of lexiaid, PostgreSQL, the model and the client.
#             Driven by wrk (bench/storage_chat.lua: -t4 -c4, one connection
#             per user, a short warm-up, then 10 s; 5 s with --quick); any
#             non-2xx answer or socket error fails the run
#   growth    p50 as the data grows: the document list and one document for
#             a user with 10/1,000/10,000 documents; a passage search and a
#             chat turn over 1/10/100 MB of a user's text; the history page
#             and a chat turn on a thread of 10/1,000/10,000 turns; the
#             profile and the list with 100,000 users in the table
#
# Usage: bench/storage.sh [--quick]
#   --quick   fewer requests, one round, and 1/10 MB of text only
#
# Environment:
#   LX_BENCH_BEFORE  the "before" revision (default 30d6ad8: the storage
#                    plugin as issue 14 found it)
#   LX_BENCH_AFTER   the "after" revision (default HEAD; local changes are
#                    not included: commit first)
#   LX_BENCH_PG=0    skip PostgreSQL (default: on when scripts/pg-test.sh
#                    finds a server; a throwaway cluster in the scratch dir)
#   LX_BENCH_SQLITE=0  skip SQLite
#   LX_BENCH_ROUNDS  rounds per backend (default 3; --quick 1): before and
#                    after run alternately, each figure is the median of
#                    its rounds (the machine's other load moves single runs)
#   LX_BENCH_PARTS   which parts to measure (default "uploads chat growth");
#                    e.g. LX_BENCH_PARTS=chat LX_BENCH_ROUNDS=7 for the chat
#                    figure alone with more rounds
#   LX_BENCH_KEEP=1  keep the scratch directory (builds, fixtures, logs)
#
# Each revision is exported with `git archive` into a scratch directory and
# built there the same way (configure without sanitizers, -O2, make -j2),
# with the storage_client test plugin for the passage search. The fake
# model is bench/fake_model.c (libevent, one process), built here with
# gcc -O2 so that it costs little next to the server; bench/fake_llm.py
# stays for bench/tutoring.sh. The data of every run is made once per
# backend by direct SQL into the migrated schema and copied for each
# revision, so both see the same rows. Everything runs on 127.0.0.1; it
# needs python3 with `cryptography`, git, gcc, pkg-config and libevent's
# headers, wrk, psql (for PostgreSQL), and installs nothing. It measures,
# it does not judge.
#
# Output: a markdown report on stdout and in bench/results/storage.md;
# progress on stderr.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BEFORE=${LX_BENCH_BEFORE:-30d6ad8}
AFTER=${LX_BENCH_AFTER:-HEAD}
QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

command -v python3 >/dev/null || die "needs python3"
python3 -c 'import cryptography' 2>/dev/null || die "needs python3's cryptography (python3-cryptography)"
command -v wrk >/dev/null || die "needs wrk"
pkg-config --exists libevent || die "needs libevent's headers (libevent-dev) and pkg-config"
BEFORE_REV=$(git -C "$ROOT" rev-parse --short "$BEFORE^{commit}") || die "no revision $BEFORE"
AFTER_REV=$(git -C "$ROOT" rev-parse --short "$AFTER^{commit}") || die "no revision $AFTER"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lexiaid-storage-bench.XXXXXX")
PGDIR=''
cleanup() {
    if [[ -n $PGDIR ]]; then "$ROOT/scripts/pg-test.sh" stop "$PGDIR" >/dev/null 2>&1 || true; fi
    if [[ ${LX_BENCH_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP" "$PGDIR"; fi
}
trap cleanup EXIT

# build NAME REV: exports REV and builds it in $TMP/NAME/_build.
build() {
    local name=$1 rev=$2 src=$TMP/$1
    log "$name: building $rev"
    mkdir -p "$src"
    git -C "$ROOT" archive "$rev" | tar -x -C "$src"
    (
        cd "$src" && autoreconf -fi >/dev/null 2>&1 && mkdir -p _build && cd _build &&
            ../configure --prefix=/usr/local >"$TMP/$name-configure.log" 2>&1 &&
            nice make -j2 >"$TMP/$name-make.log" 2>&1 &&
            nice make -j2 tests/plugins/storage_client.la >>"$TMP/$name-make.log" 2>&1
    ) || die "$name: the build failed (see $TMP/$name-make.log; LX_BENCH_KEEP=1 keeps it)"
}

build before "$BEFORE_REV"
build after "$AFTER_REV"
log "building fake_model (gcc -O2)"
# shellcheck disable=SC2046
gcc -std=c11 -O2 -Wall -Wextra -o "$TMP/fake_model" "$ROOT/bench/fake_model.c" \
    $(pkg-config --cflags --libs libevent) || die "cannot build bench/fake_model.c"

BACKENDS=()
[[ ${LX_BENCH_SQLITE:-1} != 0 ]] && BACKENDS+=(sqlite)
PG_URL=''
if [[ ${LX_BENCH_PG:-1} != 0 ]] && "$ROOT/scripts/pg-test.sh" bindir >/dev/null 2>&1; then
    PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/lexiaid-bench-pg.XXXXXX")
    PG_URL=$("$ROOT/scripts/pg-test.sh" start "$PGDIR" | sed 's/ dbname=[^ ]*//')
    BACKENDS+=(postgres)
fi

FIX=()
((QUICK)) && FIX=(--text-mb "1 10" --users 20000)
# no growth figures: only the chat clients' and uploaders' data
[[ " ${LX_BENCH_PARTS:-growth} " == *" growth "* ]] || FIX=(--text-mb "" --docs "" --turns "" --users 0)
RUN=(--parts "${LX_BENCH_PARTS:-uploads chat growth}")
((QUICK)) && RUN+=(--quick)
ROUNDS=${LX_BENCH_ROUNDS:-3}
((QUICK)) && ROUNDS=${LX_BENCH_ROUNDS:-1}
((${#BACKENDS[@]})) || die "no backend to measure"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for be in "${BACKENDS[@]}"; do
    log "$be: fixtures"
    # The data in the "before" build's schema: the "after" build migrates its
    # copy forward at start, while the older one refuses a newer schema.
    python3 "$ROOT/bench/storage_bench.py" fixtures --backend "$be" --dir "$TMP/$be" \
        --pg-url "$PG_URL" --build "$TMP/before/_build" --fake-model "$TMP/fake_model" "${FIX[@]}"
    for ((round = 1; round <= ROUNDS; round++)); do
        for label in before after; do
            log "$be: $label, round $round/$ROUNDS"
            python3 "$ROOT/bench/storage_bench.py" run --backend "$be" --dir "$TMP/$be" \
                --pg-url "$PG_URL" --build "$TMP/$label/_build" --label "$label" \
                --out "$TMP/$be-$label-$round.json" --fake-model "$TMP/fake_model" "${RUN[@]}"
        done
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

report() {
    echo "# lexiaid storage bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- before: $BEFORE_REV; after: $AFTER_REV; both built with -O2, no sanitizers"
    echo "- $( ((QUICK)) && echo quick || echo full) run, median of $ROUNDS round(s) (before and after alternately); lexiaid 2 workers; machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), kernel $(uname -r)"
    echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END"
    echo
    python3 - "$TMP" "$( ((QUICK)) && echo 20,000 || echo 100,000)" "${BACKENDS[@]}" <<'EOF'
import glob, json, statistics, sys
tmp, users, backends = sys.argv[1], sys.argv[2], sys.argv[3:]


def load(be, label):
    """{figure: median over the rounds}"""
    runs = [json.load(open(f)) for f in sorted(glob.glob("%s/%s-%s-*.json" % (tmp, be, label)))]
    keys = {k for r in runs for k, v in r.items() if isinstance(v, (int, float))}
    return {k: statistics.median([r[k] for r in runs if r.get(k) is not None]) for k in keys}

rows = [
    ("8 clients upload 20 KB text: uploads/s", "upload_rate", "/s"),
    ("  p50", "upload_p50", "ms"), ("  p99", "upload_p99", "ms"),
    ("one upload alone: p50", "upload_alone_p50", "ms"),
    ("chat, 4 clients on 50-turn threads, 0 s model: turns/s", "chat_rate", "/s"),
    ("  p50", "chat_p50", "ms"), ("  p99", "chat_p99", "ms"),
    ("  CPU per turn: lexiaid (master, workers, their children)", "chat_cpu_lexiaid", "cpu"),
    ("  CPU per turn: PostgreSQL (the server's processes)", "chat_cpu_pg", "cpu"),
    ("  CPU per turn: the fake model (bench/fake_model.c)", "chat_cpu_model", "cpu"),
    ("  CPU per turn: the client (wrk)", "chat_cpu_client", "cpu"),
]
for n in ("10", "1000", "10000"):
    rows += [("document list, %s documents: p50" % n, "docs%s_list" % n, "ms"),
             ("one document, %s documents: p50" % n, "docs%s_get" % n, "ms")]
for mb in ("1", "10", "100"):
    rows += [("passage search, %s MB of text: p50" % mb, "text%s_search" % mb, "ms"),
             ("chat turn on a document, %s MB of text: p50" % mb, "text%s_chat" % mb, "ms")]
for n in ("10", "1000", "10000"):
    rows += [("history page, thread of %s turns: p50" % n, "turns%s_history" % n, "ms"),
             ("chat turn, thread of %s turns: p50" % n, "turns%s_chat" % n, "ms")]
rows += [("profile, few users: p50", "users_few_profile", "ms"),
         ("profile, %s users: p50" % users, "users_many_profile", "ms"),
         ("document list, few users: p50", "users_few_list", "ms"),
         ("document list, %s users: p50" % users, "users_many_list", "ms")]
for be in backends:
    b, a = load(be, "before"), load(be, "after")
    print("### %s\n" % be)
    print("| figure | before | after | after ÷ before |")
    print("|---|---|---|---|")
    for name, key, unit in rows:
        if key not in b and key not in a:
            continue
        def f(v):
            if v is None:
                return "—"
            return {"/s": "%.1f /s", "cpu": "%.2f ms"}.get(unit, "%.1f ms") % v
        x, y = b.get(key), a.get(key)
        r = "—" if not x or y is None else "%.2f" % (y / x)
        print("| %s | %s | %s | %s |" % (name, f(x), f(y), r))
    # the chat rate round by round (before and after ran one after the
    # other): how far the machine's other load moved single rounds
    rb = [json.load(open(f)).get("chat_rate") for f in sorted(glob.glob("%s/%s-before-*.json" % (tmp, be)))]
    ra = [json.load(open(f)).get("chat_rate") for f in sorted(glob.glob("%s/%s-after-*.json" % (tmp, be)))]
    if len(rb) == len(ra) and all(rb + ra) and len(rb) > 1:
        print("Chat turns/s by round (before -> after): " + ", ".join(
            "%.0f -> %.0f (%.2fx)" % (x, y, y / x) for x, y in zip(rb, ra)) +
            "; median of the rounds' ratios %.2fx (each round's pair ran back to back, so a"
            " drift of the machine's speed during the run moves both of a pair)\n" %
            statistics.median([y / x for x, y in zip(rb, ra)]))
    print()
EOF
}

mkdir -p "$ROOT/bench/results"
report | tee "$ROOT/bench/results/storage.md"
log "written to bench/results/storage.md"
