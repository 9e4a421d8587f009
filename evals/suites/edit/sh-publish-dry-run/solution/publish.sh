#!/usr/bin/env bash
# Copy the files of SRC that are new or changed to DEST.
# usage: publish.sh [-n|--dry-run] SRC DEST
set -euo pipefail

usage() {
  echo "usage: publish.sh [-n|--dry-run] SRC DEST" >&2
  exit 2
}

dry_run=0
while [ $# -gt 0 ]; do
  case $1 in
    -n | --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done

[ $# -eq 2 ] || usage
src=${1%/}
dest=${2%/}
[ -d "$src" ] || { echo "publish: no such directory: $src" >&2; exit 1; }

[ "$dry_run" -eq 1 ] || mkdir -p "$dest"
copied=0
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  target="$dest/$rel"
  if [ -f "$target" ] && cmp -s "$file" "$target"; then
    continue
  fi
  if [ "$dry_run" -eq 1 ]; then
    echo "would copy $rel"
  else
    echo "copy $rel"
    mkdir -p "$(dirname "$target")"
    cp -p "$file" "$target"
  fi
  copied=$((copied + 1))
done < <(find "$src" -type f ! -name '.*' -print0 | sort -z)

if [ "$dry_run" -eq 1 ]; then
  echo "$copied file(s) would be published (dry run)"
else
  echo "$copied file(s) published"
fi
