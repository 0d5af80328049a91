#!/usr/bin/env bash
# test_cli.sh: end-to-end test of the baton command ($BATON) against a batond
# ($BATOND) this script starts on a free loopback port (--listen 127.0.0.1:0;
# the port is read from the server's start line) with a temporary data
# directory. It checks the output and the exit-code contract of every
# subcommand: 0 ok, 1 refused by the server, 2 usage error, 3 unreachable,
# 4 authentication (401/403), 5 rate limited (429). The CLI finds its key the
# way an operator's does, through BATON_DATA (the server's admin.key); when the
# server runs without auth there is no admin.key, no header is sent, and the
# key, audit and auth checks are skipped. `baton work` is covered by
# test_work_cli.sh. Every wait is bounded; the server is stopped by its pid
# (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# ---- start the server ----
cli_start_server
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2) ----
run "help" 0 "$BATON" --help
has "help" "$out" "enqueue QUEUE TYPE"
has "help" "$out" "job list"
has "help" "$out" "Exit codes"
has "help" "$out" "4  authentication"
has "help" "$out" "5  rate limited"
has "help" "$out" "keys create NAME"
has "help" "$out" "audit \\["
has "help" "$out" "work --queue Q"
for c in health enqueue "job get" "job list" "job cancel" "job retry" "queue list" "queue get" \
	"queue pause" "queue resume" "dead list" "dead replay" "dead purge" "keys create" \
	"keys list" "keys revoke" "keys rotate" audit work; do
	# shellcheck disable=SC2086
	run "$c --help" 0 "$BATON" $c --help
	has "$c --help" "$out" "^usage: baton .*$c"
done
run "keys group help" 0 "$BATON" keys --help
has "keys group help" "$out" "keys rotate ID"
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
printf '{"from":"file"}' >"$tmp/payload.json"
run "enqueue from file" 0 "${B[@]}" --json enqueue mail filed @"$tmp/payload.json" --max-attempts 2
has "enqueue from file" "$out" '"from": ?"file"'
has "enqueue from file" "$out" '"max_attempts": ?2'
run "enqueue missing file" 2 "${B[@]}" enqueue mail filed @"$tmp/nope.json"
has "enqueue missing file" "$err" "cannot open payload file"
run "enqueue bad max attempts" 1 "${B[@]}" enqueue mail t --max-attempts 0
has "enqueue bad max attempts" "$err" "max_attempts"
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
cli_pids+=("$wait_pid")
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
	cli_wait_exit "$wait_pid" 100
	checks=$((checks + 1))
	[ "$exit_rc" = "1" ] || fail "enqueue --wait: exit '$exit_rc', want 1 for a cancelled job"
	has "enqueue --wait" "$(cat "$tmp/wait.err")" "ended cancelled"
fi

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

