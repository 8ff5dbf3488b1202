#!/usr/bin/env python3
"""Ask the sample enclave for something over its vsock bridge (Firecracker's CONNECT protocol).

usage: vsock-request.py SOCKET attest NONCE_HEX OUT_FILE   # port 5001: len+nonce -> len+document
       vsock-request.py SOCKET echo TEXT                     # port 5000: prints what comes back
"""
import socket
import struct
import sys


def connect(path, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            sys.exit("vsock: the enclave refused port %d" % port)
        line += c
    if not line.startswith(b"OK "):
        sys.exit("vsock: unexpected reply %r" % line)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            sys.exit("vsock: connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == "attest":
        nonce = bytes.fromhex(sys.argv[3])
        s = connect(path, 5001)
        s.sendall(struct.pack(">I", len(nonce)) + nonce)
        (n,) = struct.unpack(">I", read_exact(s, 4))
        if n == 0 or n > 16384:
            sys.exit("vsock: the enclave returned a document of %d bytes" % n)
        with open(sys.argv[4], "wb") as f:
            f.write(read_exact(s, n))
        print(n)
    elif what == "echo":
        data = sys.argv[3].encode()
        s = connect(path, 5000)
        s.sendall(data)
        print(read_exact(s, len(data)).decode())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
