#!/usr/bin/env bash
# Installs what building and testing Kiwi needs on Debian/Ubuntu, if it is missing:
# clang + libclang-dev (RocksDB's bindings), redis-server + redis-tools (the reference server
# for differential tests, redis-cli and redis-benchmark), prometheus (for promtool, which
# validates the admin API's /metrics in tests/admin.rs), tmux (drives `kiwictl top` in
# tests/kiwictl.rs), python3-venv and redis-py in a virtualenv under ~/.cache/kiwi/pyenv (the
# third-party client test, tests/real_clients.rs), and what the packaging test
# (tests/packaging.rs, packaging/test.sh) builds and checks packages with: dpkg-dev, adduser,
# systemd (systemd-analyze), help2man, lintian, rpm, wixl + msitools, xmllint, curl.
set -euo pipefail
missing=()
command -v clang >/dev/null || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v promtool >/dev/null || missing+=(prometheus)
command -v tmux >/dev/null || missing+=(tmux)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v adduser >/dev/null || missing+=(adduser)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v help2man >/dev/null || missing+=(help2man)
command -v lintian >/dev/null || missing+=(lintian)
command -v rpmbuild >/dev/null || missing+=(rpm)
command -v wixl >/dev/null || missing+=(wixl)
command -v msiinfo >/dev/null || missing+=(msitools)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
venv="$HOME/.cache/kiwi/pyenv"
if ! "$venv/bin/python" -c 'import redis' >/dev/null 2>&1; then
  echo "installing redis-py into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q redis || echo "warning: could not install redis-py; tests/real_clients.rs will fail"
fi
