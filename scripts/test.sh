#!/usr/bin/env bash
# Builds lexiaid with -Werror, ASan and UBSan, and runs every test:
# the cmocka unit tests, the integration tests against the real binary, the
# out-of-tree SDK test, and each fuzzer for a bounded time.
#   LX_FUZZ_SECONDS   seconds per fuzzer (default 30; 0 skips fuzzing)
#   LX_CONTAINER_TESTS=1  also build and test the Docker image (tests/container/run.sh);
#                         on by default when CI=true, LX_CONTAINER_TESTS=0 turns it off
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/deps.sh --test
autoreconf -fi >/dev/null 2>&1
build="$root/_build-test"
rm -rf "$build"
mkdir -p "$build"
cd "$build"
../configure --enable-werror --enable-sanitizers --prefix=/usr/local >/dev/null
make -j"$(nproc)"
# A real PostgreSQL server for the storage tests (scripts/pg-test.sh): the
# unit test of the store uses LX_TEST_PG_URL itself; the second pass below
# runs the storage suites against it.
pgdir=""
if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    pgdir=$(mktemp -d /tmp/lexiaid-pg.XXXXXX)
    trap '"$root/scripts/pg-test.sh" stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
    LX_TEST_PG_URL=$("$root/scripts/pg-test.sh" start "$pgdir")
    export LX_TEST_PG_URL
fi
status=0
make -j2 check || status=$?
# the summary a person (and CI) reads
if [ -f test-suite.log ]; then
    sed -n '1,12p' test-suite.log
fi
# Test cases, not just test programs: cmocka and unittest say how many ran
# (unittest's skipped cases are counted as skipped, not passed).
pass=0
fail=0
skip=0
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
    SKIP) skip=$((skip + 1)) ;;
    *)
        fail=$((fail + ${nfail:-1}))
        echo "==== $log${2:+ ($2)}"
        tail -n 60 "$log"
        ;;
    esac
}
for trs in $(find . -name '*.trs'); do
    count "$trs"
done
# The storage and tutoring suites again, on PostgreSQL (tests/unit/test_storage_store
# already ran both backends above, with LX_TEST_PG_URL).
if [ -n "$pgdir" ]; then
    pg_tests="tests/integration/test_storage_docs.py tests/integration/test_storage_users.py tests/integration/test_storage_svc.py tests/integration/test_tutoring_chat.py tests/integration/test_tutoring_answer.py tests/integration/test_tutoring_providers.py tests/integration/test_tutoring_stream.py"
    echo "== the storage and tutoring suites on PostgreSQL"
    pg_status=0
    LX_TEST_STORAGE=postgres make -j2 check TESTS="$pg_tests" TEST_SUITE_LOG=test-suite-pg.log || pg_status=$?
    if [ -f test-suite-pg.log ]; then
        sed -n '1,12p' test-suite-pg.log
    fi
    for t in $pg_tests; do
        if [ -f "${t%.py}.trs" ]; then count "${t%.py}.trs" PostgreSQL; else fail=$((fail + 1)); fi
    done
    [ "$pg_status" -eq 0 ] || status=1
fi
if [ "$pass" -eq 0 ]; then
    echo "no test ran" >&2
    status=1
fi
cd "$root"
fuzz_secs="${LX_FUZZ_SECONDS:-30}"
if [ "$fuzz_secs" != "0" ]; then
    if tests/fuzz/run.sh "$fuzz_secs"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        status=1
    fi
fi
# The container: a real image built and run by a real engine (a few minutes cold).
if [ "${LX_CONTAINER_TESTS:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}" = "1" ]; then
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
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"
