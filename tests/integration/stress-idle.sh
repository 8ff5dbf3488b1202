#!/bin/bash
# A client holding 1000 connections that send nothing (half of them stuck in the middle of a
# frame header) does not starve the others: 8 clients x 100 calls and fresh connections all
# succeed meanwhile, and an idle connection still gets its answer when it finally asks.
. "$top_srcdir/tests/integration/lib.sh"
need_root
start_daemon
fd0=$(daemon_fds_settled)
python3 "$top_srcdir/tests/integration/stress-client.py" idle "$ENCLAVED_SOCKET" 1000 8 100 \
	>"$TEST_DIR/idle" || fail "idle: $(cat "$TEST_DIR/idle")"
cat "$TEST_DIR/idle"
# The daemon notices the closed connections on its own; give it a moment to get there.
for _ in $(seq 10); do [ "$(daemon_fds_settled)" = "$fd0" ] && break; done
assert_eq "$(daemon_fds_settled)" "$fd0" "daemon fd count after the idle connections closed"
echo PASS
