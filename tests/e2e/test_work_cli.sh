#!/usr/bin/env bash
# test_work_cli.sh: end-to-end test of `baton work` ($BATON) against a batond
# ($BATOND) this script starts on a free loopback port with a temporary data
# directory (--lease-min-ms 500 so short leases are allowed). The CLI finds its
# key through BATON_DATA (the server's admin.key; no key when auth is off).
# Covered: success (result stored, job environment), non-JSON stdout, failure
# (stderr tail stored, dead after its attempts), sysexits failure (dead at
# once), retryable exit 75, timeout kill of the whole process group, a
# heartbeat keeping a long job past its lease, cancel through a heartbeat,
# SIGTERM drain (a job that finishes within the grace period completes, one
# that does not is killed and failed for a retry), and usage/claim errors.
# Every wait is bounded; every process is stopped by its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
check() { # check NAME CONDITION-EXIT-CODE
	checks=$((checks + 1))
	[ "$2" = 0 ] || fail "$1"
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -Eq '^State:[[:space:]]+Z' "/proc/$1/status" 2>/dev/null
}

# ---- start the server ----
cli_start_server --lease-min-ms 500
export BATON_URL="$url"
B=("$BATON")

# The command every worker runs: behaviour chosen by the job's type.
cat >"$tmp/handler.sh" <<'EOF'
#!/bin/sh
dir=$(dirname "$0")
in=$(cat)
case "$BATON_JOB_TYPE" in
echo)
	printf '{"id":"%s","type":"%s","attempt":%s,"queue":"%s","in":%s}\n' \
		"$BATON_JOB_ID" "$BATON_JOB_TYPE" "$BATON_JOB_ATTEMPT" "$BATON_JOB_QUEUE" "$in"
	;;
text)
	echo "plain words, not JSON"
	;;
fail)
	i=0
	while [ $i -lt 300 ]; do
		echo "early noise line $i padding padding padding" >&2
		i=$((i + 1))
	done
	echo "final complaint for job $BATON_JOB_ID" >&2
	exit 3
	;;
usage)
	echo "bad input" >&2
	exit 64
	;;
temp)
	if [ "$BATON_JOB_ATTEMPT" = 1 ]; then
		echo "try later" >&2
		exit 75
	fi
	echo '"second time lucky"'
	;;
spawn)
	sleep 60 &
	echo $! >"$dir/spawn.pid"
	wait
	;;
long)
	sleep 3
	echo '{"slept":3}'
	;;
short)
	sleep 1
	echo '{"short":true}'
	;;
stuck)
	echo $$ >"$dir/stuck.pid"
	exec sleep 60
	;;
*)
	echo "unknown type $BATON_JOB_TYPE" >&2
	exit 1
	;;
esac
EOF
chmod +x "$tmp/handler.sh"

# enq QUEUE TYPE [ARGS...]: enqueues and prints the job id.
enq() {
	"${B[@]}" enqueue "$@" </dev/null | sed -nE 's/^enqueued job ([^ ]+) .*/\1/p'
}

# job_json ID: the job as the server's JSON.
job_json() {
	"${B[@]}" --json job get "$1" 2>/dev/null
}

