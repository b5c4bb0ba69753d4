#!/usr/bin/env bash
# Builds Kiwi's Linux packages from release binaries that are already built: a .deb (dpkg-deb),
# an .rpm (rpmbuild) and a .tar.gz with install.sh. The three share one set of stripped
# binaries, man pages (help2man), completions and configuration; only the layout differs.
# docs/install.md says why this is a script and not cargo-deb/cargo-generate-rpm.
#
# Usage: packaging/linux/build.sh [--bin-dir DIR] [--out DIR] [--formats "deb rpm tar"]
#   --bin-dir  where kiwi, kiwictl and kiwi-bench are (default: target/release)
#   --out      where the packages go (default: target/dist)
# Needs: dpkg-dev, help2man, rpm (for the .rpm). KIWI_MAINTAINER overrides the maintainer.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir=$root/target/release
out=$root/target/dist
formats="deb rpm tar"
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --formats) formats=$2; shift 2 ;;
    *) echo "usage: $0 [--bin-dir DIR] [--out DIR] [--formats \"deb rpm tar\"]" >&2; exit 2 ;;
  esac
done
binaries=(kiwi kiwictl kiwi-bench)
for b in "${binaries[@]}"; do
  [ -x "$bin_dir/$b" ] || { echo "$0: $bin_dir/$b is missing; build with cargo build --release --bins" >&2; exit 1; }
done
command -v help2man >/dev/null || { echo "$0: help2man is missing (apt-get install help2man)" >&2; exit 1; }
# The default is a placeholder (RFC 2606 .invalid); releases set KIWI_MAINTAINER.
maintainer=${KIWI_MAINTAINER:-Kiwi developers <packaging@kiwi.invalid>}
version=$("$bin_dir/kiwi" --version | awk '{print $2}')
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- what every package ships, built once -------------------------------------------------
common=$work/common
mkdir -p "$common/bin" "$common/man"
declare -A summary=(
  [kiwi]="Redis-compatible key-value database server on RocksDB"
  [kiwictl]="administer a Kiwi node"
  [kiwi-bench]="benchmark a Redis-compatible server"
)
for b in "${binaries[@]}"; do
  # Debug line tables stay in target/; the packages carry what dh_strip would leave.
  strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    -o "$common/bin/$b" "$bin_dir/$b"
  help2man --no-info --no-discard-stderr --name="${summary[$b]}" \
    --version-string="$version" -o "$common/man/$b.1" "$common/bin/$b"
  gzip -9n "$common/man/$b.1"
done
"$root/packaging/make-conf.sh" /var/lib/kiwi /var/log/kiwi/kiwi.log > "$common/kiwi.conf"
# Shell completions come from kiwictl itself, when this build of it can generate them.
completions=0
if "$common/bin/kiwictl" completions bash >/dev/null 2>&1; then
  completions=1
  mkdir -p "$common/completions"
  for shell in bash zsh fish; do
    "$common/bin/kiwictl" completions "$shell" > "$common/completions/$shell"
  done
else
  echo "note: this kiwictl has no 'completions' subcommand; packages ship no shell completions"
fi

# lay_out ROOT UNIT_DIR ZSH_DIR: the files of an installed Kiwi, under ROOT. Distributions
# disagree only on where systemd units and zsh completions live.
lay_out() {
  local r=$1 unit_dir=$2 zsh_dir=$3
  install -d "$r/usr/bin" "$r/usr/share/man/man1"
  install -m 0755 "$common/bin/"* "$r/usr/bin/"
  install -m 0644 "$common/man/"* "$r/usr/share/man/man1/"
  install -Dm 0644 "$root/packaging/systemd/kiwi.service" "$r$unit_dir/kiwi.service"
  install -Dm 0644 "$common/kiwi.conf" "$r/etc/kiwi/kiwi.conf"
  install -Dm 0644 "$here/kiwi.logrotate" "$r/etc/logrotate.d/kiwi"
  if [ "$completions" = 1 ]; then
    install -Dm 0644 "$common/completions/bash" "$r/usr/share/bash-completion/completions/kiwictl"
    install -Dm 0644 "$common/completions/zsh" "$r$zsh_dir/_kiwictl"
    install -Dm 0644 "$common/completions/fish" "$r/usr/share/fish/vendor_completions.d/kiwictl.fish"
  fi
}

