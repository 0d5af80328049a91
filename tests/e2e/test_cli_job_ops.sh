#!/usr/bin/env bash
# test_cli_job_ops.sh: end-to-end test of `baton job promote|purge|edit`,
# `baton queue drain|delete` and the retention flags of `baton queue set`
# ($BATON) against a batond ($BATOND) this script starts on a free loopback
# port with a temporary data directory (cli_lib.sh). It checks the output, the
# exit codes (0 ok, 1 refused, 2 usage: nothing sent) and that a refusal
# changed nothing. Every wait is bounded; the server is stopped by its pid.
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

cli_start_server
B=("$BATON" --url "$url")

# The id of the job a `--json enqueue` printed.
job_id() {
	printf '%s' "$1" | grep -Eo '"id": ?"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+'
}

# ---- help and usage (exit 0 / 2, nothing sent) ----
run "help" 0 "$BATON" --help
for c in "job promote" "job purge" "job edit" "queue drain" "queue delete"; do
	has "help lists $c" "$out" "$c"
done
run "job edit --help" 0 "$BATON" job edit --help
has "edit --help names --run-at" "$out" "--run-at TIME"
has "edit --help names --payload" "$out" "--payload"
run "queue set --help" 0 "$BATON" queue set --help
has "set --help names the retention flags" "$out" "--keep-completed-ms N"
run "edit nothing" 2 "${B[@]}" job edit 1
has "edit nothing message" "$err" "at least one of --priority, --run-at and --payload"
run "edit bad payload" 2 "${B[@]}" job edit 1 --payload '{nope'
has "edit bad payload message" "$err" "--payload is not valid JSON"
run "keep bad count" 2 "${B[@]}" queue set ops --keep-dead-ms many
has "keep bad count message" "$err" "--keep-dead-ms needs"
run "promote no id" 2 "${B[@]}" job promote

# ---- promote ----
run "enqueue later" 0 "${B[@]}" --json enqueue ops t --delay-ms 600000
a=$(job_id "$out")
run "promote" 0 "${B[@]}" job promote "$a"
has "promoted" "$out" "job $a promoted \(state queued\)"
run "promote again" 1 "${B[@]}" job promote "$a"
has "promote refusal" "$err" "invalid_state"
has "promote refusal names the state" "$err" "is queued"

# ---- edit ----
run "enqueue to edit" 0 "${B[@]}" --json enqueue ops t --delay-ms 600000
e=$(job_id "$out")
run "edit" 0 "${B[@]}" job edit "$e" --priority high --payload '{"v":2}'
has "edited" "$out" "job $e edited \(state scheduled\)"
run "edited job" 0 "${B[@]}" --json job get "$e"
has "priority changed" "$out" '"priority": ?"high"'
has "payload changed" "$out" '"v": ?2'
has "version 2" "$out" '"version": ?2'
run "edit run_at now" 0 "${B[@]}" job edit "$e" --run-at 2020-01-01T00:00:00Z
has "queued now" "$out" "state queued"
run "edit refused" 1 "${B[@]}" job edit "$e" --priority urgent
has "edit refusal" "$err" "invalid_field"
run "after the refusal" 0 "${B[@]}" --json job get "$e"
has "still version 3" "$out" '"version": ?3'
has "still high" "$out" '"priority": ?"high"'

# ---- purge ----
run "purge queued" 1 "${B[@]}" job purge "$e"
has "purge refusal" "$err" "invalid_state"
run "not cancelled by the refusal" 0 "${B[@]}" --json job get "$e"
has "still queued" "$out" '"state": ?"queued"'
run "cancel" 0 "${B[@]}" job cancel "$e"
run "purge" 0 "${B[@]}" job purge "$e"
has "purged" "$out" "job $e purged \(state cancelled\)"
run "purged job is gone" 1 "${B[@]}" job get "$e"
has "gone" "$err" "not_found|404"

# ---- drain and delete ----
for i in 1 2 3; do
	run "enqueue drain $i" 0 "${B[@]}" enqueue drainme t
done
run "delete refused" 1 "${B[@]}" queue delete drainme
has "delete refusal" "$err" "queue_not_empty"
has "delete refusal count" "$err" "holds 3 jobs"
run "queue kept" 0 "${B[@]}" queue get drainme
has "still 3 queued" "$out" "^queued +3$"
run "drain" 0 "${B[@]}" queue drain drainme
has "drained" "$out" "queue drainme: 3 jobs cancelled"
hasnt "no more" "$out" "run it again"
run "drained counts" 0 "${B[@]}" queue get drainme
has "3 cancelled" "$out" "^cancelled +3$"
run "delete" 0 "${B[@]}" queue delete drainme
has "deleted" "$out" "queue drainme deleted \(3 ended jobs purged\)"
run "deleted queue" 1 "${B[@]}" queue get drainme
run "drain unknown" 1 "${B[@]}" queue drain drainme
run "audit drain" 0 "${B[@]}" audit --action queue.drain
has "audit names the queue" "$out" "drainme"
run "audit delete" 0 "${B[@]}" audit --action queue.delete
has "audit delete names the queue" "$out" "drainme"

# ---- retention ----
run "keep" 0 "${B[@]}" queue set ops --keep-completed-ms 60000 --keep-cancelled-ms 5000
has "retention shown" "$out" '^retention +.*"completed_ms": ?60000'
has "cancelled shown" "$out" '"cancelled_ms": ?5000'
run "keep none" 0 "${B[@]}" queue set ops --keep-cancelled-ms none
has "cancelled cleared" "$out" '"cancelled_ms": ?null'
has "completed kept" "$out" '"completed_ms": ?60000'
run "keep refused" 1 "${B[@]}" queue set ops --keep-dead-ms 10
has "keep refusal" "$err" "setting_out_of_range"
run "after the keep refusal" 0 "${B[@]}" queue get ops
has "dead still the server's" "$out" '"dead_ms": ?null'

cli_stop_server
cli_finish
