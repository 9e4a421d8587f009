#!/usr/bin/env bash
# Hidden check for rotate.sh: run from the repository root.
set -u
script="$PWD/rotate.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make_backups() {  # DIR N: N daily backups, 2024-03-01 onwards
  mkdir -p "$1"
  local day
  for ((day = 1; day <= $2; day++)); do
    printf 'data %d\n' "$day" > "$1/backup-2024-03-$(printf %02d "$day").tar.gz"
  done
}

listing() { (cd "$1" && ls -1 | sort | tr '\n' ' '); }

# 10 backups, keep 3 -> the 3 newest remain; other files untouched.
d="$work/ten"
make_backups "$d" 10
echo "keep me" > "$d/notes.txt"
bash "$script" "$d" 3 > "$work/out" 2>&1 || fail "exit status $? for keep 3: $(cat "$work/out")"
got=$(listing "$d")
want="backup-2024-03-08.tar.gz backup-2024-03-09.tar.gz backup-2024-03-10.tar.gz notes.txt "
[ "$got" = "$want" ] || fail "keep 3 left: $got"

# Exactly KEEP backups -> nothing removed.
d="$work/seven"
make_backups "$d" 7
bash "$script" "$d" 7 > "$work/out" 2>&1 || fail "exit status $? for keep 7 of 7"
[ "$(ls -1 "$d" | wc -l)" -eq 7 ] || fail "keep 7 of 7 left: $(listing "$d")"

# Fewer than KEEP -> nothing removed.
d="$work/few"
make_backups "$d" 2
bash "$script" "$d" 5 > "$work/out" 2>&1 || fail "exit status $? for keep 5 of 2"
[ "$(ls -1 "$d" | wc -l)" -eq 2 ] || fail "keep 5 of 2 left: $(listing "$d")"

# keep 1 -> only the newest.
d="$work/one"
make_backups "$d" 4
bash "$script" "$d" 1 > "$work/out" 2>&1 || fail "exit status $? for keep 1"
[ "$(listing "$d")" = "backup-2024-03-04.tar.gz " ] || fail "keep 1 left: $(listing "$d")"

echo "ok"
