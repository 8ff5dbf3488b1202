#!/bin/bash
# enclavectl rides out restarts of enclaved: `run-enclave --wait` and `console` reconnect when
# the daemon is killed and a new one re-adopts the enclave; a SIGTERM that arrives while no
# daemon runs still terminates the enclave once the next one answers; --reconnect-timeout
# bounds the wait for a daemon that does not come back (exit 24, UNAVAILABLE).
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"

# --socket puts the test directory into the arguments: cleanup's pkill finds these clients.
# Background clients run as an array, not a function: $! must be enclavectl, not a subshell.
CTL=("$ENCLAVECTL" --socket "$ENCLAVED_SOCKET")
ctl() { "${CTL[@]}" "$@"; }
field() { ctl describe-enclaves | json "[e['$2'] for e in d if e['EnclaveName']=='$1'][0]"; }
wait_for() { # WHAT CMD...: up to 30 s
	local what=$1
	shift
	for _ in $(seq 150); do "$@" && return 0; sleep 0.2; done
	fail "timed out waiting for $what"
}
running() { [ "$(field "$1" State 2>/dev/null)" = RUNNING ]; }
logged() { grep -q "$2" "$1"; }
stop_daemon() { # SIG
	kill -"$1" "$DAEMON_PID"
	wait "$DAEMON_PID" || true
}

start_daemon
"${CTL[@]}" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 --debug-mode \
	--enclave-name w1 --wait >"$TEST_DIR/w1.out" 2>"$TEST_DIR/w1.err" &
W1=$!
wait_for "w1 to run" running w1
"${CTL[@]}" console --enclave-name w1 >"$TEST_DIR/console.out" 2>"$TEST_DIR/console.err" &
CONSOLE=$!

# A killed daemon: both clients reconnect to the next one, which re-adopts w1.
stop_daemon KILL
sleep 1 # the socket refuses for a while: the clients back off
kill -0 "$W1" || fail "run-enclave --wait exited with the daemon: $(cat "$TEST_DIR/w1.err")"
kill -0 "$CONSOLE" || fail "console exited with the daemon: $(cat "$TEST_DIR/console.err")"
start_daemon
wait_for "run-enclave --wait to reconnect" logged "$TEST_DIR/w1.err" "reconnected to enclaved"
logged "$TEST_DIR/w1.err" "lost enclaved" || fail "no 'lost enclaved' line: $(cat "$TEST_DIR/w1.err")"
logged "$TEST_DIR/console.err" "console: lost enclaved" ||
	fail "console did not report the loss: $(cat "$TEST_DIR/console.err")"
kill -0 "$W1" || fail "run-enclave --wait exited after the restart: $(cat "$TEST_DIR/w1.err")"
kill -0 "$CONSOLE" || fail "console exited after the restart: $(cat "$TEST_DIR/console.err")"
assert_eq "$(field w1 State)" RUNNING "w1 after the restart"

# SIGTERM while no daemon runs: the enclave is terminated once the next daemon answers.
stop_daemon TERM
kill -TERM "$W1"
sleep 1
kill -0 "$W1" || fail "run-enclave --wait gave up on SIGTERM without a daemon: $(cat "$TEST_DIR/w1.err")"
start_daemon
rc=0
wait "$W1" || rc=$?
assert_eq "$rc" 0 "exit code of run-enclave --wait after SIGTERM across a restart"
assert_eq "$(field w1 State)" TERMINATED "w1 after SIGTERM"
# The console follows the re-adopted enclave to its end.
rc=0
timeout 30 tail --pid="$CONSOLE" -f /dev/null || fail "console still running after w1 ended"
wait "$CONSOLE" || rc=$?
assert_eq "$rc" 0 "console's exit code: $(cat "$TEST_DIR/console.err")"

# A daemon that does not come back: --reconnect-timeout bounds the wait (exit 24).
"${CTL[@]}" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 --enclave-name w2 --wait \
	--reconnect-timeout 2 >/dev/null 2>"$TEST_DIR/w2.err" &
W2=$!
wait_for "w2 to run" running w2
stop_daemon KILL
rc=0
wait "$W2" || rc=$?
assert_eq "$rc" 24 "exit code when the daemon stays away: $(cat "$TEST_DIR/w2.err")"
logged "$TEST_DIR/w2.err" "did not answer again within 2 s" ||
	fail "no clear message: $(cat "$TEST_DIR/w2.err")"
start_daemon
assert_eq "$(field w2 State)" RUNNING "w2 outlives its waiter"
ctl terminate-enclave --enclave-name w2 >/dev/null

# Usage: the flag needs --wait.
rc=0
ctl run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 --reconnect-timeout 5 \
	2>/dev/null || rc=$?
assert_eq "$rc" 1 "--reconnect-timeout without --wait"
echo "PASS: run-enclave --wait and console reconnect across daemon restarts"
