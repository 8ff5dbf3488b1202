#!/bin/bash
# Run measures the image off the event loop: while a large image (128 MiB) is measured, the
# daemon answers other calls, and the Run holds its name and CID (another Run asking for them
# is refused ALREADY_EXISTS); the enclave then starts and echoes. An image whose CRC is wrong
# at its very end is refused INVALID_ARGUMENT once measured, its lease given back. The order
# of the answers is checked, not their speed.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
ELF=$top_builddir/guest/sample-enclave.elf
CPIO=$top_builddir/guest/sample-enclave.cpio
[ -f "$ELF" ] && [ -f "$CPIO" ] || skip "no sample enclave parts"

printf '[pool]\ncpu_count = 1\nmemory_mib = 1024\nhugepages = none\nexclude_cpu0 = no\nmin_enclave_mib = 4\ncpu_oversubscribe = 8\n' \
	>"$TEST_DIR/enclaved.conf"
head -c $((128 << 20)) /dev/urandom >"$TEST_DIR/big.bin"
"$ENCLAVECTL" build-enclave --kernel "$ELF" --cmdline "console=ttyS0" --ramdisk "$CPIO" \
	--ramdisk "$TEST_DIR/big.bin" --output-file "$TEST_DIR/big.eif" >/dev/null ||
	fail "building the large image"
rm "$TEST_DIR/big.bin"
start_daemon

# stamp NAME CMD...: run CMD, then record when it finished (ns) in $TEST_DIR/NAME.done.
stamp() {
	local name=$1; shift
	local rc=0
	"$@" >"$TEST_DIR/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$TEST_DIR/$name.rc"
	date +%s%N >"$TEST_DIR/$name.done"
}
wait_measuring() { # until the daemon has the Run (its lease is in the pool)
	for _ in $(seq 200); do
		[ "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" != 0 ] && return 0
		sleep 0.01
	done
	return 1
}

stamp run "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/big.eif" --memory 160 --cpu-count 1 \
	--enclave-name big --enclave-cid 40 &
run_pid=$!
wait_measuring || fail "the large Run never reached the pool"
stamp version "$ENCLAVECTL" version
stamp same-name "$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	--enclave-name big
stamp same-cid "$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	--enclave-cid 40
wait "$run_pid"
assert_eq "$(cat "$TEST_DIR/run.rc")" 0 "large Run ($(cat "$TEST_DIR/run.out"))"
assert_eq "$(cat "$TEST_DIR/version.rc")" 0 "Version during the measurement"
[ "$(cat "$TEST_DIR/version.done")" -lt "$(cat "$TEST_DIR/run.done")" ] ||
	fail "Version was answered only after the large Run"
grep -q "enclave_name 'big' is used by a running enclave" "$TEST_DIR/same-name.out" ||
	fail "same name during the measurement: $(cat "$TEST_DIR/same-name.out")"
grep -q "enclave_cid = 40: used by a running enclave" "$TEST_DIR/same-cid.out" ||
	fail "same CID during the measurement: $(cat "$TEST_DIR/same-cid.out")"
[ "$(cat "$TEST_DIR/same-cid.done")" -lt "$(cat "$TEST_DIR/run.done")" ] ||
	fail "the refusals came only after the large Run"
want=$("$ENCLAVECTL" describe-eif --eif-path "$TEST_DIR/big.eif" | json 'd["Measurements"]["PCR2"]')
got=$("$ENCLAVECTL" describe-enclaves | json '[e for e in d if e["EnclaveName"] == "big"][0]["Measurements"]["PCR2"]')
assert_eq "$got" "$want" "PCR2 of the large image"
echo hi | timeout 30 "$ENCLAVECTL" connect --enclave-name big --port 5000 >"$TEST_DIR/echo" ||
	fail "echo from the large enclave"
assert_eq "$(cat "$TEST_DIR/echo")" hi "echo"
"$ENCLAVECTL" terminate-enclave --enclave-name big >/dev/null || fail "terminate"

# A CRC error at the very end: found once the whole image is measured; the lease comes back.
size=$(stat -c %s "$TEST_DIR/big.eif")
printf '\xff' | dd of="$TEST_DIR/big.eif" bs=1 seek=$((size - 1)) conv=notrunc status=none
rc=0
"$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/big.eif" --memory 160 --cpu-count 1 \
	>"$TEST_DIR/bad.out" 2>&1 || rc=$?
assert_eq "$rc" 13 "Run of an image with a bad CRC (INVALID_ARGUMENT): $(cat "$TEST_DIR/bad.out")"
grep -q "the CRC32 over the file does not match" "$TEST_DIR/bad.out" || fail "$(cat "$TEST_DIR/bad.out")"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')" "0 0" "pool after"
echo PASS
