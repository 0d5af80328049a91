#!/usr/bin/env bash
# test_ops_doc.sh: the reference lists of docs/operations.md and the README
# against what batond and baton do, so that a document cannot drift from the
# code unnoticed. Each check reads one table (or list) of the document and the
# same list from the programs, and prints every difference both ways:
#  - README "All commands" against the commands of `baton --help`;
#  - operations.md's metrics table (name, type, labels) against the `# TYPE`
#    lines and the label names of a real `GET /metrics` (after one enqueue, so
#    that the per-queue and per-route series exist);
#  - its `route` label table against the route table of src/server/api.c
#    (method, path, name), itself checked against `batond --routes`;
#  - its data-directory tables against the files of a running server's data
#    directory and `sqlite3 baton.db .tables`;
#  - its log component table against the component of every log call in src/.
# SQLite only: the data-directory check is SQLite's (PostgreSQL's tables are
# named in prose). One batond on a free 127.0.0.1 port, stopped by its pid;
# every wait is bounded.
set -u
: "${BATOND:?}" "${BATON:?}" "${BATON_SRC:?}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-ops-doc-XXXXXX")
srv=""
fails=0
. "$(dirname "${BASH_SOURCE[0]}")/stop_lib.sh"
cleanup() {
	stop_pid "$srv"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

ops="$BATON_SRC/docs/operations.md"
readme="$BATON_SRC/README.md"

# table FILE HEADER: the rows of the Markdown table whose header line is
# exactly HEADER, one line per row: its first three cells trimmed, without
# backticks, joined by "|".
table() {
	awk -v h="$2" '
		$0 == h { in_t = 1; getline; next }
		in_t && /^\|/ {
			n = split($0, c, "|")
			out = ""
			for (i = 2; i <= 4 && i < n; i++) {
				v = c[i]
				gsub(/`/, "", v)
				gsub(/^ +| +$/, "", v)
				out = out (i > 2 ? "|" : "") v
			}
			print out
			next
		}
		in_t { exit }' "$1"
}

# same WHAT DOC REAL: the two files as sets of lines must be equal.
same() {
	local what=$1 doc=$2 real=$3 d
	sort -u "$doc" -o "$doc"
	sort -u "$real" -o "$real"
	if [ ! -s "$real" ]; then
		fail "$what: found nothing to compare on the program's side"
		return
	fi
	if [ ! -s "$doc" ]; then
		fail "$what: the document's list is missing"
		return
	fi
	d=$(comm -13 "$doc" "$real")
	[ -z "$d" ] || fail "$what: missing from the document:"$'\n'"$d"
	d=$(comm -23 "$doc" "$real")
	[ -z "$d" ] || fail "$what: in the document but not in the program:"$'\n'"$d"
}

# --- README "All commands" against baton --help ---------------------------
"$BATON" --help >"$tmp/help.txt" 2>&1
awk '/^commands:$/ { in_c = 1; next } in_c && /^$/ { exit }
     in_c { if ($2 ~ /^[a-z]+$/) print $1 " " $2; else print $1 }' \
	"$tmp/help.txt" >"$tmp/cmd.real"
awk '/^All commands:/ { p = 1 } p && /^$/ { exit } p' "$readme" | tr '\n' ' ' |
	grep -oE '`[^`]+`' | tr -d '`' | grep -E '^[a-z]+( [a-z|]+)?$' |
	while read -r cmd subs; do
		if [ -z "$subs" ]; then
			echo "$cmd"
		else
			tr '|' '\n' <<<"$subs" | sed "s/^/$cmd /"
		fi
	done >"$tmp/cmd.doc"
same "README \"All commands\" vs baton --help" "$tmp/cmd.doc" "$tmp/cmd.real"

# --- a server -------------------------------------------------------------
"$BATOND" --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
srv=$!
url=""
for _ in $(seq 1 100); do
	url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$tmp/out" 2>/dev/null | head -n 1)
	[ -n "$url" ] && "$BATON" --url "$url" health >/dev/null 2>&1 && break
	url=""
	sleep 0.05
done
if [ -z "$url" ]; then
	echo "batond did not start:" >&2
	cat "$tmp/out" "$tmp/err" >&2
	exit 1
fi
export BATON_DATA="$tmp/data"
"$BATON" --url "$url" enqueue docs t '{}' >/dev/null || fail "enqueue"

# --- the metrics table against GET /metrics -------------------------------
curl -s --max-time 10 -H "Authorization: Bearer $(cat "$tmp/data/admin.key")" \
	"$url/metrics" >"$tmp/metrics" || fail "GET /metrics"
# name|type|label, one line per label name of each metric (a histogram's
# without le), and name|type| for a metric without labels: from the # TYPE
# lines and the samples.
awk '
	$1 == "#" && $2 == "TYPE" { type[$3] = $4; order[++n] = $3; next }
	/^#/ || NF == 0 { next }
	{
		name = $1
		sub(/[{ ].*/, "", name)
		if (!(name in type)) {
			base = name
			sub(/_(bucket|sum|count)$/, "", base)
			if (base in type) name = base
		}
		s = $1
		if (index(s, "{") == 0) next
		sub(/^[^{]*\{/, "", s)
		sub(/\}.*/, "", s)
		k = split(s, kv, ",")
		for (i = 1; i <= k; i++) {
			split(kv[i], p, "=")
			if (p[1] != "le") { lab[name "|" p[1]] = 1; has[name] = 1 }
		}
	}
	END {
		for (key in lab) {
			split(key, q, "|")
			print q[1] "|" type[q[1]] "|" q[2]
		}
		for (i = 1; i <= n; i++)
			if (!(order[i] in has)) print order[i] "|" type[order[i]] "|"
	}' "$tmp/metrics" >"$tmp/metrics.real"
table "$ops" "| metric | type | labels | meaning |" |
	awk -F'|' '{
		n = split($3, l, / *, */)
		if (n == 0) print $1 "|" $2 "|"
		for (i = 1; i <= n; i++) print $1 "|" $2 "|" l[i]
	}' >"$tmp/metrics.doc"
same "operations.md metrics table (name|type|label) vs GET /metrics" \
	"$tmp/metrics.doc" "$tmp/metrics.real"

# --- the route label table against the route table ------------------------
# Each line is "METHOD /path" and, for a route with query parameters,
# " query=a,b": only the first two fields are compared here.
"$BATOND" --routes >"$tmp/routes.full" 2>&1 || fail "batond --routes"
cut -d' ' -f1,2 "$tmp/routes.full" >"$tmp/routes"
tr '\n' ' ' <"$BATON_SRC/src/server/api.c" |
	grep -oE '\{ *HTTP_[A-Z]+ *, *"[^"]+" *, *"[a-z_]+"' |
	sed -E 's/\{ *HTTP_([A-Z]+) *, *"([^"]+)" *, *"([a-z_]+)"/\3|\1 \2/' >"$tmp/labels.real"
# The parse must find every route batond serves, in its order.
# (--routes adds each route's scope as a third word; test_openapi.c checks it.)
if ! diff <(cut -d'|' -f2 "$tmp/labels.real") <(cut -d' ' -f1,2 "$tmp/routes") >"$tmp/routes.diff"; then
	fail "the routes read from src/server/api.c differ from batond --routes:"$'\n'"$(cat "$tmp/routes.diff")"
fi
# The two labels outside the route table: the web dashboard's files
# (src/server/http.c's ui_route) and no route at all.
printf 'ui\nunmatched\n' >>"$tmp/labels.real"
table "$ops" "| \`route\` | request |" | awk -F'|' '$1 == "unmatched" || $1 == "ui" { print $1; next } { print $1 "|" $2 }' \
	>"$tmp/labels.doc"
same "operations.md route label table vs src/server/api.c" "$tmp/labels.doc" "$tmp/labels.real"

# --- the data directory ---------------------------------------------------
(cd "$tmp/data" && ls -A) >"$tmp/files.real"
table "$ops" "| file | what |" | cut -d'|' -f1 >"$tmp/files.doc"
same "operations.md data-directory files vs a running server's data directory" \
	"$tmp/files.doc" "$tmp/files.real"
sqlite3 "$tmp/data/baton.db" .tables | tr -s ' \t' '\n' | grep -v '^$' >"$tmp/tables.real"
table "$ops" "| table | holds |" | cut -d'|' -f1 >"$tmp/tables.doc"
same "operations.md baton.db tables vs sqlite3 .tables" "$tmp/tables.doc" "$tmp/tables.real"

# --- the log components against src/ -------------------------------------
# Each file joined into one line, so that a call wrapped by clang-format is
# still one match; log.h and log.c define the calls and are left out.
find "$BATON_SRC/src" -name '*.[ch]' ! -path '*/common/log.[ch]' -print0 |
	xargs -0 -n 1 sh -c 'tr "\n" " " <"$1"; echo' sh >"$tmp/src.joined"
grep -oE '\blog_(debug|info|warn|error|emit)\(' "$tmp/src.joined" | wc -l >"$tmp/calls.n"
grep -oE '\blog_(debug|info|warn|error)\( *"[a-z_]+"|\blog_emit\([^;"]*, *"[a-z_]+"' \
	"$tmp/src.joined" >"$tmp/calls"
if [ "$(wc -l <"$tmp/calls")" -ne "$(cat "$tmp/calls.n")" ]; then
	fail "a log call in src/ does not name its component as a string literal"
fi
grep -oE '"[a-z_]+"$' "$tmp/calls" | tr -d '"' >"$tmp/comp.real"
table "$ops" "| component | writes |" | cut -d'|' -f1 >"$tmp/comp.doc"
same "operations.md log components vs the log calls of src/" "$tmp/comp.doc" "$tmp/comp.real"

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "ok: README commands, metrics, route labels, data directory and log components match"
