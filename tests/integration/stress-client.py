#!/usr/bin/env python3
"""Load and fault clients for the stress-*.sh integration tests (standard library only).

  stress-client.py cycles SOCK EIF N              N sequential Run + Terminate cycles
  stress-client.py mixed SOCK EIF CLIENTS CALLS   CLIENTS threads x CALLS mixed RPCs, each on
                                                  its own connection; every answer is checked
                                                  against the codes that call may get
  stress-client.py idle SOCK N CLIENTS CALLS      N connections that send nothing (half of them
                                                  a partial frame header), while CLIENTS threads
                                                  make CALLS calls each; all must succeed
  stress-client.py hog SOCK                       open connections until the daemon stops
                                                  accepting or answers RESOURCE_EXHAUSTED, while
                                                  one connection opened first keeps calling

Prints one JSON line of counts; exits 1 on any unexpected answer. A ttrpc client with one
connection per thread and odd, increasing stream ids (several calls on one connection)."""
import json
import os
import resource
import socket
import struct
import sys
import threading

OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED = 0, 3, 5, 8
FAILED_PRECONDITION, UNIMPLEMENTED = 9, 12
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttrpc_wire import CALL_TIMEOUT, Conn, pb, pb_decode, read_varint, varint  # noqa: E402,F401


def run_req(eif, name="", mib=16):
    return pb(1, eif) + pb(2, mib) + pb(3, 1) + pb(8, 120000) + (pb(7, name) if name else b"")


def enclave_of(payload):
    e = pb_decode(pb_decode(payload).get(1, [b""])[0])
    return e.get(2, [b""])[0].decode(), e.get(3, [0])[0]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.unexpected = []

    def add(self, what, code, allowed, message):
        with self.lock:
            key = f"{what}:{code}"
            self.counts[key] = self.counts.get(key, 0) + 1
            if code not in allowed:
                self.unexpected.append(f"{what}: code {code} ({message[:300]}), expected {allowed}")

    def total(self):
        return sum(self.counts.values())


def check(t, conn, what, allowed, service, method, payload=b""):
    code, msg, out = conn.call(service, method, payload)
    t.add(what, code, allowed, msg)
    return code, out


def cycles(sock, eif, n):
    c = Conn(sock)
    t = Tally()
    for i in range(int(n)):
        code, out = check(t, c, "Run", {OK}, "Enclaves", "Run", run_req(eif))
        if code != OK:
            break
        eid, _ = enclave_of(out)
        check(t, c, "Terminate", {OK}, "Enclaves", "Terminate", pb(1, eid))
    c.close()
    return t


def mixed_client(sock, eif, idx, calls, t, errors):
    try:
        c = Conn(sock)
        mine = None  # (id) of the enclave this client runs at the moment
        for i in range(calls):
            k = i % 25
            if k == 0 and mine is None:
                # The pool holds 15 of these at a time: the others wait their turn.
                code, out = check(t, c, "Run", {OK, RESOURCE_EXHAUSTED}, "Enclaves", "Run",
                                  run_req(eif, f"stress-{idx}"))
                if code == OK:
                    mine = enclave_of(out)[0]
            elif k == 12 and mine:
                check(t, c, "Terminate", {OK}, "Enclaves", "Terminate", pb(1, mine))
                mine = None
            elif k in (3, 9) and mine:
                check(t, c, "Attest", {OK}, "Enclaves", "Attest",
                      pb(1, mine) + pb(3, os.urandom(32)))
            elif k in (4, 10) and mine:
                check(t, c, "Describe", {OK}, "Enclaves", "Describe", pb(2, f"stress-{idx}"))
            elif k == 1:
                check(t, c, "Version", {OK}, "System", "Version")
            elif k == 2:
                check(t, c, "Health", {OK}, "System", "Health")
            elif k == 5:
                check(t, c, "PoolGet", {OK}, "Pool", "Get")
            elif k == 6:
                check(t, c, "List", {OK}, "Enclaves", "List")
            elif k == 7:  # undecodable payload
                check(t, c, "bad-payload", {INVALID_ARGUMENT}, "Enclaves", "Describe",
                      b"\xff\xff\xff\xff")
            elif k == 8:
                check(t, c, "bad-method", {UNIMPLEMENTED}, "Enclaves", "NoSuchMethod")
            elif k == 11:
                check(t, c, "unknown-enclave", {NOT_FOUND}, "Enclaves", "Attest",
                      pb(1, "i-0000000000000000-enc0000000000000000"))
            elif k == 13:
                check(t, c, "bad-run", {INVALID_ARGUMENT}, "Enclaves", "Run",
                      run_req("relative/path.eif"))
            elif k == 14:
                check(t, c, "bad-cid", {INVALID_ARGUMENT}, "Enclaves", "Run",
                      run_req(eif) + pb(5, 2))
            elif k == 15:
                check(t, c, "bad-name", {INVALID_ARGUMENT, NOT_FOUND}, "Enclaves", "Describe",
                      pb(2, "x" * 5000) + pb(4, 1 << 31))
            elif k == 16:
                check(t, c, "bad-attest", {INVALID_ARGUMENT, NOT_FOUND}, "Enclaves", "Attest",
                      pb(1, mine or "nope") + pb(3, b"n" * 513))
            elif k == 17:
                check(t, c, "RootCert", {OK}, "System", "GetRootCertificate")
            elif k == 18:
                check(t, c, "bad-resize", {NOT_FOUND}, "Enclaves", "Resize",
                      pb(2, "no-such-enclave") + pb(3, 64))
            else:
                check(t, c, "Version", {OK}, "System", "Version")
        if mine:
            check(t, c, "Terminate", {OK}, "Enclaves", "Terminate", pb(1, mine))
        c.close()
    except Exception as e:  # noqa: BLE001 - any exception is an unexpected error
        errors.append(f"client {idx}: {type(e).__name__}: {e}")


