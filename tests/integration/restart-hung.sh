#!/bin/bash
# VMM liveness: a VMM that stops answering the daemon's Pings (SIGSTOP) is killed and its
# enclave reported FAILED "VMM stopped answering", resources returned; the same for a VMM
# re-adopted after a daemon restart (not the daemon's child: noticed through its pidfd), and
# a re-adopted VMM that is SIGKILLed is noticed at once; [daemon] vmm_ping_timeout_ms, changed
# by a reload, sets how long a hang takes to be called; VMMs hung while the daemon was down are
# adopted together (one timeout in all), reported FAILED and killed.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
field() { "$ENCLAVECTL" describe-enclaves | json "[e['$2'] for e in d if e['EnclaveID']=='$1'][0]"; }
vmm_alive() { pgrep -f "$TEST_DIR/run/enclaves/$1" >/dev/null; }
run() { "$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 | json 'd["EnclaveID"]'; }

# wait_failed ID PATTERN SECONDS
wait_failed() {
	for _ in $(seq $(($3 * 10))); do
		[ "$(field "$1" State)" = FAILED ] && break
		sleep 0.1
	done
	assert_eq "$(field "$1" State)" FAILED "state of $1"
	field "$1" StateReason | grep -q "$2" || fail "reason of $1: $(field "$1" StateReason)"
	for _ in $(seq 50); do vmm_alive "$1" || break; sleep 0.1; done
	! vmm_alive "$1" || fail "VMM of $1 still there"
	assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')" "0 0" \
		"pool after $1 failed"
}

start_daemon
id=$(run)
pkill -STOP -f "$TEST_DIR/run/enclaves/$id"
wait_failed "$id" "VMM stopped answering" 30

# Re-adopted after a SIGKILL of the daemon: hung, then killed.
id=$(run)
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" || true
start_daemon
assert_eq "$(field "$id" State)" RUNNING "re-adopted enclave"
pkill -STOP -f "$TEST_DIR/run/enclaves/$id"
wait_failed "$id" "VMM stopped answering" 30

id=$(run)
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" || true
start_daemon
assert_eq "$(field "$id" State)" RUNNING "re-adopted enclave"
pkill -KILL -f "$TEST_DIR/run/enclaves/$id"
wait_failed "$id" "VMM ended" 10

# [daemon] vmm_ping_timeout_ms, applied on reload: a hang is called after 1.5 s, not 6 s.
{ pool_conf 32; printf '[daemon]\nvmm_ping_timeout_ms = 1500\n'; } >"$TEST_DIR/enclaved.conf"
kill -HUP "$DAEMON_PID"
for _ in $(seq 50); do grep -q "vmm_ping_timeout_ms: (unset) -> 1500 (applied)" "$TEST_DIR/enclaved.log" && break; sleep 0.1; done
grep -q "vmm_ping_timeout_ms: (unset) -> 1500 (applied)" "$TEST_DIR/enclaved.log" ||
	fail "reload did not apply vmm_ping_timeout_ms"
id=$(run)
pkill -STOP -f "$TEST_DIR/run/enclaves/$id"
wait_failed "$id" "VMM stopped answering" 30
waited=$(field "$id" StateReason | sed -n 's/.*no Pong within \([0-9]*\) ms.*/\1/p')
[ -n "$waited" ] && [ "$waited" -ge 1500 ] && [ "$waited" -lt 6000 ] ||
	fail "hang called after '$waited' ms with a 1500 ms timeout"
# VMMs that hang while the daemon is down: Adopt goes to all of them at once and the answers are
# awaited together (one 3 s wait in all, not one each); each ends FAILED and is killed, and a
# healthy enclave beside them is re-adopted.
hung_ids=
for _ in 1 2 3; do hung_ids="$hung_ids $(run)"; done
ok=$(run)
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" || true
for id in $hung_ids; do pkill -STOP -f "$TEST_DIR/run/enclaves/$id"; done
t0=$(date +%s%3N)
start_daemon
echo "enclaved answered $(($(date +%s%3N) - t0)) ms after its start, with 3 hung VMMs to adopt"
for id in $hung_ids; do
	assert_eq "$(field "$id" State)" FAILED "state of hung $id after the restart"
	field "$id" StateReason | grep -q "could not be re-adopted: no AdoptState within 3000 ms" ||
		fail "reason of $id: $(field "$id" StateReason)"
	for _ in $(seq 50); do vmm_alive "$id" || break; sleep 0.1; done
	! vmm_alive "$id" || fail "hung VMM of $id left running"
done
assert_eq "$(field "$ok" State)" RUNNING "healthy enclave re-adopted beside hung ones"
"$ENCLAVECTL" terminate-enclave --enclave-id "$ok" >/dev/null
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')" "0 0" \
	"pool after the hung VMMs and the healthy one"
echo PASS
