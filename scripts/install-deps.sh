#!/usr/bin/env bash
# Installs what building and testing Kiwi needs on Debian/Ubuntu, if it is missing:
# clang + libclang-dev (RocksDB's bindings), redis-server + redis-tools (the reference server
# for differential tests, redis-cli and redis-benchmark).
set -euo pipefail
missing=()
command -v clang >/dev/null || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-tools)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
