#!/bin/sh
# Prints conf/kiwi.conf with the data directory and log file of an installed service, so every
# package ships the sample configuration with its comments and only these two lines changed.
# Usage: packaging/make-conf.sh DATA_DIR LOG_FILE > kiwi.conf
set -eu
if [ $# -ne 2 ]; then
  echo "usage: $0 DATA_DIR LOG_FILE" >&2
  exit 2
fi
conf="$(dirname "$0")/../conf/kiwi.conf"
for line in 'dir ./kiwi-data' 'logfile ""'; do
  if ! grep -qxF "$line" "$conf"; then
    echo "$0: $conf has no line '$line' to replace" >&2
    exit 1
  fi
done
sed -e "s|^dir \./kiwi-data\$|dir $1|" -e "s|^logfile \"\"\$|logfile $2|" "$conf"
