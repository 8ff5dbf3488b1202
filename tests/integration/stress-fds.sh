#!/bin/bash
# Resource exhaustion. (1) The daemon under RLIMIT_NOFILE=64: a client opening connections
# until the daemon runs out of fds gets RESOURCE_EXHAUSTED or a closed connection, never a hang
# of the daemon; the connection opened before keeps being served, and once the hog lets go new
# clients get in again. (2) A full pool answers RESOURCE_EXHAUSTED and the daemon keeps serving.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
command -v prlimit >/dev/null || skip "prlimit (util-linux) is not installed"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start_daemon
prlimit --pid "$DAEMON_PID" --nofile=64:64 || fail "prlimit"
python3 "$top_srcdir/tests/integration/stress-client.py" hog "$ENCLAVED_SOCKET" >"$TEST_DIR/hog" ||
	fail "hog: $(cat "$TEST_DIR/hog")"
cat "$TEST_DIR/hog"
# An enclave still runs (fds for its VMM are free again) and terminates.
id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 | json 'd["EnclaveID"]') ||
	fail "run after the hog"
"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate after the hog"

# A full pool: 256 MiB hold 2 x 128 MiB; the third is RESOURCE_EXHAUSTED naming the memory.
for n in 1 2; do
	"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 128 --cpu-count 1 \
		--enclave-name "full-$n" >/dev/null || fail "run full-$n"
done
rc=0
"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 \
	>/dev/null 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 18 "Run on a full pool (RESOURCE_EXHAUSTED): $(cat "$TEST_DIR/err")"
grep -qi "memory" "$TEST_DIR/err" || fail "the refusal does not name memory: $(cat "$TEST_DIR/err")"
"$ENCLAVECTL" health >/dev/null || fail "health after a full pool"
"$ENCLAVECTL" terminate-enclave --all >/dev/null || fail "terminate --all"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool whole"
echo PASS
