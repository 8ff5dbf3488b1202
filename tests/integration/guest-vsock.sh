#!/bin/bash
# The sample enclave's services over real vsock: enclave-vmm --standalone boots the ELF with
# its virtio-vsock and virtio-nsm devices; a client speaks the Firecracker-style bridge
# (CONNECT <port>) on vsock.sock. Checks the heartbeat/ready line, echo (large and 70
# connections at once), sink, source, NSM passthrough and attest framing, refused ports.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
ELF=$top_builddir/guest/sample-enclave.elf
VMM=${GUEST_TEST_VMM:-$ENCLAVE_VMM}
[ -f "$ELF" ] || fail "$ELF is not built"
[ -x "$VMM" ] || skip "enclave-vmm is not built"

# Boot what ships (the EIF) when it is built, else the bare ELF.
if [ -f "$SAMPLE_EIF" ]; then IMAGE=(--eif "$SAMPLE_EIF"); else
	IMAGE=(--kernel "$ELF" --cmdline "console=ttyS0"); fi
RUN=$TEST_DIR/run
mkdir -p "$RUN"
"$VMM" --standalone "${IMAGE[@]}" --memory-mib 16 --cpus 0 \
	--cid 16 --debug --runtime-dir "$RUN" --console "$TEST_DIR/console.log" \
	>"$TEST_DIR/vmm.log" 2>&1 &
VMM_PID=$!
for _ in $(seq 200); do
	grep -q "sample-enclave: ready\|sample-enclave: no vsock\|sample-enclave: heartbeat failed" \
		"$TEST_DIR/console.log" 2>/dev/null && break
	kill -0 "$VMM_PID" 2>/dev/null || break
	sleep 0.1
done
cat "$TEST_DIR/console.log" 2>/dev/null || true
if grep -q "sample-enclave: no vsock device" "$TEST_DIR/console.log" 2>/dev/null; then
	skip "this enclave-vmm has no virtio-vsock device yet"
fi
grep -q "^sample-enclave: ready cid=16" <(tr -d '\r' <"$TEST_DIR/console.log") ||
	{ cat "$TEST_DIR/vmm.log"; fail "no ready line"; }

python3 - "$RUN/vsock.sock" <<'PY'
import os, socket, struct, sys, threading
path = sys.argv[1]

def connect(port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise SystemExit(f"FAIL: port {port}: bridge closed before OK (refused?)")
        line += c
    assert line.startswith(b"OK "), line
    return s

def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        c = s.recv(min(65536, n - len(buf)))
        if not c:
            raise SystemExit(f"FAIL: EOF after {len(buf)} of {n} bytes")
        buf += c
    return bytes(buf)

# echo, large: write from a thread while reading, so neither side's buffers deadlock
data = os.urandom(300_000)
s = connect(5000)
t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
t.start()
got = recv_exact(s, len(data))
t.join()
assert got == data, "echo data differs"
assert s.recv(1) == b"", "echo did not close after the host's shutdown"
s.close()
print("echo: 300000 bytes ok")

# 70 connections at once
conns = [connect(5000) for _ in range(70)]
for i, c in enumerate(conns):
    c.sendall(b"conn %03d " % i * 20)
for i, c in enumerate(conns):
    want = b"conn %03d " % i * 20
    assert recv_exact(c, len(want)) == want, f"connection {i} got other data"
for c in conns:
    c.close()
print("echo: 70 concurrent connections ok")

# sink
s = connect(5003)
n = 2_000_000
chunk = b"\xa5" * 65536
sent = 0
while sent < n:
    k = min(len(chunk), n - sent)
    s.sendall(chunk[:k])
    sent += k
s.shutdown(socket.SHUT_WR)
count = struct.unpack(">Q", recv_exact(s, 8))[0]
assert count == n, f"sink counted {count}, sent {n}"
s.close()
print(f"sink: {n} bytes counted")

# source, twice on one connection
s = connect(5004)
for n in (1, 500_000):
    s.sendall(struct.pack(">Q", n))
    got = recv_exact(s, n)
    assert got == bytes(i & 0xff for i in range(n)), "source pattern differs"
s.close()
print("source: ok")

# NSM passthrough: DescribeNSM; the answer is a CBOR map (a description, or an error
# when this VMM has no daemon behind it)
s = connect(5002)
for _ in range(2):
    req = b"\x6bDescribeNSM"
    s.sendall(struct.pack(">I", len(req)) + req)
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    assert n <= 0x3000, n
    resp = recv_exact(s, n)
    assert n == 0 or resp[0] == 0xa1, resp[:16]
print(f"nsm passthrough: {n} byte response")
# an oversized request resets the connection
s.sendall(struct.pack(">I", 0x1001))
assert s.recv(1) == b"", "oversized NSM request was not refused"
s.close()

# attest: framing holds, document (if any) is COSE_Sign1 (array of 4)
s = connect(5001)
s.sendall(struct.pack(">I", 32) + os.urandom(32))
n = struct.unpack(">I", recv_exact(s, 4))[0]
doc = recv_exact(s, n)
assert n == 0 or doc[0] == 0x84, doc[:8]
s.sendall(struct.pack(">I", 513))
assert s.recv(1) == b"", "oversized nonce was not refused"
s.close()
print(f"attest: {n} byte document")

# a port nobody listens on
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
s.sendall(b"CONNECT 4999\n")
r = s.recv(64)
assert not r.startswith(b"OK"), r
print("refused port: ok")
PY
kill -0 "$VMM_PID" 2>/dev/null || fail "enclave-vmm died during the test"
grep -q "sample-enclave: exception" "$TEST_DIR/console.log" && fail "guest exception"
kill -TERM "$VMM_PID"
wait "$VMM_PID" 2>/dev/null || true
echo "PASS: sample enclave services over vsock"
