#!/usr/bin/env bash
# test_cli_cron.sh: end-to-end test of `baton cron` ($BATON) against a batond
# ($BATOND) this script starts on a free loopback port (--listen 127.0.0.1:0,
# the port read from the start line) with a temporary data directory, a cron
# floor of one second (--cron-min-interval-ms 1000, so a schedule can fire
# during the test) and three manual runs per hour (so the cooldown is
# reachable). The CLI finds its key through BATON_DATA (the server's
# admin.key). It checks output and the exit-code contract: 0 ok, 1 refused,
# 2 usage, 3 unreachable, 4 authentication, 5 rate limited (the manual-run
# cooldown). `cron apply` is checked against PUT /v1/cron when the server has
# that route, otherwise its error path (405/404 -> exit 1) is checked. Every
# wait is bounded; the server is stopped by its pid (trap on exit).
set -u

# The frame (tmp, counters, cleanup trap), fail, run, has, hasnt
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# ---- start the server ----
cli_start_server --cron-min-interval-ms 1000 --cron-run-max-per-hour 3 --max-cron-schedules 6
B=("$BATON" --url "$url")

# ---- help and usage (exit 0 / 2) ----
run "help" 0 "$BATON" --help
help_out=$out
for c in list get put delete pause resume run runs preview apply; do
	has "help lists cron $c" "$help_out" "cron $c"
	run "cron $c --help" 0 "$BATON" cron "$c" --help
	has "cron $c --help" "$out" "^usage: baton .*cron $c"
done
run "cron group help" 0 "$BATON" cron --help
has "cron group help" "$out" "cron apply -f FILE"
run "cron unknown" 2 "$BATON" cron explode
run "put needs a definition" 2 "${B[@]}" cron put k1
has "put needs a definition" "$err" "give a definition"
run "put bad json" 2 "${B[@]}" cron put k1 '{nope'
has "put bad json" "$err" "not a JSON object"
run "put json array" 2 "${B[@]}" cron put k1 '[1]'
run "put missing file" 2 "${B[@]}" cron put k1 @"$tmp/none.json"
run "get needs key" 2 "${B[@]}" cron get
run "get two keys" 2 "${B[@]}" cron get a b
run "apply needs -f" 2 "${B[@]}" cron apply
has "apply needs -f" "$err" "-f FILE is required"
run "apply missing file" 2 "${B[@]}" cron apply -f "$tmp/none.json"
echo '{"schedule": []}' >"$tmp/notreg.json"
run "apply not a registry" 2 "${B[@]}" cron apply -f "$tmp/notreg.json"
has "apply not a registry" "$err" "not a registry"
run "preview count 0" 2 "${B[@]}" cron preview '@daily' --count 0
run "preview count big" 2 "${B[@]}" cron preview '@daily' --count 101
run "list bad limit" 2 "${B[@]}" cron list --limit x
run "run unknown option" 2 "${B[@]}" cron run k1 --forcefully

# ---- unreachable (3) and authentication (4) ----
run "unreachable" 3 "$BATON" --url http://127.0.0.1:1 cron list
has "unreachable" "$err" "cannot reach server"
run "bad key" 4 env BATON_KEY=bk_nope_nope "$BATON" --url "$url" cron list

# ---- preview ----
run "preview" 0 "${B[@]}" cron preview '20 6,8,10 * * *' --timezone Europe/London \
	--from 2026-01-01T00:00:00Z --count 3
has "preview description" "$out" "^At 06:20, 08:20 and 10:20$"
has "preview zone and utc" "$out" "2026-01-01 06:20:00 GMT +2026-01-01T06:20:00.000Z"
has "preview third" "$out" "2026-01-01T10:20:00.000Z"
run "preview gap shift" 0 "${B[@]}" cron preview '30 2 * * *' --timezone Europe/Berlin \
	--from 2026-03-28T12:00:00Z --count 2
