#!/bin/bash
# enclaved on a temporary socket, driven by enclavectl: versions, health, an unimplemented
# method, config errors, SIGHUP reload, a second daemon refused, SIGTERM exits 0 and cleans up.
. "$top_srcdir/tests/integration/lib.sh"

json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
wait_log() { # wait_log PATTERN WHAT
	for _ in $(seq 50); do grep -q -- "$1" "$TEST_DIR/enclaved.log" && return 0; sleep 0.1; done
	fail "$2: no log line matching '$1'"
}

# A config error stops the daemon at start and names file:line.
printf '[daemon]\nlog_level = info\ncolour = blue\n' >"$TEST_DIR/bad.conf"
rc=0
"$ENCLAVED" --config "$TEST_DIR/bad.conf" --socket "$TEST_DIR/bad.sock" --state-dir "$TEST_DIR/s" \
	--runtime-dir "$TEST_DIR/r" --foreground 2>"$TEST_DIR/bad.err" || rc=$?
assert_eq "$rc" 1 "exit code with a bad config"
grep -q "bad.conf:3: unknown key 'colour' in \[daemon\]" "$TEST_DIR/bad.err" ||
	fail "config error not reported with file:line: $(cat "$TEST_DIR/bad.err")"
[ ! -e "$TEST_DIR/bad.sock" ] || fail "a socket was left by the failed start"

start_daemon

out=$("$ENCLAVECTL" version)
assert_eq "$(echo "$out" | json_get ClientVersion)" "$(echo "$out" | json_get DaemonVersion)" \
	"client and daemon versions"
assert_eq "$(echo "$out" | json_get ApiVersion)" enclaved.v1 "API version"
echo "$out" | json_get KvmApiVersion >/dev/null

out=$("$ENCLAVECTL" health)
[ "$(echo "$out" | json_get Connections)" -ge 1 ] || fail "health: no connection counted"
assert_eq "$(echo "$out" | json_get EnclaveCount)" 0 "health: enclave count"
assert_eq "$(echo "$out" | json_get DaemonPID)" "$DAEMON_PID" "health: pid"

# Errors come as one line with the status name and their own exit code (10 + code).
rc=0
"$ENCLAVECTL" console --enclave-name nosuch >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 15 "exit code of a NOT_FOUND call"
assert_eq "$(cat "$TEST_DIR/err")" "enclavectl: NOT_FOUND: no enclave named 'nosuch'" "error line"
[ ! -s "$TEST_DIR/out" ] || fail "stdout not empty on error"
assert_eq "$("$ENCLAVECTL" describe-enclaves)" "[
]" "no enclaves yet"

# A second daemon must not steal a live socket.
rc=0
"$ENCLAVED" --config "$TEST_DIR/enclaved.conf" --socket "$ENCLAVED_SOCKET" \
	--state-dir "$TEST_DIR/state" --runtime-dir "$TEST_DIR/run" --foreground \
	2>"$TEST_DIR/second.err" || rc=$?
assert_eq "$rc" 1 "second daemon on the same socket"
grep -q "another enclaved is serving it" "$TEST_DIR/second.err" || fail "second daemon: no reason"
"$ENCLAVECTL" version >/dev/null || fail "first daemon lost its socket"

# SIGHUP: changes are logged, live ones applied, the rest flagged; a broken file is refused.
cat >>"$TEST_DIR/enclaved.conf" <<CONF
[daemon]
log_level = debug
CONF
sed -i 's/^memory_mib = 256/memory_mib = 128/' "$TEST_DIR/enclaved.conf"
kill -HUP "$DAEMON_PID"
wait_log "config: \[daemon\] log_level: (unset) -> debug (applied)" "reload of log_level"
wait_log "config: \[pool\] memory_mib: 256 -> 128 (needs a restart)" "reload of the pool"
"$ENCLAVECTL" version >/dev/null
wait_log "System/Version from uid" "debug logging after reload"
echo "this is not ini" >>"$TEST_DIR/enclaved.conf"
kill -HUP "$DAEMON_PID"
wait_log "reload failed, keeping the running configuration: .*enclaved.conf" "broken reload"
"$ENCLAVECTL" health >/dev/null || fail "daemon not serving after a failed reload"

# SIGTERM: exit 0, socket gone.
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
assert_eq "$rc" 0 "exit code after SIGTERM"
[ ! -e "$ENCLAVED_SOCKET" ] || fail "socket left behind after SIGTERM"
echo "PASS"
