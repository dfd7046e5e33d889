#!/usr/bin/env bash
# The release tarball and the build system as an operator meets them (run by
# scripts/test.sh; each check counts as one test):
#   1. `make distcheck` with the optional parts left out (--without-postgres
#      --disable-ocr --disable-dictation --disable-speech-pocketsphinx;
#      LX_DISTCHECK_FLAGS overrides): the tarball configures,
#      builds with -Werror, passes `make check` out of a read-only tree,
#      installs and uninstalls cleanly;
#   2. the tarball holds every file of the repository (`git ls-files`) but
#      .gitignore;
#   3. configure succeeds without cmocka, lexiaid builds, and a unit test
#      stops with a message naming libcmocka-dev.
#
# Usage: scripts/check-dist.sh BUILDDIR   (BUILDDIR is made afresh)
# Env:   LX_DISTCHECK_TIMEOUT  seconds for step 1 (default 2400: a bound, not a measure)
# Prints "N passed, N failed"; exits 1 when a check failed.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
[ "$#" -eq 1 ] || { echo "usage: $0 BUILDDIR" >&2; exit 2; }
build="$1"
rm -rf "$build"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
flags="${LX_DISTCHECK_FLAGS:---without-postgres --disable-ocr --disable-dictation --disable-speech-pocketsphinx}"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# ---------------------------------------------------------------- 1. distcheck
cd "$build"
if ! "$root/configure" --prefix=/usr/local >configure.log 2>&1; then
    tail -n 30 configure.log
    bad "configure (for make dist) failed"
    echo "$pass passed, $fail failed"
    exit 1
fi
echo "== make distcheck DISTCHECK_CONFIGURE_FLAGS='$flags'"
start=$(date +%s)
if timeout "${LX_DISTCHECK_TIMEOUT:-2400}" make -j"$(nproc)" distcheck \
    DISTCHECK_CONFIGURE_FLAGS="$flags" >distcheck.log 2>&1; then
    ok "make distcheck ($flags) in $(($(date +%s) - start)) s"
else
    rc=$?
    # the summary of the tarball's own `make check`, and the end of the log
    find . -path '*/_build/sub/test-suite.log' -exec sed -n '1,40p' {} \; 2>/dev/null
    tail -n 60 distcheck.log
    [ "$rc" -eq 124 ] && echo "(stopped after ${LX_DISTCHECK_TIMEOUT:-2400} s)"
    bad "make distcheck ($flags), exit $rc: see $build/distcheck.log"
fi

# ---------------------------------------------------------------- 2. the tarball's contents
tarball=$(ls "$build"/lexiaid-*.tar.gz 2>/dev/null | head -n 1)
if [ -z "$tarball" ]; then
    make dist >dist.log 2>&1 || true
    tarball=$(ls "$build"/lexiaid-*.tar.gz 2>/dev/null | head -n 1)
fi
if [ -z "$tarball" ]; then
    bad "no tarball: make dist failed (see $build/dist.log)"
elif ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
        bad "not a git checkout: cannot compare the tarball with the repository"
    else
        echo "skip the tarball's contents: not a git checkout"
    fi
else
    top=$(basename "$tarball" .tar.gz)
    tar tzf "$tarball" | sed -n "s|^$top/||p" | grep -v '/$' | sort >tarball.txt
    git -C "$root" ls-files | grep -v -x -e '.gitignore' | sort >repo.txt
    missing=$(comm -13 tarball.txt repo.txt)
    if [ -z "$missing" ]; then
        ok "the tarball holds every file of the repository ($(wc -l <repo.txt) files)"
    else
        echo "in the repository, not in $(basename "$tarball") (add them to EXTRA_DIST):"
        echo "$missing" | sed 's/^/  /'
        bad "the tarball lacks $(echo "$missing" | wc -l) file(s) of the repository"
    fi
fi

# ---------------------------------------------------------------- 3. no cmocka
nocm="$build/no-cmocka"
mkdir -p "$nocm/pc" "$nocm/build"
IFS=: read -r -a pcdirs <<<"$(pkg-config --variable pc_path pkg-config)"
for d in "${pcdirs[@]}"; do
    for pc in "$d"/*.pc; do
        [ -e "$pc" ] && [ "${pc##*/}" != cmocka.pc ] && [ ! -e "$nocm/pc/${pc##*/}" ] &&
            ln -s "$pc" "$nocm/pc/${pc##*/}"
    done
done
cd "$nocm/build"
if ! PKG_CONFIG_LIBDIR="$nocm/pc" "$root/configure" --enable-werror >configure.log 2>&1; then
    tail -n 20 configure.log
    bad "configure fails without cmocka (it must only warn)"
elif ! grep -q "cmocka not found: lexiaid builds, but .make check. needs it" configure.log; then
    bad "configure without cmocka does not say that make check needs it"
elif ! make -j"$(nproc)" >make.log 2>&1; then
    tail -n 20 make.log
    bad "lexiaid does not build without cmocka"
elif make tests/unit/test_env >unit.log 2>&1; then
    bad "a unit test built without cmocka"
elif ! grep -q "the unit tests need cmocka: apt-get install libcmocka-dev" unit.log; then
    tail -n 20 unit.log
    bad "a unit test without cmocka fails, but not with the message naming libcmocka-dev"
else
    ok "without cmocka: configure warns, lexiaid builds, the unit tests say what they need"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
