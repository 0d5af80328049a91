#!/usr/bin/env bash
# test_cli_find.sh: end-to-end test of `baton job list` with its filter flags
# and --desc, and of `baton jobs bulk` ($BATON), against a batond ($BATOND)
# this script starts on a free loopback port with a temporary data directory
# (the CLI finds its key through BATON_DATA). It checks what each flag
# selects, the pages of --desc with --after, each bulk action with its
# totals, --limit, the continuation over more than one call, and the
# exit-code contract: 0 ok, 1 refused by the server (nothing changed), 2
# usage (nothing sent). Every wait is bounded; the server is stopped by its
# pid (trap on exit). Registered also as e2e_sh_cli_find_pg.
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

cli_start_server
B=("$BATON" --url "$url")

# enq ARGS...: enqueues through the CLI; the job's id in $id.
enq() {
	run "enqueue $*" 0 "${B[@]}" --json enqueue "$@"
	id=$(printf '%s' "$out" | grep -oE '"id": ?"[0-9]+"' | head -1 | grep -oE '[0-9]+')
}

# ids_of TEXT: the ids of a job table, joined by commas.
ids_of() {
	printf '%s\n' "$1" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { printf "%s%s", s, $1; s = "," }'
}

# ---- help and usage (exit 0 / 2, nothing sent) ----
run "help" 0 "$BATON" --help
has "help lists jobs bulk" "$out" "jobs bulk"
run "job list --help" 0 "$BATON" job list --help
has "job list --help names --desc" "$out" "--desc"
has "job list --help names --finished-before" "$out" "--finished-before"
has "job list --help names --idempotency-key" "$out" "--idempotency-key"
run "jobs bulk --help" 0 "$BATON" jobs bulk --help
has "jobs bulk --help names the actions" "$out" "retry.cancel.promote.purge"
run "bulk bad action" 2 "${B[@]}" jobs bulk zap --queue q
has "bulk bad action message" "$err" "retry, cancel, promote or purge"
run "bulk no action" 2 "${B[@]}" jobs bulk
run "bulk bad limit" 2 "${B[@]}" jobs bulk cancel --limit 0
run "list bad limit" 2 "${B[@]}" job list --limit many

# ---- jobs to find ----
enq mail send '{}' --idempotency-key idem-1 --group g1
j1=$id
enq mail send '{}' --group g1
j2=$id
sleep 0.05
t=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.05
enq mail digest '{}'
j3=$id
enq report build '{}' --delay-ms 60000
j4=$id

# ---- job list filters ----
run "list all" 0 "${B[@]}" job list
[ "$(ids_of "$out")" = "$j1,$j2,$j3,$j4" ] || fail "list all: $(ids_of "$out")"
run "list --queue" 0 "${B[@]}" job list --queue mail
[ "$(ids_of "$out")" = "$j1,$j2,$j3" ] || fail "list --queue: $(ids_of "$out")"
run "list --type" 0 "${B[@]}" job list --type digest
[ "$(ids_of "$out")" = "$j3" ] || fail "list --type: $(ids_of "$out")"
run "list --group" 0 "${B[@]}" job list --group g1
[ "$(ids_of "$out")" = "$j1,$j2" ] || fail "list --group: $(ids_of "$out")"
run "list --idempotency-key" 0 "${B[@]}" job list --idempotency-key idem-1
[ "$(ids_of "$out")" = "$j1" ] || fail "list --idempotency-key: $(ids_of "$out")"
run "list --state list" 0 "${B[@]}" job list --state scheduled,dead
[ "$(ids_of "$out")" = "$j4" ] || fail "list --state: $(ids_of "$out")"
run "list --created-after" 0 "${B[@]}" job list --created-after "$t"
[ "$(ids_of "$out")" = "$j3,$j4" ] || fail "list --created-after: $(ids_of "$out")"
run "list --created-before" 0 "${B[@]}" job list --created-before "$t" --queue mail
[ "$(ids_of "$out")" = "$j1,$j2" ] || fail "list --created-before: $(ids_of "$out")"
for flag in --key --request-id --execution-id --worker; do
	run "list $flag" 0 "${B[@]}" job list "$flag" nobody-has-this
	[ -z "$(ids_of "$out")" ] || fail "list $flag: $(ids_of "$out")"
