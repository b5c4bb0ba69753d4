#!/usr/bin/env bash
# Builds the macOS installer kiwi-VERSION-macos-ARCH.pkg from release binaries (run on macOS:
# pkgbuild and productbuild come with Xcode's command line tools). It installs the binaries in
# /usr/local/bin, the launchd daemon io.kiwi.server, and /usr/local/etc/kiwi/kiwi.conf on first
# install; see scripts/postinstall.
#
# Signing: set KIWI_PKG_SIGN_IDENTITY to a "Developer ID Installer: ..." identity in the
# keychain; then notarize with `xcrun notarytool submit --wait` and `xcrun stapler staple`.
# (Sign the binaries with `codesign --options runtime` before this when notarizing.)
#
# Usage: packaging/macos/build-pkg.sh [--bin-dir DIR] [--out DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir=$root/target/release
out=$root/target/dist
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--bin-dir DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
version=$("$bin_dir/kiwi" --version | awk '{print $2}')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stage=$work/root
install -d "$stage/usr/local/bin" "$stage/usr/local/share/kiwi" "$stage/Library/LaunchDaemons"
for b in kiwi kiwictl kiwi-bench; do
  install -m 0755 "$bin_dir/$b" "$stage/usr/local/bin/$b"
done
"$root/packaging/make-conf.sh" /usr/local/var/lib/kiwi /usr/local/var/log/kiwi/kiwi.log \
  > "$stage/usr/local/share/kiwi/kiwi.conf.default"
install -m 0644 "$here/io.kiwi.server.plist" "$stage/Library/LaunchDaemons/"

pkgbuild --root "$stage" --scripts "$here/scripts" --identifier io.kiwi.server \
  --version "$version" --install-location / "$work/kiwi-component.pkg"
mkdir -p "$out"
sign=()
if [ -n "${KIWI_PKG_SIGN_IDENTITY:-}" ]; then
  sign=(--sign "$KIWI_PKG_SIGN_IDENTITY")
fi
# (The odd expansion keeps macOS's bash 3.2 from calling an empty array unbound.)
productbuild --package "$work/kiwi-component.pkg" ${sign[@]+"${sign[@]}"} \
  "$out/kiwi-$version-macos-$(uname -m).pkg"
echo "$out/kiwi-$version-macos-$(uname -m).pkg"
