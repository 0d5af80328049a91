#!/usr/bin/env bash
# test_cli_output.sh: end-to-end test of how the baton command ($BATON) speaks,
# against a batond ($BATOND) this script starts on a free loopback port with a
# temporary data directory (and, in the _pg variant, a fresh PostgreSQL
# schema): `baton --version`; errors with --json, one JSON object on stderr in
# the server's shape ({"error": {"code", "message", "field"}}) for a server's
# refusal and for the CLI's own errors (a bad flag, an unknown command, an
# unreachable server), with stdout empty; messages that name the flag or the
# argument the user gave (--max-attempts, --depends-on item 2, QUEUE,
# --force) instead of the API field; `baton scheduler`; and `baton job get`
# showing attempts, progress, steps, dependencies, the flow and a multi-line
# error line by line. Jobs are claimed, heartbeated and failed with curl (the
# CLI has no such commands). Every wait is bounded; the server is stopped by
# its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

command -v curl >/dev/null || {
	echo "curl is needed to claim jobs: skipping" >&2
	exit 77
}

cli_start_server
B=("$BATON" --url "$url")
admin=$(cat "$tmp/data/admin.key")
H=(-s -H "Authorization: Bearer $admin" -H "Content-Type: application/json")

# one_line NAME TEXT: TEXT is exactly one line (nothing else on stderr).
one_line() {
	checks=$((checks + 1))
	[ "$(printf '%s\n' "$2" | wc -l)" -eq 1 ] || fail "$1: more than one line: $2"
}

# ---- --version ----
run "version" 0 "$BATON" --version
has "version" "$out" '^baton [0-9]+\.[0-9]+\.[0-9]+$'
version=$out
run "batond version" 0 "$BATOND" --version
has "same version as batond" "$out" "^batond ${version#baton }$"
run "help lists --version" 0 "$BATON" --help
has "help lists --version" "$out" "--version +print the version"
has "help: json errors" "$out" "an error is JSON"
checks=$((checks + 1))
grep -q 'baton --version' "$BATON_SRC/README.md" || fail "README does not document baton --version"

# ---- --json errors: the server's refusals ----
run "json not found" 1 "${B[@]}" --json job get 987654321
has "json not found" "$err" '^\{"error":\{"code":"not_found","message":"[^"]+","field":null\}\}$'
one_line "json not found" "$err"
has "json not found: stdout empty" "[$out]" '^\[\]$'
run "text not found" 1 "${B[@]}" job get 987654321
has "text not found" "$err" '^baton: .*\(not_found, HTTP 404\)$'
run "json bad id" 1 "${B[@]}" --json job get abc
has "json bad id" "$err" '"code":"invalid_id".*"field":"ID"'
run "json unauthenticated" 4 env BATON_KEY=bk_k0000000000000000_00000000000000000000000000000000 \
	"${B[@]}" --json job list
has "json unauthenticated" "$err" '^\{"error":\{"code":"unauthenticated",'
one_line "json unauthenticated: no hint lines" "$err"
# --json anywhere on the line, even after the mistake it reports.
run "json after" 1 "${B[@]}" job get 987654321 --json
has "json after" "$err" '^\{"error":\{"code":"not_found"'

# ---- --json errors: the CLI's own ----
run "json bad flag" 2 "${B[@]}" --json enqueue q t --frob
has "json bad flag" "$err" '^\{"error":\{"code":"usage","message":"unknown option --frob","field":"--frob"\}\}$'
one_line "json bad flag: no usage line" "$err"
has "json bad flag: stdout empty" "[$out]" '^\[\]$'
run "json bad flag after" 2 "${B[@]}" enqueue q t --frob --json
has "json bad flag after" "$err" '"code":"usage","message":"unknown option --frob"'
run "text bad flag" 2 "${B[@]}" enqueue q t --frob
has "text bad flag" "$err" '^baton: unknown option --frob$'
has "text bad flag: usage" "$err" '^usage: baton enqueue'
run "json bad count" 2 "${B[@]}" --json timer list --limit lots
has "json bad count" "$err" '"code":"usage",.*"field":"--limit"'
run "json needs value" 2 "${B[@]}" --json job list --queue
has "json needs value" "$err" '"message":"--queue needs a value","field":"--queue"'
run "json unknown command" 2 "${B[@]}" --json explode
has "json unknown command" "$err" '^\{"error":\{"code":"usage","message":"unknown command explode","field":null\}\}$'
run "json unknown subcommand" 2 "${B[@]}" --json job explode
has "json unknown subcommand" "$err" '^\{"error":\{"code":"usage","message":"unknown subcommand job explode"'
one_line "json unknown subcommand: no group help" "$err"
run "json no command" 2 "$BATON" --json
has "json no command" "$err" '"code":"usage","message":"a command is required"'
run "json bad payload" 2 "${B[@]}" --json enqueue q t '{nope'
has "json bad payload" "$err" '"code":"usage","message":"payload is not valid JSON: .*","field":"PAYLOAD"'
run "json unreachable" 3 "$BATON" --url http://127.0.0.1:1 --json health
has "json unreachable" "$err" '^\{"error":\{"code":"unreachable","message":"cannot reach server at http://127.0.0.1:1: '
run "json missing key file" 2 "${B[@]}" --json --key-file "$tmp/nowhere.key" health
has "json missing key file" "$err" '"code":"usage",.*"field":"--key-file"'

