#!/bin/bash
# systemd glue without systemd: a socket passed by systemd-socket-activate (LISTEN_FDS), and
# sd_notify READY=1 / STATUS= / WATCHDOG=1 / STOPPING=1 caught on our own NOTIFY_SOCKET.
. "$top_srcdir/tests/integration/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"

NOTIFY=$TEST_DIR/notify.sock
python3 - "$NOTIFY" "$TEST_DIR/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", "|") + "\n")
PY
RECEIVER=$!
sd_cleanup() {
	local rc=$?
	kill "$RECEIVER" 2>/dev/null || true
	wait "$RECEIVER" 2>/dev/null || true
	(exit $rc)
	cleanup
}
trap sd_cleanup EXIT
for _ in $(seq 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
[ -S "$NOTIFY" ] || fail "notify receiver did not start"

printf '[pool]\ncpu_count = 1\nmemory_mib = 256\nhugepages = none\nexclude_cpu0 = no\n' \
	>"$TEST_DIR/enclaved.conf"
mkdir -p "$TEST_DIR/state" "$TEST_DIR/run"
# The daemon is exec'd by systemd-socket-activate on the first connection, keeping its pid.
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=400000 systemd-socket-activate -l "$ENCLAVED_SOCKET" \
	-E NOTIFY_SOCKET -E WATCHDOG_USEC \
	"$ENCLAVED" --config "$TEST_DIR/enclaved.conf" --socket "$ENCLAVED_SOCKET" \
	--state-dir "$TEST_DIR/state" --runtime-dir "$TEST_DIR/run" --foreground \
	>>"$TEST_DIR/enclaved.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 50); do [ -S "$ENCLAVED_SOCKET" ] && break; sleep 0.1; done
"$ENCLAVECTL" version >/dev/null || fail "version over the activated socket"
grep -q "serving the socket passed by systemd" "$TEST_DIR/enclaved.log" ||
	fail "daemon did not use the passed socket"

wait_notify() { # wait_notify PATTERN
	for _ in $(seq 50); do grep -q -- "$1" "$TEST_DIR/notify.log" 2>/dev/null && return 0; sleep 0.1; done
	fail "no notification matching '$1' (got: $(tr '\n' ' ' <"$TEST_DIR/notify.log" 2>/dev/null))"
}
wait_notify "^READY=1$"
wait_notify "^STATUS=serving .*; 0 enclaves; KVM "
# 400 ms watchdog: pings every 200 ms from the loop; wait for a few.
for _ in $(seq 50); do
	[ "$(grep -c '^WATCHDOG=1$' "$TEST_DIR/notify.log")" -ge 3 ] && break
	sleep 0.1
done
[ "$(grep -c '^WATCHDOG=1$' "$TEST_DIR/notify.log")" -ge 3 ] || fail "fewer than 3 watchdog pings"

kill -HUP "$DAEMON_PID"
wait_notify "^RELOADING=1|MONOTONIC_USEC=[0-9]*$"

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
assert_eq "$rc" 0 "exit code after SIGTERM"
wait_notify "^STOPPING=1$"
# The socket belongs to whoever passed it: the daemon must leave it alone.
[ -S "$ENCLAVED_SOCKET" ] || fail "daemon removed a socket it did not create"
echo "PASS"
