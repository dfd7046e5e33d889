#!/bin/sh
# The plugins' default helper programs are where `make install` puts them:
# storage's lexiaid-extract and speech's lexiaid-speech under this build's
# pkglibexecdir (the quick start installs under ./_inst, where a default of
# /usr/local/... would leave extraction and speech off). The plugins are
# built without the core's flags, so each needs the path given to it.
# Exit 0 on success, 1 on failure.

set -u
: "${LX_BUILDDIR:?LX_BUILDDIR is not set}"
n_fail=0

# The build's pkglibexecdir, as make expands it.
dir=$(env -u MAKEFLAGS -u MFLAGS make -s -C "$LX_BUILDDIR" --no-print-directory -f Makefile -f - lx-print-pkglibexecdir <<'MK'
lx-print-pkglibexecdir:
	@echo $(pkglibexecdir)
MK
)
dir=$(printf '%s\n' "$dir" | tail -n 1) # after anything make said while it looked
[ -n "$dir" ] || { echo "FAIL: cannot read pkglibexecdir from $LX_BUILDDIR/Makefile"; exit 1; }

check() { # check PLUGIN.so PROGRAM
    so="$LX_BUILDDIR/plugins/$1/.libs/$1.so"
    if grep -aq "$dir/$2" "$so"; then
        echo "ok: $1.so runs $dir/$2 by default"
    else
        echo "FAIL: $1.so does not name $dir/$2 (its default: $(strings "$so" | grep "/$2\$" | head -1))"
        n_fail=$((n_fail + 1))
    fi
}
check storage lexiaid-extract
check speech lexiaid-speech
[ "$n_fail" -eq 0 ]
