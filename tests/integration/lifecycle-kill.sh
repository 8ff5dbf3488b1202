#!/bin/bash
# A VMM that dies is noticed at once: SIGKILL from outside, and a seccomp violation inside the
# sandbox (the VMM's hidden --test-forbidden-syscall, through a wrapper given as --vmm). The
# enclave becomes FAILED with the reason and its CPUs and memory return to the pool.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# wait_state ID STATE
wait_state() {
	for _ in $(seq 100); do
		s=$("$ENCLAVECTL" describe-enclaves | json "[e['State'] for e in d if e['EnclaveID']=='$1'][0]")
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	fail "enclave $1 is $s, expected $2"
}
reason() { "$ENCLAVECTL" describe-enclaves | json "[e['StateReason'] for e in d if e['EnclaveID']=='$1'][0]"; }

start_daemon
id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 | json 'd["EnclaveID"]')
pid=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["ProcessID"]')
kill -KILL "$pid"
wait_state "$id" FAILED
reason "$id" | grep -q "VMM killed by SIGKILL" || fail "reason: $(reason "$id")"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool memory after SIGKILL"
assert_eq "$("$ENCLAVECTL" pool | json 'len(d["Enclaves"])')" 0 "leases after SIGKILL"
[ ! -e "$TEST_DIR/run/enclaves/$id" ] || fail "runtime dir left behind"

# Seccomp: the VMM calls a forbidden syscall once sandboxed. Run fails (ABORTED) at once.
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true
cat >"$TEST_DIR/vmm-forbidden" <<SH
#!/bin/sh
exec "$ENCLAVE_VMM" --test-forbidden-syscall "\$@"
SH
chmod +x "$TEST_DIR/vmm-forbidden"
rm -f "$TEST_DIR/state/pool.json"
start_daemon --vmm "$TEST_DIR/vmm-forbidden"
rc=0
"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	>"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 20 "Run of a VMM killed by seccomp (ABORTED)"
grep -q "VMM killed by SIGSYS (seccomp)" "$TEST_DIR/err" || fail "message: $(cat "$TEST_DIR/err")"
id=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["EnclaveID"]')
wait_state "$id" FAILED
reason "$id" | grep -q "SIGSYS (seccomp)" || fail "reason: $(reason "$id")"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool memory after SIGSYS"
echo PASS
