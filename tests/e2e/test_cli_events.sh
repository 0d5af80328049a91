#!/usr/bin/env bash
# test_cli_events.sh: end-to-end test of `baton events` ($BATON) against a
# batond ($BATOND) this script starts on a free loopback port with a
# temporary data directory (cli_lib.sh): the table of the tenant's events
# (id, type, time, subject, data) and the cursor to read on from; --type
# and --queue filters; --after; --follow printing events as they commit
# (a job enqueued while it waits) and ending after --count of them, as JSON
# lines with --json; the exit-code contract: 0 ok, 1 refused (a bad type
# pattern), 2 usage (nothing sent). Every wait is bounded; the server is
# stopped by its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

cli_start_server
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2, nothing sent) ----
run "help" 0 "$BATON" --help
has "help lists events" "$out" "events \[--type"
run "events --help" 0 "$BATON" events --help
has "events --help follow" "$out" "--follow"
run "bad limit" 2 "${B[@]}" events --limit many
run "count without follow" 2 "${B[@]}" events --count 2
run "positional" 2 "${B[@]}" events extra

# ---- an empty log ----
run "empty" 0 "${B[@]}" events
has "empty table header" "$out" "^ID +TYPE +AT +SUBJECT +DATA"
hasnt "empty: no event" "$out" "job\."

# ---- a job's events ----
run "enqueue" 0 "${B[@]}" enqueue mail send '{"n":1}'
run "cancel" 0 "${B[@]}" job cancel 1
run "table" 0 "${B[@]}" events
has "enqueued row" "$out" "^[0-9]+ +job\.enqueued +20[0-9-]+T[0-9:.]+Z +job 1 \(mail\) +\{\"type\":\"send\""
has "cancelled row" "$out" "job\.cancelled +.*job 1 \(mail\)"
has "cursor" "$out" "^next page: --after [0-9]+$"
run "type filter" 0 "${B[@]}" events --type job.cancelled
hasnt "type filter: no enqueued" "$out" "job\.enqueued"
has "type filter: cancelled" "$out" "job\.cancelled"
run "queue filter" 0 "${B[@]}" events --queue other
hasnt "queue filter: none" "$out" "job\."
run "json page" 0 "${B[@]}" --json events --limit 1
first=$(printf '%s' "$out" | grep -Eo '"id": ?"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+')
has "json page: events and next" "$out" "\"next\": ?\"$first\""
run "json all" 0 "${B[@]}" --json events
last=$(printf '%s' "$out" | grep -Eo '"next": ?"[0-9]+"' | grep -Eo '[0-9]+')
run "after" 0 "${B[@]}" events --after "$first"
hasnt "after: not the first" "$out" "job\.enqueued"
has "after: the second" "$out" "job\.cancelled"
run "bad pattern" 1 "${B[@]}" events --type job.nope
has "bad pattern: code" "$err" "invalid_type_pattern"

# ---- --follow: an event that commits while it waits ----
( sleep 0.5; "${B[@]}" enqueue mail later >/dev/null 2>&1 ) &
bg=$!
cli_pids+=("$bg")
run "follow" 0 timeout 20 "${B[@]}" --json events --follow --after "$last" --count 1
has "follow: the new job" "$out" '^\{"id":"[0-9]+","type":"job.enqueued".*"subject":\{"kind":"job","id":"[0-9]+","queue":"mail"\},"data":\{"type":"later"'
cli_wait_exit "$bg" 100
run "follow table" 0 timeout 20 "${B[@]}" events --follow --count 3
has "follow table: three rows" "$(printf '%s\n' "$out" | grep -c 'job\.')" "^3$"

# ---- stop the server ----
cli_stop_server

cli_finish
