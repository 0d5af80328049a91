#!/usr/bin/env bash
# run_tests.sh: the short run of examples/settlement (seeds 000/001) against a
# batond this script starts. CTest runs it as example_settlement with BATOND
# (the batond binary, absolute) and BATON_SRC (the repo root); standalone:
#   BATOND=$PWD/build/batond BATON_SRC=$PWD bash examples/settlement/run_tests.sh
# Steps: build baton-client if clients/typescript/dist is missing, compile the
# example (tsc --strict), start batond on 127.0.0.1:0 with a temp --data and
# --sync normal, run the example's short version (5,000 players; it exits 1
# when a claim fails) and check its report, check figures again over plain
# HTTP (curl, jq) and in the ledger file (sqlite3), then run it once more with
# the ledger's exactly-once marker removed (SETTLE_SABOTAGE=1) and require that
# it FAILS. Everything started here is stopped by pid on EXIT (the example
# stops its own worker processes). No network: node_modules come from the
# committed package-lock.json (npm ci, which scripts/deps.sh runs; done here
# offline when missing: better-sqlite3 then compiles from source against the
# headers of Debian's nodejs in /usr/include/node, about 2 minutes).
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
if [ ! -d node_modules/typescript ] || [ ! -e node_modules/baton-client ] || [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "== npm ci (offline, from package-lock.json; better-sqlite3 compiles from source)"
  # node-gyp would download Node's headers: use the installed ones (Debian's nodejs).
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/common.gypi ] && [ "$(command -v node)" = /usr/bin/node ]; then
    export npm_config_nodedir=/usr
  fi
  npm_config_build_from_source=true npm ci --offline --no-audit --no-fund --loglevel=error
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
BATON_URL="$url" BATON_KEY="$key" SETTLE_SHORT=1 SETTLE_LEDGER="$tmp/ledger.sqlite" timeout 150 node dist/main.js >"$tmp/run.out" 2>&1
rc=$?
set -e
cat "$tmp/run.out"
[ "$rc" -eq 0 ] || { echo "run_tests.sh: the example exited $rc"; exit 1; }

# The program's own verdict, and that each part actually reported its claims.
grep -Eq '^[0-9]+/[0-9]+ claims hold$' "$tmp/run.out" || { echo "no final verdict line"; exit 1; }
total="$(sed -nE 's#^([0-9]+)/([0-9]+) claims hold$#\2#p' "$tmp/run.out")"
passed="$(grep -c '\[PASS\]' "$tmp/run.out" || true)"
failed="$(grep -c '\[FAIL\]' "$tmp/run.out" || true)"
[ "$failed" -eq 0 ] && [ "$passed" -eq "$total" ] && [ "$total" -ge 30 ] ||
  { echo "claims: $passed passed, $failed failed, $total reported (expected >= 30, none failed)"; exit 1; }
for want in \
  'PASS\] the stored next_fire_at is the preview' \
  'PASS\] window 4 verified twice: the second run' \
  'PASS\] window 4 verified twice: no new settlement job' \
  'PASS\] every one of the 5,000 players' \
  'PASS\] the ledger applied exactly one delivery per ended match' \
  'PASS\] m103: its worker process was SIGKILLed after the commit' \
  'PASS\] m106: its worker process died (SIGKILL) inside the ledger transaction' \
  'PASS\] m104: replayed from the dead letters' \
  'PASS\] the whole ranking (5,000 places) equals the independent one' ; do
  grep -q "$want" "$tmp/run.out" || { echo "missing from the report: $want"; exit 1; }
done

