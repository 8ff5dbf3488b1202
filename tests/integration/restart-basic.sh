#!/bin/bash
# An enclaved restart never stops a running enclave. Five enclaves survive a SIGKILL and a
# clean SIGTERM of the daemon: after each restart (same state and runtime directories) all
# five are RUNNING, answer an echo on vsock port 5000, one still attests (its NSM identity was
# restored), the pool accounts exactly what it did before, and all can be terminated. An
# enclave whose VMM dies while the daemon is down is reported FAILED with the reason and its
# resources back; damaged records are reported and do not stop the daemon. An attestation
# asked while no daemon runs waits and is answered after re-adoption; control.sock takes one
# daemon at a time.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
VSOCK_REQ=$top_srcdir/scripts/lib/vsock-request.py
N=5

field() { "$ENCLAVECTL" describe-enclaves | json "[e['$2'] for e in d if e['EnclaveID']=='$1'][0]"; }
pool_used() { "$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"]), sorted(e["EnclaveID"] for e in d["Enclaves"])'; }
vmm_alive() { pgrep -f "$TEST_DIR/run/enclaves/$1" >/dev/null; }

check_all() { # WHAT: every enclave in $ids RUNNING and echoing
	for id in $ids; do
		assert_eq "$(field "$id" State)" RUNNING "$1: state of $id"
		out=$(timeout 60 python3 "$VSOCK_REQ" "$TEST_DIR/run/enclaves/$id/vsock.sock" echo "hello $id") ||
			fail "$1: echo to $id failed"
		assert_eq "$out" "hello $id" "$1: echo from $id"
	done
}

# Stop the daemon with SIG and start a new one on the same directories.
restart() {
	kill -"$1" "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	for id in $ids; do vmm_alive "$id" || fail "VMM of $id died with the daemon (SIG$1)"; done
	[ -z "${2:-}" ] || eval "$2"
	start_daemon
}

start_daemon
ids=
for i in $(seq $N); do
	id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
		--debug-mode --enclave-name "r$i" | json 'd["EnclaveID"]')
	ids="$ids $id"
done
for id in $ids; do
	[ -f "$TEST_DIR/run/enclave-records/$id.json" ] || fail "no record for $id"
done
check_all "before"
before=$(pool_used)

# An attestation asked while no daemon runs waits in the VMM (the guest blocks in its NSM call)
# and is answered once the next daemon re-adopts the enclave.
set -- $ids
first=$1
attest_while_down() {
	timeout 90 python3 "$VSOCK_REQ" "$TEST_DIR/run/enclaves/$first/vsock.sock" attest \
		00112233445566778899aabbccddeeff "$TEST_DIR/doc-down" >"$TEST_DIR/attest-down.out" 2>&1 &
	ATTEST_PID=$!
	sleep 2
	kill -0 "$ATTEST_PID" 2>/dev/null || fail "attestation answered with no daemon: $(cat "$TEST_DIR/attest-down.out")"
}
restart KILL attest_while_down
wait "$ATTEST_PID" || fail "attestation asked while enclaved was down: $(cat "$TEST_DIR/attest-down.out")"
[ -s "$TEST_DIR/doc-down" ] || fail "empty attestation document after the wait"
check_all "after SIGKILL"
assert_eq "$(pool_used)" "$before" "pool after SIGKILL restart"
grep -q "re-adopted VMM" "$TEST_DIR/enclaved.log" || fail "no re-adoption in the log"
timeout 60 python3 "$VSOCK_REQ" "$TEST_DIR/run/enclaves/$first/vsock.sock" attest \
	00112233445566778899aabbccddeeff "$TEST_DIR/doc" || fail "attestation after re-adoption"
[ -s "$TEST_DIR/doc" ] || fail "empty attestation document"

# control.sock: one daemon at a time, root only.
python3 - "$TEST_DIR/run/enclaves/$first/control.sock" <<'PY' || fail "control.sock accepted a second daemon"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.send(bytes([0x32, 0x06, 0x08]) + bytes([0x80, 0x80, 0x80, 0x80, 0x10]))  # Adopt{2^32}
    answer = s.recv(65536)
except (BrokenPipeError, ConnectionResetError):
    answer = b""
