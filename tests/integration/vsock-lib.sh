# Sourced by the vsock-*.sh tests after lib.sh: boot the sample enclave under a standalone
# enclave-vmm and wait for its ready line. Not a test on its own.

# vsock_need_tools: skip unless KVM, root, python3 and the built VMM and image are there.
vsock_need_tools() {
	need_kvm
	need_root
	command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
	[ -x "$ENCLAVE_VMM" ] || skip "enclave-vmm is not built"
	[ -f "$SAMPLE_EIF" ] || skip "$SAMPLE_EIF is not built"
}

# vsock_start_vmm [extra enclave-vmm args...]: sets RUN (the runtime directory) and VMM_PID.
vsock_start_vmm() {
	RUN=$TEST_DIR/run
	mkdir -p "$RUN"
	"$ENCLAVE_VMM" --standalone --eif "$SAMPLE_EIF" --memory-mib 64 --cpus 0 --cid 16 \
		--debug --runtime-dir "$RUN" --console "$TEST_DIR/console.log" "$@" \
		>"$TEST_DIR/vmm.log" 2>&1 &
	VMM_PID=$!
	for _ in $(seq 300); do
		grep -q "sample-enclave: ready\|sample-enclave: heartbeat failed\|sample-enclave: exception" \
			"$TEST_DIR/console.log" 2>/dev/null && break
		kill -0 "$VMM_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! tr -d '\r' <"$TEST_DIR/console.log" 2>/dev/null | grep -q "^sample-enclave: ready cid=16"; then
		cat "$TEST_DIR/console.log" "$TEST_DIR/vmm.log" 2>/dev/null || true
		fail "the sample enclave did not report ready"
	fi
}

# vsock_stop_vmm: the VMM must have survived everything the test did to it.
vsock_stop_vmm() {
	kill -0 "$VMM_PID" 2>/dev/null || { cat "$TEST_DIR/vmm.log"; fail "enclave-vmm died during the test"; }
	if grep -q "sample-enclave: exception" "$TEST_DIR/console.log"; then
		cat "$TEST_DIR/console.log"
		fail "guest exception"
	fi
	kill -TERM "$VMM_PID"
	wait "$VMM_PID" 2>/dev/null || true
	# A sanitizer build reports there without necessarily dying; leaks at exit count too.
	if grep -q "runtime error\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$TEST_DIR/vmm.log"; then
		cat "$TEST_DIR/vmm.log"
		fail "sanitizer report from enclave-vmm"
	fi
}

# Python helpers shared by the tests' inline scripts (prepended to each).
VSOCK_PY_HELPERS='
import os, socket, struct, sys, threading, time

def bridge_connect(path, port, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise SystemExit(f"FAIL: port {port}: bridge closed before OK")
        line += c
        if len(line) > 64:
            raise SystemExit(f"FAIL: port {port}: no newline in {line!r}")
    if not line.startswith(b"OK "):
        raise SystemExit(f"FAIL: port {port}: answer {line!r}")
    return s

def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        c = s.recv(min(1 << 20, n - len(buf)))
        if not c:
            raise SystemExit(f"FAIL: EOF after {len(buf)} of {n} bytes")
        buf += c
    return bytes(buf)

def expect_eof(s, what, timeout=30):
    s.settimeout(timeout)
    try:
        r = s.recv(64)
    except ConnectionResetError:
        r = b""
    except socket.timeout:
        raise SystemExit(f"FAIL: {what}: host socket still open after {timeout} s")
    if r != b"":
        raise SystemExit(f"FAIL: {what}: expected the socket closed, got {r!r}")

def echo_roundtrip(path, data):
    s = bridge_connect(path, 5000)
    err = []
    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=writer)
    t.start()
    got = recv_exact(s, len(data))
    t.join()
    if err:
        raise SystemExit(f"FAIL: echo writer: {err[0]}")
    if got != data:
        first = next(i for i in range(len(data)) if got[i] != data[i])
        raise SystemExit(f"FAIL: echo of {len(data)} bytes differs at offset {first}")
    expect_eof(s, "echo after the host shutdown")
    s.close()
'
