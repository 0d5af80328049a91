#!/usr/bin/env bash
# run.sh: every DESIGN §9 figure, one command, against one or more targets:
#   sqlite  one batond on the embedded store
#   pg      one batond on a durable throwaway PostgreSQL 15
#   pg3     three batond nodes (b1, b2, b3) on that PostgreSQL
#
# It builds nothing: it runs the binaries of a build directory (--build, default
# build-bench at the top of the repository), made with
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-bench -j2
# For each figure it starts fresh servers (a fresh data directory, and for pg and
# pg3 a fresh schema, dropped afterwards) on free 127.0.0.1 ports with --sync
# full, waits until the machine is quiet (docs/benchmarks.md "Noise": 2 s in a
# row under --quiet-pct busy, at most --quiet-max-s), runs the bench program,
# stops every server by its pid and writes one summary line to the results
# file, with the load average before the run and the share of the machine that
# other processes (not batond, not the bench client, not our PostgreSQL) took
# during it. The full output of every program goes to <out>.d/. The default
# results file is <build>/bench-results-<time>.txt.
#
# usage: bench/run.sh [--target sqlite,pg,pg3] [--build DIR] [--quick]
#                     [--only fig1,fig2] [--out FILE] [--timers N | --million]
#                     [--timers-lead-s S]
#                     [--restart-jobs N] [--quiet-pct P] [--quiet-max-s S]
# figures: batch100 batch1000 single1 single32 single64 single1_normal (server
#          --sync normal) wrk32 wrk64 (wrk, bench/wrk_enqueue.lua; skipped
#          without wrk) wrk32_tls wrk64_tls single32_tls (the same over https://:
#          batond --tls-cert/--tls-key with a self-signed certificate for
#          127.0.0.1 made by the openssl command) process100 process1000 latency delayed timers cron_all
#          cron_spread restart rss settlement (seed 000: 50,000 players settled
#          exactly once under faults)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALL_FIGS="batch100 batch1000 single1 single32 single64 single1_normal wrk32 wrk64 wrk32_tls wrk64_tls single32_tls process100 process1000 latency delayed timers cron_all cron_spread restart rss settlement"
TARGETS=sqlite
BUILD=$ROOT/build-bench
QUICK=0
ONLY=
OUT=
TIMERS=
MILLION=0
TIMERS_LEAD_S=
RESTART_JOBS=
QUIET_PCT=8
QUIET_MAX_S=

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
  --target) TARGETS=$2; shift 2 ;;
  --build) BUILD=$(cd "$2" && pwd) || exit 2; shift 2 ;;
  --quick) QUICK=1; shift ;;
  --only) ONLY=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  --timers) TIMERS=$2; shift 2 ;;
  --million) MILLION=1; shift ;;
  --timers-lead-s) TIMERS_LEAD_S=$2; shift 2 ;;
  --restart-jobs) RESTART_JOBS=$2; shift 2 ;;
  --quiet-pct) QUIET_PCT=$2; shift 2 ;;
  --quiet-max-s) QUIET_MAX_S=$2; shift 2 ;;
  -h | --help) usage ;;
  *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done

for t in ${TARGETS//,/ }; do
  case $t in sqlite | pg | pg3) ;; *) echo "run.sh: unknown target $t" >&2; exit 2 ;; esac
done
FIGS=$ALL_FIGS
if [ -n "$ONLY" ]; then
  FIGS=${ONLY//,/ }
  for f in $FIGS; do
    case " $ALL_FIGS " in *" $f "*) ;; *) echo "run.sh: unknown figure $f" >&2; exit 2 ;; esac
  done
fi
for b in batond bench_enqueue_batch bench_enqueue_single bench_process bench_latency \
  bench_delayed bench_timer_lateness bench_cron_lateness bench_restart bench_settlement; do
  [ -x "$BUILD/$b" ] || { echo "run.sh: $BUILD/$b missing; build first (see the top of this file)" >&2; exit 2; }
done
[ -n "$QUIET_MAX_S" ] || QUIET_MAX_S=$([ $QUICK = 1 ] && echo 5 || echo 120)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$BUILD/bench-results-$STAMP.txt
LOGDIR=$OUT.d
mkdir -p "$LOGDIR" || exit 2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/baton-run.XXXXXX") || exit 2
chmod 711 "$WORK" # the PostgreSQL server runs as user postgres when we are root
# batond and the programs read these; each figure sets its own.
unset BATON_STORE BATON_NODE_ID BATON_URL BATON_KEY BATON_API_KEY BATON_CA_FILE
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# ---- processes we start, stopped by pid on any exit ----

