#!/usr/bin/env bash
# The packaging test (tests/packaging.rs runs it during `cargo test --release`): builds the
# .deb, .rpm and .tar.gz from the binaries the test run built, lints and inspects them, installs
# the .deb and runs kiwi the way its systemd unit would, upgrades in place, purges, tries the
# tarball's install.sh, and validates the unit, the WiX source and the launchd plist.
#
# Needs root (dpkg -i) and the tools scripts/install-deps.sh installs. Leaves the machine as it
# found it: kiwi stopped, the package purged (the kiwi system user stays, as after any purge),
# ports 7379/7380 free. Refuses to run when a kiwi package is installed or those ports are busy.
#
# Usage: packaging/test.sh BIN_DIR   (the directory holding kiwi, kiwictl and kiwi-bench)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin_dir=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
port=7379
unit_file=/lib/systemd/system/kiwi.service
conf=/etc/kiwi/kiwi.conf

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mode_of() { stat -c '%U:%G %a' "$1"; }

[ "$(id -u)" = 0 ] || fail "needs root (it installs a .deb)"
for tool in dpkg-deb lintian rpm rpmbuild help2man wixl msiinfo xmllint systemd-analyze setpriv \
  redis-cli curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/install-deps.sh"
done
if dpkg-query -W -f='${db:Status-Status}' kiwi 2>/dev/null | grep -qv '^not-installed$'; then
  fail "a kiwi package is already on this machine; this test installs and purges its own"
fi
for p in "$port" 7380; do
  ! port_busy "$p" || fail "port $p is in use; the packaged kiwi listens there, stop what holds it"
done

work=$(mktemp -d)
installer=""
pid=""
installed=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  case $installed in
    deb) dpkg -P kiwi >/dev/null 2>&1 || true ;;
    tar) "$installer" --uninstall --prefix "$work/prefix" --purge >/dev/null 2>&1 || true ;;
  esac
  rm -rf "$work"
}
trap cleanup EXIT

# Starts kiwi as the installed unit would: the unit's ExecStart, as its User/Group, with its
# UMask, from /. systemd is not PID 1 here, so the sandboxing options are not applied; they are
# checked by systemd-analyze instead.
start_kiwi() {
  local exec_start user group
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit_file")
  user=$(sed -n 's/^User=//p' "$unit_file")
  group=$(sed -n 's/^Group=//p' "$unit_file")
  # shellcheck disable=SC2086 # ExecStart is a command line: split it into words, as systemd does
  (cd / && umask "$(sed -n 's/^UMask=//p' "$unit_file")" &&
    exec setpriv --reuid="$user" --regid="$group" --init-groups -- $exec_start) &
  pid=$!
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "kiwi exited at start; log: $(tail -5 /var/log/kiwi/kiwi.log 2>&1)"
    sleep 0.1
  done
  fail "kiwi did not answer PING within 10 s"
}

# Stops it as systemctl stop would: SIGTERM, then wait (TimeoutStopSec=60). A clean stop exits 0.
stop_kiwi() {
  kill -TERM "$pid"
  local status=0
  timeout 60 tail --pid="$pid" -f /dev/null || fail "kiwi did not stop within 60 s of SIGTERM"
  wait "$pid" || status=$?
  pid=""
  [ "$status" = 0 ] || fail "kiwi exited with status $status after SIGTERM"
  ! port_busy "$port" || fail "port $port still in use after kiwi stopped"
}

step "build the packages from $bin_dir"
"$here/linux/build.sh" --bin-dir "$bin_dir" --out "$work/dist"
deb=$(echo "$work"/dist/kiwi_*.deb)
rpm_file=$(echo "$work"/dist/kiwi-*.rpm)
tarball=$(echo "$work"/dist/kiwi-*.tar.gz)
installer=$work/tar/$(basename "$tarball" .tar.gz)/install.sh

step "dpkg-deb -I / -c"
dpkg-deb -I "$deb"
dpkg-deb -c "$deb" | tee "$work/contents"
for f in usr/bin/kiwi usr/bin/kiwictl usr/bin/kiwi-bench etc/kiwi/kiwi.conf etc/logrotate.d/kiwi \
  lib/systemd/system/kiwi.service usr/share/man/man1/kiwi.1.gz usr/share/doc/kiwi/copyright; do
  grep -q " \./$f\$" "$work/contents" || fail "the .deb has no /$f"
