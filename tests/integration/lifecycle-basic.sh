#!/bin/bash
# The sample enclave through the daemon: run in debug mode (Run returns on the heartbeat), the
# ready line on the console, describe, echo over vsock port 5000 and the vsock counters in
# describe-enclaves, terminate (twice: idempotent),
# the console kept after exit, and the pool whole again.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
start_daemon

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	--debug-mode --enclave-name basic) || fail "run-enclave: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
case $id in i-*-enc????????????????) ;; *) fail "enclave id '$id'" ;; esac
assert_eq "$(echo "$out" | json 'd["EnclaveCID"]')" 16 "first automatic CID"
assert_eq "$(echo "$out" | json 'd["EnclaveName"]')" basic "name"

desc=$("$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'd[0]["State"]')" RUNNING "state after Run"
assert_eq "$(echo "$desc" | json 'd[0]["Flags"]')" DEBUG_MODE "flags"
assert_eq "$(echo "$desc" | json 'd[0]["OwnerUID"]')" 0 "owner"
sock=$(echo "$desc" | json 'd[0]["VsockSocket"]')
[ -S "$sock" ] || fail "no vsock socket at $sock"
assert_eq "$(stat -c %a "$sock")" 600 "vsock.sock mode"
pid=$(echo "$desc" | json 'd[0]["ProcessID"]')
kill -0 "$pid" || fail "VMM $pid not running"

# The ready line (the console replays its buffer first).
timeout 20 "$ENCLAVECTL" console --enclave-id "$id" >"$TEST_DIR/console" 2>&1 &
cpid=$!
for _ in $(seq 100); do grep -q "sample-enclave: ready cid=16" "$TEST_DIR/console" && break; sleep 0.1; done
grep -q "sample-enclave: ready cid=16" "$TEST_DIR/console" || fail "no ready line: $(cat "$TEST_DIR/console")"

# Echo on port 5000.
head -c 4096 /dev/urandom >"$TEST_DIR/in"
timeout 20 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 <"$TEST_DIR/in" >"$TEST_DIR/echo" ||
	fail "connect failed"
cmp "$TEST_DIR/in" "$TEST_DIR/echo" || fail "echo differs"

# The vsock counters the VMM reports with its liveness pongs: the echo's connection, and a
# garbage CONNECT line refused by the host bridge.
describe() { "$ENCLAVECTL" describe-enclaves | json 'json.dumps(d[0])'; }
python3 - "$sock" <<'PY' || fail "garbage CONNECT line"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"CONNECT five\n")
sys.exit(0 if s.recv(100) == b"" else 1)
PY
counters=
for _ in $(seq 100); do
	counters=$(describe | json 'd.get("Vsock", {}).get("Counters", {})')
	case $counters in *host_bad_connect*) break ;; esac
	sleep 0.1
done
describe | json 'd["Vsock"]["Counters"]["connections_opened"] >= 1 and d["Vsock"]["Counters"]["host_bad_connect"] == 1 and d["Vsock"]["OpenConnections"] == 0' |
	grep -qx True || fail "vsock counters in describe-enclaves: $(describe | json 'd.get("Vsock")')"

pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["UsedMemoryMiB"]')" 32 "pool memory used while running"

t=$("$ENCLAVECTL" terminate-enclave --enclave-id "$id") || fail "terminate: $t"
assert_eq "$(echo "$t" | json 'd["Terminated"]')" True "terminated"
! kill -0 "$pid" 2>/dev/null || fail "VMM $pid still alive after terminate"
wait $cpid || true   # the console stream ends with the enclave
t=$("$ENCLAVECTL" terminate-enclave --enclave-id "$id") || fail "second terminate: $t"
assert_eq "$(echo "$t" | json 'd["Terminated"]')" True "second terminate is idempotent"

desc=$("$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'd[0]["State"]')" TERMINATED "state after terminate"
[ ! -e "$(dirname "$sock")" ] || fail "runtime dir $(dirname "$sock") left behind"
"$ENCLAVECTL" console --enclave-id "$id" | grep -q "ready cid=16" || fail "console not kept after exit"

pool=$("$ENCLAVECTL" pool)
assert_eq "$(echo "$pool" | json 'd["UsedMemoryMiB"]')" 0 "pool memory used after terminate"
assert_eq "$(echo "$pool" | json 'd["FreeMemoryMiB"]')" 256 "pool memory free after terminate"
assert_eq "$(echo "$pool" | json 'len(d["Enclaves"])')" 0 "pool holdings after terminate"

# A name is free again once its enclave is gone; NOT_FOUND for an unknown one.
rc=0; "$ENCLAVECTL" terminate-enclave --enclave-name nosuch 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 15 "terminate of an unknown name (NOT_FOUND)"
echo "PASS"
