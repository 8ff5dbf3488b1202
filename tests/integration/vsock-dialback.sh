#!/bin/bash
# Enclave->host vsock end to end: the sample enclave's dial-back service (port 5005) connects
# to CID 3 port P, which enclave-vmm forwards to the unix socket <runtime>/vsock.sock_P. With a
# host listener the enclave greets it ("enclave\n"), echoes what it receives and reports 0;
# without one the VMM answers RST and the enclave reports 1. Runs once unsandboxed and once
# with --sandbox-uid/--sandbox-gid 65534 (pivot_root into the runtime directory, own uid).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/vsock-lib.sh"
vsock_need_tools

run_dialback() {
	python3 - "$RUN" <<PY
$VSOCK_PY_HELPERS
run = sys.argv[1]
path = run + "/vsock.sock"

def listen(port):
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    p = f"{run}/vsock.sock_{port}"
    if os.path.exists(p):
        os.unlink(p)
    l.bind(p)
    os.chmod(p, 0o666)  # a sandboxed VMM connects under its own uid
    l.listen(16)
    l.settimeout(30)
    return l

def dial(ctl, port):
    ctl.sendall(struct.pack(">I", port))
    return recv_exact(ctl, 1)[0]

def serve_one(l, data):
    a, _ = l.accept()
    a.settimeout(30)
    hello = recv_exact(a, 8)
    if hello != b"enclave\n":
        raise SystemExit(f"FAIL: greeting {hello!r}")
    t = threading.Thread(target=lambda: (a.sendall(data), a.shutdown(socket.SHUT_WR)))
    t.start()
    got = recv_exact(a, len(data))
    t.join()
    if got != data:
        raise SystemExit(f"FAIL: dial-back echo of {len(data)} bytes differs")
    expect_eof(a, "dial-back connection after the host shutdown")
    a.close()

l = listen(7000)
ctl = bridge_connect(path, 5005)
st = dial(ctl, 7000)
if st != 0:
    raise SystemExit(f"FAIL: dial-back to a listener reported {st}")
serve_one(l, os.urandom(300_000))
print("dial-back: connection, greeting and 300000 echoed bytes ok")

# Nobody listens on 7001: RST from the VMM, status 1; the same control connection goes on.
st = dial(ctl, 7001)
if st != 1:
    raise SystemExit(f"FAIL: dial-back without a listener reported {st}, expected 1")
st = dial(ctl, 7000)
if st != 0:
    raise SystemExit(f"FAIL: dial-back after a refused one reported {st}")
serve_one(l, b"x")
ctl.shutdown(socket.SHUT_WR)
expect_eof(ctl, "control connection after the host shutdown")
ctl.close()
print("dial-back: no listener -> 1, control connection reusable")

# Eight control connections at once, each dialing the same listener.
ctls = [bridge_connect(path, 5005) for _ in range(8)]
for c in ctls:
    c.sendall(struct.pack(">I", 7000))
accepted = []
for _ in ctls:
    a, _ = l.accept()
    a.settimeout(30)
    if recv_exact(a, 8) != b"enclave\n":
        raise SystemExit("FAIL: greeting on a concurrent dial-back")
    accepted.append(a)
for i, c in enumerate(ctls):
    if recv_exact(c, 1) != b"\0":
        raise SystemExit(f"FAIL: concurrent dial-back {i} did not report 0")
for i, a in enumerate(accepted):
    msg = b"peer %d " % i * 50
    a.sendall(msg)
    if recv_exact(a, len(msg)) != msg:
        raise SystemExit(f"FAIL: concurrent dial-back {i} echoed other bytes")
    a.close()
for c in ctls:
    c.close()
print("dial-back: 8 at once ok")

# A listener that accepts and closes at once: the enclave is told, nothing else breaks.
st = dial(c := bridge_connect(path, 5005), 7000)
a, _ = l.accept()
a.close()
c.close()
l.close()
os.unlink(f"{run}/vsock.sock_7000")
echo_roundtrip(path, os.urandom(10_000))
print("dial-back: abrupt host close ok, echo still works")
PY
}

vsock_start_vmm
run_dialback
vsock_stop_vmm
echo "unsandboxed: ok"

# Sandboxed: the VMM drops to uid 65534 and pivot_roots into a tmpfs holding only its runtime
# directory (bind-mounted at the same path), so vsock.sock_P is still reachable by name, as
# long as the listener lets uid 65534 write to its socket file.
rm -rf "$TEST_DIR/run" "$TEST_DIR/console.log"
vsock_start_vmm --sandbox-uid 65534 --sandbox-gid 65534
run_dialback
# A listener whose socket file only root may write to: the sandboxed VMM (uid 65534) gets
# EACCES on connect and answers RST. Printed, not asserted: how a sandboxed VMM should reach
# vsock.sock_P (e.g. a connect brokered by enclaved) is still open.
python3 - "$RUN" <<PY
$VSOCK_PY_HELPERS
run = sys.argv[1]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(f"{run}/vsock.sock_7002")
os.chmod(f"{run}/vsock.sock_7002", 0o600)
l.listen(1)
c = bridge_connect(run + "/vsock.sock", 5005)
c.sendall(struct.pack(">I", 7002))
print(f"sandboxed, root-only listener socket: dial-back status {recv_exact(c, 1)[0]}")
PY
vsock_stop_vmm
echo "PASS: vsock dial-back, unsandboxed and sandboxed"
