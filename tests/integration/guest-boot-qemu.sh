#!/bin/bash
# Boot the sample enclave's ELF under QEMU microvm through its PVH entry (the same file the
# EIF carries). QEMU has no vhost-vsock here, so this checks boot, long mode from the 32-bit
# entry, ring 3, COM1 through the TSS I/O bitmap, the command-line parser against hostile
# entries, device probing of empty slots, and the LAPIC-timer idle: the enclave must report
# "idle ok", then halt for good and stop using CPU.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 is not installed"
ELF=$top_builddir/guest/sample-enclave.elf
[ -f "$ELF" ] || fail "$ELF is not built"

LOG=$TEST_DIR/serial.log
# An empty slot (nothing at 0xd0000000 in microvm), a malformed entry, and an address beyond
# the identity map: all must be skipped without a fault. $TEST_DIR is in the arguments so the
# cleanup in lib.sh finds this QEMU.
APPEND="console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xzz:5"
APPEND="$APPEND virtio_mmio.device=4K@0x100000000:6 testdir=$TEST_DIR"
qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off -enable-kvm \
	-cpu qemu64 -m 64 -nodefaults -no-user-config -display none -monitor none \
	-serial "file:$LOG" -kernel "$ELF" -append "$APPEND" >"$TEST_DIR/qemu.log" 2>&1 &
QEMU_PID=$!

for _ in $(seq 200); do
	grep -q "sample-enclave: idle" "$LOG" 2>/dev/null && break
	grep -q "sample-enclave: exception" "$LOG" 2>/dev/null && break
	kill -0 "$QEMU_PID" 2>/dev/null || { cat "$TEST_DIR/qemu.log"; fail "qemu exited"; }
	sleep 0.1
done
sleep 0.2
echo "--- serial"
tr -d '\r' <"$LOG"
lines=$(tr -d '\r' <"$LOG")
expected="sample-enclave: started (pvh)
sample-enclave: ignored malformed virtio_mmio.device entries
sample-enclave: no vsock device
sample-enclave: idle ok"
assert_eq "$lines" "$expected" "serial output"

# Halted with interrupts off: QEMU's CPU time must (nearly) stop growing.
cpu() { awk '{print $14 + $15}' "/proc/$QEMU_PID/stat"; }
t0=$(cpu)
sleep 1
t1=$(cpu)
hz=$(getconf CLK_TCK)
[ $((t1 - t0)) -lt $((hz / 4)) ] || fail "halted enclave still used $((t1 - t0)) ticks of CPU in 1 s"
kill -TERM "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null || true
echo "PASS: sample enclave booted under QEMU (PVH), reached ring 3, idled and halted"
