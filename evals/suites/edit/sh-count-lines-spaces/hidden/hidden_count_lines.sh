#!/usr/bin/env bash
# Hidden check for count_lines.sh: run from the repository root.
set -u
script="$PWD/count_lines.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

d="$work/my notes"
mkdir -p "$d/old stuff" "$d/plain"
printf 'one\ntwo\nthree\n' > "$d/meeting notes.txt"
printf 'a\nb\n' > "$d/c.txt"
printf '1\n2\n3\n4\n' > "$d/old stuff/trip  to rome.txt"
printf 'x\n' > "$d/plain/x.txt"
printf 'not counted\nat all\n' > "$d/readme.md"

bash "$script" "$d" > "$work/out" 2> "$work/err"
status=$?
[ "$status" -eq 0 ] || fail "exit status $status"
[ ! -s "$work/err" ] || fail "unexpected errors: $(cat "$work/err")"

last=$(tail -n 1 "$work/out")
[ "$(echo "$last" | awk '{print $1, $2}')" = "10 total" ] || fail "last line was: $last"
[ "$(wc -l < "$work/out")" -eq 5 ] || fail "expected 4 files and a total, got: $(cat "$work/out")"

grep -Eq "^ *3 .*/meeting notes\.txt$" "$work/out" || fail "no line for 'meeting notes.txt': $(cat "$work/out")"
grep -Eq "^ *4 .*/old stuff/trip  to rome\.txt$" "$work/out" || fail "no line for 'trip  to rome.txt': $(cat "$work/out")"
grep -Eq "^ *2 .*/c\.txt$" "$work/out" || fail "no line for c.txt: $(cat "$work/out")"
grep -q "readme" "$work/out" && fail "readme.md should not be counted"

# Plain names keep working, and the default directory is the current one.
(cd "$d/plain" && bash "$script") > "$work/out2" 2>&1 || fail "default dir failed"
[ "$(tail -n 1 "$work/out2" | awk '{print $1, $2}')" = "1 total" ] || fail "default dir: $(cat "$work/out2")"

echo "ok"
