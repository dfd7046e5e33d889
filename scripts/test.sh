#!/usr/bin/env bash
# The full CI run (.ci/run), in this order:
#   1. ASan + UBSan build with -Werror: every test (the cmocka unit tests, the
#      integration tests against the real binary, the out-of-tree SDK test,
#      the build checks), then the storage and tutoring suites again on a
#      throwaway PostgreSQL server (scripts/pg-test.sh);
#   2. ThreadSanitizer build: the logging, offload, storage, tutoring and speech suites
#      (unit and integration), on SQLite and on PostgreSQL;
#   3. the release tarball: `make distcheck` with --without-postgres
#      --disable-ocr --disable-dictation --disable-speech-pocketsphinx, its
#      contents against the repository, a build without
#      cmocka (scripts/check-dist.sh);
#   4. each fuzzer for a bounded time;
#   5. the container image with a real engine (CI, or LX_CONTAINER_TESTS=1).
# Under CI=true a missing dependency (the PostgreSQL server, Node.js for the
# Auth Emulator, python3-pil, ...) is a failure, never a skip.
#   LX_FUZZ_SECONDS   seconds per fuzzer (default 30; 0 skips fuzzing)
#   LX_TSAN=0         skips step 2;  LX_DISTCHECK=0 skips step 3 (not under CI)
#   LX_CONTAINER_TESTS=1  also build and test the Docker image (tests/container/run.sh);
#                         on by default when CI=true, LX_CONTAINER_TESTS=0 turns it off
# Ends with "N passed, N failed, N skipped" (test cases, not programs) and the
# time each step took; exits non-zero when anything failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
t_start=$(date +%s)
ci=0
[ "${CI:-}" = true ] && ci=1
scripts/deps.sh --test
autoreconf -fi >/dev/null 2>&1

status=0
pass=0
fail=0
skip=0
times=()
step_start=$t_start
step_done() { # step_done NAME: records the time since the last step
    local now
    now=$(date +%s)
    times+=("$1 $((now - step_start)) s")
    step_start=$now
}
# Test cases, not just test programs: cmocka and unittest say how many ran
# (unittest's skipped cases are counted as skipped, not passed).
count() { # count TRS [LABEL]: adds the test cases of one test program
    local trs=$1 log result n nfail nskip
    log="${trs%.trs}.log"
    result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
    n=$(sed -n -e 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' -e 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1)
    nfail=$(sed -n -e 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    nskip=$(sed -n 's/^OK (.*skipped=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$n" ] || n=1
    case "$result" in
    PASS) pass=$((pass + n - ${nskip:-0})); skip=$((skip + ${nskip:-0})) ;;
    SKIP)
        skip=$((skip + 1))
        grep -h '^SKIP' "$log" | sed "s|^|  $log${2:+ ($2)}: |" || true
        ;;
    *)
        fail=$((fail + ${nfail:-1}))
        echo "==== $log${2:+ ($2)}"
        tail -n 60 "$log"
        ;;
    esac
}
missing() { # missing WHAT: a dependency is not there (a failure under CI)
    if [ "$ci" = 1 ]; then
        echo "FAIL: $1 (CI=true: a missing dependency is a failure, not a skip)" >&2
        fail=$((fail + 1))
        status=1
    else
        echo "note: $1: skipped" >&2
        skip=$((skip + 1))
    fi
}

# The Auth Emulator's npm install (~240 MB), shared by the builds of this run.
export LX_AUTH_EMULATOR_CACHE="${LX_AUTH_EMULATOR_CACHE:-$root/_build-emulator}"

# ---------------------------------------------------------------- a PostgreSQL server
# One throwaway server for the whole run (scripts/pg-test.sh): the unit test of
# the store uses LX_TEST_PG_URL itself; the PostgreSQL passes below run the
# storage and tutoring suites against it.
pgdir=""
if pgbin=$(scripts/pg-test.sh bindir 2>/tmp/lexiaid-pg-bindir.$$); then
    pgdir=$(mktemp -d /tmp/lexiaid-pg.XXXXXX)
    trap '"$root/scripts/pg-test.sh" stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
    LX_TEST_PG_URL=$(LX_PG_BINDIR="$pgbin" "$root/scripts/pg-test.sh" start "$pgdir")
    export LX_TEST_PG_URL
else
    missing "$(cat /tmp/lexiaid-pg-bindir.$$)"
fi
rm -f /tmp/lexiaid-pg-bindir.$$
pg_tests="tests/integration/test_storage_docs.py tests/integration/test_storage_users.py tests/integration/test_storage_svc.py tests/integration/test_tutoring_chat.py tests/integration/test_tutoring_answer.py tests/integration/test_tutoring_providers.py tests/integration/test_tutoring_stream.py tests/integration/test_frontend_accounts.py"

# check_in BUILDDIR LABEL TESTS: make check (TESTS empty: all of them) and counts.
check_in() {
    local dir=$1 label=$2 tests=$3 log=test-suite-$2.log st=0
    cd "$dir"
    if [ -n "$tests" ]; then
        make -j2 check TESTS="$tests" TEST_SUITE_LOG="$log" || st=$?
    else
        make -j2 check TEST_SUITE_LOG="$log" || st=$?
    fi
    [ -f "$log" ] && sed -n '1,12p' "$log"
    if [ -n "$tests" ]; then
        for t in $tests; do
            if [ -f "${t%.*}.trs" ]; then count "${t%.*}.trs" "$label"; else fail=$((fail + 1)); fi
        done
    else
        for trs in $(find . -name '*.trs'); do count "$trs" "$label"; done
    fi
    [ "$st" -eq 0 ] || status=1
    cd "$root"
}

