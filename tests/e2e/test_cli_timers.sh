#!/usr/bin/env bash
# test_cli_timers.sh: end-to-end test of `baton timer` and `baton flow` and of
# `baton enqueue --depends-on` ($BATON) against a batond ($BATOND) this script
# starts on a free loopback port (--listen 127.0.0.1:0, the port read from the
# start line) with a temporary data directory. The CLI finds its key through
# BATON_DATA (the server's admin.key). It checks output and the exit-code
# contract: 0 ok, 1 refused (404, 409 version_mismatch / invalid_state, 400),
# 2 usage. A timer fires (its job appears on its queue), and a two-job flow
# runs in order under a `baton work` worker. Every wait is bounded; the server
# and the worker are stopped by their pids (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# ---- start the server ----
cli_start_server
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2) ----
run "help" 0 "$BATON" --help
help_out=$out
for c in "timer put" "timer get" "timer list" "timer cancel" "flow create" "flow get"; do
	has "help lists $c" "$help_out" "$c"
	# shellcheck disable=SC2086
	run "$c --help" 0 "$BATON" $c --help
	has "$c --help" "$out" "^usage: baton .*$c"
done
has "help lists --depends-on" "$help_out" "--depends-on"
run "timer group help" 0 "$BATON" timer --help
has "timer group help" "$out" "timer cancel KEY"
run "timer unknown" 2 "$BATON" timer explode
run "put no queue" 2 "${B[@]}" timer put k --type t --delay-ms 10
has "put no queue" "$err" "--queue and --type are required"
run "put no time" 2 "${B[@]}" timer put k --queue q --type t
has "put no time" "$err" "exactly one of --fire-at and --delay-ms"
run "put both times" 2 "${B[@]}" timer put k --queue q --type t --delay-ms 10 \
	--fire-at 2030-01-01T00:00:00Z
run "put bad delay" 2 "${B[@]}" timer put k --queue q --type t --delay-ms soon
run "put bad if-version" 2 "${B[@]}" timer put k --queue q --type t --delay-ms 1 --if-version -1
run "put bad payload" 2 "${B[@]}" timer put k --queue q --type t --delay-ms 1 --payload '{nope'
has "put bad payload" "$err" "payload is not valid JSON"
run "put missing payload file" 2 "${B[@]}" timer put k --queue q --type t --delay-ms 1 \
	--payload @"$tmp/none.json"
run "put unknown flag" 2 "${B[@]}" timer put k --queue q --type t --delay-ms 1 --bogus
run "get needs key" 2 "${B[@]}" timer get
run "get two keys" 2 "${B[@]}" timer get a b
run "cancel bad if-version" 2 "${B[@]}" timer cancel k --if-version 0
run "list bad limit" 2 "${B[@]}" timer list --limit 0
run "flow create needs -f" 2 "${B[@]}" flow create
has "flow create needs -f" "$err" "-f FILE is required"
run "flow create missing file" 2 "${B[@]}" flow create -f "$tmp/none.json"
echo '{"flow": []}' >"$tmp/notflow.json"
run "flow create not a flow" 2 "${B[@]}" flow create -f "$tmp/notflow.json"
has "flow create not a flow" "$err" "not a flow"
run "flow get needs id" 2 "${B[@]}" flow get
run "enqueue depends-on needs value" 2 "${B[@]}" enqueue q t --depends-on

# ---- timers: create, read, list, compare-and-set, cancel ----
# Fire times a day and two days ahead (within the server's --delay-max-ms).
at1=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
at2=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
run "put far" 0 "${B[@]}" timer put draft-7:pick --queue drafts --type autopick \
	--payload '{"draft": 7}' --fire-at "$at1"
