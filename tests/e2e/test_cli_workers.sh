#!/usr/bin/env bash
# test_cli_workers.sh: end-to-end test of `baton workers` ($BATON) against a
# batond ($BATOND) this script starts on a free loopback port with a
# temporary data directory (cli_lib.sh). Workers register by claiming (curl,
# with info); the table shows id, health, queues, jobs in flight, completed,
# failed and last seen; `baton workers ID` shows one worker's details; the
# exit-code contract: 0 ok, 1 refused (404 for a worker never seen), 2 usage
# (nothing sent). `baton work` describes itself on its claims: host, its own
# pid, the version and its --label labels; a bad --label (form, too many, too
# long, twice, too large in all) is a usage error naming --label, and nothing
# is claimed or registered. Every wait is bounded; the server is stopped by its pid
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

# ---- `baton work` describes itself: host, pid, version, --label ----
w_json() { "${B[@]}" --json workers "$1" 2>/dev/null; }
long_name=$(printf 'n%.0s' $(seq 1 65))
long_value=$(printf 'v%.0s' $(seq 1 257))
value250=$(printf 'v%.0s' $(seq 1 250))
many=()
for i in $(seq 1 33); do many+=(--label "k$i=v"); done
large=()
for i in $(seq 1 20); do large+=(--label "k$i=$value250"); done
run "enqueue for work" 0 "${B[@]}" enqueue wq t '{"n":3}'
wq_id=$(printf '%s' "$out" | sed -nE 's/^enqueued job ([^ ]+) .*/\1/p')
bad_label() { # bad_label NAME PATTERN ARGS...: refused as usage, --label named
	local name=$1 pat=$2
	shift 2
	# Bounded: were the flag accepted, the worker would run until stopped.
	run "$name: exit 2" 2 timeout 10 "${B[@]}" work --queue wq --worker bad-w --poll-ms 100 "$@" -- /bin/true
	has "$name: names --label" "$err" "$pat"
}
bad_label "label without =" "--label needs KEY=VALUE.*'zone'" --label zone
bad_label "label without a name" "--label needs KEY=VALUE.*'=x'" --label =x
bad_label "label name too long" "--label name .* is 65 bytes long; the limit is 64" \
	--label "$long_name=x"
bad_label "label value too long" "--label k: the value is 257 bytes long; the limit is 256" \
	--label "k=$long_value"
bad_label "label twice" "--label a is given twice" --label a=1 --label a=2
bad_label "too many labels" "--label is given 33 times; the limit is 32" "${many[@]}"
bad_label "labels too large" "info [0-9]+ bytes of JSON; the limit is 4096.*--label" "${large[@]}"
run "bad label --json" 2 timeout 10 "${B[@]}" --json work --queue wq --worker bad-w --label zone -- /bin/true
has "bad label --json field" "$err" '"field": ?"--label"'
run "bad labels registered nothing" 1 "${B[@]}" workers bad-w
has "bad labels: the job is still queued" "$("${B[@]}" --json job get "$wq_id")" \
	'"state": ?"queued"'
run "work --help shows --label" 0 "${B[@]}" work --help
has "work --help --label" "$out" "--label KEY=VALUE"

# start_work PATTERN ARGS...: starts `baton work ARGS` as worker cli-w in the
# background (its pid in work_pid) and waits (bounded) until its registry
# entry matches PATTERN, PID standing for its pid.
start_work() {
	local pat=$1
	shift
	"${B[@]}" work --queue wq --worker cli-w --poll-ms 200 "$@" \
		>>"$tmp/work.out" 2>>"$tmp/work.err" </dev/null &
	work_pid=$!
	cli_pids+=("$work_pid")
	pat=${pat//PID/$work_pid}
	for _ in $(seq 1 100); do
		w_json cli-w | grep -Eq -- "$pat" && return 0
		sleep 0.1
	done
}
start_work '"completed": ?1' --label zone=eu-1 --label gpu=a10 --label "k32=$value250" \
	-- /bin/sh -c 'cat >/dev/null; echo 1'
wj=$(w_json cli-w)
has "work registered with a settle" "$wj" '"completed": ?1'
has "work info host" "$wj" "\"host\": ?\"$(hostname)\""
has "work info pid is the worker's" "$wj" "\"pid\": ?$work_pid[,}]"
has "work info version" "$wj" "\"version\": ?\"$("$BATON" --version | sed 's/^baton //')\""
has "work info labels" "$wj" \
	"\"labels\": ?\\{\"zone\": ?\"eu-1\", ?\"gpu\": ?\"a10\", ?\"k32\": ?\"$value250\"\\}"
run "work details" 0 "${B[@]}" workers cli-w
has "work details pid" "$out" "^pid +$work_pid$"
has "work details labels" "$out" "^labels +zone=eu-1,gpu=a10,k32=v+$"
cli_stop_pid "$work_pid"
# Without --label the info has no labels; a new claim replaces the old info.
start_work '"pid": ?PID[,}]' -- /bin/true
wj=$(w_json cli-w)
has "second work: its pid" "$wj" "\"pid\": ?$work_pid[,}]"
hasnt "second work: no labels" "$wj" '"labels"'
cli_stop_pid "$work_pid"

# ---- stop the server ----
cli_stop_server

cli_finish
