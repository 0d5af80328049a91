#!/usr/bin/env bash
# test_cli.sh: end-to-end test of the baton command ($BATON) against a batond
# ($BATOND) this script starts on a free loopback port (--listen 127.0.0.1:0;
# the port is read from the server's start line) with a temporary data
# directory. It checks the output and the exit-code contract of every
# subcommand: 0 ok, 1 refused by the server, 2 usage error, 3 unreachable.
# Every wait is bounded; the server is stopped by its pid (trap on exit).
set -u

: "${BATOND:?BATOND must name the batond binary}"
: "${BATON:?BATON must name the baton binary}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-cli-XXXXXX")
srv_pid=""
wait_pid=""
failures=0
checks=0

cleanup() {
	if [ -n "$wait_pid" ] && kill -0 "$wait_pid" 2>/dev/null; then
		kill "$wait_pid" 2>/dev/null
		wait "$wait_pid" 2>/dev/null
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$srv_pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

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

# ---- start the server ----
"$BATOND" --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/batond.out" 2>"$tmp/batond.log" &
srv_pid=$!
url=""
for _ in $(seq 1 100); do
	url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$tmp/batond.out" 2>/dev/null | head -n 1)
	if [ -n "$url" ] && "$BATON" --url "$url" health >/dev/null 2>&1; then
		break
	fi
	url=""
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.05
done
if [ -z "$url" ]; then
	echo "batond did not start:" >&2
	cat "$tmp/batond.out" "$tmp/batond.log" >&2
	exit 1
fi
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2) ----
run "help" 0 "$BATON" --help
has "help" "$out" "enqueue QUEUE TYPE"
has "help" "$out" "job list"
has "help" "$out" "Exit codes"
run "command help" 0 "$BATON" enqueue --help
has "command help" "$out" "--priority"
run "group help" 0 "$BATON" job --help
has "group help" "$out" "job cancel ID"
run "no command" 2 "$BATON"
run "unknown command" 2 "$BATON" bogus
has "unknown command" "$err" "unknown command bogus"
run "unknown subcommand" 2 "$BATON" job explode
run "unknown option" 2 "${B[@]}" job list --colour
has "unknown option" "$err" "unknown option --colour"
run "missing args" 2 "${B[@]}" enqueue onlyqueue
has "missing args" "$err" "usage:"
run "too many args" 2 "${B[@]}" job get 1 2
run "bad payload" 2 "${B[@]}" enqueue q t '{not json'
has "bad payload" "$err" "not valid JSON"
run "bad delay" 2 "${B[@]}" enqueue q t --delay-ms soon
run "bad limit" 2 "${B[@]}" job list --limit -1
run "replay needs ids or --all" 2 "${B[@]}" dead replay q
run "option needs value" 2 "${B[@]}" job list --queue
run "url needs value" 2 "$BATON" --url

# ---- unreachable (exit 3) ----
run "unreachable" 3 "$BATON" --url http://127.0.0.1:1 health
has "unreachable" "$err" "cannot reach server"
run "unreachable via env" 3 env BATON_URL=http://127.0.0.1:1 "$BATON" job get 1

# ---- health ----
run "health" 0 "${B[@]}" health
has "health" "$out" "^ok$"
run "health json" 0 "${B[@]}" --json health
has "health json" "$out" '"status": ?"ok"'
run "health via env" 0 env BATON_URL="$url" "$BATON" health

# ---- enqueue ----
run "enqueue" 0 "${B[@]}" enqueue mail welcome '{"user":7}'
has "enqueue" "$out" "^enqueued job [0-9]+ \(queue mail, type welcome, state queued\)$"
id1=$(printf '%s\n' "$out" | sed -E 's/^enqueued job ([0-9]+).*/\1/')
run "enqueue json" 0 "${B[@]}" --json enqueue mail welcome '{"user":8}' --priority high \
	--idempotency-key cli-k1