done
[ "$(dpkg-deb -I "$deb" conffiles | sort | tr '\n' ' ')" = "/etc/kiwi/kiwi.conf /etc/logrotate.d/kiwi " ] ||
  fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"

step "lintian (fails on errors; warnings are listed)"
lintian --fail-on error -L '>=warning' --show-overrides "$deb" 2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || fail "lintian reports errors"

step "rpm -qpi / -qpl"
rpm -qpi "$rpm_file"
rpm -qpl "$rpm_file" | tee "$work/rpm-files"
grep -qx /usr/lib/systemd/system/kiwi.service "$work/rpm-files" || fail "the .rpm has no unit"
[ "$(rpm -qp --configfiles "$rpm_file" | sort | tr '\n' ' ')" = "/etc/kiwi/kiwi.conf /etc/logrotate.d/kiwi " ] ||
  fail "rpm config files: $(rpm -qp --configfiles "$rpm_file")"
rpm -qp --scripts "$rpm_file" | grep -q useradd || fail "the .rpm does not create the kiwi user"

step "dpkg -i"
installed=deb
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" </dev/null
id kiwi
[ "$(mode_of /var/lib/kiwi)" = "kiwi:kiwi 750" ] || fail "/var/lib/kiwi is $(mode_of /var/lib/kiwi)"
[ "$(mode_of /var/log/kiwi)" = "kiwi:kiwi 750" ] || fail "/var/log/kiwi is $(mode_of /var/log/kiwi)"
[ "$(mode_of "$conf")" = "root:kiwi 640" ] || fail "$conf is $(mode_of "$conf")"
[ -L /etc/systemd/system/multi-user.target.wants/kiwi.service ] || fail "kiwi.service was not enabled"
grep -qx 'dir /var/lib/kiwi' "$conf" || fail "$conf does not keep the data in /var/lib/kiwi"
grep -qx 'logfile /var/log/kiwi/kiwi.log' "$conf" || fail "$conf does not log to /var/log/kiwi"

step "systemd-analyze verify $unit_file"
# Containers often drop man pages at unpack (dpkg path-exclude); then the Documentation= check
# has nothing to find.
man_check=yes
[ -e /usr/share/man/man1/kiwi.1.gz ] || man_check=no
systemd-analyze verify --man="$man_check" "$unit_file"

step "start kiwi as the unit does, PING, write and read"
start_kiwi
[ "$(redis-cli -p "$port" set pkg:key survives-upgrade)" = OK ] || fail "SET failed"
[ "$(redis-cli -p "$port" get pkg:key)" = survives-upgrade ] || fail "GET returned the wrong value"
# The admin HTTP port (GET /health) is newer than this test: check it when this kiwi has one.
admin_port=$(redis-cli -p "$port" --raw config get admin-port | sed -n 2p)
if [ -n "$admin_port" ] && [ "$admin_port" != 0 ]; then
  curl -fsS "http://127.0.0.1:$admin_port/health" || fail "admin health endpoint failed"
  echo
else
  echo "skip: this kiwi has no admin-port option (CONFIG GET admin-port is empty)"
fi
[ "$(stat -c %U /var/log/kiwi/kiwi.log)" = kiwi ] || fail "kiwi did not write /var/log/kiwi/kiwi.log"
stop_kiwi
[ -z "$(find /var/lib/kiwi -not -user kiwi)" ] || fail "files in /var/lib/kiwi not owned by kiwi"

step "upgrade: dpkg -i the same package over a changed configuration"
sed -i 's/^loglevel notice$/loglevel verbose/' "$conf"
grep -qx 'loglevel verbose' "$conf" || fail "could not edit $conf"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" </dev/null
grep -qx 'loglevel verbose' "$conf" || fail "the upgrade replaced the edited $conf"
[ "$(mode_of "$conf")" = "root:kiwi 640" ] || fail "$conf is $(mode_of "$conf") after the upgrade"
start_kiwi
[ "$(redis-cli -p "$port" get pkg:key)" = survives-upgrade ] || fail "data lost in the upgrade"
stop_kiwi