NODE_PIDS=()
NODE_SYNC=full
NODE_URLS=()
NODE_DIRS=()
PG_DIR=
PG_URI=
SCHEMA=

stop_pid() { # pid: SIGTERM, bounded wait, then SIGKILL
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

stop_nodes() {
  local p
  for p in "${NODE_PIDS[@]}"; do stop_pid "$p"; done
  for d in "${NODE_DIRS[@]}"; do rm -rf "$d"; done
  NODE_PIDS=()
  NODE_URLS=()
  NODE_DIRS=()
}

psql_do() { PGOPTIONS="-c client_min_messages=warning" psql -q -X -v ON_ERROR_STOP=1 "$PG_URI" -c "$1" >/dev/null; }

drop_schema() {
  [ -n "$SCHEMA" ] && psql_do "DROP SCHEMA IF EXISTS $SCHEMA CASCADE"
  SCHEMA=
}

BENCH_PID=
cleanup() {
  [ -n "$BENCH_PID" ] && stop_pid "$BENCH_PID"
  stop_nodes
  if [ -n "$PG_DIR" ]; then
    drop_schema 2>/dev/null
    bash "$ROOT/scripts/pg_server.sh" stop "$PG_DIR" >/dev/null 2>&1
    PG_DIR=
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start() {
  [ -n "$PG_DIR" ] && return 0
  PG_DIR=$WORK/pg
  PG_URI=$(PG_DURABLE=1 bash "$ROOT/scripts/pg_server.sh" start "$PG_DIR") || {
    echo "run.sh: PostgreSQL did not start" >&2
    PG_DIR=
    return 1
  }
}

pg_stop() {
  [ -n "$PG_DIR" ] || return 0
  bash "$ROOT/scripts/pg_server.sh" stop "$PG_DIR" >/dev/null 2>&1
  PG_DIR=
}

# Sets STORE to the URI of a fresh schema (created here, dropped by
# drop_schema). Not in a subshell: SCHEMA must stay set for drop_schema.
STORE=
fresh_store() {
  SCHEMA=bench_$(date +%s%N)
  STORE="$PG_URI?options=-csearch_path%3D$SCHEMA"
  psql_do "CREATE SCHEMA $SCHEMA"
}

# The CA file (the self-signed certificate itself) of a TLS figure, else
# empty; start_node's /readyz check trusts it.
TLS_CA=

# start_node NAME STORE EXTRA...: a fresh batond on a free port; waits for /readyz.
start_node() {
  local name=$1 store=$2 d url pid
  shift 2
  d=$(mktemp -d "$WORK/node-$name.XXXXXX")
  local args=(--listen 127.0.0.1:0 --data "$d" --sync "$NODE_SYNC" --log-level warn "$@")
  [ -n "$store" ] && args+=(--store "$store" --node-id "$name")
  "$BUILD/batond" "${args[@]}" >"$d/out" 2>&1 &
  pid=$!
  NODE_PIDS+=("$pid")
  NODE_DIRS+=("$d")
  for _ in $(seq 1 300); do
    url=$(grep -Eo 'https?://127[.0-9]+:[0-9]+' "$d/out" | head -1)
    if [ -n "$url" ] && curl -sf ${TLS_CA:+--cacert "$TLS_CA"} -o /dev/null "$url/readyz"; then
      NODE_URLS+=("$url")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: batond $name did not become ready:" >&2
  tail -n 5 "$d/out" >&2
  return 1
}

# start_cluster TARGET EXTRA...: the servers of a target; exports BATON_URL (a
# comma-separated list for pg3) and BATON_KEY.
start_cluster() {
  local target=$1 store= n=1 i
  shift
  case $target in
  pg) fresh_store && store=$STORE || return 1 ;;
  pg3) fresh_store && store=$STORE || return 1; n=3 ;;
  esac
  for i in $(seq 1 $n); do
    start_node "b$i" "$store" "$@" || return 1
  done
  BATON_URL=$(IFS=,; echo "${NODE_URLS[*]}")
  BATON_KEY=$(cat "${NODE_DIRS[0]}/admin.key")
  export BATON_URL BATON_KEY
}

# ---- noise: quiet wait and the share taken by others ----

cpu_busy() { # busy jiffies of the machine
  awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat
}

cpu_total() {
  awk '/^cpu /{s=0; for(i=2;i<=9;i++) s+=$i; print s}' /proc/stat
}