has "preview gap shift" "$out" "2026-03-29 03:30:00 CEST +2026-03-29T01:30:00.000Z"
run "preview gap skip" 0 "${B[@]}" cron preview '30 2 * * *' --timezone Europe/Berlin \
	--from 2026-03-28T12:00:00Z --count 1 --dst-gap skip
has "preview gap skip" "$out" "2026-03-30T00:30:00.000Z"
run "preview fold both" 0 "${B[@]}" cron preview '30 2 * * *' --timezone Europe/Berlin \
	--from 2026-10-24T12:00:00Z --count 2 --dst-fold both
has "preview fold both" "$out" "2026-10-25 02:30:00 CEST +2026-10-25T00:30:00.000Z"
has "preview fold both" "$out" "2026-10-25 02:30:00 CET +2026-10-25T01:30:00.000Z"
run "preview json" 0 "${B[@]}" --json cron preview '@hourly' --count 1
has "preview json" "$out" '"valid": ?true'
has "preview json" "$out" '"fires": ?\['
run "preview never fires" 1 "${B[@]}" cron preview '0 0 30 2 *'
has "preview never fires" "$err" "invalid expression: .*February.*cron_never_fires"
run "preview garbage" 1 "${B[@]}" cron preview 'every tuesday'
run "preview bad zone" 1 "${B[@]}" cron preview '@daily' --timezone Mars/Olympus
run "preview bad gap" 1 "${B[@]}" cron preview '@daily' --dst-gap sideways
# The server's field (dst_gap) is named as the flag that set it.
has "preview bad gap" "$err" "--dst-gap must be shift or skip"
has "preview bad gap" "$err" "option --dst-gap"
run "preview bad from" 1 "${B[@]}" cron preview '@daily' --from yesterday

# ---- put, get, list ----
run "put by flags" 0 "${B[@]}" cron put nightly --cron '30 2 * * *' --timezone Europe/Berlin \
	--queue etl --type rebuild
has "put by flags" "$out" "^schedule nightly created$"
has "put by flags" "$out" "^next_fire \(zone\) +[0-9-]+ 02:30:00 CES?T$"
has "put by flags" "$out" "^overlap +skip$"
has "put by flags" "$out" "^misfire +fire_once$"
run "put again" 0 "${B[@]}" cron put nightly --cron '45 2 * * *' --timezone Europe/Berlin \
	--queue etl --type rebuild
has "put again" "$out" "^schedule nightly updated$"
has "put again" "$out" "^version +2$"
cat >"$tmp/every.json" <<'JSON'
{"cron": "* * * * * *", "description": "every second, for the test",
 "job": {"queue": "tick", "type": "beat", "payload": {"n": 1}}, "overlap": "allow"}
JSON
run "put from file" 0 "${B[@]}" cron put every-second @"$tmp/every.json"
has "put from file" "$out" "^overlap +allow$"
run "put from stdin" 0 sh -c "'$BATON' --url '$url' cron put stdin-sched - <'$tmp/every.json'"
has "put from stdin" "$out" "^schedule stdin-sched created$"
run "put never fires" 1 "${B[@]}" cron put bad --cron '0 0 30 2 *' --queue q --type t
has "put never fires" "$err" "cron_never_fires"
run "put no job" 1 "${B[@]}" cron put bad --cron '@daily'
has "put no job" "$err" "field job"
run "put bad overlap" 1 "${B[@]}" cron put bad '{"cron":"@daily","overlap":"sometimes","job":{"queue":"q","type":"t"}}'
has "put bad overlap" "$err" "overlap"
run "put json" 0 "${B[@]}" --json cron put weekly --cron '0 9 * * MON#2' --queue q --type t
has "put json" "$out" '"created": ?true'
run "get" 0 "${B[@]}" cron get nightly
has "get" "$out" "^cron +45 2 \* \* \*$"
has "get" "$out" "^timezone +Europe/Berlin$"
has "get" "$out" "^next_fire \(UTC\) +[0-9-]+T0[01]:45:00.000Z$"
run "get json" 0 "${B[@]}" --json cron get nightly
has "get json" "$out" '"schedule": ?\{'
run "get missing" 1 "${B[@]}" cron get nosuch
has "get missing" "$err" "not_found, HTTP 404"
run "list" 0 "${B[@]}" cron list
has "list header" "$out" "^KEY +CRON +TIMEZONE +STATE +NEXT \(ZONE\) +NEXT \(UTC\) +LAST$"
has "list nightly" "$out" "^nightly +45 2 \* \* \* +Europe/Berlin +active +[0-9-]+ 02:45:00 CES?T +[0-9-]+T0[01]:45:00.000Z"
has "list weekly" "$out" "^weekly "
run "list page" 0 "${B[@]}" cron list --limit 1
has "list page" "$out" "next page: --after "

