#!/usr/bin/env bash
# Keep only the newest KEEP backups (backup-YYYY-MM-DD.tar.gz) in DIR.
set -euo pipefail

usage() {
  echo "usage: rotate.sh DIR KEEP" >&2
  exit 2
}

[ $# -eq 2 ] || usage
dir=$1
keep=$2
case $keep in
  '' | *[!0-9]*) usage ;;
esac
[ -d "$dir" ] || { echo "rotate: no such directory: $dir" >&2; exit 1; }

shopt -s nullglob
# The date is in the name, so the glob's sorted order is oldest first.
backups=("$dir"/backup-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].tar.gz)
count=${#backups[@]}
remove=$((count - keep))

for ((i = 0; i < remove; i++)); do
  echo "removing ${backups[i]##*/}"
  rm -f -- "${backups[i]}"
done