def mixed(sock, eif, clients, calls):
    t, errors = Tally(), []
    threads = [threading.Thread(target=mixed_client, args=(sock, eif, i, int(calls), t, errors))
               for i in range(int(clients))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.unexpected += errors
    return t


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(n, soft), max(n, hard)))


def simple_client(sock, calls, t, errors, idx):
    try:
        c = Conn(sock)
        for _ in range(calls):
            check(t, c, "Version", {OK}, "System", "Version")
            check(t, c, "PoolGet", {OK}, "Pool", "Get")
        c.close()
        # and fresh connections still get accepted
        for _ in range(5):
            c = Conn(sock)
            check(t, c, "Health", {OK}, "System", "Health")
            c.close()
    except Exception as e:  # noqa: BLE001
        errors.append(f"client {idx}: {type(e).__name__}: {e}")


def idle(sock, n, clients, calls):
    n = int(n)
    raise_nofile(n + 256)
    hogs = []
    for i in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        if i % 2:
            s.sendall(b"\x00\x00\x00")  # a frame header that never completes
        hogs.append(s)
    t, errors = Tally(), []
    threads = [threading.Thread(target=simple_client, args=(sock, int(calls), t, errors, i))
               for i in range(int(clients))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # the idle connections are still open (not dropped to make room): a call on one works
    c = Conn.__new__(Conn)
    c.s, c.stream = hogs[0], 1
    c.s.settimeout(CALL_TIMEOUT)
    check(t, c, "Version-on-idle", {OK}, "System", "Version")
    for s in hogs:
        s.close()
    t.unexpected += errors
    t.counts["idle_connections"] = n
    return t


def hog(sock):
    raise_nofile(4096)
    t = Tally()
    first = Conn(sock)
    check(t, first, "Version-first", {OK}, "System", "Version")
    hogs, refused = [], 0
    for i in range(2000):
        try:
            c = Conn(sock)
            c.s.settimeout(10)
            code, msg, _ = c.call("System", "Version")
        except socket.timeout:
            t.unexpected.append(f"connection {i}: no answer within 10 s (left in the backlog)")
            c.close()
            break
        except (OSError, EOFError):
            # closed on us: the daemon is out of fds
            refused += 1
            t.add("Version-closed", -1, {-1}, "connection closed")
            c.close()
            break
        if code == RESOURCE_EXHAUSTED:
            refused += 1
            t.add("Version-exhausted", code, {RESOURCE_EXHAUSTED}, msg)
            c.close()
            break
        t.add("Version-hog", code, {OK}, msg)
        hogs.append(c)
    if not refused:
        t.unexpected.append(f"{len(hogs)} connections and the daemon never ran out of fds")
    # the connection opened first is served while the daemon is out of fds
    for _ in range(20):
        check(t, first, "Version-first-exhausted", {OK}, "System", "Version")
    for c in hogs:
        c.close()
    first.close()
    # and once the hogs are gone, new connections are accepted again (the daemon backs off
    # for a while after EMFILE; the connect itself is queued by the kernel)
    c = Conn(sock)
    check(t, c, "Version-after", {OK}, "System", "Version")
    c.close()
    t.counts["hog_connections"] = len(hogs)
    return t


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    t = {"cycles": cycles, "mixed": mixed, "idle": idle, "hog": hog}[cmd](*args)
    print(json.dumps({"calls": t.total(), "unexpected": len(t.unexpected), "counts": t.counts}))
    for u in t.unexpected[:20]:
        print("UNEXPECTED:", u)
    sys.exit(1 if t.unexpected else 0)


if __name__ == "__main__":
    main()
