#!/usr/bin/env bash
# test_backup_doc.sh: the backup and restore procedure of docs/operations.md
# ("## Backups"), run as written. The two ```sh blocks of that section are
# taken from the document and run in a scratch directory with only their
# paths changed (/backups and ./build/batond; the server listens on a free
# loopback port). It checks what the document promises: the online backup of
# a running batond passes integrity_check and is mode 0600; the restored store
# serves the job enqueued before the backup with the old admin.key, and not the
# one enqueued after it. SQLite only (the PostgreSQL backup is pg_dump's).
# Every wait is bounded; both servers are stopped by their pids.
set -u
: "${BATOND:?}" "${BATON:?}" "${BATON_SRC:?}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-backup-doc-XXXXXX")
pids=()
fails=0
. "$(dirname "${BASH_SOURCE[0]}")/stop_lib.sh"
cleanup() {
	for p in ${pids[@]+"${pids[@]}"}; do
		stop_pid "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# wait_url OUT: waits up to 5 s for the URL of the batond whose output is OUT
# (started in the background by the caller) and for it to answer there.
wait_url() {
	url=""
	for _ in $(seq 1 100); do
		url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$1" 2>/dev/null | head -n 1)
		if [ -n "$url" ] && "$BATON" --url "$url" health >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	echo "batond did not start:" >&2
	cat "$1" >&2
	exit 1
}

# The section's sh blocks, in order.
doc="$BATON_SRC/docs/operations.md"
awk '/^## Backups/{in_s=1; next} /^## /{in_s=0} in_s && /^```sh$/{b++; in_b=1; next}
     in_b && /^```$/{in_b=0; next} in_s && in_b {print > (dir "/block" b ".sh")}' \
	dir="$tmp" "$doc"
[ -s "$tmp/block1.sh" ] && [ -s "$tmp/block2.sh" ] || {
	echo "FAIL: operations.md's Backups section lost its two sh blocks" >&2
	exit 1
}
sed -i "s|/backups|$tmp/backups|g" "$tmp/block1.sh"
grep -q '^./build/batond --data baton-data$' "$tmp/block2.sh" || {
	echo "FAIL: the restore block does not start ./build/batond --data baton-data" >&2
	exit 1
}
sed -i "s|^./build/batond --data baton-data\$|\"\$BATOND\" --listen 127.0.0.1:0 --data baton-data >restored.out 2>\&1 \& echo \$! >restored.pid|" "$tmp/block2.sh"

cd "$tmp" || exit 1
"$BATOND" --listen 127.0.0.1:0 --data baton-data >first.out 2>&1 &
pids+=($!)
first=$!
wait_url first.out
export BATON_DATA="$tmp/baton-data"
before=$("$BATON" --url "$url" enqueue settle payout '{"match": 9}') || fail "enqueue before"
before_id=$(echo "$before" | grep -Eo '[0-9]+' | head -n 1)

# The backup, while the server runs.
out=$(bash -e "$tmp/block1.sh" 2>&1) || fail "the backup block failed: $out"
echo "$out" | grep -qx ok || fail "integrity_check did not print ok: $out"
echo "$out" | grep -qx 600 || fail "the backup file is not mode 600: $out"
f=$(ls "$tmp"/backups/baton-*.db 2>/dev/null | head -n 1)
[ -n "$f" ] || fail "no backup file in $tmp/backups"
[ "$(stat -c %a "$tmp/backups")" = 700 ] || fail "the backup directory is not mode 700"
after=$("$BATON" --url "$url" enqueue settle payout '{"match": 10}') || fail "enqueue after"
after_id=$(echo "$after" | grep -Eo '[0-9]+' | head -n 1)

# The restore: the document says to stop batond first.
kill -TERM "$first"
for _ in $(seq 1 100); do
	kill -0 "$first" 2>/dev/null || break
	sleep 0.05
done
f="$f" bash -e "$tmp/block2.sh" || fail "the restore block failed"
[ -s restored.pid ] && pids+=("$(cat restored.pid)")
wait_url restored.out
[ "$(stat -c %a baton-data/baton.db)" = 600 ] || fail "the restored baton.db is not mode 600"
"$BATON" --url "$url" job get "$before_id" >job.out 2>&1 ||
	fail "job $before_id (before the backup) is not served with the old admin.key: $(cat job.out)"
if "$BATON" --url "$url" job get "$after_id" >job.out 2>&1; then
	fail "job $after_id (after the backup) is in the restored store"
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "ok: backup (integrity ok, mode 600) and restore as operations.md writes them"
