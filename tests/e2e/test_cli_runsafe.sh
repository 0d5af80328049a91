#!/usr/bin/env bash
# test_cli_runsafe.sh: end-to-end test of the CLI's flags for jobs that must
# not run twice or too long ($BATON against a batond this script starts on a
# free loopback port with a temporary data directory): `enqueue --timeout-ms`,
# `enqueue --key K --unique-while active` (a second enqueue while the first
# has not ended exits 1 with already_running), `queue set --timeout-ms` (the
# queue's default, which a job's own value overrides) and `cron run
# --payload` (members merged into the template's payload for that run,
# recorded in the run). Usage errors exit 2 and send nothing; refusals by the
# server exit 1 and change nothing. Every wait is bounded; the server is
# stopped by its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

cli_start_server
B=("$BATON" --url "$url")

# ---- help ----
run "enqueue --help" 0 "$BATON" enqueue --help
has "enqueue --timeout-ms" "$out" "--timeout-ms N"
has "enqueue --unique-while" "$out" "--unique-while W"
has "enqueue --key" "$out" "--key K"
run "queue set --help" 0 "$BATON" queue set --help
has "queue set --timeout-ms" "$out" "--timeout-ms N"
run "cron run --help" 0 "$BATON" cron run --help
has "cron run --payload" "$out" "--payload JSON"

# ---- usage errors (2): nothing is sent ----
run "unique-while without key" 2 "${B[@]}" enqueue rs t --unique-while active
has "unique-while without key" "$err" "--unique-while needs --key"
run "unique-while bad value" 2 "${B[@]}" enqueue rs t --key k --unique-while always
has "unique-while bad value" "$err" "pending or active"
run "timeout-ms not a number" 2 "${B[@]}" enqueue rs t --timeout-ms soon
run "queue set timeout-ms not a number" 2 "${B[@]}" queue set rs --timeout-ms soon
run "no jobs yet" 0 "${B[@]}" job list --queue rs --json
hasnt "no jobs yet" "$out" '"id"'

# ---- timeouts ----
run "queue default" 0 "${B[@]}" queue set rs --timeout-ms 5000
run "queue shows it" 0 "${B[@]}" --json queue get rs
has "queue shows it" "$out" '"timeout_ms": ?5000'
run "enqueue default" 0 "${B[@]}" --json enqueue rs t
has "default applies" "$out" '"timeout_ms": ?5000'
run "enqueue own" 0 "${B[@]}" --json enqueue rs t --timeout-ms 1500
has "own value wins" "$out" '"timeout_ms": ?1500'
run "timeout out of range" 1 "${B[@]}" enqueue rs t --timeout-ms 50
has "timeout out of range" "$err" "timeout_ms_out_of_range"
run "queue timeout out of range" 1 "${B[@]}" queue set rs --timeout-ms 50
has "queue timeout out of range" "$err" "setting_out_of_range"
run "queue kept its default" 0 "${B[@]}" --json queue get rs
has "queue kept its default" "$out" '"timeout_ms": ?5000'
run "two jobs" 0 "${B[@]}" --json job list --queue rs
[ "$(printf '%s' "$out" | grep -o '"id": *"[0-9]*"' | wc -l)" -eq 2 ] || fail "two jobs expected: $out"
checks=$((checks + 1))
run "queue default removed" 0 "${B[@]}" queue set rs --timeout-ms none
run "queue default gone" 0 "${B[@]}" --json queue get rs
has "queue default gone" "$out" '"timeout_ms": ?null'

# ---- unique_while active ----
run "first active" 0 "${B[@]}" enqueue ru t --key nightly --unique-while active
has "first active" "$out" "^enqueued job"
first=$(printf '%s' "$out" | sed -n 's/^enqueued job \([0-9]*\).*/\1/p')
run "second refused" 1 "${B[@]}" enqueue ru t --key nightly --unique-while active
has "second refused" "$err" "already_running"
has "names the holder" "$err" "job $first"
run "still one job" 0 "${B[@]}" --json job list --queue ru
[ "$(printf '%s' "$out" | grep -o '"id": *"[0-9]*"' | wc -l)" -eq 1 ] || fail "one job expected: $out"
checks=$((checks + 1))
run "the job shows it" 0 "${B[@]}" --json job get "$first"
has "the job shows it" "$out" '"unique_while": ?"active"'
run "cancel it" 0 "${B[@]}" job cancel "$first"
run "free after it ended" 0 "${B[@]}" enqueue ru t --key nightly --unique-while active

# ---- cron run --payload ----
run "cron put" 0 "${B[@]}" cron put args \
	'{"cron":"0 0 1 1 *","job":{"queue":"rc","type":"t","payload":{"a":1,"b":1}}}'
run "payload not an object" 2 "${B[@]}" cron run args --payload '[1]'
has "payload not an object" "$err" "needs a JSON object"
run "payload not JSON" 2 "${B[@]}" cron run args --payload '{nope'
run "no run yet" 0 "${B[@]}" --json cron runs args
hasnt "no run yet" "$out" '"trigger"'
run "run with payload" 0 "${B[@]}" --json cron run args --payload '{"b":2,"c":3}'
has "run records it" "$out" '"payload": ?\{ *"b": ?2, ?"c": ?3 *\}'
job=$(printf '%s' "$out" | grep -o '"job_id": *"[0-9]*"' | grep -o '[0-9]*')
run "merged job" 0 "${B[@]}" --json job get "$job"
has "merged job" "$out" '"payload": ?\{ *"a": ?1, ?"b": ?2, ?"c": ?3 *\}'
run "runs show it" 0 "${B[@]}" --json cron runs args
has "runs show it" "$out" '"c": ?3'
run "template unchanged" 0 "${B[@]}" --json cron get args
has "template unchanged" "$out" '"payload": ?\{ *"a": ?1, ?"b": ?1 *\}'

cli_stop_server

cli_finish
