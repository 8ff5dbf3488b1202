#!/bin/bash
# A guest that never sends the boot heartbeat (the VMM test guest, idling with interrupts on)
# fails Run with DEADLINE_EXCEEDED within the per-call timeout, the console tail in the message
# (debug mode); the enclave ends FAILED and its resources return to the pool. A guest that
# powers off before its heartbeat fails Run at once (ABORTED) with the reason.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
command -v gcc >/dev/null || skip "no gcc to assemble the test guest"
gcc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x100000 -Wl,--build-id=none \
	-o "$TEST_DIR/vmm-guest" "$top_srcdir/tests/integration/vmm-guest.S" || fail "assembling"
echo "no init here" >"$TEST_DIR/ramdisk"
"$ENCLAVECTL" build-enclave --kernel "$TEST_DIR/vmm-guest" --cmdline i --ramdisk "$TEST_DIR/ramdisk" \
	--output-file "$TEST_DIR/idle.eif" >/dev/null || fail "build-enclave (idle)"
"$ENCLAVECTL" build-enclave --kernel "$TEST_DIR/vmm-guest" --cmdline p --ramdisk "$TEST_DIR/ramdisk" \
	--output-file "$TEST_DIR/off.eif" >/dev/null || fail "build-enclave (poweroff)"
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

rc=0
"$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/idle.eif" --memory 16 --cpu-count 1 \
	--debug-mode --heartbeat-timeout 3000 >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 14 "exit code of a heartbeat timeout (DEADLINE_EXCEEDED)"
grep -q "DEADLINE_EXCEEDED" "$TEST_DIR/err" || fail "no status name: $(cat "$TEST_DIR/err")"
grep -q "no heartbeat within 3000 ms" "$TEST_DIR/err" || fail "no timeout in: $(cat "$TEST_DIR/err")"
grep -q "vmm-guest: hello from ring 0" "$TEST_DIR/err" || fail "no console tail: $(cat "$TEST_DIR/err")"

for _ in $(seq 100); do
	s=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["State"]')
	[ "$s" = FAILED ] && break
	sleep 0.1
done
desc=$("$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'd[0]["State"]')" FAILED "state after the timeout"
echo "$desc" | json 'd[0]["StateReason"]' | grep -q "heartbeat timeout after 3000 ms" ||
	fail "reason: $(echo "$desc" | json 'd[0]["StateReason"]')"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool memory after the timeout"

rc=0
"$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/off.eif" --memory 16 --cpu-count 1 \
	--debug-mode --heartbeat-timeout 30000 >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 20 "exit code of a guest that ends before its heartbeat (ABORTED)"
grep -q "guest powered off\|ended before its heartbeat" "$TEST_DIR/err" || fail "reason: $(cat "$TEST_DIR/err")"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool memory after the power-off"
echo PASS
