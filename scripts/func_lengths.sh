#!/bin/sh
# func_lengths.sh: print the C functions longer than N lines (default 80).
# Usage: scripts/func_lengths.sh [-n N] [-a] FILE.c ...   (e.g. src/*/*.c)
#   -a  also print each file's longest function, even when it is under N.
# A brace-depth scan, not a parser: a function is a top-level '{' whose preceding
# top-level text (since the last ';' or '}') has a "name(" and no '='; it ends
# when the depth returns to 0. Braces inside strings, character literals and
# comments are skipped; initializers, structs and enums are not counted. A length
# counts the lines from the signature's first line to the closing '}' (as
# universal-ctags' line/end fields do). Assumes formatted code (one top-level
# declaration at a time) without unbalanced braces in preprocessor branches.
n=80
all=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n="$2"; shift 2 ;;
	-a) all=1; shift ;;
	*) break ;;
	esac
done
for f in "$@"; do
	awk -v max="$n" -v all="$all" -v file="$f" '
	function strip(s,   out, i, c, nx) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1); nx = substr(s, i + 1, 1)
			if (incom) { if (c == "*" && nx == "/") { incom = 0; i++ } continue }
			if (instr) { if (c == "\\") { i++; continue } if (c == q) instr = 0; continue }
			if (c == "/" && nx == "*") { incom = 1; i++; continue }
			if (c == "/" && nx == "/") break
			if (c == "\"" || c == "\x27") { instr = 1; q = c; continue }
			out = out c
		}
		return out
	}
	/^[ \t]*#/ { next }
	{
		s = strip($0)
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "{") {
				if (depth == 0) {
					name = ""
					if (acc !~ /=/ && match(acc, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
						name = substr(acc, RSTART, RLENGTH - 1)
						sub(/[ \t]+$/, "", name)
					}
					start = name != "" ? sig : 0
				}
				depth++
			} else if (c == "}") {
				depth--
				if (depth == 0) {
					if (start) {
						len = NR - start + 1
						if (len > max) printf "%s:%d: %s %d lines\n", file, start, name, len
						if (len > best) { best = len; bname = name }
					}
					start = 0; acc = ""
				}
			} else if (depth == 0) {
				if (c == ";") acc = ""
				else {
					if (acc !~ /[^ \t]/ && c !~ /[ \t]/) sig = NR
					acc = acc c
				}
			}
		}
		if (depth == 0) acc = acc " "
	}
	END { if (all) printf "%s: longest %s %d lines\n", file, bname, best }
	' "$f"
done
