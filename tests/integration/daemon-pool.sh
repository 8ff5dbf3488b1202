#!/bin/bash
# Pool.Get and Pool.Resize through enclavectl against the real daemon: totals and holdings,
# grow and shrink memory and CPUs live, a shrink below what an enclave holds refused with
# FAILED_PRECONDITION naming it, and the resized pool surviving a daemon restart.
. "$top_srcdir/tests/integration/lib.sh"
need_root
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["MemoryMiB"]')" 256 "configured memory"
assert_eq "$(echo "$pool" | json 'd["FreeMemoryMiB"]')" 256 "free memory"
assert_eq "$(echo "$pool" | json 'len(d["CPUIDs"])')" 1 "configured CPUs"
assert_eq "$(echo "$pool" | json 'd["PageSizeBytes"]')" 4096 "page size without hugepages"
echo "$pool" | json 'd["IsolationMode"]' | grep -q "pinning" || fail "isolation: $pool"
echo "$pool" | json 'd["IsolationMode"]' | grep -q "up to 32 enclaves" || fail "oversubscription not shown: $pool"

"$ENCLAVECTL" pool resize --memory 384 >"$TEST_DIR/out" || fail "grow memory"
assert_eq "$(json 'd["MemoryMiB"]' <"$TEST_DIR/out")" 384 "memory after growing"
if [ "$(nproc)" -ge 2 ]; then
	"$ENCLAVECTL" pool resize --cpu-count 2 >"$TEST_DIR/out" || fail "grow CPUs"
	assert_eq "$(json 'len(d["CPUIDs"])' <"$TEST_DIR/out")" 2 "CPUs after growing"
	"$ENCLAVECTL" pool resize --cpu-count 1 >/dev/null || fail "shrink CPUs"
fi

if [ -c /dev/kvm ] && [ -f "$SAMPLE_EIF" ]; then
	id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 64 --cpu-count 1 |
		json 'd["EnclaveID"]') || fail "run-enclave"
	assert_eq "$("$ENCLAVECTL" pool | json 'd["Enclaves"][0]["EnclaveID"]')" "$id" "holding"
	rc=0
	"$ENCLAVECTL" pool resize --memory 32 >/dev/null 2>"$TEST_DIR/err" || rc=$?
	assert_eq "$rc" 19 "shrink below what an enclave holds (FAILED_PRECONDITION)"
	grep -q "$id" "$TEST_DIR/err" || fail "refusal does not name the enclave: $(cat "$TEST_DIR/err")"
	assert_eq "$("$ENCLAVECTL" pool | json 'd["MemoryMiB"]')" 384 "memory unchanged after refusal"
	"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate"
fi
"$ENCLAVECTL" pool resize --memory 128 >/dev/null || fail "shrink memory"

# Members may read the pool, only root may resize it.
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$ENCLAVECTL" pool resize --memory 64 \
	>/dev/null 2>&1 || rc=$?
[ "$rc" = 17 ] || [ "$rc" = 24 ] || fail "resize by nobody: exit $rc"

# Persisted: a restart keeps 128 MiB although the config says 256.
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true
start_daemon
assert_eq "$("$ENCLAVECTL" pool | json 'd["MemoryMiB"]')" 128 "memory after a restart"
echo PASS
