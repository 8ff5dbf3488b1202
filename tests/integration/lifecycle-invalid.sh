#!/bin/bash
# Requests Run must refuse, each with its status (enclavectl exit code 10 + code) and a message
# naming the problem; nothing may stay leased afterwards.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# expect CODE PATTERN ARGS...: run-enclave ARGS must exit CODE with PATTERN on stderr.
expect() {
	local code=$1 pattern=$2 rc=0
	shift 2
	"$ENCLAVECTL" run-enclave "$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
	[ "$rc" = "$code" ] || fail "run-enclave $*: exit $rc, expected $code: $(cat "$TEST_DIR/err")"
	grep -q -- "$pattern" "$TEST_DIR/err" || fail "run-enclave $*: no '$pattern' in: $(cat "$TEST_DIR/err")"
}
base=(--eif-path "$SAMPLE_EIF" --cpu-count 1)

expect 13 "needs at least" "${base[@]}" --memory 4
expect 13 "multiple of 2" "${base[@]}" --memory 33
expect 13 "CPU 1 is not in the pool" --eif-path "$SAMPLE_EIF" --memory 32 --cpu-ids 1
expect 13 "enclave_cid = 3" "${base[@]}" --memory 32 --enclave-cid 3
expect 13 "enclave_cid = 1:" "${base[@]}" --memory 32 --enclave-cid 1
expect 18 "not enough memory" "${base[@]}" --memory 1024

cp /etc/passwd "$TEST_DIR/passwd.eif"
expect 13 "not a valid EIF" --eif-path "$TEST_DIR/passwd.eif" --cpu-count 1 --memory 32
head -c 30000 "$SAMPLE_EIF" >"$TEST_DIR/short.eif"
expect 13 "not a valid EIF" --eif-path "$TEST_DIR/short.eif" --cpu-count 1 --memory 32
cp "$SAMPLE_EIF" "$TEST_DIR/badcrc.eif"
size=$(stat -c %s "$TEST_DIR/badcrc.eif")
printf '\xff' | dd of="$TEST_DIR/badcrc.eif" bs=1 seek=$((size - 1)) conv=notrunc status=none
expect 13 "CRC32" --eif-path "$TEST_DIR/badcrc.eif" --cpu-count 1 --memory 32
expect 15 "No such file" --eif-path "$TEST_DIR/absent.eif" --cpu-count 1 --memory 32

# Duplicates of a running enclave's CID and name.
"$ENCLAVECTL" run-enclave "${base[@]}" --memory 32 --enclave-cid 100 --enclave-name one \
	>/dev/null 2>&1 || fail "first enclave did not start"
expect 16 "enclave_cid = 100: used" "${base[@]}" --memory 32 --enclave-cid 100
expect 16 "enclave_name 'one'" "${base[@]}" --memory 32 --enclave-name one

pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["UsedMemoryMiB"]')" 32 "only the one enclave holds memory"
assert_eq "$(echo "$pool" | json 'len(d["Enclaves"])')" 1 "only the one enclave holds a lease"
assert_eq "$(ls "$TEST_DIR/run/enclaves" | wc -l)" 1 "runtime dirs of refused enclaves removed"
"$ENCLAVECTL" terminate-enclave --all >/dev/null || fail "terminate --all"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool whole at the end"
echo PASS
