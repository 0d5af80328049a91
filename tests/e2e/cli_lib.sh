# cli_lib.sh: check helpers shared by the shell tests of the baton CLI
# (test_cli.sh, test_cli_cron.sh, test_cli_timers.sh, test_work_cli.sh).
# Sourced after the caller has set $tmp (a scratch directory) and the counters
# failures=0 and checks=0; fail/run/has/hasnt update them.

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
# caller's EXIT trap (cleanup) is extended to drop the schema after it.
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
	trap 'cleanup; pg_drop_scope' EXIT
	case "$BATON_TEST_PG_URI" in
	*\?*) BATON_STORE="$BATON_TEST_PG_URI&options=-csearch_path%3D$pg_scope" ;;
	*) BATON_STORE="$BATON_TEST_PG_URI?options=-csearch_path%3D$pg_scope" ;;
	esac
	export BATON_STORE
fi
