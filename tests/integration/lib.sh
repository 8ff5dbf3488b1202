# Sourced by integration tests. Gives each test its own temporary directories, a daemon on its
# own socket, and a cleanup that leaves nothing behind.
set -eu
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"

ENCLAVED=$top_builddir/enclaved/enclaved
ENCLAVECTL=$top_builddir/ctl/enclavectl
ENCLAVE_VMM=$top_builddir/vmm/enclave-vmm
SAMPLE_EIF=$top_builddir/guest/sample-enclave.eif

# Sanitizer builds: any report fails the program at once (UBSan is built without recovery;
# these make ASan and LSan reports fatal too). Harmless for plain builds.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# ENCLAVED_WRAPPER: a command the daemon runs under, e.g. valgrind (scripts/check's memcheck
# pass); the VMMs it execs run natively. Its reports fail the test at cleanup.
ENCLAVED_WRAPPER=${ENCLAVED_WRAPPER:-}

TEST_DIR=$(mktemp -d /tmp/enclaved-test.XXXXXX)
export ENCLAVED_SOCKET=$TEST_DIR/enclaved.sock
DAEMON_PID=

cleanup() {
	local rc=$?
	local grace=50
	[ -z "$ENCLAVED_WRAPPER" ] || grace=600 # valgrind's leak check at exit takes a while
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		for _ in $(seq $grace); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	# A sanitizer or valgrind report from the daemon (or a VMM writing to the same log)
	# fails the test, whatever the test itself concluded.
	if [ -f "$TEST_DIR/enclaved.log" ] &&
		grep -E -q '(ERROR|WARNING): (Address|Leak|Memory|Thread)Sanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' \
			"$TEST_DIR/enclaved.log"; then
		echo "FAIL: sanitizer or valgrind report in enclaved.log:"
		grep -E -A30 '(ERROR|WARNING): (Address|Leak|Memory|Thread)Sanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (read|write|free)' \
			"$TEST_DIR/enclaved.log" | head -80
		[ $rc -eq 77 ] || rc=1
	fi
	# Any VMM this test started carries the test directory in its arguments.
	pkill -KILL -f "$TEST_DIR" 2>/dev/null || true
	if [ $rc -ne 0 ] && [ -f "$TEST_DIR/enclaved.log" ]; then
		echo "--- enclaved.log"; tail -50 "$TEST_DIR/enclaved.log"
	fi
	rm -rf "$TEST_DIR"
	exit $rc
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

need_kvm() {
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is absent or not writable"
}
need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# pool_conf [OVERSUBSCRIBE]: the [pool] section every test shares (one CPU, 256 MiB, no
# hugepages); cpu_oversubscribe only when OVERSUBSCRIBE is given.
pool_conf() {
	printf '[pool]\ncpu_count = 1\nmemory_mib = 256\nhugepages = none\nexclude_cpu0 = no\n'
	printf 'min_enclave_mib = 4\n'
	[ -z "${1:-}" ] || printf 'cpu_oversubscribe = %s\n' "$1"
}

# json EXPR: evaluate a python expression over the JSON on stdin, parsed as d.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# daemon_fds_settled: the daemon's open fds once it has seen the connections its clients just
# closed go away (the smallest count over a second): a leak stays, a closing socket does not.
daemon_fds_settled() {
	local min n
	min=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
	for _ in $(seq 10); do
		sleep 0.1
		n=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
		[ "$n" -lt "$min" ] && min=$n
	done
	echo "$min"
}

# Write a config and start the daemon in the background; wait until it answers. The pool
# shares its CPU among up to 32 enclaves (a 2-core host) and pins only, without cgroups, so
# that tests running side by side do not fight over /sys/fs/cgroup/enclaved;
# ENCLAVED_CGROUP_ROOT overrides that.
start_daemon() {
	mkdir -p "$TEST_DIR/state" "$TEST_DIR/run"
	[ -f "$TEST_DIR/enclaved.conf" ] || pool_conf 32 >"$TEST_DIR/enclaved.conf"
	# shellcheck disable=SC2086 # the wrapper is a command line
	$ENCLAVED_WRAPPER "$ENCLAVED" --config "$TEST_DIR/enclaved.conf" --socket "$ENCLAVED_SOCKET" \
		--state-dir "$TEST_DIR/state" --runtime-dir "$TEST_DIR/run" --foreground \
		--vmm "$ENCLAVE_VMM" --cgroup-root "${ENCLAVED_CGROUP_ROOT:-none}" \
		"$@" >>"$TEST_DIR/enclaved.log" 2>&1 &
	DAEMON_PID=$!
	local tries=100
	[ -z "$ENCLAVED_WRAPPER" ] || tries=1200
	for _ in $(seq $tries); do
		"$ENCLAVECTL" version >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "enclaved exited at start"
		sleep 0.1
	done
	fail "enclaved did not answer within $((tries / 10)) s"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