pid_cpu() { # utime + stime (+ children's) of a pid, 0 when gone
  awk '{print $14+$15+$16+$17}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Our own servers' jiffies: the batond nodes and every process of our
# PostgreSQL (postmaster and its children).
ours_cpu() {
  local s=0 p pgpid
  for p in "${NODE_PIDS[@]}"; do s=$((s + $(pid_cpu "$p"))); done
  if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/pid" ]; then
    pgpid=$(cat "$PG_DIR/pid")
    for p in $pgpid $(ps -o pid= --ppid "$pgpid" 2>/dev/null); do s=$((s + $(pid_cpu "$p"))); done
  fi
  echo $s
}

# Sets CHILDREN to the jiffies of this shell's reaped children (bash `times`,
# run in this shell: a subshell would report its own, fresh, counters).
CHILDREN=0
children_cpu() {
  times >"$WORK/times"
  CHILDREN=$(awk -v hz="$HZ" 'NR==2{
    split($1,u,/[ms]/); split($2,s,/[ms]/); printf "%d\n", (u[1]*60+u[2]+s[1]*60+s[2])*hz }' "$WORK/times")
}

QUIET_NOTE=
quiet_wait() {
  local t0 prev_b prev_t b t pct under=0 waited=0
  prev_b=$(cpu_busy); prev_t=$(cpu_total)
  t0=$(date +%s)
  while :; do
    sleep 1
    b=$(cpu_busy); t=$(cpu_total)
    pct=$(((b - prev_b) * 100 / (t - prev_t > 0 ? t - prev_t : 1)))
    prev_b=$b; prev_t=$t
    if [ "$pct" -lt "$QUIET_PCT" ]; then under=$((under + 1)); else under=0; fi
    waited=$(($(date +%s) - t0))
    if [ $under -ge 2 ]; then
      QUIET_NOTE="quiet after ${waited}s"
      return 0
    fi
    if [ "$waited" -ge "$QUIET_MAX_S" ]; then
      QUIET_NOTE="NOT quiet after ${waited}s (last ${pct}% busy)"
      return 0
    fi
  done
}

# ---- the figures ----

# wrk_nodes CONNS SECONDS: one wrk per node of $BATON_URL, the connections
# shared out, run at once; prints each wrk's lines and their total.
wrk_nodes() {
  local conns=$1 secs=$2 urls k i c pids=() total
  IFS=, read -ra urls <<<"$BATON_URL"
  k=${#urls[@]}
  for i in $(seq 0 $((k - 1))); do
    c=$((conns / k + (i < conns % k ? 1 : 0)))
    WRK_QUEUE=wrk$conns-$i wrk -t$((k == 1 ? 2 : 1)) -c$c -d${secs}s \
      -s "$ROOT/bench/wrk_enqueue.lua" "${urls[$i]}" >"$WORK/wrk.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || return 1; done
  cat "$WORK"/wrk.*
  total=$(cat "$WORK"/wrk.* | grep -Eo 'throughput=[0-9]+' | cut -d= -f2 | paste -sd+ | bc)
  rm -f "$WORK"/wrk.*
  echo "wrk_total connections=$conns nodes=$k throughput=$total jobs/s"
}

# fig_cmd FIGURE TARGET: the bench command line (BATON_URL/BATON_KEY set).
fig_cmd() {
  local f=$1 target=$2 q=$QUICK
  case $f in
  batch100 | batch1000)
    echo "$BUILD/bench_enqueue_batch --batches ${f#batch} --threads 4 --jobs $([ $q = 1 ] && echo 5000 || ([ $f = batch100 ] && echo 200000 || echo 300000))" ;;
  single1 | single32 | single64 | single32_tls)
    f=${f%_tls}
    echo "$BUILD/bench_enqueue_single --inflight ${f#single} --duration-ms $([ $q = 1 ] && echo 1000 || echo 5000)" ;;
  single1_normal)
    echo "$BUILD/bench_enqueue_single --inflight 1 --duration-ms $([ $q = 1 ] && echo 1000 || echo 5000)" ;;
  wrk32 | wrk64 | wrk32_tls | wrk64_tls)
    f=${f%_tls}
    echo "wrk_nodes ${f#wrk} $([ $q = 1 ] && echo 1 || echo 5)" ;;
  process100 | process1000)
    echo "$BUILD/bench_process --claim-max ${f#process} --workers 4 --timeout-ms 900000 --jobs $([ $q = 1 ] && echo 2000 || echo 100000)" ;;
  latency)
    # One URL for sqlite and pg; for pg3 the list b1,b2,b3: enqueue on b1,
    # the worker on b2 (bench_latency takes the first two).
    echo "$BUILD/bench_latency --rate 500 --duration-ms $([ $q = 1 ] && echo 2000 || echo 10000) --warmup 100" ;;
  delayed)
    echo "$BUILD/bench_delayed --jobs $([ $q = 1 ] && echo 1000 || echo 10000) --lead-ms $([ $q = 1 ] && echo 3000 || echo 10000) --workers 4 --claim-max 100" ;;
  timers)
    # The lead must outlast the creation, so that every timer is pending
    # before the first falls due (the program counts those created late):
    # PostgreSQL creates them at a few thousand per second.
    if [ $MILLION = 1 ]; then
      echo "$BUILD/bench_timer_lateness --timers 1000000 --window-ms 120000 --lead-ms $((${TIMERS_LEAD_S:-$([ "$target" = sqlite ] && echo 300 || echo 600)} * 1000))"
    elif [ $q = 1 ]; then
      echo "$BUILD/bench_timer_lateness --timers ${TIMERS:-2000} --lead-ms $((${TIMERS_LEAD_S:-3} * 1000)) --window-ms 3000"
    else
      echo "$BUILD/bench_timer_lateness --timers ${TIMERS:-100000} --lead-ms $((${TIMERS_LEAD_S:-90} * 1000)) --window-ms 60000"
    fi ;;
  cron_all)
    if [ $q = 1 ]; then
      echo "$BUILD/bench_cron_lateness --schedules 200 --every-s 5 --ticks 1 --threads 4"
    else
      echo "$BUILD/bench_cron_lateness --schedules 10000 --ticks 3 --threads 4"
    fi ;;
  cron_spread)
    if [ $q = 1 ]; then
      echo "$BUILD/bench_cron_lateness --schedules 200 --spread 1 --every-s 5 --ticks 1 --threads 4"
    else
      echo "$BUILD/bench_cron_lateness --schedules 10000 --spread 1 --ticks 2 --threads 4"
    fi ;;
  restart)
    echo "$BUILD/bench_restart --batond $BUILD/batond --sync full --run restart --jobs ${RESTART_JOBS:-$([ $q = 1 ] && echo 5000 || echo 1000000)}" ;;
  rss)
    echo "$BUILD/bench_restart --batond $BUILD/batond --sync full --run rss --rss-jobs $([ $q = 1 ] && echo 5000 || echo 100000)" ;;
  settlement)
    echo "$BUILD/bench_settlement --workers 4 --claim 100 --timeout-ms 900000 --players $([ $q = 1 ] && echo 2000 || echo 50000)" ;;
  esac
}

