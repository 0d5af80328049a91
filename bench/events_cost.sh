#!/usr/bin/env bash
# events_cost.sh: what the event log costs per processed job, in instructions
# (callgrind), so that the figure does not depend on what else the machine is
# doing. For each of --rounds rounds it runs, alternately with the queue's
# per-job events on and off (bench_process --job-events 1 / 0, which PATCHes
# "job_events": false on its queue before the preload), a fresh batond under
# valgrind --tool=callgrind --separate-threads=yes on a fresh data directory
# (127.0.0.1, a free port, stopped by its pid), pre-loads and processes JOBS
# no-op jobs (batches of 1,000, claims of CLAIM, settles of what was claimed),
# stops it, and prints the instructions of the whole process and of its store
# thread (the thread that runs the transactions), each divided by JOBS. Every
# job writes three events when on (job.enqueued, job.started, job.completed).
#
#   bench/events_cost.sh BUILD_DIR [JOBS] [CLAIM] [ROUNDS]
#
# Needs valgrind. Every process it starts is stopped by its pid on exit.
set -euo pipefail

BUILD=${1:?usage: events_cost.sh BUILD_DIR [JOBS] [CLAIM] [ROUNDS]}
JOBS=${2:-5000}
CLAIM=${3:-100}
ROUNDS=${4:-2}
WORK=$(mktemp -d /tmp/baton-evcost.XXXXXX)
PID=

cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The instructions (Ir) of a callgrind output file: its "summary:" line.
ir_of() {
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

one_run() { # one_run EVENTS(1|0) -> "total store" instructions
  local ev=$1 dir="$WORK/run-$ev-$RANDOM" port
  mkdir -p "$dir/data"
  port=$(free_port)
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.%p" \
    "$BUILD/batond" --listen "127.0.0.1:$port" --data "$dir/data" >"$dir/log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    if [ -s "$dir/data/admin.key" ] && grep -q "listening on" "$dir/log"; then break; fi
    sleep 0.1
  done
  BATON_URL="http://127.0.0.1:$port" BATON_KEY="$(cat "$dir/data/admin.key")" \
    "$BUILD/bench_process" --jobs "$JOBS" --claim-max "$CLAIM" --workers 2 \
    --timeout-ms 600000 --job-events "$ev" >"$dir/bench" 2>&1
  kill -TERM "$PID"
  for _ in $(seq 1 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  wait "$PID" 2>/dev/null || true
  PID=
  local total=0 store=0 f ir
  for f in "$dir"/cg.*; do
    ir=$(ir_of "$f")
    total=$((total + ir))
    # The store thread is the one that stepped SQLite.
    if grep -q "sqlite3_step" "$f"; then
      [ "$ir" -gt "$store" ] && store=$ir
    fi
  done
  grep -E "^process claim_max" "$dir/bench" >&2
  echo "$total $store"
}

for r in $(seq 1 "$ROUNDS"); do
  for ev in 1 0; do
    read -r total store < <(one_run "$ev")
    awk -v r="$r" -v ev="$ev" -v t="$total" -v s="$store" -v n="$JOBS" 'BEGIN {
      printf "events_cost round=%d job_events=%s process_instr_per_job=%.0f store_thread_instr_per_job=%.0f\n",
        r, ev == 1 ? "on" : "off", t / n, s / n }'
  done
done
