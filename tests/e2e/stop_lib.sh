# stop_lib.sh: stopping a process a shell test started, by its pid. Sourced by
# the shell tests' frames and by the tests that keep no frame of their own.

# stop_pid PID: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it.
# An empty PID or one already gone is not an error.
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	if kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	return 0
}
