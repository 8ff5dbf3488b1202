#!/bin/bash
# 32 clients x 500 mixed calls at once (Version, Health, Pool.Get, List, Describe, Attest,
# Run/Terminate of their own enclave, and bad requests: undecodable payloads, unknown methods,
# unknown enclaves, invalid fields), each answered with the code that call must get: zero
# unexpected errors, and afterwards no enclave, no lease, the fds of the start.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
CLIENTS=${STRESS_CLIENTS:-32}
CALLS=${STRESS_CALLS:-500}
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
fd0=$(daemon_fds_settled)
python3 "$top_srcdir/tests/integration/stress-client.py" mixed "$ENCLAVED_SOCKET" "$SAMPLE_EIF" \
	"$CLIENTS" "$CALLS" >"$TEST_DIR/mixed" || fail "mixed: $(cat "$TEST_DIR/mixed")"
cat "$TEST_DIR/mixed"
calls=$(head -1 "$TEST_DIR/mixed" | json 'd["calls"]')
runs=$(head -1 "$TEST_DIR/mixed" | json 'd["counts"].get("Run:0", 0)')
fd1=$(daemon_fds_settled)
echo "calls: $calls, enclaves run: $runs, daemon fds: $fd0 -> $fd1"
[ "$calls" -ge $((CLIENTS * CALLS)) ] || fail "only $calls calls answered"
[ "$runs" -ge "$CLIENTS" ] || fail "only $runs enclaves ran"
assert_eq "$("$ENCLAVECTL" pool | json '(d["UsedMemoryMiB"], len(d["Enclaves"]))')" "(0, 0)" "pool after"
assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'sorted(set(e["State"] for e in d))')" \
	"['TERMINATED']" "states after"
assert_eq "$(daemon_fds_settled)" "$fd0" "daemon fd count"
echo PASS