has "put far: created" "$out" "^timer draft-7:pick created \(version 1\)"
has "put far: state" "$out" "^state +scheduled"
has "put far: fire_at" "$out" "^fire_at +${at1%Z}"
has "put far: payload" "$out" '"draft":7'
run "get" 0 "${B[@]}" timer get draft-7:pick
has "get: key" "$out" "^key +draft-7:pick"
has "get: version" "$out" "^version +1"
hasnt "get: no verb line" "$out" "^timer "
run "get --json" 0 "${B[@]}" --json timer get draft-7:pick
has "get --json" "$out" '^\{"timer": ?\{"key": ?"draft-7:pick"'
has "get --json version" "$out" '"version": ?1'
run "move with if-version 1" 0 "${B[@]}" timer put draft-7:pick --queue drafts --type autopick \
	--fire-at "$at2" --if-version 1
has "move" "$out" "^timer draft-7:pick moved \(version 2\)"
run "stale if-version" 1 "${B[@]}" timer put draft-7:pick --queue drafts --type autopick \
	--delay-ms 1000 --if-version 1
has "stale if-version: code" "$err" "version_mismatch"
has "stale if-version: current" "$err" "version 2"
run "create-only on existing" 1 "${B[@]}" timer put draft-7:pick --queue drafts --type autopick \
	--delay-ms 1000 --if-version 0
has "create-only: code" "$err" "version_mismatch"
run "if-version on missing key" 1 "${B[@]}" timer put nokey --queue q --type t --delay-ms 1000 \
	--if-version 3
run "server refuses bad fire-at" 1 "${B[@]}" timer put badtime --queue q --type t \
	--fire-at tomorrow
has "bad fire-at code" "$err" "invalid_time"
run "put other" 0 "${B[@]}" timer put draft-8:pick --queue drafts --type autopick \
	--delay-ms 3600000
run "put unrelated" 0 "${B[@]}" timer put zz-other --queue drafts --type autopick \
	--delay-ms 3600000
run "list" 0 "${B[@]}" timer list
has "list header" "$out" "^KEY +VERSION +STATE +FIRE_AT"
has "list has 7" "$out" "^draft-7:pick +2 +scheduled"
has "list has zz" "$out" "^zz-other"
run "list --prefix" 0 "${B[@]}" timer list --prefix draft-
has "prefix keeps draft-8" "$out" "^draft-8:pick"
hasnt "prefix drops zz" "$out" "zz-other"
run "list --limit 1" 0 "${B[@]}" timer list --limit 1
has "list page cursor" "$out" "^next page: --after draft-7:pick"
run "list --json" 0 "${B[@]}" --json timer list --prefix zz
has "list --json" "$out" '"timers": ?\[\{"key": ?"zz-other"'
run "cancel stale if-version" 1 "${B[@]}" timer cancel draft-7:pick --if-version 1
has "cancel stale: code" "$err" "version_mismatch"
run "cancel" 0 "${B[@]}" timer cancel draft-7:pick --if-version 2
has "cancel" "$out" "^timer draft-7:pick cancelled \(version 2\)"
has "cancel state" "$out" "^state +cancelled"
run "cancel again (unchanged)" 0 "${B[@]}" timer cancel draft-7:pick
run "cancel missing" 1 "${B[@]}" timer cancel nokey
has "cancel missing: code" "$err" "not_found"
run "get missing" 1 "${B[@]}" timer get nokey

# ---- a timer fires: its job appears on its queue ----
run "put soon" 0 "${B[@]}" timer put soon --queue tq --type ping --payload '{"n": 1}' \
	--delay-ms 200
fired=""
for _ in $(seq 1 100); do
	"${B[@]}" --json timer get soon >"$tmp/t.json" 2>/dev/null
	if grep -Eq '"state": ?"fired"' "$tmp/t.json"; then
		fired=yes
		break
	fi
	sleep 0.1
done
checks=$((checks + 1))
[ -n "$fired" ] || fail "timer soon did not fire within 10 s: $(cat "$tmp/t.json")"
run "fired job listed" 0 "${B[@]}" job list --queue tq
has "fired job on tq" "$out" "ping"
run "get fired" 0 "${B[@]}" timer get soon
has "fired: state" "$out" "^state +fired"
has "fired: job_id" "$out" "^job_id +[0-9]+"
run "cancel fired" 1 "${B[@]}" timer cancel soon
has "cancel fired: code" "$err" "invalid_state"