done
run "list --finished-after" 0 "${B[@]}" job list --finished-after "$t"
[ -z "$(ids_of "$out")" ] || fail "list --finished-after: $(ids_of "$out")"
run "list --finished-before" 0 "${B[@]}" job list --finished-before "$t"
[ -z "$(ids_of "$out")" ] || fail "list --finished-before: $(ids_of "$out")"
# --desc pages: newest first, the cursor gives the older ones.
run "list --desc" 0 "${B[@]}" job list --desc --limit 3
[ "$(ids_of "$out")" = "$j4,$j3,$j2" ] || fail "list --desc: $(ids_of "$out")"
has "list --desc cursor" "$out" "next page: --after $j2"
run "list --desc --after" 0 "${B[@]}" job list --desc --limit 3 --after "$j2"
[ "$(ids_of "$out")" = "$j1" ] || fail "list --desc --after: $(ids_of "$out")"
hasnt "list --desc last page" "$out" "next page"
run "list --json" 0 "${B[@]}" --json job list --key nobody-has-this
has "list --json" "$out" '"jobs": ?\[\]'
# Refused by the server.
run "list bad state" 1 "${B[@]}" job list --state sleeping
has "bad state lists the states" "$err" "pending, scheduled, queued"
has "bad state names the flag" "$err" "value of --state was refused"
run "list bad time" 1 "${B[@]}" job list --created-after yesterday
has "bad time code" "$err" "invalid_time"

# ---- jobs bulk ----
run "bulk promote" 0 "${B[@]}" jobs bulk promote --queue report
has "bulk promote totals" "$out" "^promote: 1 matched, 1 changed$"
run "promoted" 0 "${B[@]}" job get "$j4"
has "promoted is queued" "$out" "queued"
run "bulk cancel --limit" 0 "${B[@]}" jobs bulk cancel --queue mail --limit 2
has "bulk cancel --limit totals" "$out" "^cancel: 2 matched, 2 changed; more remain after $j2$"
run "bulk cancel rest --json" 0 "${B[@]}" --json jobs bulk cancel --queue mail
has "bulk cancel --json" "$out" '"matched":3,"changed":1,"next":null'
run "bulk retry" 0 "${B[@]}" jobs bulk retry --state cancelled --type send
has "bulk retry totals" "$out" "^retry: 2 matched, 2 changed$"
run "bulk cancel again" 0 "${B[@]}" jobs bulk cancel --group g1
run "bulk purge" 0 "${B[@]}" jobs bulk purge --state cancelled,queued --desc
has "bulk purge totals" "$out" "^purge: 4 matched, 3 changed$"
run "purged are gone" 0 "${B[@]}" job list
[ "$(ids_of "$out")" = "$j4" ] || fail "after purge: $(ids_of "$out")"
# Refused: nothing changed.
run "bulk refused" 1 "${B[@]}" jobs bulk cancel --state sleeping
has "bulk refused code" "$err" "invalid_field"
has "bulk refused names the flag" "$err" "value of --state was refused"
run "still queued" 0 "${B[@]}" job get "$j4"
has "refusal changed nothing" "$out" "queued"
# More than one call: 1,001 jobs cancelled in two requests.
body=$(printf '{"queue":"many","type":"t"},%.0s' $(seq 1 1000))
run "enqueue many" 0 "${B[@]}" enqueue many t '{}'
key=$(cat "$BATON_DATA/admin.key")
checks=$((checks + 1))
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/jobs" \
	-H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
	-d "{\"jobs\":[${body%,}]}")
[ "$code" = 201 ] || fail "batch enqueue: HTTP $code"
run "bulk over two calls" 0 "${B[@]}" jobs bulk cancel --queue many
has "bulk over two calls totals" "$out" "^cancel: 1001 matched, 1001 changed$"

# ---- audit ----
run "audit" 0 "${B[@]}" audit --action jobs.bulk
has "audit has the bulk" "$out" "jobs.bulk"

cli_stop_server
cli_finish
