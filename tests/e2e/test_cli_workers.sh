#!/usr/bin/env bash
# test_cli_workers.sh: end-to-end test of `baton workers` ($BATON) against a
# batond ($BATOND) this script starts on a free loopback port with a
# temporary data directory (cli_lib.sh). Workers register by claiming (curl,
# with info); the table shows id, health, queues, jobs in flight, completed,
# failed and last seen; `baton workers ID` shows one worker's details; the
# exit-code contract: 0 ok, 1 refused (404 for a worker never seen), 2 usage
# (nothing sent). Every wait is bounded; the server is stopped by its pid
# (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

cli_start_server
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2, nothing sent) ----
run "help" 0 "$BATON" --help
has "help lists workers" "$out" "workers \[ID\]"
run "workers --help" 0 "$BATON" workers --help
has "workers --help usage" "$out" "^usage: baton .*workers \[ID\]"
has "workers --help health" "$out" "stale"
run "bad limit" 2 "${B[@]}" workers --limit many
run "limit with an id" 2 "${B[@]}" workers w-1 --limit 2
run "too many ids" 2 "${B[@]}" workers a b

# ---- an empty registry ----
run "empty" 0 "${B[@]}" workers
has "empty table header" "$out" "^ID +HEALTH +QUEUES +IN FLIGHT +COMPLETED +FAILED +LAST SEEN"
run "never seen" 1 "${B[@]}" workers w-1
has "never seen: not found" "$err" "not_found|not found"

# ---- two workers claim ----
claim() { # claim QUEUE BODY: prints the answer
	curl -s -X POST -H "Authorization: Bearer $(cat "$tmp/data/admin.key")" \
		-H 'Content-Type: application/json' -d "$2" "$url/v1/queues/$1/claim"
}
if ! command -v curl >/dev/null; then
	echo "curl missing: cannot claim" >&2
	exit 1
fi
run "enqueue 1" 0 "${B[@]}" enqueue mail send '{"n":1}'
run "enqueue 2" 0 "${B[@]}" enqueue mail send '{"n":2}'
a=$(claim mail '{"worker":"w-1","info":{"host":"box-1","pid":77,"version":"3.2","labels":{"zone":"eu"}}}')
checks=$((checks + 1))
printf '%s' "$a" | grep -q '"worker":"w-1"' || fail "w-1 claimed nothing: $a"
b=$(claim mail '{"worker":"w-2"}')
jid=$(printf '%s' "$b" | grep -Eo '"id":"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+')
lease=$(printf '%s' "$b" | grep -Eo '"lease":"[0-9a-f]+"' | grep -Eo '[0-9a-f]{16,}')
checks=$((checks + 1))
[ -n "$jid" ] && [ -n "$lease" ] || fail "w-2 claimed nothing: $b"
curl -s -X POST -H "Authorization: Bearer $(cat "$tmp/data/admin.key")" \
	-H 'Content-Type: application/json' -d "{\"lease\":\"$lease\",\"result\":1}" \
	"$url/v1/jobs/$jid/complete" >/dev/null

run "table" 0 "${B[@]}" workers
has "w-1 row" "$out" "^w-1 +healthy +mail +1 +0 +0 +20[0-9-]+T"
has "w-2 row" "$out" "^w-2 +healthy +mail +0 +1 +0 +20[0-9-]+T"
run "details" 0 "${B[@]}" workers w-1
has "details host" "$out" "^host +box-1$"
has "details pid" "$out" "^pid +77$"
has "details version" "$out" "^version +3.2$"
has "details labels" "$out" "^labels +zone=eu$"
has "details queues" "$out" "^queues +mail$"
has "details in flight" "$out" "^in_flight +[0-9]+$"
has "details health" "$out" "^health +healthy$"
run "details --json" 0 "${B[@]}" --json workers w-2
has "json completed" "$out" '"completed": ?1'
has "json in_flight empty" "$out" '"in_flight": ?\[\]'
run "page" 0 "${B[@]}" workers --limit 1
has "page shows w-1" "$out" "^w-1 "
hasnt "page hides w-2" "$out" "^w-2 "
has "page cursor" "$out" "next page: --after w-1"
run "next page" 0 "${B[@]}" workers --limit 1 --after w-1
has "next page shows w-2" "$out" "^w-2 "

# ---- stop the server ----
cli_stop_server

cli_finish
