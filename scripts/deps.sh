#!/usr/bin/env bash
# Installs what lexiaid needs on Debian 12, with apt-get, if it is missing.
#   scripts/deps.sh          build and run dependencies
#   scripts/deps.sh --test   also what the tests, fuzzers and benchmarks use
set -euo pipefail

pkgs=(build-essential autoconf automake libtool pkg-config
      libevent-dev libjson-c-dev libcurl4-openssl-dev libsqlite3-dev libconfig-dev
      libssl-dev libcmocka-dev python3 ca-certificates)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(clang libclang-rt-14-dev curl procps iproute2)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: everything is installed"
    exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