# ---- enqueue --depends-on ----
run "enqueue parent" 0 "${B[@]}" --json enqueue dq parent
pid_parent=$(printf '%s' "$out" | grep -Eo '"id": ?"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+')
run "enqueue child" 0 "${B[@]}" enqueue dq child --depends-on "$pid_parent"
has "child is pending" "$out" "state pending"
run "enqueue unknown dependency" 1 "${B[@]}" enqueue dq child --depends-on 999999
has "unknown dependency: code" "$err" "unknown_dependency"

# ---- flows: a two-job flow runs in order ----
cat >"$tmp/flow.json" <<'JSON'
{"jobs": [{"ref": "first", "queue": "fq", "type": "a"},
          {"ref": "second", "queue": "fq", "type": "b", "depends_on": ["first"]}]}
JSON
run "flow create" 0 "${B[@]}" flow create -f "$tmp/flow.json"
has "flow create: header" "$out" "^flow [0-9]+: running \(2 jobs"
has "flow create: first" "$out" "^first +[0-9]+ +queued +fq +a +-"
has "flow create: second" "$out" "^second +[0-9]+ +pending +fq +b +[0-9]+"
flow_id=$(printf '%s\n' "$out" | sed -n 's/^flow \([0-9]*\):.*/\1/p')
checks=$((checks + 1))
if ! "${B[@]}" --json flow create -f - <"$tmp/flow.json" >"$tmp/out" 2>"$tmp/err"; then
	fail "flow create -f -: $(cat "$tmp/err")"
fi
has "flow create --json" "$(cat "$tmp/out")" '"flow": ?\{"id"'
echo '{"jobs": [{"ref": "x", "queue": "fq", "type": "a", "depends_on": ["nope"]}]}' \
	>"$tmp/badref.json"
run "flow unknown ref" 1 "${B[@]}" flow create -f "$tmp/badref.json"
has "flow unknown ref: code" "$err" "unknown_ref"
run "flow get missing" 1 "${B[@]}" flow get 999999
run "flow get running" 0 "${B[@]}" flow get "$flow_id"
has "flow get running" "$out" "^flow $flow_id: running"

# The second flow (from stdin) also sits on fq; the worker runs all four and
# records the order of types per flow through BATON_JOB_TYPE.
"${B[@]}" work --queue fq --poll-ms 200 -- \
	sh -c 'echo "$BATON_JOB_ID $BATON_JOB_TYPE" >>"$0"; echo null' "$tmp/order" \
	>"$tmp/work.out" 2>"$tmp/work.err" </dev/null &
wrk_pid=$!
cli_pids+=("$wrk_pid")
done_flow=""
for _ in $(seq 1 100); do
	"${B[@]}" flow get "$flow_id" >"$tmp/f.out" 2>/dev/null
	if grep -q "^flow $flow_id: completed" "$tmp/f.out"; then
		done_flow=yes
		break
	fi
	sleep 0.1
done
checks=$((checks + 1))
[ -n "$done_flow" ] || fail "flow $flow_id did not complete within 10 s: $(cat "$tmp/f.out")"
first_id=$(sed -n 's/^first  *\([0-9]*\) .*/\1/p' "$tmp/f.out")
second_id=$(sed -n 's/^second  *\([0-9]*\) .*/\1/p' "$tmp/f.out")
has "flow completed: first" "$(cat "$tmp/f.out")" "^first +$first_id +completed"
has "flow completed: second" "$(cat "$tmp/f.out")" "^second +$second_id +completed"
checks=$((checks + 1))
line_first=$(grep -n "^$first_id a$" "$tmp/order" | cut -d: -f1)
line_second=$(grep -n "^$second_id b$" "$tmp/order" | cut -d: -f1)
if [ -z "$line_first" ] || [ -z "$line_second" ] || [ "$line_first" -ge "$line_second" ]; then
	fail "flow order: first ($first_id) must run before second ($second_id): $(cat "$tmp/order")"
fi
cli_stop_pid "$wrk_pid"

# ---- the server stops cleanly ----
cli_stop_server

cli_finish
