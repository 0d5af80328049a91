#!/usr/bin/env bash
# pg_server.sh: a throwaway PostgreSQL 15 server for the tests.
#
#   pg_server.sh start DIR   creates DIR, initdb's a trust-auth cluster in it,
#                            starts postgres on a free 127.0.0.1 port (and a unix
#                            socket in DIR/sock), waits until it accepts
#                            connections (bounded), creates the database
#                            baton_test and prints its URI on stdout. The
#                            postmaster's pid is in DIR/pid.
#   pg_server.sh stop DIR    stops that postmaster by its pid (fast shutdown,
#                            then SIGKILL after a bounded wait) and removes DIR.
#   pg_server.sh restart DIR PORT
#                            stops that postmaster (as stop does) but keeps DIR,
#                            and starts it again on PORT with the same data,
#                            waiting until it accepts connections (bounded);
#                            for tests of batond across a database restart.
#
# initdb and postgres refuse to run as root, so as root they run as the
# `postgres` system user (made by the postgresql-15 package) through setpriv,
# which execs in place: the pid we record is the postmaster itself. The cluster
# is for tests only: fsync is off, since nothing in it has to survive a crash of
# the machine (batond's own durability is tested on SQLite and by kill -9 of
# batond, which PostgreSQL survives without fsync). PG_DURABLE=1 keeps
# PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes),
# for benchmarks.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

AS_PG=()
if [ "$(id -u)" -eq 0 ]; then
  AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=-all --)
fi
as_pg() { "${AS_PG[@]}" "$@"; }

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

stop_pid() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pid"
}

start() {
  local dir=$1 port pid
  mkdir -p "$dir/sock"
  chmod 700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$dir"
  fi
  as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U baton -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  local fast=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
  if [ "${PG_DURABLE:-}" = 1 ]; then
    fast=()
  fi
  for attempt in 1 2 3; do
    port=$(free_port)
    # Not through as_pg: a backgrounded function would fork a subshell, and $!
    # must be the postmaster itself.
    "${AS_PG[@]}" "$PGBIN/postgres" -D "$dir/data" -p "$port" -k "$dir/sock" \
      -c listen_addresses=127.0.0.1 "${fast[@]}" -c max_connections=300 -c shared_buffers=128MB \
      >"$dir/postgres.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    for _ in $(seq 1 200); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if pg_isready -q -h "$dir/sock" -p "$port" -U baton -d postgres; then
        as_pg "$PGBIN/psql" -q -h "$dir/sock" -p "$port" -U baton -d postgres \
          -c "CREATE DATABASE baton_test" >/dev/null
        echo "postgresql://baton@127.0.0.1:$port/baton_test"
        return 0
      fi
      sleep 0.05
    done
    echo "pg_server: postgres did not start on port $port (attempt $attempt):" >&2
    tail -n 5 "$dir/postgres.log" >&2 || true
    stop_pid "$dir"
  done
  return 1
}

restart() {
  local dir=$1 port=$2 pid
  stop_pid "$dir"
  "${AS_PG[@]}" "$PGBIN/postgres" -D "$dir/data" -p "$port" -k "$dir/sock" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB \
    >>"$dir/postgres.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    if pg_isready -q -h "$dir/sock" -p "$port" -U baton -d postgres; then
      return 0
    fi
    sleep 0.05
  done
  echo "pg_server: postgres did not restart on port $port:" >&2
  tail -n 5 "$dir/postgres.log" >&2 || true
  return 1
}

case "${1:-}" in
start) start "$2" ;;
restart) restart "$2" "$3" ;;
stop)
  stop_pid "$2"
  rm -rf "$2"
  ;;
*)
  echo "usage: pg_server.sh start|stop DIR" >&2
  exit 2
  ;;
esac