build_deb() {
  local deb_version=${version//-/\~}-1 arch r
  arch=$(dpkg --print-architecture)
  # dpkg-shlibdeps wants the package tree at debian/<package> next to a debian/control.
  r=$work/deb/debian/kiwi
  # bookworm's lintian still expects units under /lib (usr-merge moved them in trixie).
  lay_out "$r" /lib/systemd/system /usr/share/zsh/vendor-completions
  local doc=$r/usr/share/doc/kiwi
  install -d "$doc" "$r/usr/share/lintian/overrides" "$r/DEBIAN"
  cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kiwi

Files: *
Copyright: 2026 Kiwi developers
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
  printf 'kiwi (%s) unstable; urgency=medium\n\n  * Kiwi %s.\n\n -- %s  %s\n' \
    "$deb_version" "$version" "$maintainer" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")" \
    | gzip -9n > "$doc/changelog.Debian.gz"
  install -m 0644 "$here/debian/lintian-overrides" "$r/usr/share/lintian/overrides/kiwi"
  install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$r/DEBIAN/"
  (cd "$r" && find etc -type f | sed 's|^|/|' | LC_ALL=C sort) > "$r/DEBIAN/conffiles"
  printf 'Source: kiwi\n\nPackage: kiwi\nArchitecture: any\n' > "$work/deb/debian/control"
  # dpkg-shlibdeps warns that the binaries "should already be installed in their package's
  # directory" even when they are; that one line is dropped.
  local shlibs
  shlibs=$(cd "$work/deb" && dpkg-shlibdeps -O -e debian/kiwi/usr/bin/kiwi \
    -e debian/kiwi/usr/bin/kiwictl -e debian/kiwi/usr/bin/kiwi-bench \
    2> >(grep -v "should already be installed" >&2) | sed 's/^shlibs:Depends=//')
  cat > "$r/DEBIAN/control" <<CONTROL
Package: kiwi
Version: $deb_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$r" | cut -f1)
Depends: adduser, $shlibs
Section: database
Priority: optional
Description: Redis-compatible key-value database on RocksDB
 Kiwi speaks the Redis protocol (RESP2/RESP3) and stores its data in RocksDB,
 so the data set may be larger than memory and survives restarts.
 .
 This package ships the kiwi server with a hardened systemd unit, the kiwictl
 admin tool and the kiwi-bench load generator. Data lives in /var/lib/kiwi,
 the configuration in /etc/kiwi/kiwi.conf.
CONTROL
  (cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort \
    | xargs md5sum) > "$r/DEBIAN/md5sums"
  dpkg-deb --root-owner-group --build "$r" "$out/kiwi_${deb_version}_${arch}.deb" >/dev/null
  echo "$out/kiwi_${deb_version}_${arch}.deb"
}

build_rpm() {
  command -v rpmbuild >/dev/null || { echo "$0: rpmbuild is missing (apt-get install rpm)" >&2; exit 1; }
  local r=$work/rpm/root
  lay_out "$r" /usr/lib/systemd/system /usr/share/zsh/site-functions
  install -d -m 0750 "$r/var/lib/kiwi" "$r/var/log/kiwi"
  rpmbuild -bb --quiet \
    --define "_topdir $work/rpm/top" \
    --define "_rpmdir $out" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "kiwi_version ${version//-/\~}" \
    --define "stage $r" \
    --define "completions $completions" \
    "$here/kiwi.spec"
  ls "$out"/kiwi-"${version//-/\~}"-1.*.rpm
}

build_tar() {
  local name
  name=kiwi-$version-linux-$(uname -m)
  local r=$work/tar/$name
  install -d "$r/bin" "$r/man"
  install -m 0755 "$common/bin/"* "$r/bin/"
  install -m 0644 "$common/man/"* "$r/man/"
  install -m 0644 "$common/kiwi.conf" "$root/packaging/systemd/kiwi.service" "$r/"
  install -m 0644 "$here/kiwi.logrotate" "$r/kiwi.logrotate"
  install -m 0755 "$here/install.sh" "$r/install.sh"
  if [ "$completions" = 1 ]; then
    cp -r "$common/completions" "$r/completions"
  fi
  tar -C "$work/tar" --owner=0 --group=0 -czf "$out/$name.tar.gz" "$name"
  echo "$out/$name.tar.gz"
}

for format in $formats; do
  "build_$format"
done