# ---- messages speak in flags and arguments ----
run "flag max attempts" 1 "${B[@]}" enqueue q t --max-attempts 1000
has "flag max attempts" "$err" '^baton: --max-attempts must be between 1 and [0-9]+ \(max_attempts_out_of_range, option --max-attempts, HTTP 400\)$'
hasnt "flag max attempts: no field name" "$err" 'max_attempts must|field max_attempts'
run "json flag max attempts" 1 "${B[@]}" --json enqueue q t --max-attempts 1000
has "json flag max attempts" "$err" '^\{"error":\{"code":"max_attempts_out_of_range","message":"--max-attempts must be between 1 and [0-9]+","field":"--max-attempts"\}\}$'
run "flag depends-on item" 1 "${B[@]}" enqueue q t --depends-on 1,abc
has "flag depends-on item" "$err" '^baton: --depends-on item 2 must be a job id'
has "flag depends-on item" "$err" 'option --depends-on item 2'
run "argument QUEUE" 1 "${B[@]}" enqueue 'bad queue!' t
has "argument QUEUE" "$err" '^baton: QUEUE .*argument QUEUE, HTTP 400\)$'
run "argument ID item" 1 "${B[@]}" dead replay q 1 abc
has "argument ID item" "$err" '^baton: ID item 2 must be a job id.*argument ID item 2, HTTP 400\)$'
run "flag scopes item" 1 "${B[@]}" keys create k --scopes jobs:read,nope
has "flag scopes item" "$err" '^baton: --scopes item 2 is not a scope'
run "flag delay" 1 "${B[@]}" timer put tk --queue q --type t --delay-ms 99999999999999
has "flag delay" "$err" '--delay-ms .*option --delay-ms'
run "flag rate" 1 "${B[@]}" queue set q --rate 0/1000
has "flag rate" "$err" '^baton: --rate must be .*option --rate, HTTP 400\)$'
run "cron put" 0 "${B[@]}" cron put out-run --cron '0 3 * * *' --queue cq --type t
run "cron run" 0 "${B[@]}" cron run out-run
run "cron run again" 1 "${B[@]}" cron run out-run
has "cron run again: --force" "$err" 'still going \(job [0-9]+\); --force starts another \(already_running, HTTP 409\)$'
hasnt "cron run again: no API member" "$err" '"force"'
run "json cron run again" 1 "${B[@]}" --json cron run out-run
has "json cron run again" "$err" '"code":"already_running","message":"[^"]*--force starts another"'
# A field the user did not set by a flag keeps the server's name.
run "cron put no job" 1 "${B[@]}" cron put out-nojob --cron '0 3 * * *'
has "cron put no job" "$err" "field job"

