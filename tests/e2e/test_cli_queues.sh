#!/usr/bin/env bash
# test_cli_queues.sh: end-to-end test of `baton queue set` and `baton enqueue
# --group` ($BATON) against a batond ($BATOND) this script starts on a free
# loopback port (--listen 127.0.0.1:0, the port read from the start line) with
# a temporary data directory. The CLI finds its key through BATON_DATA. It
# checks output and the exit-code contract: 0 ok, 1 refused (400), 2 usage
# (a malformed option, nothing sent), 3 unavailable (503 queue_full).
# Settings show in `baton queue get`; a group limit of 1 holds one job of a group at a time; a
# full queue refuses an enqueue. Every wait is bounded; the server is stopped
# by its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# ---- start the server ----
cli_start_server
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2, nothing sent) ----
run "help" 0 "$BATON" --help
has "help lists queue set" "$out" "queue set"
run "queue set --help" 0 "$BATON" queue set --help
has "queue set --help" "$out" "^usage: baton .*queue set QUEUE"
has "queue set --help names --group-rate" "$out" "--group-rate"
run "enqueue --help" 0 "$BATON" enqueue --help
has "enqueue --help names --group" "$out" "--group G"
run "set nothing" 2 "${B[@]}" queue set drafts
has "set nothing message" "$err" "at least one setting"
run "set bad rate" 2 "${B[@]}" queue set drafts --rate 5
has "set bad rate message" "$err" "--rate needs MAX/PER_MS"
run "set bad count" 2 "${B[@]}" queue set drafts --concurrency many
has "set bad count message" "$err" "--concurrency needs"
run "set bad backoff" 2 "${B[@]}" queue set drafts --backoff '{nope'
run "set no queue" 2 "${B[@]}" queue set
run "get after usage errors" 1 "${B[@]}" queue get drafts
has "usage errors created nothing" "$err" "not_found|404|no such"

# ---- settings ----
run "set" 0 "${B[@]}" queue set drafts --concurrency 4 --rate 10/1000 --max-depth 3 \
	--group-concurrency 1 --group-rate 2/500 --max-attempts 6 --lease-ms 20000 \
	--backoff '{"type":"fixed","base_ms":300}'
has "set shows concurrency" "$out" "^concurrency +4$"
has "set shows rate" "$out" '^rate +\{"max":10,"per_ms":1000\}'
has "set shows max_depth" "$out" "^max_depth +3$"
has "set shows group_concurrency" "$out" "^group_concurrency +1$"
has "set shows group_rate" "$out" '^group_rate +\{"max":2,"per_ms":500\}'
has "set shows defaults" "$out" '"max_attempts":6'
run "get" 0 "${B[@]}" queue get drafts
has "get shows running" "$out" "^running +0$"
run "get --json" 0 "${B[@]}" --json queue get drafts
has "json group_concurrency" "$out" '"group_concurrency": ?1'
run "refused by the server" 1 "${B[@]}" queue set drafts --concurrency 0
has "refusal code" "$err" "setting_out_of_range"
run "none removes" 0 "${B[@]}" queue set drafts --rate none --group-rate none
has "rate removed" "$out" "^rate +none$"
has "group_rate removed" "$out" "^group_rate +none$"
has "others kept" "$out" "^concurrency +4$"

# ---- groups and max_depth ----
run "enqueue g1 a" 0 "${B[@]}" --json enqueue drafts pick '{"n":1}' --group draft-1
has "job carries its group" "$out" '"group": ?"draft-1"'
has "queue default applied" "$out" '"max_attempts": ?6'
run "enqueue g1 b" 0 "${B[@]}" enqueue drafts pick --group draft-1
run "enqueue g2" 0 "${B[@]}" enqueue drafts pick --group draft-2
run "enqueue beyond max_depth" 3 "${B[@]}" enqueue drafts pick --group draft-3
has "queue_full" "$err" "queue_full"
has "retry hint" "$err" "retry after"
run "depth" 0 "${B[@]}" queue get drafts
has "depth 3" "$out" "^depth +3$"
# Two claims' worth of work: one job per group at a time.
claim=""
command -v curl >/dev/null && claim=$(curl -s -X POST -H "Authorization: Bearer $(cat "$tmp/data/admin.key")" \
	-H 'Content-Type: application/json' \
	-d '{"worker":"w","max":10}' "$url/v1/queues/drafts/claim" 2>/dev/null || true)
if [ -n "$claim" ]; then
	n=$(printf '%s' "$claim" | grep -o '"group":"draft-[0-9]"' | sort | uniq -c | awk '{print $1}' | sort -n | tail -n 1)
	checks=$((checks + 1))
	[ "$n" = "1" ] || fail "a claim of 10 held a group twice: $claim"
	run "running counted" 0 "${B[@]}" queue get drafts
	has "running 2" "$out" "^running +2$"
fi

# ---- audit ----
run "audit" 0 "${B[@]}" audit --action queue.update
has "audit has the settings" "$out" "queue.update"
has "audit names the queue" "$out" "drafts"

# ---- stop the server ----
cli_stop_server

cli_finish
