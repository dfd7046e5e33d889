#!/usr/bin/env bash
# Quick start: installs what is missing, builds, installs under ./_inst and
# starts lexiaid on its embedded defaults at http://127.0.0.1:5000
# (LEXIAID_LISTEN and the other variables of etc/lexiaid.conf still apply).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --prefix="$root/_inst"
make -j"$(nproc)"
make install >/dev/null
cd "$root"
export LEXIAID_LISTEN="${LEXIAID_LISTEN:-127.0.0.1:5000}"
echo "lexiaid: serving on http://$LEXIAID_LISTEN (Ctrl-C stops it)"
exec "$root/_inst/bin/lexiaid" -c "$root/_inst/etc/lexiaid/lexiaid.conf"
