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
