# Sourced by bench/*.sh: the RESULTS.md row rule (bench/benchlib.py, also importable from the
# scripts' own python), and an enclaved on a private socket for the whole-stack benchmarks.
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"

# bench_update_rows RESULTS ROWS: ROWS (one per line) replace the lines with their leading
# labels, or are appended.
bench_update_rows() {
	python3 -c 'import sys, benchlib; benchlib.update_rows(sys.argv[1], sys.argv[2].splitlines())' \
		"$1" "$2"
}

# bench_start_daemon BUILD DIR SOCKET [OVERSUBSCRIBE [ENCLAVED ARGS...]]: write DIR/enclaved.conf
# (one CPU, 256 MiB, no hugepages; cpu_oversubscribe only if given), start enclaved in the
# background with its log in DIR/enclaved.log, set BENCH_DAEMON_PID and wait until it answers.
bench_start_daemon() {
	local build=$1 dir=$2 sock=$3 over=${4:-}
	shift 3
	[ $# -eq 0 ] || shift
	{
		printf '[pool]\ncpu_count = 1\nmemory_mib = 256\nhugepages = none\nexclude_cpu0 = no\n'
		printf 'min_enclave_mib = 4\n'
		[ -z "$over" ] || printf 'cpu_oversubscribe = %s\n' "$over"
	} >"$dir/enclaved.conf"
	"$build/enclaved/enclaved" --config "$dir/enclaved.conf" --socket "$sock" \
		--state-dir "$dir/state" --runtime-dir "$dir/run" --vmm "$build/vmm/enclave-vmm" \
		--foreground "$@" >"$dir/enclaved.log" 2>&1 &
	BENCH_DAEMON_PID=$!
	for _ in $(seq 100); do
		ENCLAVED_SOCKET=$sock "$build/ctl/enclavectl" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 0 # as before: the benchmark's first call reports a daemon that never came up
}
# bench_stop_daemon BUILD DIR SOCKET PID: end every enclave (VMMs outlive their daemon), stop
# the daemon, and kill any VMM of DIR that is still there, so a benchmark leaves nothing behind.
bench_stop_daemon() {
	local build=$1 dir=$2 sock=$3 pid=$4
	[ -n "$pid" ] || return 0
	ENCLAVED_SOCKET=$sock timeout 30 "$build/ctl/enclavectl" terminate-enclave --all \
		>/dev/null 2>&1 || true
	kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	pkill -KILL -f "enclave-vmm .*$dir/run/enclaves/" 2>/dev/null || true
}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ beside benchlib.py in the source tree