# ---- keys, audit, authentication and rate limits (only when auth is on) ----
if [ -f "$tmp/data/admin.key" ]; then
	perm=$(stat -c %a "$tmp/data/admin.key")
	checks=$((checks + 1))
	[ "$perm" = 600 ] || fail "admin.key mode $perm, want 600"
	admin=$(cat "$tmp/data/admin.key")
	run "keys list" 0 "${B[@]}" keys list
	has "keys list" "$out" "^ID +NAME +TENANT +SCOPES +STATUS"
	has "keys list" "$out" "admin"
	hasnt "keys list shows no secret" "$out" "bk_"
	run "keys create" 0 "${B[@]}" keys create reader --scopes jobs:read
	has "keys create" "$out" "^key k[0-9a-f]+ created$"
	has "keys create" "$out" "^scopes +jobs:read$"
	has "keys create" "$out" "^secret +bk_"
	has "keys create" "$out" "shown only once"
	reader=$(printf '%s\n' "$out" | sed -nE 's/^secret +(bk_[^ ]+)$/\1/p')
	reader_id=$(printf '%s\n' "$out" | sed -nE 's/^key (k[0-9a-f]+) created$/\1/p')
	run "keys create json" 0 "${B[@]}" --json keys create worker --scopes work,jobs:read \
		--rate-max 1 --rate-per-ms 60000
	# {"key": {...}, "secret": "bk_..."}: the secret beside the key object.
	has "keys create json" "$out" '^\{"key": ?\{"id": ?"k[0-9a-f]+"'
	has "keys create json" "$out" '"secret": ?"bk_'
	has "keys create json" "$out" '"scopes": ?\['
	limited=$(printf '%s\n' "$out" | grep -Eo '"secret": ?"bk_[^"]+"' | grep -Eo 'bk_[^"]+')
	run "keys create other tenant" 0 "${B[@]}" keys create acme-ops --tenant acme --scopes jobs:read
	has "keys create other tenant" "$out" "^tenant +acme$"
	run "keys list tenant" 0 "${B[@]}" keys list --tenant acme
	has "keys list tenant" "$out" "acme-ops"
	hasnt "keys list tenant" "$out" " reader "
	run "keys list json" 0 "${B[@]}" --json keys list
	has "keys list json" "$out" '"keys": ?\['
	hasnt "keys list json shows no secret" "$out" "bk_"
	run "keys create bad scope" 1 "${B[@]}" keys create x --scopes jobs:everything
	run "keys create bad rate" 2 "${B[@]}" keys create x --rate-max 5
	has "keys create bad rate" "$err" "go together"
	run "keys create missing name" 2 "${B[@]}" keys create
	# A key with jobs:read reads, and is refused what needs another scope.
	run "reader reads" 0 env BATON_KEY="$reader" "${B[@]}" job list --queue mail
	run "reader cannot enqueue" 4 env BATON_KEY="$reader" "${B[@]}" enqueue mail t
	has "reader cannot enqueue" "$err" "forbidden"
	has "reader cannot enqueue" "$err" "HTTP 403"
	run "reader cannot list keys" 4 env BATON_KEY="$reader" "${B[@]}" keys list
	run "reader cannot read audit" 4 env BATON_KEY="$reader" "${B[@]}" audit
	# No key at all, and a key that is not one.
	run "no key" 4 env BATON_DATA="$tmp/nowhere" "${B[@]}" job list
	has "no key" "$err" "unauthenticated"
	has "no key" "$err" "no API key was found"
	run "unknown key" 4 env BATON_KEY=bk_k0000000000000000_00000000000000000000000000000000 \
		"${B[@]}" job list
	has "unknown key" "$err" "not accepted"
	run "key file" 0 "${B[@]}" --key-file "$tmp/data/admin.key" keys list
	run "missing key file" 2 "${B[@]}" --key-file "$tmp/nowhere.key" health
	run "health needs no key" 0 env BATON_DATA="$tmp/nowhere" "${B[@]}" health
	# Rotation: the new secret works; with no grace the old one stops at once.
	run "keys rotate" 0 "${B[@]}" keys rotate "$reader_id" --grace-ms 0
	has "keys rotate" "$out" "^key $reader_id rotated$"
	has "keys rotate" "$out" "^secret +bk_"
	rotated=$(printf '%s\n' "$out" | sed -nE 's/^secret +(bk_[^ ]+)$/\1/p')
	checks=$((checks + 1))
	[ -n "$rotated" ] && [ "$rotated" != "$reader" ] || fail "keys rotate: no new secret"
	run "rotated key works" 0 env BATON_KEY="$rotated" "${B[@]}" job list --queue mail
	run "old secret refused" 4 env BATON_KEY="$reader" "${B[@]}" job list --queue mail
	run "keys rotate bad grace" 2 "${B[@]}" keys rotate "$reader_id" --grace-ms soon
	run "keys rotate missing" 1 "${B[@]}" keys rotate k0000000000000000
	has "keys rotate missing" "$err" "HTTP 404"
	# Revocation is effective on the next request.
	run "keys revoke" 0 "${B[@]}" keys revoke "$reader_id"
	has "keys revoke" "$out" "^key $reader_id revoked$"
	run "revoked key refused" 4 env BATON_KEY="$rotated" "${B[@]}" job list
	run "keys list shows revoked" 0 "${B[@]}" keys list
	has "keys list shows revoked" "$out" "^$reader_id +reader .*revoked"
	run "keys revoke missing" 1 "${B[@]}" keys revoke k0000000000000000
	# Rate limit: 1 request per minute for this key.
	run "limited first" 0 env BATON_KEY="$limited" "${B[@]}" job list --queue mail
	run "limited second" 5 env BATON_KEY="$limited" "${B[@]}" job list --queue mail
	has "limited second" "$err" "rate_limited"
	has "limited second" "$err" "retry after [0-9]+ s"
	# Audit log.
	run "audit" 0 "${B[@]}" audit
	has "audit" "$out" "^AT +KEY_ID +TENANT +ACTION"
	has "audit" "$out" "keys.create +$reader_id +201"
	has "audit" "$out" "keys.rotate +$reader_id"
	has "audit" "$out" "keys.revoke +$reader_id"
	hasnt "audit shows no secret" "$out" "bk_"
	run "audit filter" 0 "${B[@]}" audit --action keys.revoke
	has "audit filter" "$out" "keys.revoke"
	hasnt "audit filter" "$out" "keys.create"
	run "audit json" 0 "${B[@]}" --json audit --limit 1
	has "audit json" "$out" '"entries": ?\['
	has "audit json" "$out" '"next": ?"'
	hasnt "audit json shows no secret" "$out" "$admin"
	run "audit bad limit" 2 "${B[@]}" audit --limit lots
else
	echo "test_cli.sh: no admin.key (server without auth): key and audit checks skipped"
fi

# ---- the server stops cleanly ----
cli_stop_server
run "after stop" 3 "${B[@]}" health

cli_finish
