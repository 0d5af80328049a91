#!/usr/bin/env bash
# run_tests.sh: the short run of examples/data-service (seed 004) against a
# batond this script starts. CTest runs it as example_data-service with BATOND
# (the batond binary, absolute) and BATON_SRC (the repo root); standalone:
#   BATOND=$PWD/build/batond BATON_SRC=$PWD bash examples/data-service/run_tests.sh
# Steps: build baton-client if clients/typescript/dist is missing, compile the
# example (tsc --strict), start batond on 127.0.0.1:0 with a temp --data and
# --sync normal, run the example's short version (it exits 1 when a claim
# fails) and check its report, check a few figures again over plain HTTP, then
# run the limits part with the limits removed and require that it FAILS (the
# checks can fail). Everything started here is stopped by pid on EXIT. No
# network: node_modules come from the committed package-lock.json (npm ci,
# which scripts/deps.sh runs; done here offline when missing).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="${BATON_SRC:-$(cd "$here/../.." && pwd)}"
: "${BATOND:?BATOND must name the batond binary to test}"
cd "$here"

tmp="$(mktemp -d)"
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -f "$src/clients/typescript/dist/esm/index.js" ] || [ ! -f "$src/clients/typescript/dist/cjs/index.js" ]; then
  echo "== building baton-client (clients/typescript/dist is missing)"
  if [ ! -d "$src/clients/typescript/node_modules/typescript" ]; then
    (cd "$src/clients/typescript" && npm ci --offline --no-audit --no-fund --loglevel=error)
  fi
  (cd "$src/clients/typescript" && npm run --silent build)
fi
if [ ! -d node_modules/typescript ] || [ ! -e node_modules/baton-client ]; then
  echo "== npm ci (offline, from package-lock.json)"
  npm ci --offline --no-audit --no-fund --loglevel=error
fi

echo "== tsc --strict"
rm -rf dist
node node_modules/typescript/bin/tsc -p tsconfig.json --strict

echo "== start batond"
mkdir "$tmp/data"
"$BATOND" --listen 127.0.0.1:0 --data "$tmp/data" --sync normal >"$tmp/batond.out" 2>"$tmp/batond.err" &
srv_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$tmp/batond.out" 2>/dev/null | head -1 | sed 's/^listening on //')" || true
  [ -n "$url" ] && [ -f "$tmp/data/admin.key" ] && break
  kill -0 "$srv_pid" 2>/dev/null || { echo "batond exited"; cat "$tmp/batond.err"; exit 1; }
  sleep 0.05
done
[ -n "$url" ] || { echo "batond did not print its address"; exit 1; }
key="$(cat "$tmp/data/admin.key")"
for _ in $(seq 1 100); do
  curl -fsS -m 2 "$url/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fsS -m 2 "$url/healthz" >/dev/null
echo "batond at $url (pid $srv_pid)"

echo "== the example, short run"
set +e
BATON_URL="$url" BATON_KEY="$key" DATASVC_SHORT=1 timeout 120 node dist/main.js >"$tmp/run.out" 2>&1
rc=$?
set -e
cat "$tmp/run.out"
[ "$rc" -eq 0 ] || { echo "run_tests.sh: the example exited $rc"; exit 1; }

# The program's own verdict, and that each part actually reported its claims.
grep -Eq '^[0-9]+/[0-9]+ claims hold$' "$tmp/run.out" || { echo "no final verdict line"; exit 1; }
total="$(sed -nE 's#^([0-9]+)/([0-9]+) claims hold$#\2#p' "$tmp/run.out")"
passed="$(grep -c '\[PASS\]' "$tmp/run.out" || true)"
failed="$(grep -c '\[FAIL\]' "$tmp/run.out" || true)"
[ "$failed" -eq 0 ] && [ "$passed" -eq "$total" ] && [ "$total" -ge 40 ] ||
  { echo "claims: $passed passed, $failed failed, $total reported (expected >= 40, none failed)"; exit 1; }
for want in \
  'PASS\] ds-fixtures-live: the stored next_fire_at' \
  'PASS\] nightly-bootstrap: 01:30 London each night' \
  'PASS\] ds-batch-processor: never more than 3 running at once' \
  'PASS\] ds-batch-processor: never more than 5 starts in any 1000 ms' \
  'PASS\] gw 1: lineups started after fixtures completed' \
  'PASS\] gw 38: lineups (on_parent_failure "cancel") was cancelled' \
  'PASS\] the step log holds fetch-stats, compute, write' \
  'runCron #2 refused: HTTP 409 already_running' ; do
  grep -q "$want" "$tmp/run.out" || { echo "missing from the report: $want"; exit 1; }
done

echo "== figures again, over plain HTTP"
auth=(-H "Authorization: Bearer $key")
q="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/queues/ds-batch-processor")"
conc="$(jq -r '.queue.concurrency' <<<"$q")"; rmax="$(jq -r '.queue.rate.max' <<<"$q")"; done_n="$(jq -r '.queue.counts.completed' <<<"$q")"
[ "$conc" = 3 ] && [ "$rmax" = 5 ] && [ "$done_n" = 12 ] ||
  { echo "ds-batch-processor: concurrency $conc, rate.max $rmax, completed $done_n (want 3, 5, 12)"; exit 1; }
cron_left="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/cron" | jq '[.schedules[] | select(.key | startswith("ds-"))] | length')"
[ "$cron_left" = 0 ] || { echo "the example left $cron_left schedules behind"; exit 1; }
dead="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/jobs?queue=ds-pipeline&state=dead" | jq '.jobs | length')"
cancelled="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/jobs?queue=ds-pipeline&state=cancelled" | jq '[.jobs[] | select(.cancel_reason == "parent_failed")] | length')"
[ "$dead" = 1 ] && [ "$cancelled" = 2 ] ||
  { echo "ds-pipeline: $dead dead, $cancelled cancelled by parent_failed (want 1 and 2)"; exit 1; }
echo "ok: limits 3 / 5 per s, 12 completed; no schedule left; pipeline 1 dead, 2 cancelled (parent_failed)"

echo "== the limits part with the limits removed must fail"
set +e
BATON_URL="$url" BATON_KEY="$key" DATASVC_SHORT=1 DATASVC_ONLY=limits DATASVC_SABOTAGE=1 timeout 60 node dist/main.js >"$tmp/sab.out" 2>&1
rc=$?
set -e
grep -E 'FAIL|claims hold' "$tmp/sab.out" | head -4
[ "$rc" -eq 1 ] || { echo "run_tests.sh: the sabotaged run exited $rc, want 1"; cat "$tmp/sab.out"; exit 1; }
grep -q 'FAIL\] ds-batch-processor: never more than 3 running at once' "$tmp/sab.out" ||
  { echo "the sabotaged run did not fail the concurrency claim"; exit 1; }

echo "example data-service: ok"