# wait_state ID STATE SECONDS: waits (bounded) until the job is in STATE.
wait_state() {
	local id=$1 want=$2 n=$(($3 * 20))
	for _ in $(seq 1 "$n"); do
		if job_json "$id" | grep -Eq "\"state\": ?\"$want\""; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# start_worker NAME ARGS...: starts `baton work ARGS` in the background.
start_worker() {
	local name=$1
	shift
	"${B[@]}" work "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
	cli_pids+=("$!")
	last_worker=$!
}

# ---- usage errors and refused claims ----
"${B[@]}" work -- /bin/true >/dev/null 2>"$tmp/err" </dev/null
check "work without --queue: exit 2" $([ $? = 2 ]; echo $?)
"${B[@]}" work --queue q >/dev/null 2>"$tmp/err" </dev/null
check "work without a command: exit 2" $([ $? = 2 ]; echo $?)
"${B[@]}" work --queue q -- /no/such/command >/dev/null 2>"$tmp/err" </dev/null
check "work with a missing command: exit 2" $([ $? = 2 ]; echo $?)
has "missing command message" "$(cat "$tmp/err")" "not found"
"${B[@]}" work --queue q --concurrency 0 -- /bin/true >/dev/null 2>&1 </dev/null
check "work --concurrency 0: exit 2" $([ $? = 2 ]; echo $?)
"${B[@]}" work --help >"$tmp/out" 2>&1 </dev/null
check "work --help: exit 0" $([ $? = 0 ]; echo $?)
has "work --help" "$(cat "$tmp/out")" "EX_TEMPFAIL"
has "work --help" "$(cat "$tmp/out")" "64-78"
timeout 20 "${B[@]}" work --queue q --lease-ms 100 -- /bin/true >/dev/null 2>"$tmp/err" </dev/null
check "claim refused (lease_ms out of range): exit 1" $([ $? = 1 ]; echo $?)
has "claim refused message" "$(cat "$tmp/err")" "lease_ms_out_of_range"
# The refused field is named as the flag that set it.
has "claim refused names the flag" "$(cat "$tmp/err")" \
	"^baton work: claim refused: --lease-ms .*option --lease-ms, HTTP 400\)$"
if [ -f "$tmp/data/admin.key" ]; then
	ro=$("${B[@]}" --json keys create readonly --scopes jobs:read </dev/null |
		grep -Eo '"secret": ?"bk_[^"]+"' | grep -Eo 'bk_[^"]+')
	timeout 20 env BATON_KEY="$ro" "$BATON" work --queue q -- /bin/true >/dev/null \
		2>"$tmp/err" </dev/null
	check "claim without the work scope: exit 4" $([ $? = 4 ]; echo $?)
	has "claim forbidden message" "$(cat "$tmp/err")" "forbidden"
fi

# ---- success, environment, text result, failure, sysexits, exit 75 ----
id_echo=$(enq main echo '{"n":1}')
id_text=$(enq main text)
id_fail=$(enq main fail --max-attempts 2)
id_usage=$(enq main usage)
id_temp=$(enq main temp)
start_worker main --queue main --concurrency 3 --poll-ms 500 -- "$tmp/handler.sh"
main_pid=$last_worker

wait_state "$id_echo" completed 10
check "echo job completed" $?
j=$(job_json "$id_echo")
has "result is the command's JSON" "$j" "\"result\": ?\{\"id\": ?\"$id_echo\""
has "job type in env" "$j" '"type": ?"echo","attempt": ?1,"queue": ?"main"'
has "payload on stdin" "$j" '"in": ?\{"n": ?1\}'

wait_state "$id_text" completed 10
check "text job completed" $?
has "non-JSON stdout is a string" "$(job_json "$id_text")" '"result": ?"plain words, not JSON"'

wait_state "$id_fail" dead 15
check "failing job dead after its attempts" $?
j=$(job_json "$id_fail")
has "fail: two attempts" "$j" '"attempt": ?2'
has "fail: exit status in error" "$j" '"last_error": ?"exit status 3: '
has "fail: stderr tail in error" "$j" "final complaint for job $id_fail"
hasnt "fail: only the tail is kept" "$j" 'early noise line 0 '
err_len=$(printf '%s' "$j" | grep -Eo '"last_error": ?"[^"]*"' | wc -c)
checks=$((checks + 1))
[ "$err_len" -le 4300 ] || fail "fail: last_error is $err_len bytes, want the 4 KiB tail"

wait_state "$id_usage" dead 10
check "exit 64 goes dead at once" $?
j=$(job_json "$id_usage")
has "exit 64: one attempt" "$j" '"attempt": ?1,'
has "exit 64: error" "$j" '"last_error": ?"exit status 64: bad input"'

wait_state "$id_temp" completed 15
check "exit 75 was retried and completed" $?
j=$(job_json "$id_temp")
has "exit 75: second attempt" "$j" '"attempt": ?2,'
has "exit 75: first attempt's error" "$j" '"error": ?"exit status 75: try later"'
has "exit 75: result" "$j" '"result": ?"second time lucky"'

cli_stop_pid "$main_pid"

# ---- timeout kills the whole process group ----
id_spawn=$(enq tq spawn --max-attempts 1)
start_worker timeout --queue tq --timeout-ms 1000 --poll-ms 500 -- "$tmp/handler.sh"
tq_pid=$last_worker
wait_state "$id_spawn" dead 10
check "timed-out job failed" $?
has "timeout error" "$(job_json "$id_spawn")" '"last_error": ?"timeout after 1000 ms'
checks=$((checks + 1))
spawn_child=$(cat "$tmp/spawn.pid" 2>/dev/null)
if [ -z "$spawn_child" ]; then
	fail "timeout: the command recorded no child pid"
else
	gone=1
	for _ in $(seq 1 40); do
		alive "$spawn_child" || {
			gone=0
			break
		}
		sleep 0.05
	done
	[ "$gone" = 0 ] || fail "timeout: the command's child $spawn_child is still running"
fi
cli_stop_pid "$tq_pid"

# ---- a heartbeat keeps a 3 s job alive past its 1 s lease; cancel via heartbeat ----
id_long=$(enq hq long)
start_worker hb --queue hq --lease-ms 1000 --poll-ms 500 -- "$tmp/handler.sh"
hb_pid=$last_worker
wait_state "$id_long" completed 15
check "long job completed under heartbeats" $?
j=$(job_json "$id_long")
has "long job: attempt 1" "$j" '"attempt": ?1,'
has "long job: result" "$j" '"result": ?\{"slept": ?3\}'
hasnt "long job: no expired lease" "$j" 'lease_expired'
id_cancel=$(enq hq stuck)
wait_state "$id_cancel" running 10
check "stuck job running" $?
sleep 0.3
"${B[@]}" job cancel "$id_cancel" >/dev/null 2>&1 </dev/null
wait_state "$id_cancel" cancelled 10
check "cancel request reached the command through a heartbeat" $?
stuck_pid=$(cat "$tmp/stuck.pid" 2>/dev/null)
checks=$((checks + 1))
if [ -n "$stuck_pid" ]; then
	for _ in $(seq 1 40); do
		alive "$stuck_pid" || break
		sleep 0.05
	done
	alive "$stuck_pid" && fail "cancel: command $stuck_pid still running"
else
	fail "cancel: the command recorded no pid"
fi
rm -f "$tmp/stuck.pid"
cli_stop_pid "$hb_pid"

# ---- SIGTERM drain ----
id_short=$(enq dq short)
id_stuck=$(enq dq stuck)
start_worker drain --queue dq --concurrency 2 --grace-ms 2500 --poll-ms 500 -- "$tmp/handler.sh"
dq_pid=$last_worker
wait_state "$id_short" running 10
check "short job running" $?
wait_state "$id_stuck" running 10
check "stuck job running" $?
kill -TERM "$dq_pid"
t0=$(date +%s%N)
cli_wait_exit "$dq_pid" 200
t1=$(date +%s%N)
checks=$((checks + 1))
[ "$exit_rc" = 0 ] || fail "drain: worker exit '$exit_rc', want 0; $(cat "$tmp/drain.err")"
ms=$(((t1 - t0) / 1000000))
checks=$((checks + 1))
[ "$ms" -ge 2000 ] && [ "$ms" -le 6000 ] || fail "drain took $ms ms, want about the 2500 ms grace"
has "drain log" "$(cat "$tmp/drain.err")" "no more claims"
wait_state "$id_short" completed 5
check "job that finished within the grace period completed" $?
j=$(job_json "$id_stuck")
has "job killed at the grace period is back for a retry" "$j" '"state": ?"(queued|retrying)"'
has "grace error" "$j" '"error": ?"worker stopped: command killed after the grace period'
stuck_pid=$(cat "$tmp/stuck.pid" 2>/dev/null)
checks=$((checks + 1))
if [ -n "$stuck_pid" ] && alive "$stuck_pid"; then
	fail "drain: command $stuck_pid still running after the worker exited"
fi
# The retried job runs again on the next worker.
rm -f "$tmp/stuck.pid"
start_worker again --queue dq --poll-ms 500 -- "$tmp/handler.sh"
again_pid=$last_worker
wait_state "$id_stuck" running 10
check "retried job claimed again" $?
has "retried job: attempt 2" "$(job_json "$id_stuck")" '"attempt": ?2,'
# A second signal ends the grace period at once.
kill -TERM "$again_pid"
sleep 0.2
kill -TERM "$again_pid" 2>/dev/null
cli_wait_exit "$again_pid" 60
checks=$((checks + 1))
[ "$exit_rc" = 0 ] || fail "second signal: worker exit '$exit_rc' within 3 s, want 0"

cli_finish
