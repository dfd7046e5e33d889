#!/usr/bin/env bash
# Builds lexiaid with -Werror, ASan and UBSan, and runs every test:
# the cmocka unit tests, the integration tests against the real binary, the
# out-of-tree SDK test, and each fuzzer for a bounded time.
#   LX_FUZZ_SECONDS   seconds per fuzzer (default 30; 0 skips fuzzing)
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
status=0
make -j2 check || status=$?
# the summary a person (and CI) reads
if [ -f test-suite.log ]; then
    sed -n '1,12p' test-suite.log
fi
count() { cat $(find . -name '*.trs') /dev/null | grep -c -E "^:test-result: ($1)" || true; }
pass=$(count PASS)
fail=$(count 'FAIL|ERROR|XPASS')
skip=$(count SKIP)
if [ "$status" -ne 0 ]; then
    for f in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') || true); do
        echo "==== ${f%.trs}.log"
        tail -n 60 "${f%.trs}.log"
    done
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
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"
