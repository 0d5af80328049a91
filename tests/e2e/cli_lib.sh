# cli_lib.sh: the frame and check helpers shared by the shell tests of the
# baton CLI (test_cli.sh, test_cli_cron.sh, test_cli_timers.sh, test_cli_runsafe.sh,
# test_cli_queues.sh, test_work_cli.sh). Sourced first thing: it checks that
# $BATOND and $BATON name the binaries, makes the scratch directory $tmp, sets
# the counters failures=0 and checks=0 (fail/run/has/hasnt update them) and
# installs the EXIT trap (cli_cleanup) that stops, by pid, the server
# (srv_pid, from cli_start_server) and every process the test recorded in
# cli_pids. Every wait here is bounded in count and time.

: "${BATOND:?BATOND must name the batond binary}"
: "${BATON:?BATON must name the baton binary}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-$(basename "$0" .sh)-XXXXXX")
srv_pid=""
cli_pids=()
failures=0
checks=0

# cli_wait_exit PID TRIES: waits up to TRIES x 50 ms for PID (a child of this
# shell) to exit; exit_rc receives its exit status, or "" when it is still
# running.
cli_wait_exit() {
	local p=$1 tries=$2
	exit_rc=""
	for _ in $(seq 1 "$tries"); do
		if ! kill -0 "$p" 2>/dev/null; then
			wait "$p"
			exit_rc=$?
			return 0
		fi
		sleep 0.05
	done
	return 0
}

# cli_stop_pid PID: stop_pid (stop_lib.sh): SIGTERM, up to 5 s, then SIGKILL.
. "$(dirname "${BASH_SOURCE[0]}")/stop_lib.sh"
cli_stop_pid() {
	stop_pid "$1"
}

# cli_cleanup: the EXIT trap. Stops the processes in cli_pids (workers and
# waiting commands, in the order started), kills the commands whose pids a
# test wrote to $tmp/*.pid (none may outlive the test), then stops the server
# and removes $tmp.
cli_cleanup() {
	local p f
	for p in ${cli_pids[@]+"${cli_pids[@]}"}; do
		cli_stop_pid "$p"
	done
	for f in "$tmp"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	cli_stop_pid "$srv_pid"
	rm -rf "$tmp"
}
trap cli_cleanup EXIT

# cli_start_server [ARG...]: starts $BATOND on a free loopback port (--listen
# 127.0.0.1:0, the port read from its start line) with the data directory
# $tmp/data and the extra arguments ARG, and waits (100 tries, 50 ms apart) for
# `baton health` to answer there. Sets srv_pid and url, exports BATON_DATA (the
# CLI finds the server's admin.key there) and unsets BATON_KEY and BATON_URL.
# Exits 1 with the server's output when it does not come up.
cli_start_server() {
	"$BATOND" --listen 127.0.0.1:0 --data "$tmp/data" "$@" >"$tmp/batond.out" \
		2>"$tmp/batond.log" &
	srv_pid=$!
	export BATON_DATA="$tmp/data"
	unset BATON_KEY BATON_URL
	url=""
	for _ in $(seq 1 100); do
		url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$tmp/batond.out" 2>/dev/null | head -n 1)
		if [ -n "$url" ] && "$BATON" --url "$url" health >/dev/null 2>&1; then
			return 0
		fi
		url=""
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "batond did not start:" >&2
	cat "$tmp/batond.out" "$tmp/batond.log" >&2
	exit 1
}

# cli_stop_server: SIGTERM to the server, up to 10 s for it to exit, and one
# check that it exited with status 0. The server is forgotten only once it has
# exited; otherwise cli_cleanup still stops it.
cli_stop_server() {
	kill -TERM "$srv_pid"
	cli_wait_exit "$srv_pid" 200
	checks=$((checks + 1))
	[ "$exit_rc" = "0" ] || fail "batond exit status '$exit_rc' after SIGTERM, want 0"
	[ -z "$exit_rc" ] || srv_pid=""
}

# cli_finish: prints the counts; its status (the script's last) is 0 only when
# no check failed.
cli_finish() {
	echo "$(basename "$0"): $checks checks, $failures failed"
	[ "$failures" -eq 0 ]
}

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run NAME WANT_RC CMD...: runs CMD with stdout in $out and stderr in $err and
# checks its exit code.
run() {
	local name=$1 want=$2
	shift 2
	checks=$((checks + 1))
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, want $want; stdout: $out; stderr: $err"
		return 1
	fi
	return 0
}

# has NAME TEXT PATTERN: TEXT contains PATTERN (grep -E).
has() {
	checks=$((checks + 1))
	if ! printf '%s\n' "$2" | grep -Eq -- "$3"; then
		fail "$1: '$3' not found in: $2"
	fi
}

hasnt() {
	checks=$((checks + 1))
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		fail "$1: '$3' should not be in: $2"
	fi
}

# With BATON_TEST_STORE=postgres (ctest's <test>_pg variants) the server the
# caller starts runs on a fresh PostgreSQL schema in the database of
# BATON_TEST_PG_URI: batond reads BATON_STORE from the environment, and the
# EXIT trap (cli_cleanup) is extended to drop the schema after it.
# Without BATON_TEST_PG_URI the test exits 77, which ctest reports as skipped.
pg_drop_scope() {
	psql -q "$BATON_TEST_PG_URI" -c "SET client_min_messages = warning;
		DROP SCHEMA IF EXISTS $pg_scope CASCADE" >/dev/null 2>&1 || true
}
if [ "${BATON_TEST_STORE:-}" = postgres ]; then
	if [ -z "${BATON_TEST_PG_URI:-}" ]; then
		echo "BATON_TEST_STORE=postgres but BATON_TEST_PG_URI is not set: skipping" >&2
		exit 77
	fi
	pg_scope="baton_test_sh_$$_${RANDOM}"
	if ! psql -q "$BATON_TEST_PG_URI" -c "CREATE SCHEMA $pg_scope" >/dev/null; then
		echo "cannot create schema $pg_scope" >&2
		exit 1
	fi
	trap 'cli_cleanup; pg_drop_scope' EXIT
	case "$BATON_TEST_PG_URI" in
	*\?*) BATON_STORE="$BATON_TEST_PG_URI&options=-csearch_path%3D$pg_scope" ;;
	*) BATON_STORE="$BATON_TEST_PG_URI?options=-csearch_path%3D$pg_scope" ;;
	esac
	export BATON_STORE
fi
