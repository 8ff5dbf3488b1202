#!/bin/bash
# enclave-vmm on real KVM with a tiny ring-0 guest (vmm-guest.S): console output, the exit
# reasons (power off, hlt with interrupts off, triple fault, termination), the zero page, two
# vCPUs, the sandbox, a write to unplugged hotplug memory, and a forbidden syscall killing the
# VMM with SIGSYS.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root

GUEST=$TEST_DIR/vmm-guest
gcc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x100000 -Wl,--build-id=none \
	-o "$GUEST" "$top_srcdir/tests/integration/vmm-guest.S" || fail "assembling the test guest"

# run_vmm MODE [extra flags...]: runs the guest, sets RC, OUT (console), ERR (stderr).
run_vmm() {
	local mode=$1; shift
	set +e
	timeout 60 "$ENCLAVE_VMM" --standalone --kernel "$GUEST" --cmdline "$mode x=$TEST_DIR" \
		--memory-mib 128 --cpus 0 --console "$TEST_DIR/console" "$@" 2>"$TEST_DIR/stderr"
	RC=$?
	set -e
	OUT=$(cat "$TEST_DIR/console")
	ERR=$(cat "$TEST_DIR/stderr")
}

run_vmm p
assert_eq "$RC" 0 "power off exit status"
assert_eq "$OUT" "vmm-guest: hello from ring 0" "console of a powered-off guest"
echo "$ERR" | grep -q "enclave ended: guest powered off" || fail "reason: $ERR"

run_vmm c --cid 77
assert_eq "$RC" 0 "cmdline guest exit status"
# The measured command line, then one virtio_mmio.device entry per registered device.
echo "$OUT" | grep -Eqx "cmdline: c x=$TEST_DIR( virtio_mmio\.device=4K@0xd000[0-9a-f]000:[0-9]+)*" ||
	fail "guest saw the wrong command line: $OUT"
echo "$OUT" | grep -qx "e820: 3" || fail "e820 entry count: $OUT"

run_vmm h
assert_eq "$RC" 2 "cli; hlt exit status"
echo "$ERR" | grep -q "halted with interrupts disabled" || fail "reason: $ERR"

run_vmm t
assert_eq "$RC" 3 "triple fault exit status"
echo "$ERR" | grep -q "triple fault" || fail "reason: $ERR"

# Hotplug memory the guest did not plug is closed: writing to it ends the guest (KVM_RUN
# fails), it does not take host memory. Sandboxed too, as under enclaved.
for sandbox in "" "--sandbox-uid 65534 --sandbox-gid 65534 --runtime-dir $TEST_DIR/run"; do
	mkdir -p "$TEST_DIR/run"
	run_vmm u --max-memory-mib 256 $sandbox
	assert_eq "$RC" 4 "write to unplugged memory exit status ($ERR)"
	! echo "$OUT" | grep -q "wrote unplugged" || fail "the guest wrote to unplugged memory"
	echo "$ERR" | grep -q "the guest touched hotplug memory it has not plugged" ||
		fail "reason: $ERR"
done

# Two vCPUs: the second waits for a SIPI that never comes; the VMM still ends cleanly.
if [ "$(nproc)" -ge 2 ]; then
	run_vmm p --cpus 0,1
	assert_eq "$RC" 0 "two vCPUs exit status"
fi

# An idle guest (sti; hlt) runs until it is terminated.
timeout 60 "$ENCLAVE_VMM" --standalone --kernel "$GUEST" --cmdline "i x=$TEST_DIR" \
	--memory-mib 64 --cpus 0 --console "$TEST_DIR/console" 2>"$TEST_DIR/stderr" &
pid=$!
for _ in $(seq 100); do grep -q hello "$TEST_DIR/console" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -0 $pid || fail "idle guest ended by itself: $(cat "$TEST_DIR/stderr")"
kill -TERM $pid
set +e; wait $pid; RC=$?; set -e
assert_eq "$RC" 6 "terminated exit status"
grep -q "terminated by signal" "$TEST_DIR/stderr" || fail "reason: $(cat "$TEST_DIR/stderr")"

# Not a kernel.
echo "not a kernel" >"$TEST_DIR/junk"
set +e
"$ENCLAVE_VMM" --standalone --kernel "$TEST_DIR/junk" --memory-mib 64 --cpus 0 2>"$TEST_DIR/stderr"
RC=$?
set -e
assert_eq "$RC" 1 "junk kernel exit status"
grep -q "neither ELF64 nor a bzImage" "$TEST_DIR/stderr" || fail "junk kernel message"

# Sandboxed: namespaces, empty root, uid 65534, seccomp; the guest still runs.
mkdir -p "$TEST_DIR/run"
run_vmm p --sandbox-uid 65534 --sandbox-gid 65534 --runtime-dir "$TEST_DIR/run"
assert_eq "$RC" 0 "sandboxed exit status ($ERR)"
assert_eq "$OUT" "vmm-guest: hello from ring 0" "sandboxed console"

# A syscall outside the allow-list kills the VMM with SIGSYS (exit 128+31 through timeout).
run_vmm i --sandbox-uid 65534 --runtime-dir "$TEST_DIR/run" --test-forbidden-syscall
assert_eq "$RC" $((128 + 31)) "forbidden syscall exit status ($ERR)"
echo "$ERR" | grep -q "killed by signal 31" || fail "SIGSYS not reported: $ERR"
echo "PASS"