echo "== figures again, over plain HTTP and in the ledger file"
auth=(-H "Authorization: Bearer $key")
run_tag="$(sqlite3 "$tmp/ledger.sqlite" "SELECT v FROM meta WHERE k = 'run'")"
jobs="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/jobs?queue=stl-settle&limit=500")"
[ "$(jq -r '.next' <<<"$jobs")" = null ] || { echo "more than one page of settlement jobs"; exit 1; }
mine="$(jq --arg r "$run_tag" '[.jobs[] | select(.payload.run == $r)]' <<<"$jobs")"
n_all="$(jq 'length' <<<"$mine")"
n_done="$(jq '[.[] | select(.state == "completed")] | length' <<<"$mine")"
n_dead="$(jq '[.[] | select(.state == "dead")] | length' <<<"$mine")"
n_keyed="$(jq '[.[] | select(.idempotency_key != null)] | length' <<<"$mine")"
[ "$n_all" = 8 ] && [ "$n_done" = 7 ] && [ "$n_dead" = 1 ] && [ "$n_keyed" = 6 ] ||
  { echo "settlement jobs of run $run_tag: $n_all in all, $n_done completed, $n_dead dead, $n_keyed keyed (want 8, 7, 1, 6)"; exit 1; }
# Each key's job, as the settlement status of one match is read (GET /v1/jobs?idempotency_key=).
for k in $(jq -r '.[] | select(.idempotency_key != null) | .idempotency_key' <<<"$mine"); do
  one="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/jobs?idempotency_key=$k")"
  [ "$(jq '.jobs | length' <<<"$one")" = 1 ] && [ "$(jq -r '.jobs[0].state' <<<"$one")" = completed ] ||
    { echo "$k: $(jq -c '[.jobs[] | {id, state}]' <<<"$one") (want one completed job)"; exit 1; }
  m="$(jq -r '.jobs[0].payload.matchId' <<<"$one")"; ts="$(jq -r '.jobs[0].payload.statusTs' <<<"$one")"
  [ "$k" = "settlement:$m:$ts" ] || { echo "$k does not read settlement:{matchId}:{statusTimestamp} ($m, $ts)"; exit 1; }
done
markers="$(sqlite3 "$tmp/ledger.sqlite" "SELECT COUNT(*), COUNT(DISTINCT match_id) FROM match_settlement_ledger")"
applied="$(sqlite3 "$tmp/ledger.sqlite" "SELECT COUNT(*) FROM deliveries WHERE outcome = 'applied'")"
redeliv="$(sqlite3 "$tmp/ledger.sqlite" "SELECT COUNT(*) FROM deliveries WHERE outcome = 'skipped'")"
settled="$(sqlite3 "$tmp/ledger.sqlite" "SELECT SUM(settled_matches) FROM players")"
guesses="$(sqlite3 "$tmp/ledger.sqlite" "SELECT COUNT(*) FROM guesses g JOIN match_settlement_ledger m ON m.match_id = g.match_id")"
[ "$markers" = "6|6" ] && [ "$applied" = 6 ] && [ "$redeliv" -ge 4 ] && [ "$settled" = "$guesses" ] ||
  { echo "ledger: markers $markers, applied $applied, skipped $redeliv, settled $settled vs guesses $guesses (want 6|6, 6, >= 4, equal)"; exit 1; }
cron_left="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/cron" | jq '[.schedules[] | select(.key | startswith("stl-"))] | length')"
[ "$cron_left" = 0 ] || { echo "the example left $cron_left schedules behind"; exit 1; }
echo "ok: 8 settlement jobs (7 completed, 1 dead, 6 keyed, one job per key); ledger 6 markers, 6 applied, $redeliv skipped, settled matches = guesses of settled matches ($settled); no schedule left"

echo "== the ledger without its exactly-once marker must fail"
set +e
BATON_URL="$url" BATON_KEY="$key" SETTLE_SHORT=1 SETTLE_SABOTAGE=1 SETTLE_LEDGER="$tmp/sab.sqlite" timeout 150 node dist/main.js >"$tmp/sab.out" 2>&1
rc=$?
set -e
grep -E 'FAIL\] (every one of|the ledger applied)|claims hold' "$tmp/sab.out" | head -4
[ "$rc" -eq 1 ] || { echo "run_tests.sh: the sabotaged run exited $rc, want 1"; cat "$tmp/sab.out"; exit 1; }
grep -q 'FAIL\] every one of the 5,000 players' "$tmp/sab.out" ||
  { echo "the sabotaged run did not fail the ledger-totals claim"; exit 1; }
grep -q 'FAIL\] the ledger applied exactly one delivery per ended match' "$tmp/sab.out" ||
  { echo "the sabotaged run did not fail the applied-once claim"; exit 1; }

echo "example settlement: ok"
