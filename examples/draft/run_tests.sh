#!/usr/bin/env bash
# run_tests.sh: the short run of examples/draft (seed 002) against a batond
# this script starts. CTest runs it as example_draft with BATOND (the batond
# binary, absolute) and BATON_SRC (the repo root); standalone:
#   BATOND=$PWD/build/batond BATON_SRC=$PWD bash examples/draft/run_tests.sh
# Steps: gofmt -l and go vet, build the example (no module downloads: the
# client comes from ../../clients/go through go.mod's replace), start batond
# on 127.0.0.1:0 with a temp --data and --sync normal, run the short version
# (60 drafts, 1 s clock, the worker killed with SIGKILL mid-draft; it exits 1
# when a claim fails) and check its report, check figures again over plain
# HTTP and in the ledger files with curl and jq, then run two sabotaged
# versions at once (no pick-number fence; no compare-and-set) and require
# that both FAIL. Everything started here is stopped by pid on EXIT (the
# example kills the worker processes it starts itself, by pid).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
: "${BATOND:?BATOND must name the batond binary to test}"
cd "$here"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on
export GOCACHE="${GOCACHE:-${HOME:-/tmp}/.cache/baton-go-build}"
export GOPATH="${GOPATH:-${HOME:-/tmp}/.cache/baton-go-path}"
mkdir -p "$GOCACHE" "$GOPATH"

tmp="$(mktemp -d)"
srv_pid=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== gofmt -l, go vet, go build"
unformatted="$(gofmt -l .)"
[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted"; exit 1; }
go vet ./...
go build -o "$tmp/draft" .

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

echo "== the example, short run (the worker is killed with SIGKILL mid-draft)"
set +e
BATON_URL="$url" BATON_KEY="$key" timeout 120 "$tmp/draft" -short -state "$tmp/state" >"$tmp/run.out" 2>&1
rc=$?
set -e
cat "$tmp/run.out"
[ "$rc" -eq 0 ] || { echo "run_tests.sh: the example exited $rc"; tail -20 "$tmp"/state/worker-*.log; exit 1; }

grep -Eq '^[0-9]+/[0-9]+ claims hold$' "$tmp/run.out" || { echo "no final verdict line"; exit 1; }
total="$(sed -nE 's#^([0-9]+)/([0-9]+) claims hold$#\2#p' "$tmp/run.out")"
passed="$(grep -c '\[PASS\]' "$tmp/run.out" || true)"
failed="$(grep -c '\[FAIL\]' "$tmp/run.out" || true)"
[ "$failed" -eq 0 ] && [ "$passed" -eq "$total" ] && [ "$total" -ge 20 ] ||
  { echo "claims: $passed passed, $failed failed, $total reported (expected >= 20, none failed)"; exit 1; }
for want in \
  'PASS\] all 60 drafts completed all 12 picks' \
  'PASS\] each draft.s picks are 1..12, each made exactly once' \
  'PASS\] each clock version fired at most once' \
  'PASS\] no timeout was lost: every clock version' \
  'PASS\] every timeout auto-picked exactly once' \
  'PASS\] no two jobs of one draft ever ran at once' \
  'PASS\] the worker was killed (SIGKILL) mid-draft' \
  'PASS\] no timeout was lost across the kill' \
  'PASS\] the jobs the kill cut off' \
  'timer lateness .*p50 .*p99 ' ; do
  grep -q "$want" "$tmp/run.out" || { echo "missing from the report: $want"; exit 1; }
done

echo "== figures again, over plain HTTP and from the ledger files"
tag="$(sed -nE 's#^  run ([0-9a-z]+): queue .*#\1#p' "$tmp/run.out")"
[ -n "$tag" ] || { echo "no run tag in the report"; exit 1; }
auth=(-H "Authorization: Bearer $key")
q="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/queues/draft-$tag")"
gc="$(jq -r '.queue.group_concurrency' <<<"$q")"
done_n="$(jq -r '.queue.counts.completed' <<<"$q")"
other="$(jq -r '.queue.counts | .pending + .scheduled + .queued + .running + .retrying + .dead + .cancelled' <<<"$q")"
[ "$gc" = 1 ] && [ "$other" = 0 ] && [ "$done_n" -ge 720 ] ||
  { echo "queue draft-$tag: group_concurrency $gc, completed $done_n, others $other (want 1, >= 720, 0)"; exit 1; }
