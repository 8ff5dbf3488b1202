#!/bin/bash
# resize-enclave --wait through Enclaves.Events: growing waits until the guest has plugged the
# memory and reports the plugged size; the Events stream carries MEMORY events; a guest that
# cannot answer (its VMM stopped with SIGSTOP) makes --wait time out with a message saying it
# keeps its memory, exit 14, and the enclave still reaches the request once it runs again.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
command -v python3 >/dev/null || skip "python3 is not installed"
VMM_PID=
BG_PIDS=()
resize_cleanup() {
	local rc=$?
	[ -n "$VMM_PID" ] && kill -CONT $VMM_PID 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap resize_cleanup EXIT
cat >"$TEST_DIR/enclaved.conf" <<CONF
[pool]
cpu_count = 1
memory_mib = 320
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
CONF
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 64 --max-memory 256 \
	--cpu-count 1 --debug-mode --enclave-name evresize) || fail "run-enclave: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
"$ENCLAVECTL" events --enclave-id "$id" >"$TEST_DIR/ev" 2>&1 &
BG_PIDS+=($!)
# The guest's virtio-mem driver is up once the console says ready.
for _ in $(seq 300); do
	"$ENCLAVECTL" console --enclave-id "$id" --disconnect-timeout 1 2>/dev/null |
		grep -q "sample-enclave: ready" && break
	sleep 0.1
done

out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 256 --wait --timeout 60 \
	2>"$TEST_DIR/err") || fail "grow --wait: $out $(cat "$TEST_DIR/err")"
assert_eq "$(echo "$out" | json 'd["Memory"]["PluggedMiB"]')" 192 "plugged after grow --wait"
assert_eq "$(echo "$out" | json 'd["MemoryMiB"]')" 256 "MemoryMiB after grow --wait"
grep -q "256 MiB (boot 64 + plugged 192 MiB)" "$TEST_DIR/err" || fail "grow report: $(cat "$TEST_DIR/err")"
for _ in $(seq 50); do grep -q '"PluggedMiB":192' "$TEST_DIR/ev" && break; sleep 0.1; done
grep -q '"Kind":"MEMORY".*"PluggedMiB":192' "$TEST_DIR/ev" || fail "no MEMORY event: $(cat "$TEST_DIR/ev")"
echo "ok: grow --wait reports 192 MiB plugged; MEMORY events"

# A guest that cannot answer: the VMM (and the child it runs the guest in, in its own PID
# namespace) is stopped, so nothing is unplugged.
top=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["ProcessID"]')
VMM_PID="$top $(pgrep -P "$top" | tr '\n' ' ')"
kill -STOP $VMM_PID
rc=0
out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 64 --wait --timeout 2 \
	2>"$TEST_DIR/err") || rc=$?
assert_eq "$rc" 14 "shrink --wait on a stopped guest (DEADLINE_EXCEEDED)"
grep -q "did not reach 64 MiB within 2 s.*keeps it" "$TEST_DIR/err" || fail "timeout message: $(cat "$TEST_DIR/err")"
assert_eq "$(echo "$out" | json 'd["Memory"]["PluggedMiB"]')" 192 "plugged kept after the timeout"
assert_eq "$(echo "$out" | json 'd["Memory"]["RequestedMiB"]')" 64 "request kept after the timeout"
echo "ok: $(cat "$TEST_DIR/err")"
kill -CONT $VMM_PID
VMM_PID=

out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 64 --wait --timeout 60 \
	2>"$TEST_DIR/err") || fail "shrink --wait: $out $(cat "$TEST_DIR/err")"
assert_eq "$(echo "$out" | json 'd["Memory"]["PluggedMiB"]')" 0 "plugged after shrink --wait"
echo "ok: shrink --wait once the guest runs again"

# Usage: --timeout needs --wait.
rc=0
"$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 64 --timeout 3 2>/dev/null || rc=$?
assert_eq "$rc" 1 "--timeout without --wait"
"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate"
