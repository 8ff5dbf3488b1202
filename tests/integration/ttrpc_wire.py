"""Shared by the python test helpers (attest-helper.py, stress-client.py; standard library only):
hand-encoded protobuf and a ttrpc client connection (10-byte frame header, odd stream ids)."""
import socket
import struct

CALL_TIMEOUT = 120  # a bound on a hang, not a speed assertion


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb(num, value):
    """One field: ints (and bools) as varints, str and bytes length-delimited."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def pb_decode(buf):
    """{field: [values]}; length-delimited values stay bytes."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(val)
    return out


class Conn:
    """One ttrpc connection; several unary calls on it use odd, increasing stream ids."""

    def __init__(self, path, timeout=CALL_TIMEOUT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.stream = 1

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            c = self.s.recv(min(65536, n - len(buf)))
            if not c:
                raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
            buf += c
        return bytes(buf)

    def call(self, service, method, payload=b""):
        """(code, message, payload) of one unary call."""
        req = pb(1, "enclaved.v1." + service) + pb(2, method) + pb(3, payload)
        sid = self.stream
        self.stream += 2
        self.s.sendall(struct.pack(">IIBB", len(req), sid, 1, 0) + req)
        length, rsid, _type, _flags = struct.unpack(">IIBB", self.recv_exact(10))
        body = self.recv_exact(length)
        if rsid != sid:
            raise ValueError(f"answer on stream {rsid}, asked on {sid}")
        resp = pb_decode(body)
        status = pb_decode(resp.get(1, [b""])[0])
        return (status.get(1, [0])[0], status.get(2, [b""])[0].decode(errors="replace"),
                resp.get(2, [b""])[0])

    def close(self):
        self.s.close()