curl -fsS -m 10 "${auth[@]}" "$url/v1/jobs?queue=draft-$tag&limit=1000" >"$tmp/jobs.json"
[ "$(jq -r '.next' "$tmp/jobs.json")" = null ] || { echo "more than 1000 jobs: the check below would miss some"; exit 1; }
jobs_n="$(jq '.jobs | length' "$tmp/jobs.json")"
applied="$(jq '[.jobs[] | select(.result.applied == true)] | length' "$tmp/jobs.json")"
per_pick="$(jq '[.jobs[] | select(.result.applied == true) | "\(.result.draft)#\(.result.pick)"] | unique | length' "$tmp/jobs.json")"
fired="$(jq '[.jobs[] | "\(.timer.key)#\(.timer.version)"] | unique | length' "$tmp/jobs.json")"
cutoff="$(jq '[.jobs[] | select(any(.attempts[]; .outcome == "lease_expired"))] | length' "$tmp/jobs.json")"
[ "$jobs_n" = "$done_n" ] && [ "$applied" = 720 ] && [ "$per_pick" = 720 ] && [ "$fired" = "$jobs_n" ] && [ "$cutoff" -ge 1 ] ||
  { echo "jobs $jobs_n (completed $done_n), applied $applied over $per_pick picks (want 720, 720), $fired distinct timer versions, $cutoff cut off by the kill"; exit 1; }
timers="$(curl -fsS -m 5 "${auth[@]}" "$url/v1/timers?prefix=draft:$tag-&limit=1000")"
clocks="$(jq '.timers | length' <<<"$timers")"
running="$(jq '[.timers[] | select(.state == "scheduled")] | length' <<<"$timers")"
[ "$clocks" = 60 ] && [ "$running" = 0 ] || { echo "clocks: $clocks, $running still scheduled (want 60, 0)"; exit 1; }
ledger_ok="$(jq -s '[.[] | ([.picks[].n] == [range(1; 13)]) and (([.picks[].player] | unique | length) == 12)] | map(select(.)) | length' "$tmp"/state/"$tag"-*.json)"
[ "$ledger_ok" = 60 ] || { echo "ledger: $ledger_ok of 60 drafts have picks 1..12 with 12 distinct players"; exit 1; }
echo "ok: group_concurrency 1; $jobs_n jobs completed, each from its own timer version; 720 picks applied once each; $cutoff jobs cut off by the kill; 60 clocks, none running; 60 ledgers hold picks 1..12"

echo "== sabotaged runs (no pick-number fence; no compare-and-set) must fail"
for s in fence cas; do
  BATON_URL="$url" BATON_KEY="$key" timeout 90 "$tmp/draft" -short -drafts 30 -stall 4s -sabotage "$s" \
    -state "$tmp/state-$s" >"$tmp/sab-$s.out" 2>&1 &
  pids+=($!)
done
rcs=()
for p in "${pids[@]}"; do
  set +e
  wait "$p"
  rcs+=($?)
  set -e
done
pids=()
for i in 0 1; do
  s=(fence cas)
  s="${s[$i]}"
  grep -E 'SABOTAGED|FAIL|claims hold' "$tmp/sab-$s.out" | head -5
  [ "${rcs[$i]}" -eq 1 ] || { echo "run_tests.sh: the $s-sabotaged run exited ${rcs[$i]}, want 1"; cat "$tmp/sab-$s.out"; exit 1; }
done
grep -q 'FAIL\] each draft.s picks are 1..12, each made exactly once' "$tmp/sab-fence.out" ||
  { echo "without the fence, the exactly-once claim did not fail"; exit 1; }
grep -q 'FAIL\] no timeout was lost: every clock version' "$tmp/sab-cas.out" ||
  { echo "without compare-and-set, the lost-timeout claim did not fail"; exit 1; }

echo "example draft: ok"