has "enqueue json" "$out" '"job": ?\{'
has "enqueue json" "$out" '"priority": ?"high"'
has "enqueue json" "$out" '"idempotency_key": ?"cli-k1"'
id2=$(printf '%s\n' "$out" | grep -Eo '"id": ?"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+')
[ -n "$id2" ] || fail "enqueue json: no id in $out"
run "enqueue duplicate" 0 "${B[@]}" enqueue mail welcome '{"user":8}' --idempotency-key cli-k1
has "enqueue duplicate" "$out" "^duplicate of job $id2 "
run "enqueue conflict" 1 "${B[@]}" enqueue mail welcome '{"user":9}' --idempotency-key cli-k1
has "enqueue conflict" "$err" "idempotency_conflict"
has "enqueue conflict" "$err" "HTTP 409"
run "enqueue delayed" 0 "${B[@]}" enqueue mail later --delay-ms 60000
has "enqueue delayed" "$out" "state scheduled"
checks=$((checks + 1))
printf '{"from":"stdin"}' | "${B[@]}" --json enqueue mail piped - >"$tmp/out" 2>"$tmp/err" ||
	fail "enqueue from stdin: $(cat "$tmp/err")"
has "enqueue from stdin" "$(cat "$tmp/out")" '"from": ?"stdin"'
run "enqueue bad priority" 1 "${B[@]}" enqueue mail t --priority urgent
has "enqueue bad priority" "$err" "invalid_field"
has "enqueue bad priority" "$err" "priority"
run "enqueue bad queue" 1 "${B[@]}" enqueue 'bad queue' t
has "enqueue bad queue" "$err" "name_invalid"
run "enqueue delay out of range" 1 "${B[@]}" enqueue mail t --delay-ms 99999999999
has "enqueue delay out of range" "$err" "delay_ms_out_of_range"

# ---- job get / list ----
run "job get" 0 "${B[@]}" job get "$id1"
has "job get" "$out" "^id +$id1$"
has "job get" "$out" "^queue +mail$"
has "job get" "$out" "^state +queued$"
has "job get" "$out" '^payload +\{"user":7\}$'
run "job get json" 0 "${B[@]}" --json job get "$id1"
has "job get json" "$out" "\"id\": ?\"$id1\""
run "job get missing" 1 "${B[@]}" job get 987654321
has "job get missing" "$err" "not_found"
has "job get missing" "$err" "HTTP 404"
run "job get invalid" 1 "${B[@]}" job get abc
has "job get invalid" "$err" "invalid_id"
run "job list" 0 "${B[@]}" job list --queue mail
has "job list" "$out" "^ID +QUEUE +TYPE +STATE"
has "job list" "$out" "^$id1 +mail +welcome +queued +normal"
has "job list" "$out" "^$id2 +mail +welcome +queued +high"
run "job list state" 0 "${B[@]}" job list --queue mail --state scheduled
has "job list state" "$out" " later "
hasnt "job list state" "$out" " welcome "
run "job list type" 0 "${B[@]}" job list --type piped
has "job list type" "$out" " piped "
hasnt "job list type" "$out" " welcome "
run "job list page" 0 "${B[@]}" job list --queue mail --limit 1
has "job list page" "$out" "next page: --after "
cursor=$(printf '%s\n' "$out" | sed -nE 's/^next page: --after (.*)$/\1/p')
run "job list next page" 0 "${B[@]}" job list --queue mail --limit 1 --after "$cursor"
hasnt "job list next page" "$out" "^$id1 "
has "job list next page" "$out" "^$id2 "
run "job list json" 0 "${B[@]}" --json job list --queue mail --limit 1
has "job list json" "$out" '"next": ?"'
run "job list bad state" 1 "${B[@]}" job list --state sleeping
has "job list bad state" "$err" "invalid_field"
run "job list bad cursor" 1 "${B[@]}" job list --after nope
has "job list bad cursor" "$err" "invalid_cursor"

# ---- cancel / retry ----
run "job cancel" 0 "${B[@]}" job cancel "$id1"
has "job cancel" "$out" "^job $id1 cancelled \(state cancelled\)$"
run "job cancel again" 1 "${B[@]}" job cancel "$id1"
has "job cancel again" "$err" "invalid_state"
has "job cancel again" "$err" "HTTP 409"
run "job retry" 0 "${B[@]}" job retry "$id1"
has "job retry" "$out" "^job $id1 retried \(state queued\)$"
run "job retry queued" 1 "${B[@]}" job retry "$id1"
has "job retry queued" "$err" "invalid_state"
run "job cancel missing" 1 "${B[@]}" job cancel 987654321
run "job retry json" 0 "${B[@]}" --json job cancel "$id2"
has "job retry json" "$out" '"state": ?"cancelled"'