step "dpkg -r keeps configuration and data; dpkg -P removes them"
dpkg -r kiwi
[ ! -e /usr/bin/kiwi ] || fail "dpkg -r left /usr/bin/kiwi"
[ ! -e "$unit_file" ] || fail "dpkg -r left $unit_file"
[ -e "$conf" ] || fail "dpkg -r removed the configuration"
[ -d /var/lib/kiwi ] || fail "dpkg -r removed the data"
dpkg -P kiwi
installed=""
for path in /usr/bin/kiwi /etc/kiwi /var/lib/kiwi /var/log/kiwi "$unit_file" /etc/logrotate.d/kiwi \
  /etc/systemd/system/multi-user.target.wants/kiwi.service; do
  [ ! -e "$path" ] || fail "dpkg -P left $path"
  [ ! -L "$path" ] || fail "dpkg -P left the link $path"
done
echo "left behind by design: the kiwi system user ($(id kiwi))"

step "tarball: install.sh, then install.sh --uninstall --purge"
mkdir -p "$work/tar"
tar -C "$work/tar" -xzf "$tarball"
installed=tar
"$installer" --prefix "$work/prefix"
[ -x "$work/prefix/bin/kiwi" ] || fail "install.sh did not install the programs"
[ -e "$conf" ] || fail "install.sh did not install $conf"
grep -qx "ExecStart=$work/prefix/bin/kiwi --config /etc/kiwi/kiwi.conf" \
  /etc/systemd/system/kiwi.service || fail "install.sh did not point the unit at $work/prefix"
"$installer" --uninstall --prefix "$work/prefix" --purge
installed=""
for path in "$work/prefix/bin/kiwi" /etc/kiwi /var/lib/kiwi /etc/systemd/system/kiwi.service; do
  [ ! -e "$path" ] || fail "install.sh --uninstall --purge left $path"
done

step "wixl: compile packaging/windows/main.wxs into an MSI (with stand-in binaries)"
# wixl (msitools) implements a subset of WiX 3: it has no Environment (the PATH entry) or
# Permission (the data folder's access list) elements, so those are cut from the copy it
# compiles; xmllint checks that the whole file is well-formed XML.
xmllint --noout "$here/windows/main.wxs"
mkdir -p "$work/wix"
python3 - "$here/windows/main.wxs" "$work/wix/main.wxs" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for pattern, count in [
    (r'\s*<Component Id="KiwiPath".*?</Component>', 1),
    (r'\s*<ComponentRef Id="KiwiPath" />', 1),
    (r'\s*<Permission [^>]*/>', 3),
]:
    text, n = re.subn(pattern, "", text, flags=re.S)
    assert n == count, f"{pattern!r} matched {n} times, expected {count}"
open(sys.argv[2], "w").write(text)
PY
# The source joins paths with a backslash, as Windows does; wixl on Linux takes "bin\kiwi.exe"
# as one file name, so the stand-ins are named that way.
for file in kiwi.exe kiwictl.exe kiwi-bench.exe; do echo stand-in > "$work/wix/bin\\$file"; done
"$here/make-conf.sh" kiwi-data kiwi.log > "$work/wix/bin\\kiwi.conf"
(cd "$work/wix" && wixl -a x64 -D Version=0.1.0 -D CargoTargetBinDir=bin -D CargoTargetDir=bin \
  -o kiwi.msi main.wxs 2> >(grep -v "no property named 'NeverOverwrite'\|no property named 'Permanent'\|^$" >&2))
msiinfo export "$work/wix/kiwi.msi" ServiceInstall | tee "$work/wix/services"
grep -q 'service run --config "\[DataDir\]kiwi.conf"' "$work/wix/services" ||
  fail "the MSI does not register the kiwi service"

step "launchd plist"
python3 - "$here/macos/io.kiwi.server.plist" <<'PY'
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    plist = plistlib.load(f)
assert plist["Label"] == "io.kiwi.server", plist["Label"]
assert plist["ProgramArguments"] == ["/usr/local/bin/kiwi", "--config", "/usr/local/etc/kiwi/kiwi.conf"], plist["ProgramArguments"]
print("plist ok:", plist["Label"], " ".join(plist["ProgramArguments"]))
PY

step "port $port is free again"
! port_busy "$port" || fail "port $port is still in use"
echo "packaging test passed"