# ---- baton scheduler ----
run "scheduler" 0 "${B[@]}" scheduler
has "scheduler: node" "$out" '^node +[^ ]+ \((leader|follower|starting)\)$'
has "scheduler: leader" "$out" '^leader +'
has "scheduler: heartbeat" "$out" '^heartbeat +.* ms ago\)$'
has "scheduler: schedules" "$out" '^schedules +1 \([0-9]+ due now\), next fire 20'
has "scheduler: skipped" "$out" '^skipped +overlap [0-9]+, misfire [0-9]+'
run "scheduler json" 0 "${B[@]}" --json scheduler
has "scheduler json" "$out" '"role": ?"'
has "scheduler json" "$out" '"schedules": ?1'
run "scheduler help" 0 "$BATON" scheduler --help
has "scheduler help" "$out" "GET /v1/scheduler"
run "reader key" 0 "${B[@]}" --json keys create r --scopes jobs:read
reader=$(printf '%s\n' "$out" | grep -Eo '"secret": ?"bk_[^"]+"' | grep -Eo 'bk_[^"]+')
run "scheduler needs cron:read" 4 env BATON_KEY="$reader" "${B[@]}" scheduler
has "scheduler needs cron:read" "$err" "forbidden"

# ---- baton job get: attempts, progress, steps, dependencies, error ----
run "enqueue parent" 0 "${B[@]}" --json enqueue jq render '{"a":1}'
parent=$(printf '%s\n' "$out" | grep -Eo '"id": ?"[0-9]+"' | head -n 1 | grep -Eo '[0-9]+')
run "enqueue child" 0 "${B[@]}" enqueue jq t --depends-on "$parent" --max-attempts 3
child=$(printf '%s\n' "$out" | sed -nE 's/^enqueued job ([0-9]+) .*/\1/p')
lease=$(curl "${H[@]}" -X POST "$url/v1/queues/jq/claim" -d '{"worker":"w-1"}' |
	grep -Eo '"lease": ?"[0-9a-f]+"' | grep -Eo '[0-9a-f]{16,}')
checks=$((checks + 1))
[ -n "$lease" ] || fail "claim of the parent gave no lease"
curl "${H[@]}" -X POST "$url/v1/jobs/$parent/heartbeat" \
	-d "{\"lease\":\"$lease\",\"progress\":{\"percent\":40,\"step\":\"render\",\"message\":\"page 2\"}}" \
	>/dev/null
curl "${H[@]}" -X POST "$url/v1/jobs/$parent/fail" \
	-d "{\"lease\":\"$lease\",\"error\":\"boom\\n  at frame 1\\n  at frame 2\",\"retry_in_ms\":600000}" \
	>/dev/null
run "job get" 0 "${B[@]}" job get "$parent"
has "job get: state" "$out" '^state +retrying$'
has "job get: attempt of" "$out" '^attempt +1 of 4$'
has "job get: error first line" "$out" '^last_error +boom$'
has "job get: error next lines" "$out" '^ {17}  at frame 1$'
has "job get: error last line" "$out" '^ {17}  at frame 2$'
has "job get: progress" "$out" '^progress +40% render: page 2$'
has "job get: steps" "$out" '^steps:$'
has "job get: step row" "$out" '^  render +1 +20[0-9-]+T'
has "job get: attempts" "$out" '^attempts:$'
has "job get: attempt row" "$out" '^  1 +w-1 +20[0-9-]+T[^ ]+ +20[0-9-]+T[^ ]+ +failed$'
has "job get: attempt error" "$out" '^      error: boom$'
has "job get: attempt error lines" "$out" '^ {13}  at frame 2$'
hasnt "job get: no raw JSON of attempts" "$out" '"outcome"'
run "job get child" 0 "${B[@]}" job get "$child"
has "job get child: pending" "$out" '^state +pending$'
has "job get child: depends_on" "$out" "^depends_on +$parent \\(on parent failure: cancel\\)$"
hasnt "job get child: no attempts yet" "$out" '^attempts:$'
printf '{"jobs": [{"ref": "a", "queue": "fq", "type": "t"},
 {"ref": "b", "queue": "fq", "type": "t", "depends_on": ["a"]}]}\n' >"$tmp/flow.json"
run "flow create" 0 "${B[@]}" --json flow create -f "$tmp/flow.json"
flow=$(printf '%s\n' "$out" | grep -Eo '^\{"flow": ?\{"id": ?"[0-9]+"' | grep -Eo '[0-9]+')
fjob=$(printf '%s\n' "$out" | grep -Eo '"id": ?"[0-9]+"' | sed -n 3p | grep -Eo '[0-9]+')
run "job get flow job" 0 "${B[@]}" job get "$fjob"
has "job get flow job" "$out" "^flow +$flow \\(ref b\\)$"

cli_stop_server
cli_finish
