#!/bin/bash
# 20 enclaves at once from 4 concurrent clients (5 Run calls each, all in flight together):
# every one reaches RUNNING with its own CID and name, no CPU or memory is oversubscribed
# beyond the pool's rules, all terminate, and the pool is whole again.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
cat >"$TEST_DIR/enclaved.conf" <<CONF
[pool]
cpu_count = 1
memory_mib = 400
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
cpu_oversubscribe = 32
CONF
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

pids=()
for client in 1 2 3 4; do
	for n in 1 2 3 4 5; do
		"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 20 --cpu-count 1 \
			--heartbeat-timeout 120000 >"$TEST_DIR/run-$client-$n" 2>&1 &
		pids+=($!)
	done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
[ $failed = 0 ] || { cat "$TEST_DIR"/run-*; fail "$failed Run calls failed"; }

desc=$("$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'len(d)')" 20 "enclaves listed"
assert_eq "$(echo "$desc" | json 'sorted(set(e["State"] for e in d))')" "['RUNNING']" "states"
assert_eq "$(echo "$desc" | json 'len(set(e["EnclaveCID"] for e in d))')" 20 "distinct CIDs"
assert_eq "$(echo "$desc" | json 'len(set(e["EnclaveName"] for e in d))')" 20 "distinct names"
assert_eq "$(echo "$desc" | json 'min(e["EnclaveCID"] for e in d)')" 16 "lowest CID"
pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["UsedMemoryMiB"]')" 400 "pool memory used by 20 x 20 MiB"
assert_eq "$(echo "$pool" | json 'len(d["Enclaves"])')" 20 "leases"

# The pool is full: one more is refused cleanly.
rc=0
"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 20 --cpu-count 1 \
	>/dev/null 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 18 "Run on a full pool (RESOURCE_EXHAUSTED)"

# Terminate from two clients at once: half by id, the rest with --all.
ids=$(echo "$desc" | json '" ".join(e["EnclaveID"] for e in d[:10])')
pids=()
for id in $ids; do
	"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null &
	pids+=($!)
done
"$ENCLAVECTL" terminate-enclave --all >"$TEST_DIR/all" || fail "terminate --all"
for pid in "${pids[@]}"; do wait "$pid" || fail "a terminate failed"; done
desc=$("$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'sorted(set(e["State"] for e in d))')" "['TERMINATED']" "states after terminate"
pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["UsedMemoryMiB"]')" 0 "pool memory after terminate"
assert_eq "$(echo "$pool" | json 'len(d["Enclaves"])')" 0 "leases after terminate"
assert_eq "$(ls "$TEST_DIR/run/enclaves" | wc -l)" 0 "runtime dirs after terminate"
! pgrep -f "$TEST_DIR/run/enclaves" >/dev/null || fail "VMMs left running"
echo PASS