# ---- enqueue --wait: exits when the job ends (cancelled here: exit 1) ----
"${B[@]}" enqueue waitq w --wait >"$tmp/wait.out" 2>"$tmp/wait.err" </dev/null &
wait_pid=$!
wid=""
for _ in $(seq 1 100); do
	wid=$(sed -nE 's/^enqueued job ([0-9]+).*/\1/p' "$tmp/wait.out")
	[ -n "$wid" ] && break
	sleep 0.05
done
if [ -z "$wid" ]; then
	fail "enqueue --wait printed no job id: $(cat "$tmp/wait.out" "$tmp/wait.err")"
else
	sleep 0.2
	kill -0 "$wait_pid" 2>/dev/null || fail "enqueue --wait returned before the job ended"
	run "cancel waited job" 0 "${B[@]}" job cancel "$wid"
	wrc=""
	for _ in $(seq 1 100); do
		if ! kill -0 "$wait_pid" 2>/dev/null; then
			wait "$wait_pid"
			wrc=$?
			break
		fi
		sleep 0.05
	done
	checks=$((checks + 1))
	[ "$wrc" = "1" ] || fail "enqueue --wait: exit '$wrc', want 1 for a cancelled job"
	has "enqueue --wait" "$(cat "$tmp/wait.err")" "ended cancelled"
fi
wait_pid=""

# ---- queues ----
run "queue list" 0 "${B[@]}" queue list
has "queue list" "$out" "^NAME +PAUSED +PENDING"
has "queue list" "$out" "^mail +no "
has "queue list" "$out" "^waitq +no "
run "queue list json" 0 "${B[@]}" --json queue list
has "queue list json" "$out" '"queues": ?\['
run "queue get" 0 "${B[@]}" queue get mail
has "queue get" "$out" "^name +mail$"
has "queue get" "$out" "^scheduled +1$"
has "queue get" "$out" "^cancelled +1$"
run "queue get missing" 1 "${B[@]}" queue get no-such-queue
has "queue get missing" "$err" "not_found"
run "queue pause" 0 "${B[@]}" queue pause mail
has "queue pause" "$out" "^queue mail paused$"
run "queue get paused" 0 "${B[@]}" queue get mail
has "queue get paused" "$out" "^paused +yes$"
run "queue resume" 0 "${B[@]}" queue resume mail
run "queue get resumed" 0 "${B[@]}" --json queue get mail
has "queue get resumed" "$out" '"paused": ?false'
run "queue bad name" 1 "${B[@]}" queue pause 'bad name'
has "queue bad name" "$err" "name_invalid"

# ---- dead letters ----
run "dead list empty" 0 "${B[@]}" dead list mail
hasnt "dead list empty" "$out" "^[0-9]"
run "dead replay none" 0 "${B[@]}" dead replay mail --all
has "dead replay none" "$out" "^replayed 0$"
run "dead replay ids" 0 "${B[@]}" dead replay mail "$id1" 987654321
has "dead replay ids" "$out" "^replayed 0$"
run "dead purge" 0 "${B[@]}" dead purge mail
has "dead purge" "$out" "^purged 0$"
run "dead purge json" 0 "${B[@]}" --json dead purge mail
has "dead purge json" "$out" '"purged": ?0'
run "dead list bad limit" 1 "${B[@]}" dead list mail --limit 100000
has "dead list bad limit" "$err" "limit_out_of_range"

# ---- the server stops cleanly ----
kill -TERM "$srv_pid"
src=""
for _ in $(seq 1 200); do
	if ! kill -0 "$srv_pid" 2>/dev/null; then
		wait "$srv_pid"
		src=$?
		break
	fi
	sleep 0.05
done
checks=$((checks + 1))
[ "$src" = "0" ] || fail "batond exit status '$src' after SIGTERM, want 0"
srv_pid=""
run "after stop" 3 "${B[@]}" health

echo "test_cli.sh: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
