#!/usr/bin/env bash
# test_lib_abi.sh: libbaton's ABI as a program that links it sees it. The
# shared library (beside $BATOND in the build tree) has the SONAME
# libbaton.so.<SOVERSION> and a versioned file name; it exports every
# function include/baton/baton.h declares and no other symbol (the library is
# built with hidden visibility; baton.h gives its own declarations default
# visibility); the installed header declares no server-only error code; and
# the ABI of libbaton.so.1 only grows: every function it ever exported (the
# list below, by the minor version that added it) is still exported, every
# exported function is in that list, and the library's minor version is at
# least the newest minor the list names. No server is started.
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

# The functions of libbaton.so.1 by the minor version that added them: a
# line that starts with a version opens that minor, the indented lines below
# it continue it. A new function gets a line of a new minor (and the library's
# VERSION in CMakeLists.txt that minor); removing or changing one needs a new
# SONAME instead.
abi_list=$(
	cat <<'EOF'
1.0 baton_audit_free baton_audit_list baton_claim baton_client_free
    baton_client_last_error baton_client_new baton_client_set_ca_file
    baton_client_set_connect_timeout_ms baton_client_set_request_id
    baton_client_set_timeout_ms baton_complete baton_cron_apply
    baton_cron_delete baton_cron_get baton_cron_list baton_cron_pause
    baton_cron_preview baton_cron_put baton_cron_resume baton_cron_run
    baton_cron_runs baton_dead_list baton_dead_purge baton_dead_replay
    baton_enqueue baton_enqueue_batch baton_err_from_api baton_fail
    baton_flow_create baton_flow_get baton_health baton_heartbeat
    baton_job_cancel baton_job_free baton_job_get baton_job_json
    baton_job_list baton_job_retry baton_jobs_free baton_key_create
    baton_key_free baton_key_json baton_key_list baton_key_revoke
    baton_key_rotate baton_keys_free baton_priority_name baton_priority_parse
    baton_queue_free baton_queue_get baton_queue_json baton_queue_list
    baton_queue_pause baton_queue_set baton_queues_free baton_ready
    baton_request baton_settle baton_state_name baton_state_parse
    baton_state_terminal baton_strerror baton_timer_cancel baton_timer_get
    baton_timer_list baton_timer_put
1.1 baton_client_set_worker_info
EOF
)
abi_syms=$(echo "$abi_list" | tr -s ' ' '\n' | grep '^baton_' | sort -u)
gone=$(comm -13 <(echo "$exported") <(echo "$abi_syms"))
[ -z "$gone" ] || fail "libbaton.so.1 functions no longer exported (an ABI break): $(echo $gone)"
unlisted=$(comm -23 <(echo "$exported") <(echo "$abi_syms"))
[ -z "$unlisted" ] || fail "exported but not in the ABI list of this test: $(echo $unlisted)"
newest=$(echo "$abi_list" | grep -oE '^1\.[0-9]+' | sort -t. -k2,2n | tail -n 1)
file_minor=$(basename "$real" | sed -nE "s/^${soname//./\\.}\.([0-9]+)\..*/\1/p")
if [ -z "$file_minor" ] || [ "$file_minor" -lt "${newest#1.}" ]; then
	fail "the library file $(basename "$real") is older than the ABI it exports ($newest)"
fi

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
