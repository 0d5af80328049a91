#!/usr/bin/env bash
# test_lib_abi.sh: libbaton's ABI as a program that links it sees it. The
# shared library (beside $BATOND in the build tree) has the SONAME
# libbaton.so.<SOVERSION> and a versioned file name; it exports every
# function include/baton/baton.h declares and no other symbol (the library is
# built with hidden visibility; baton.h gives its own declarations default
# visibility); the installed header declares no server-only error code. No
# server is started.
set -u

lib_dir=$(dirname "$BATOND")
lib="$lib_dir/libbaton.so"
hdr="$BATON_SRC/include/baton/baton.h"
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

[ -e "$lib" ] || { echo "FAIL: no $lib" >&2; exit 1; }
real=$(readlink -f "$lib")
soname=$(objdump -p "$real" | awk '$1 == "SONAME" {print $2}')
case "$soname" in
libbaton.so.[0-9]*) ;;
*) fail "SONAME is '$soname', not libbaton.so.<N>" ;;
esac
[ -e "$lib_dir/$soname" ] || fail "no $soname link beside the library"
case "$(basename "$real")" in
"$soname".*) ;;
*) fail "the library file $(basename "$real") is not named $soname.<minor>.<patch>" ;;
esac

exported=$(nm -D --defined-only "$real" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
declared=$(grep -oE '\bbaton_[a-z0-9_]+\(' "$hdr" | tr -d '(' | sort -u)
[ -n "$declared" ] || fail "no function declarations found in $hdr"
others=$(comm -23 <(echo "$exported") <(echo "$declared"))
[ -z "$others" ] || fail "exported but not declared in baton.h: $(echo $others)"
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
[ -z "$missing" ] || fail "declared in baton.h but not exported: $(echo $missing)"

for code in BATON_ESCHEMA BATON_EIO BATON_ETOOMANY BATON_ERR_MIN; do
	if grep -qE "\b$code\b" "$hdr"; then
		fail "baton.h declares the server-only code $code"
	fi
done

n=$(echo "$declared" | wc -l)
if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "ok: $soname exports exactly the $n functions of baton.h"
