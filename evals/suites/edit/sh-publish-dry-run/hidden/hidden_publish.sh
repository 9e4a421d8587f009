#!/usr/bin/env bash
# Hidden check for publish.sh: run from the repository root.
set -u
script="$PWD/publish.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

src="$work/src site"
mkdir -p "$src/css" "$src/blog"
echo "<h1>home</h1>" > "$src/index.html"
echo "<h1>about</h1>" > "$src/about.html"
echo "body{}" > "$src/css/main.css"
echo "post" > "$src/blog/first post.html"
echo "secret" > "$src/.env"

snapshot() { (cd "$1" && find . -type f -exec cksum {} + | sort); }

# Dry run into a folder that does not exist: nothing is created, output names the files.
dest="$work/out/www"
for flag in -n --dry-run; do
  out=$(bash "$script" "$flag" "$src" "$dest" 2>&1) || fail "$flag: exit status $?: $out"
  [ ! -e "$dest" ] && [ ! -e "$work/out" ] || fail "$flag created the destination"
  for f in index.html about.html css/main.css "blog/first post.html"; do
    grep -qF "$f" <<< "$out" || fail "$flag: output does not mention $f: $out"
  done
  grep -qE '(^|[ /])\.env( |$)' <<< "$out" && fail "$flag: output mentions .env: $out"
done

# A real run still works.
out=$(bash "$script" "$src" "$dest" 2>&1) || fail "real run: exit status $?: $out"
for f in index.html about.html css/main.css "blog/first post.html"; do
  cmp -s "$src/$f" "$dest/$f" || fail "real run did not copy $f"
done
[ ! -e "$dest/.env" ] || fail "real run copied .env"

# Dry run after a change: only the changed/new files are listed, and nothing changes.
echo "<h1>about us</h1>" > "$src/about.html"
echo "new" > "$src/contact.html"
before=$(snapshot "$dest")
out=$(bash "$script" --dry-run "$src" "$dest" 2>&1) || fail "second dry run: exit status $?: $out"
[ "$before" = "$(snapshot "$dest")" ] || fail "dry run changed the destination"
grep -qF "about.html" <<< "$out" || fail "dry run does not list about.html: $out"
grep -qF "contact.html" <<< "$out" || fail "dry run does not list contact.html: $out"
grep -qF "index.html" <<< "$out" && fail "dry run lists unchanged index.html: $out"
grep -qF "main.css" <<< "$out" && fail "dry run lists unchanged main.css: $out"

# And the real run afterwards copies exactly those.
out=$(bash "$script" "$src" "$dest" 2>&1) || fail "second real run: exit status $?: $out"
cmp -s "$src/about.html" "$dest/about.html" || fail "about.html not updated"
cmp -s "$src/contact.html" "$dest/contact.html" || fail "contact.html not copied"

# Bad usage still fails.
bash "$script" "$src" > /dev/null 2>&1 && fail "one argument should be a usage error"

echo "ok"
