#!/bin/bash
# enclave-vmm in daemon mode, driven the way enclaved drives it: a SOCK_SEQPACKET socketpair,
# a Config with the guest-memory memfd and the EIF passed by SCM_RIGHTS, then Events,
# ConsoleData (debug mode), Ping/Pong and Terminate; and a sandboxed VMM killed by a forbidden
# syscall, which the parent sees as SIGSYS. The protobuf is hand-encoded (vmm.proto).
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF (build guest/sample-enclave.eif first)"
mkdir -p "$TEST_DIR/run"
chmod 755 "$TEST_DIR/run"

python3 - "$ENCLAVE_VMM" "$SAMPLE_EIF" "$TEST_DIR/run" <<'PY'
import os, signal, socket, subprocess, sys, time
vmm, eif, rundir = sys.argv[1:4]

def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    return varint(num << 3 | 2) + varint(len(value)) + value

def parse(buf):
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"wire type {wt}")
        out[num] = v
    return out

def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]; i += 1
        n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80:
            return n, i

def config(sandbox=False):
    c = (field(1, b"i-test-enc1") + field(2, b"test") + field(3, 42) + field(4, 64 << 20) +
         field(5, varint(0)) + field(6, 1) + field(8, 1) + field(9, rundir.encode()) +
         field(10, 0) + field(11, 0) + field(14, 7))
    if sandbox:
        c += field(12, 65534) + field(13, 65534)
    return field(1, c)

def start(extra=(), sandbox=False):
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = subprocess.Popen([vmm, "--channel", str(child.fileno()), *extra], pass_fds=[child.fileno()],
                         stderr=subprocess.PIPE)
    child.close()
    mem = os.memfd_create("guest")
    with open(eif, "rb") as f:
        socket.send_fds(parent, [config(sandbox)], [mem, f.fileno()])
    os.close(mem)
    parent.settimeout(30)
    return p, parent

def events(sock, want_console=None):
    """Read messages until EXITED; return (states, console bytes, exit event)."""
    states, console = [], b""
    while True:
        m = parse(sock.recv(256 * 1024))
        if 1 in m:
            ev = parse(m[1])
            states.append(ev.get(1, 0))
            assert ev.get(3) == 7, f"generation not echoed: {ev}"
            if ev.get(1) == 4:
                return states, console, ev
        elif 2 in m:
            console += parse(m[2]).get(1, b"")
            if want_console and want_console in console:
                return states, console, None
        elif 4 in m:
            states.append("pong:%d" % parse(m[4]).get(1, 0))

# 1. Boot, console through the channel, Ping/Pong, Terminate.
p, s = start()
states, console, ev = events(s, b"sample-enclave: started")
assert states[:2] == [1, 2], f"expected STARTED, GUEST_ENTERED first: {states}"
s.send(field(3, field(1, 1234)))              # Ping
s.send(field(4, field(1, b"test is over")))   # Terminate
st, more, ev = events(s)
console += more
assert "pong:1234" in st, f"no Pong: {st}"
reason = ev.get(2, b"").decode()
code = ev.get(4, 0)
# The sample enclave idles when it has its devices; without them it halts by itself first.
assert (code == 6 and "terminated by enclaved: test is over" in reason) or code == 2, (code, reason)
assert p.wait(timeout=30) == code, "exit status differs from the event's exit code"
print("console:", console.decode(errors="replace").strip().replace("\n", " | "))
print("exit:", code, reason)

# 2. Sandboxed, forbidden syscall: the VMM (PID 1 of its namespace) dies of SIGSYS and so
#    does the process enclaved started.
p, s = start(["--test-forbidden-syscall"], sandbox=True)
rc = p.wait(timeout=30)
assert rc == -signal.SIGSYS, f"expected death by SIGSYS, got {rc}: {p.stderr.read()}"
print("forbidden syscall: killed by SIGSYS")

# 3. A Config whose fds do not match eif_fd_passed is refused.
parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([vmm, "--channel", str(child.fileno())], pass_fds=[child.fileno()],
                     stderr=subprocess.PIPE)
child.close()
parent.send(config())
assert p.wait(timeout=30) == 1
assert b"Config came with 0 fds, expected 2" in p.stderr.read()
print("PASS")
PY