# ---- a schedule fires by itself ----
fired=""
for _ in $(seq 1 60); do
	"${B[@]}" cron runs every-second >"$tmp/runs" 2>&1
	if grep -Eq ' schedule +[0-9TZ:.-]+ +[0-9TZ:.-]+ +(queued|running)' "$tmp/runs"; then
		fired=1
		break
	fi
	sleep 0.1
done
checks=$((checks + 1))
[ -n "$fired" ] || fail "every-second never fired: $(cat "$tmp/runs")"

# ---- pause, resume ----
run "pause" 0 "${B[@]}" cron pause nightly --note "maintenance window"
has "pause" "$out" "^schedule nightly paused$"
run "list paused" 0 "${B[@]}" cron list
has "list paused" "$out" "^nightly .* paused +- +- "
run "get paused" 0 "${B[@]}" cron get nightly
has "get paused" "$out" "^pause_note +maintenance window$"
run "resume" 0 "${B[@]}" cron resume nightly
has "resume" "$out" "^schedule nightly resumed$"
run "pause missing" 1 "${B[@]}" cron pause nosuch

# ---- manual runs: overlap, force, cooldown ----
run "run" 0 "${B[@]}" cron run nightly
has "run" "$out" "^run [0-9]+ of nightly started: job [0-9]+ \(queued\)$"
run "run while going" 1 "${B[@]}" cron run nightly
has "run while going" "$err" "already_running, HTTP 409"
run "run force" 0 "${B[@]}" --json cron run nightly --force
has "run force" "$out" '"trigger": ?"manual"'
run "run paused" 0 "${B[@]}" cron pause weekly
run "run while paused" 0 "${B[@]}" cron run weekly
run "runs" 0 "${B[@]}" cron runs nightly
has "runs header" "$out" "^ID +TRIGGER +SCHEDULED_AT +FIRED_AT +STATUS +JOB +REASON/ERROR$"
has "runs manual" "$out" "^[0-9]+ +manual "
run "runs limit" 0 "${B[@]}" cron runs nightly --limit 1
has "runs limit" "$out" "next page: --after [0-9]+"
run "runs missing" 1 "${B[@]}" cron runs nosuch
run "run cooldown" 0 "${B[@]}" cron run nightly --force
run "run over cooldown" 5 "${B[@]}" cron run nightly --force
has "run over cooldown" "$err" "cron_run_cooldown, HTTP 429"
has "run over cooldown" "$err" "retry after [0-9]+ s"
run "run missing" 1 "${B[@]}" cron run nosuch

# ---- apply ----
cat >"$tmp/reg.json" <<'JSON'
{"schedules": [
  {"key": "reg-a", "cron": "@daily", "job": {"queue": "q", "type": "a"}},
  {"key": "reg-b", "cron": "0 */6 * * *", "timezone": "Europe/Berlin",
   "job": {"queue": "q", "type": "b"}}
]}
JSON
run "apply probe" 0 true
"${B[@]}" cron apply -f "$tmp/reg.json" >"$tmp/out" 2>"$tmp/err"
arc=$?
if grep -Eq 'method_not_allowed|HTTP 404' "$tmp/err"; then
	# The server has no PUT /v1/cron yet: the CLI must report the refusal.
	checks=$((checks + 1))
	[ "$arc" = 1 ] || fail "apply without the route: exit $arc, want 1"
	echo "test_cli_cron.sh: server has no PUT /v1/cron; checked apply's error path only" >&2
