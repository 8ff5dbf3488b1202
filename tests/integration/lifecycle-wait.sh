#!/bin/bash
# run-enclave --wait, as systemd's enclave@.service uses it: --config with --enclave-name,
# READY=1 on $NOTIFY_SOCKET once the enclave runs, SIGTERM terminates the enclave and exits 0;
# an enclave that fails (VMM killed) makes --wait exit 6.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
cat >"$TEST_DIR/web.conf" <<JSON
{"eif_path": "$SAMPLE_EIF", "memory_mib": 32, "cpu_count": 1, "debug_mode": true}
JSON

# A notify socket that records what it hears.
python3 - "$TEST_DIR/notify.sock" "$TEST_DIR/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096) + b"\n")
PY
notify_pid=$!
for _ in $(seq 50); do [ -S "$TEST_DIR/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$TEST_DIR/notify.sock "$ENCLAVECTL" run-enclave --config "$TEST_DIR/web.conf" \
	--enclave-name web --wait >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
wait_pid=$!
for _ in $(seq 200); do grep -q READY=1 "$TEST_DIR/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q READY=1 "$TEST_DIR/notify.log" || fail "no READY=1: $(cat "$TEST_DIR/err")"
assert_eq "$(json 'd["EnclaveName"]' <"$TEST_DIR/out")" web "--enclave-name over --config"
kill -TERM "$wait_pid"
rc=0; wait "$wait_pid" || rc=$?
assert_eq "$rc" 0 "--wait after SIGTERM"
assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'd[0]["State"]')" TERMINATED "state after SIGTERM"
kill "$notify_pid" 2>/dev/null || true

"$ENCLAVECTL" run-enclave --config "$TEST_DIR/web.conf" --enclave-name web2 --wait \
	>"$TEST_DIR/out2" 2>"$TEST_DIR/err2" &
wait_pid=$!
for _ in $(seq 200); do [ -s "$TEST_DIR/out2" ] && break; sleep 0.1; done
sleep 0.5
pid=$(json 'd["ProcessID"]' <"$TEST_DIR/out2")
kill -KILL "$pid"
rc=0; wait "$wait_pid" || rc=$?
assert_eq "$rc" 6 "--wait when the enclave fails"
grep -q "VMM killed by SIGKILL" "$TEST_DIR/err2" || fail "reason: $(cat "$TEST_DIR/err2")"
echo PASS