# ---------------------------------------------------------------- 1. ASan + UBSan
build="$root/_build-test"
rm -rf "$build"
mkdir -p "$build"
(cd "$build" && ../configure --enable-werror --enable-sanitizers --prefix=/usr/local >/dev/null &&
    make -j"$(nproc)")
check_in "$build" asan ""
if [ -n "$pgdir" ]; then
    echo "== the storage and tutoring suites on PostgreSQL"
    # and the storage-under-faults suite, too slow for the TSan pass
    LX_TEST_STORAGE=postgres check_in "$build" asan-pg \
        "$pg_tests tests/integration/test_storage_faults.py tests/integration/test_storage_replicas.py"
fi
step_done "ASan+UBSan build and tests:"

# ---------------------------------------------------------------- 2. ThreadSanitizer
# The code that runs on more than one thread: logging from pool threads, the
# offload pool, the storage plugin's jobs and connection pool, the tutoring
# plugin over storage.v1, the speech plugin (its cache's jobs; in its helper,
# the engine's thread and the MP3 encoder's) (and the plugin boundary, which
# must also hold with the TSan runtime).
tsan_tests="tests/unit/test_offload tests/unit/test_storage_store tests/unit/test_storage_parse tests/unit/test_storage_extract tests/unit/test_tutoring_offline tests/unit/test_tutoring_llm tests/unit/test_tutoring_prompt tests/build/test_plugin_boundary.sh tests/integration/test_log.py tests/integration/test_plugins.py tests/integration/test_storage_docs.py tests/integration/test_storage_users.py tests/integration/test_storage_svc.py tests/integration/test_storage_extract.py tests/integration/test_storage_crash.py tests/integration/test_storage_backup.py tests/integration/test_tutoring_chat.py tests/integration/test_tutoring_answer.py tests/integration/test_tutoring_providers.py tests/integration/test_tutoring_stream.py tests/integration/test_speech_helper.py tests/integration/test_speech_tts.py tests/integration/test_speech_reply.py"
if [ "${LX_TSAN:-1}" != 0 ] || [ "$ci" = 1 ]; then
    tbuild="$root/_build-tsan"
    rm -rf "$tbuild"
    mkdir -p "$tbuild"
    (cd "$tbuild" && ../configure --enable-werror --enable-tsan --prefix=/usr/local >/dev/null &&
        make -j"$(nproc)")
    echo "== ThreadSanitizer: the logging, offload, storage and tutoring suites"
    check_in "$tbuild" tsan "$tsan_tests"
    if [ -n "$pgdir" ]; then
        echo "== ThreadSanitizer: the storage and tutoring suites on PostgreSQL"
        LX_TEST_STORAGE=postgres check_in "$tbuild" tsan-pg "$pg_tests"
    fi
    step_done "ThreadSanitizer build and tests:"
fi
if [ "$pass" -eq 0 ]; then
    echo "no test ran" >&2
    status=1
fi

# ---------------------------------------------------------------- 3. the tarball
if [ "${LX_DISTCHECK:-1}" != 0 ] || [ "$ci" = 1 ]; then
    dlog="$root/_build-test/check-dist.log"
    dstatus=0
    scripts/check-dist.sh "$root/_build-dist" 2>&1 | tee "$dlog" || dstatus=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$dlog" | tail -n 1 || true)
    if [ -n "$line" ]; then
        pass=$((pass + ${line%% passed*}))
        dfail=${line#*passed, }
        fail=$((fail + ${dfail%% failed*}))
    else
        fail=$((fail + 1))
    fi
    [ "$dstatus" -eq 0 ] || status=1
    step_done "make distcheck and the build checks:"
fi

# ---------------------------------------------------------------- 4. fuzzing
fuzz_secs="${LX_FUZZ_SECONDS:-30}"
if [ "$fuzz_secs" != "0" ]; then
    if tests/fuzz/run.sh "$fuzz_secs"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        status=1
    fi
    step_done "fuzzing:"
fi

# ---------------------------------------------------------------- 5. the container
if [ "${LX_CONTAINER_TESTS:-$([ "$ci" = 1 ] && echo 1 || echo 0)}" = "1" ]; then
    clog="$root/_build-test/container.log"
    cstatus=0
    tests/container/run.sh 2>&1 | tee "$clog" || cstatus=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$clog" | tail -n 1 || true)
    if [ -n "$line" ]; then
        cpass=${line%% passed*}
        cfail=${line#*passed, }
        cfail=${cfail%% failed*}
        pass=$((pass + cpass))
        fail=$((fail + cfail))
    fi
    if [ "$cstatus" -ne 0 ]; then
        [ -n "$line" ] && [ "$cfail" -gt 0 ] || fail=$((fail + 1))
        status=1
    fi
    step_done "container:"
fi
[ "$fail" -eq 0 ] || status=1
printf '%s\n' "${times[@]}"
echo "total: $(($(date +%s) - t_start)) s"
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"
