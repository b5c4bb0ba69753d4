#!/bin/sh
# Installs Kiwi from this tarball on a Linux system with systemd: binaries, man pages and
# completions under PREFIX (default /usr/local), /etc/kiwi/kiwi.conf (an existing one is kept
# and the new default written next to it as kiwi.conf.new), a kiwi system user owning
# /var/lib/kiwi and /var/log/kiwi, and /etc/systemd/system/kiwi.service (enabled, not started).
#
# Usage: sudo ./install.sh [--prefix DIR]
#        sudo ./install.sh --uninstall [--prefix DIR] [--purge]   (--purge also deletes the
#        data, the logs and /etc/kiwi)
set -eu

prefix=/usr/local
action=install
purge=no
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    --purge) purge=yes; shift ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
unit=/etc/systemd/system/kiwi.service
bash_completion=$prefix/share/bash-completion/completions/kiwictl
zsh_completion=$prefix/share/zsh/site-functions/_kiwictl
fish_completion=$prefix/share/fish/vendor_completions.d/kiwictl.fish
systemd_running() { [ -d /run/systemd/system ]; }

if [ "$action" = uninstall ]; then
  if systemd_running; then systemctl disable --now kiwi.service 2>/dev/null || true; fi
  for b in kiwi kiwictl kiwi-bench; do
    rm -f "$prefix/bin/$b" "$prefix/share/man/man1/$b.1.gz"
  done
  rm -f "$unit" /etc/logrotate.d/kiwi "$bash_completion" "$zsh_completion" "$fish_completion"
  if systemd_running; then systemctl daemon-reload; fi
  if [ "$purge" = yes ]; then
    rm -rf /var/lib/kiwi /var/log/kiwi /etc/kiwi
  fi
  echo "kiwi uninstalled (the kiwi user is kept)"
  exit 0
fi

install -d "$prefix/bin" "$prefix/share/man/man1"
install -m 0755 "$here/bin/"* "$prefix/bin/"
install -m 0644 "$here/man/"* "$prefix/share/man/man1/"
if [ -d "$here/completions" ]; then
  install -Dm 0644 "$here/completions/bash" "$bash_completion"
  install -Dm 0644 "$here/completions/zsh" "$zsh_completion"
  install -Dm 0644 "$here/completions/fish" "$fish_completion"
fi
if ! getent passwd kiwi >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/kiwi --no-create-home \
    --shell /usr/sbin/nologin kiwi
fi
install -d -o kiwi -g kiwi -m 0750 /var/lib/kiwi /var/log/kiwi
install -d /etc/kiwi
conf=/etc/kiwi/kiwi.conf
[ -e "$conf" ] && conf=/etc/kiwi/kiwi.conf.new
install -m 0640 -o root -g kiwi "$here/kiwi.conf" "$conf"
install -Dm 0644 "$here/kiwi.logrotate" /etc/logrotate.d/kiwi
sed "s|^ExecStart=/usr/bin/kiwi |ExecStart=$prefix/bin/kiwi |" "$here/kiwi.service" > "$unit"
if systemd_running; then
  systemctl daemon-reload
  systemctl enable kiwi.service
fi
echo "kiwi installed in $prefix (configuration: $conf); start it with: systemctl start kiwi"
