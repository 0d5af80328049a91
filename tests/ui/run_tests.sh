#!/usr/bin/env bash
# run_tests.sh: the web dashboard in a real browser. CTest runs it as ui_browser
# with BATOND (the batond binary, absolute) and BATON_SRC (the repo root), in
# the release tree only; standalone:
#   BATOND=$PWD/build/batond BATON_SRC=$PWD bash tests/ui/run_tests.sh
# Starts batond on 127.0.0.1:0 with a temp --data, runs ui.test.mjs (Debian's
# /usr/bin/chromium driven by playwright-core, from the committed lockfile:
# scripts/deps.sh runs npm ci here), which seeds data through the API and
# checks every page and action, with screenshots into
# $UI_SHOTS (default <build>/ui-shots). Then the sabotaged run: the read-only
# check given the admin key, on a fresh server, must FAIL. With UI_FULL=1 it
# also times the first load of each page with 100,000 jobs stored
# (first_load.mjs). Every process started here is stopped by its pid on EXIT.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="${BATON_SRC:-$(cd "$here/../.." && pwd)}"
: "${BATOND:?BATOND must name the batond binary to test}"
shots="${UI_SHOTS:-$(dirname "$BATOND")/ui-shots}"
cd "$here"

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  echo "run_tests.sh: /usr/bin/chromium is missing (scripts/deps.sh installs Debian's chromium)"
  exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  echo "== npm ci (offline, from package-lock.json)"
  npm ci --offline --no-audit --no-fund --loglevel=error
fi

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME: a batond on a free port with data in $tmp/NAME; sets url, key.
start() {
  local dir="$tmp/$1" pid
  mkdir "$dir"
  "$BATOND" --listen 127.0.0.1:0 --data "$dir/data" --sync normal >"$dir/out" 2>"$dir/err" &
  pid=$!
  pids+=("$pid")
  url=""
  for _ in $(seq 1 100); do
    url="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$dir/out" 2>/dev/null | head -1 | sed 's/^listening on //')" || true
    [ -n "$url" ] && [ -f "$dir/data/admin.key" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "batond exited"; cat "$dir/err"; exit 1; }
    sleep 0.05
  done
  [ -n "$url" ] || { echo "batond did not print its address"; exit 1; }
  key="$(cat "$dir/data/admin.key")"
  for _ in $(seq 1 100); do
    curl -fsS -m 2 "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  echo "batond at $url (pid $pid)"
}

echo "== the dashboard in chromium"
start main
rm -rf "$shots"
set +e
BATON_URL="$url" BATON_KEY="$key" UI_SHOTS="$shots" timeout 240 node ui.test.mjs >"$tmp/run.out" 2>&1
rc=$?
set -e
cat "$tmp/run.out"
[ "$rc" -eq 0 ] || { echo "run_tests.sh: ui.test.mjs exited $rc"; exit 1; }
grep -Eq '^[0-9]+/[0-9]+ checks hold$' "$tmp/run.out" || { echo "no final verdict line"; exit 1; }
n_shots="$(find "$shots" -name '*.png' | wc -l)"
echo "screenshots: $n_shots in $shots"
[ "$n_shots" -ge 58 ] || { echo "run_tests.sh: expected at least 58 screenshots"; exit 1; }

if [ "${UI_FULL:-0}" = "1" ]; then
  echo "== first load with ${UI_LOAD_JOBS:-100000} jobs stored (UI_FULL=1)"
  start load
  BATON_URL="$url" BATON_KEY="$key" timeout 900 node first_load.mjs
fi

echo "== sabotaged run: the read-only check with the admin key must fail"
start sabotage
set +e
BATON_URL="$url" BATON_KEY="$key" UI_SHOTS="$tmp/sabotage-shots" UI_SABOTAGE=1 timeout 120 node ui.test.mjs >"$tmp/sab.out" 2>&1
rc=$?
set -e
grep -E '^\[(PASS|FAIL)\]|checks hold' "$tmp/sab.out" || true
if [ "$rc" -eq 0 ]; then
  echo "run_tests.sh: the sabotaged run passed; the read-only check cannot fail"
  exit 1
fi
grep -q '^\[FAIL\] a read-only key' "$tmp/sab.out" || { echo "run_tests.sh: the sabotaged run failed for another reason"; cat "$tmp/sab.out"; exit 1; }
echo "the sabotaged run failed, as it must"
echo "run_tests.sh: ok"