# The lines of a program's output that carry the figure, joined by " | ".
fig_summary() {
  grep -E '^(enqueue_batch batch=[0-9]+ (threads|request)|enqueue_single inflight=|wrk_enqueue latency|wrk_total |process claim_max=|latency rate=|latency enqueue->worker|latency sender|delayed (enqueued|start lateness)|delayed jobs=|created [0-9]+ (timers|schedules)|timers [0-9]+ over|lateness |schedules [0-9]+, ticks|restart (load|jobs_stored)|rss jobs=|settlement (players|whistle|ok|FAILED))' "$1" |
    sed -E 's/ (p90|mean)=[0-9.]+ ms//g; s/  +/ /g' | paste -sd'|' | sed 's/|/ | /g'
}

run_figure() {
  local target=$1 f=$2 log cmd store= extra=() load rc t0 t1 b0 b1 o0 o1 c0 c1 others hwm= p
  log=$LOGDIR/$target-$f.log
  case $f in cron_all | cron_spread) [ $QUICK = 1 ] && extra=(--cron-min-interval-ms 1000) ;; esac
  case $f in wrk*) command -v wrk >/dev/null || { echo "$target $f: skipped, no wrk" | tee -a "$OUT"; return 0; } ;; esac
  NODE_SYNC=full
  [ "$f" = single1_normal ] && NODE_SYNC=normal
  TLS_CA=
  case $f in
  *_tls)
    # The figure's scratch directory holds a self-signed certificate for
    # 127.0.0.1 (as tests/e2e/test_tls.c makes it); the bench client trusts
    # it through $BATON_CA_FILE, wrk does not check certificates.
    mkdir -p "$WORK/tls-$f" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$WORK/tls-$f/key.pem" -out "$WORK/tls-$f/cert.pem" >/dev/null 2>&1 ||
      { echo "run.sh: openssl could not make a certificate" >&2; return 1; }
    TLS_CA=$WORK/tls-$f/cert.pem
    extra+=(--tls-cert "$WORK/tls-$f/cert.pem" --tls-key "$WORK/tls-$f/key.pem")
    export BATON_CA_FILE=$TLS_CA ;;
  esac
  case $f in
  restart | rss)
    # bench_restart starts its own batond (its CPU counts as the client's);
    # for pg3 two more nodes run on the same schema, so it measures one node
    # of a three-node cluster. BATON_URL names those two, for the log only.
    unset BATON_URL
    case $target in
    pg) fresh_store && store=$STORE || return 1 ;;
    pg3)
      fresh_store && store=$STORE || return 1
      start_node b2 "$store" && start_node b3 "$store" || { stop_nodes; drop_schema; return 1; }
      BATON_URL=$(IFS=,; echo "${NODE_URLS[*]}")
      BATON_KEY=$(cat "${NODE_DIRS[0]}/admin.key"); export BATON_URL BATON_KEY ;;
    esac
    cmd="$(fig_cmd "$f" "$target")${store:+ --store $store}" ;;
  *)
    start_cluster "$target" "${extra[@]}" || { stop_nodes; drop_schema; return 1; }
    cmd=$(fig_cmd "$f" "$target") ;;
  esac
  quiet_wait
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "# $target $f at $(date -u +%FT%TZ), load $load, $QUIET_NOTE"
    echo "# BATON_URL=${BATON_URL:-} $cmd"
  } >"$log"
  # Our processes' counters are read outside the machine's, so that the
  # machine's interval is the shorter one and others are not overstated.
  o0=$(ours_cpu); children_cpu; c0=$CHILDREN
  b0=$(cpu_busy); a0=$(cpu_total); t0=$(date +%s%N)
  # In the background so that a signal to this script is handled at once
  # (bash runs traps only between foreground commands); cleanup stops it.
  # shellcheck disable=SC2086
  $cmd >>"$log" 2>&1 &
  BENCH_PID=$!
  wait "$BENCH_PID"
  rc=$?
  BENCH_PID=
  t1=$(date +%s%N); b1=$(cpu_busy); a1=$(cpu_total)
  o1=$(ours_cpu); children_cpu; c1=$CHILDREN
  echo "# jiffies during the run: machine busy $((b1 - b0)) of $((a1 - a0)), servers $((o1 - o0)), client $((c1 - c0))" >>"$log"
  others=$(awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) -v c=$((c1 - c0)) -v a=$((a1 - a0)) \
    'BEGIN{x=a>0?(b-o-c)/a*100:0; if(x<0)x=0; printf "%.0f%%", x}')
  for p in "${NODE_PIDS[@]}"; do
    hwm+="$(awk '/^VmHWM/{printf "%.1f", $2/1024}' "/proc/$p/status" 2>/dev/null),"
  done
  stop_nodes
  drop_schema
  if [ -n "$TLS_CA" ]; then
    rm -rf "$WORK/tls-$f"
    TLS_CA=
    unset BATON_CA_FILE
  fi
  printf '%-6s %-14s %s | rc %d | load %s | others %s | %s%s | %.0f s\n' "$target" "$f" \
    "$(fig_summary "$log")" "$rc" "$load" "$others" "$QUIET_NOTE" \
    "${hwm:+ | batond VmHWM MiB ${hwm%,}}" "$(awk -v ns=$((t1 - t0)) 'BEGIN{print ns/1e9}')" |
    tee -a "$OUT"
  [ $rc = 0 ] || { echo "  (failed: see $log)" | tee -a "$OUT"; tail -n 3 "$log" | sed 's/^/  /' | tee -a "$OUT"; }
}

{
  echo "# bench/run.sh at $(date -u +%FT%TZ): targets $TARGETS, $([ $QUICK = 1 ] && echo quick || echo full) sizes"
  echo "# commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src include bench 2>/dev/null || echo ' (working tree differs in src/include/bench)'), binaries from $BUILD ($("$BUILD/batond" --version 2>&1 | head -1))"
  echo "# machine: $NCPU cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# every server --sync full (single1_normal: --sync normal); quiet = 2 s in a row under $QUIET_PCT% busy, waited at most $QUIET_MAX_S s; others = CPU share of processes other than batond, the client and our PostgreSQL during the run"
} | tee -a "$OUT"

for target in ${TARGETS//,/ }; do
  if [ "$target" != sqlite ]; then
    pg_start || exit 1
    echo "# $target: PostgreSQL $(psql -XAtq "$PG_URI" -c 'SHOW server_version') (PG_DURABLE=1: fsync, synchronous_commit, full_page_writes on)" | tee -a "$OUT"
  fi
  for f in $FIGS; do
    run_figure "$target" "$f" || echo "$target $f: could not start the servers" | tee -a "$OUT"
  done
  [ "$target" = sqlite ] || pg_stop
done
echo "# results in $OUT, every program's output in $LOGDIR/"
