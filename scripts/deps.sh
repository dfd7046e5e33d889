#!/usr/bin/env bash
# Installs what lexiaid needs on Debian 12, with apt-get, if it is missing.
#   scripts/deps.sh          build and run dependencies (and curl, which
#                            scripts/run.sh and scripts/token.sh use)
#   scripts/deps.sh --test   also what the tests, fuzzers and benchmarks use
set -euo pipefail

pkgs=(build-essential autoconf automake libtool pkg-config
      libevent-dev libwslay-dev libjson-c-dev libcurl4-openssl-dev libsqlite3-dev libconfig-dev
      libssl-dev libcmocka-dev libpq-dev libpoppler-glib-dev libzip-dev libxml2-dev
      libtesseract-dev libleptonica-dev tesseract-ocr-eng flite1-dev libespeak-ng-dev libmp3lame-dev
      libopus-dev libogg-dev libspeexdsp-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
      python3 ca-certificates curl)
if [ "${1:-}" = "--test" ]; then
    # ffmpeg: ffprobe and ffmpeg check the speech plugin's MP3 and convert the dictation
    # tests' audio; espeak-ng and flite speak it (test-only tools)
    pkgs+=(clang libclang-rt-14-dev libtsan2 procps iproute2 python3-yaml openssl
           postgresql python3-pil fonts-dejavu-core chromium chromium-driver python3-websockets
           espeak-ng flite ffmpeg)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
check_node() {
    # The Firebase Auth Emulator tests need Node.js >= 20 and npm (the
    # machine's own; Debian 12's nodejs is 18, too old for firebase-tools 15).
    if [ "${1:-}" = "--test" ]; then
        local v
        v=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')
        if [ -z "$v" ] || [ "$v" -lt 20 ] || ! command -v npm >/dev/null; then
            echo "deps: the emulator tests need Node.js >= 20 with npm (found: ${v:-none})" >&2
        fi
    fi
}
if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: everything is installed"
    check_node "${1:-}"
    exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
check_node "${1:-}"