sys.exit(0 if answer == b"" else 1)
PY
[ "$(stat -c '%a %U' "$TEST_DIR/run/enclaves/$first/control.sock")" = "600 root" ] ||
	fail "control.sock is $(stat -c '%a %U' "$TEST_DIR/run/enclaves/$first/control.sock")"
restart TERM
check_all "after SIGTERM"
assert_eq "$(pool_used)" "$before" "pool after SIGTERM restart"

# While the daemon is down: one VMM is killed, another one's guest ends (SIGTERM: the VMM
# leaves its reason in vmm-exit); two damaged records appear (garbage, and a torn copy of a
# real one) and are set aside; a live enclave's torn record and another's missing one are
# recovered from their backups.
victim=$5
ended=$4
second=$2
damage() {
	pkill -KILL -f "$TEST_DIR/run/enclaves/$victim" || true
	pkill -TERM -f "$TEST_DIR/run/enclaves/$ended" || true
	for _ in $(seq 50); do vmm_alive "$victim" || vmm_alive "$ended" || break; sleep 0.1; done
	echo "garbage" >"$TEST_DIR/run/enclave-records/i-0000000000000000-enc00000000deadbeef.json"
	head -c 150 "$TEST_DIR/run/enclave-records/$first.json" \
		>"$TEST_DIR/run/enclave-records/i-0000000000000000-enc00000000feedf00d.json"
	# Two live enclaves' records go bad: one torn in place, one gone; their backups recover.
	truncate -s 150 "$TEST_DIR/run/enclave-records/$first.json"
	rm "$TEST_DIR/run/enclave-records/$second.json"
}
restart TERM damage
ids=$(echo "$ids" | sed "s/ $victim//; s/ $ended//")
assert_eq "$(field "$victim" State)" FAILED "enclave whose VMM died while enclaved was down"
field "$victim" StateReason | grep -q "while enclaved was down" ||
	fail "reason: $(field "$victim" StateReason)"
assert_eq "$(field "$ended" State)" FAILED "enclave whose guest ended while enclaved was down"
field "$ended" StateReason | grep -q "while enclaved was down: terminated by signal 15 (exit code 6)" ||
	fail "reason: $(field "$ended" StateReason)"
[ ! -e "$TEST_DIR/run/enclaves/$victim" ] || fail "runtime dir of $victim left behind"
[ ! -e "$TEST_DIR/run/enclaves/$ended" ] || fail "runtime dir of $ended left behind"
[ ! -e "$TEST_DIR/run/enclave-records/$victim.json" ] || fail "record of $victim left behind"
used=$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')
assert_eq "$used" "96 3" "pool after the dead VMMs were reported"
grep -q "enc00000000deadbeef.json is damaged: header" "$TEST_DIR/enclaved.log" ||
	fail "garbage record not reported"
grep -q "enc00000000feedf00d.json is damaged: .*torn" "$TEST_DIR/enclaved.log" ||
	fail "torn record not reported"
[ -f "$TEST_DIR/run/enclave-records/i-0000000000000000-enc00000000deadbeef.json.corrupt" ] ||
	fail "damaged record not set aside"
grep -q "$first.json is damaged: .*torn.*; recovered from .*$first.json.bak" "$TEST_DIR/enclaved.log" ||
	fail "torn record of a live enclave not recovered from its backup"
[ -f "$TEST_DIR/run/enclave-records/$first.json.corrupt" ] || fail "torn record not set aside"
for id in $first $second; do
	cmp -s "$TEST_DIR/run/enclave-records/$id.json" "$TEST_DIR/run/enclave-records/$id.json.bak" ||
		fail "record of $id not rewritten whole after its recovery"
done
check_all "after a VMM died while enclaved was down"

"$ENCLAVECTL" terminate-enclave --all >/dev/null
for id in $ids; do
	assert_eq "$(field "$id" State)" TERMINATED "after terminate-enclave --all: $id"
	! vmm_alive "$id" || fail "VMM of $id still running after its termination"
	for suffix in .json .json.bak .json.corrupt .attest; do
		[ ! -e "$TEST_DIR/run/enclave-records/$id$suffix" ] || fail "$id$suffix left behind"
	done
done
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')" "0 0" \
	"pool after terminating every enclave"
echo PASS
