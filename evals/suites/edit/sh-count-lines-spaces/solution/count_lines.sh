#!/usr/bin/env bash
# Print the number of lines of every .txt file under DIR (default: .), then the total.
set -u

dir=${1:-.}
if [ ! -d "$dir" ]; then
  echo "count_lines: no such directory: $dir" >&2
  exit 1
fi

total=0
while IFS= read -r file; do
  n=$(wc -l < "$file")
  printf '%6d %s\n' "$n" "$file"
  total=$((total + n))
done < <(find "$dir" -type f -name '*.txt' | sort)
printf '%6d total\n' "$total"
