#!/usr/bin/env bash
# Copy the files of SRC that are new or changed to DEST.
# usage: publish.sh SRC DEST
set -euo pipefail

usage() {
  echo "usage: publish.sh SRC DEST" >&2
  exit 2
}

[ $# -eq 2 ] || usage
src=${1%/}
dest=${2%/}
[ -d "$src" ] || { echo "publish: no such directory: $src" >&2; exit 1; }

mkdir -p "$dest"
copied=0
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  target="$dest/$rel"
  if [ -f "$target" ] && cmp -s "$file" "$target"; then
    continue
  fi
  echo "copy $rel"
  mkdir -p "$(dirname "$target")"
  cp -p "$file" "$target"
  copied=$((copied + 1))
done < <(find "$src" -type f ! -name '.*' -print0 | sort -z)

echo "$copied file(s) published"