else
	checks=$((checks + 1))
	[ "$arc" = 0 ] || fail "apply: exit $arc: $(cat "$tmp/err")"
	has "apply created" "$(cat "$tmp/out")" "^created +2"
	run "apply again" 0 "${B[@]}" cron apply -f "$tmp/reg.json"
	has "apply again" "$out" "^unchanged +2"
	run "get applied" 0 "${B[@]}" cron get reg-b
	has "get applied" "$out" "^timezone +Europe/Berlin$"
	run "apply prune" 0 sh -c "'$BATON' --url '$url' cron apply -f - --prune <'$tmp/reg.json'"
	has "apply prune" "$out" "^deleted +[1-9]"
	run "pruned" 1 "${B[@]}" cron get nightly
	run "pruned weekly" 1 "${B[@]}" cron get weekly
	run "put after prune" 0 "${B[@]}" cron put every-second @"$tmp/every.json"
	echo '{"schedules": [{"key": "bad", "cron": "0 0 30 2 *", "job": {"queue": "q", "type": "t"}}]}' \
		>"$tmp/badreg.json"
	run "apply invalid" 1 "${B[@]}" cron apply -f "$tmp/badreg.json"
	run "apply invalid changed nothing" 0 "${B[@]}" cron get reg-a
	# The cap (--max-cron-schedules 6); reg-a, reg-b and every-second exist.
	{
		printf '{"schedules": [\n'
		printf '{"key": "reg-a", "cron": "@daily", "job": {"queue": "q", "type": "a"}},\n'
		printf '{"key": "reg-b", "cron": "0 */6 * * *", "timezone": "Europe/Berlin", "job": {"queue": "q", "type": "b"}}'
		for i in 1 2 3 4; do
			printf ',\n{"key": "cap-%s", "cron": "@daily", "job": {"queue": "q", "type": "t"}}' "$i"
		done
		printf ']}\n'
	} >"$tmp/capreg.json"
	run "apply over the cap" 1 "${B[@]}" cron apply -f "$tmp/capreg.json"
	has "apply over the cap" "$err" "too_many_schedules, HTTP 409"
	has "apply over the cap" "$err" "7 cron schedules, over the cap of 6"
	run "apply over the cap changed nothing" 1 "${B[@]}" cron get cap-1
	run "apply over the cap kept every-second" 0 "${B[@]}" cron get every-second
	run "apply with prune under the cap" 0 "${B[@]}" cron apply -f "$tmp/capreg.json" --prune
	has "apply with prune under the cap" "$out" "^created +4"
	has "apply with prune under the cap" "$out" "^deleted +1: every-second"
	run "put over the cap" 1 "${B[@]}" cron put cap-5 --cron '@daily' --queue q --type t
	has "put over the cap" "$err" "too_many_schedules, HTTP 409"
	run "put at the cap updates" 0 "${B[@]}" cron put cap-1 --cron '@hourly' --queue q --type t
	run "apply back" 0 "${B[@]}" cron apply -f "$tmp/reg.json" --prune
	has "apply back" "$out" "^deleted +4"
	run "put every-second again" 0 "${B[@]}" cron put every-second @"$tmp/every.json"
fi

# ---- delete ----
run "delete" 0 "${B[@]}" cron delete every-second
has "delete" "$out" "^schedule every-second deleted$"
run "delete again" 1 "${B[@]}" cron delete every-second
run "get deleted" 1 "${B[@]}" cron get every-second

# ---- the server stops cleanly ----
cli_stop_server

cli_finish
