#!/bin/bash
# A VMM SIGKILLed in the middle of a vsock stream: one enclave's VMM (the sandboxed child that
# runs the guest) while the host streams into port 5003, another's (the outer process, whose
# child follows by PDEATHSIG) while it streams out of port 5004. Each streaming client sees
# its connection end (no hang), the daemon reports the enclave FAILED with the signal, returns
# its CPUs and memory, and keeps serving: a new enclave runs and echoes.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# stream VSOCK PORT: endless data into the sink, or a huge count out of the source; prints
# "ended: <why>" when the connection goes away, exits 0 then.
stream() {
	timeout 120 python3 - "$@" <<'PY'
import socket, struct, sys
vsock, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(vsock)
s.sendall(b"CONNECT %d\n" % port)
line = b""
while not line.endswith(b"\n"):
    c = s.recv(1)
    if not c:
        sys.exit("bridge closed before OK")
    line += c
assert line.startswith(b"OK "), line
print("connected", flush=True)
moved = 0
try:
    if port == 5003:
        chunk = b"\xa5" * 65536
        while True:
            s.sendall(chunk)
            moved += len(chunk)
    else:
        s.sendall(struct.pack(">Q", 1 << 40))
        while True:
            c = s.recv(65536)
            if not c:
                break
            moved += len(c)
    print(f"ended: EOF after {moved} bytes")
except OSError as e:
    print(f"ended: {type(e).__name__} after {moved} bytes")
PY
}

run() { "$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 --enclave-name "$1"; }
for target in child:5003 outer:5004; do
	which=${target%:*}; port=${target#*:}
	out=$(run "kill-$which") || fail "run kill-$which: $out"
	id=$(echo "$out" | json 'd["EnclaveID"]')
	pid=$(echo "$out" | json 'd["ProcessID"]')
	sock=$("$ENCLAVECTL" describe-enclaves | json '[e["VsockSocket"] for e in d if e["EnclaveID"] == "'"$id"'"][0]')
	stream "$sock" "$port" >"$TEST_DIR/stream-$which" 2>&1 &
	spid=$!
	# wait until bytes flow (the stream's connection exists), then kill
	for _ in $(seq 100); do
		[ -n "$(ls "/proc/$pid/task" 2>/dev/null)" ] || fail "VMM $pid vanished on its own"
		child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
		[ -n "$child" ] && grep -q "^VmRSS" "/proc/$child/status" 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$child" ] || fail "no child VMM process under $pid"
	# The client is connected (its bytes flow) before the kill, however slow its start.
	for _ in $(seq 300); do
		grep -q "^connected" "$TEST_DIR/stream-$which" && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^connected" "$TEST_DIR/stream-$which" ||
		fail "streaming client ($which) never connected: $(cat "$TEST_DIR/stream-$which")"
	sleep 0.3
	if [ "$which" = child ]; then kill -KILL "$child"; else kill -KILL "$pid"; fi
	wait "$spid" || fail "streaming client ($which, port $port): $(cat "$TEST_DIR/stream-$which")"
	grep -q "^ended:" "$TEST_DIR/stream-$which" || fail "stream: $(cat "$TEST_DIR/stream-$which")"
	echo "$which VMM killed during port $port: client $(grep "^ended:" "$TEST_DIR/stream-$which")"
	state=
	for _ in $(seq 100); do
		desc=$("$ENCLAVECTL" describe-enclaves | json '[(e["State"], e.get("StateReason", "")) for e in d if e["EnclaveID"] == "'"$id"'"][0]')
		case $desc in *FAILED*) state=$desc; break ;; esac
		sleep 0.1
	done
	[ -n "$state" ] || fail "enclave $id not FAILED after its VMM was killed: $desc"
	echo "$which: $state"
	case $state in *SIGKILL*|*killed*) ;; *) fail "reason does not name the kill: $state" ;; esac
	assert_eq "$("$ENCLAVECTL" pool | json '(d["UsedMemoryMiB"], len(d["Enclaves"]))')" "(0, 0)" "pool after killing the $which VMM"
done
# The daemon keeps serving: a new enclave runs and echoes.
out=$(run after) || fail "run after the kills: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
echo hello | timeout 30 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 >"$TEST_DIR/echo" || fail "echo"
assert_eq "$(cat "$TEST_DIR/echo")" hello "echo after the kills"
"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate"
echo PASS
