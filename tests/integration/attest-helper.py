#!/usr/bin/env python3
"""Test helper for the attestation integration tests and bench (standard library only).

  attest-helper.py rpc-image SOCK Describe|Measure EIF   one Images call: JSON {code, ...}
  attest-helper.py rpc-attest SOCK ENCLAVE_ID [NONCE_HEX] one Enclaves.Attest: JSON {code, ...}
  attest-helper.py port-attest VSOCK NONCE_HEX OUT        a document from the guest's port 5001
  attest-helper.py nsm-checks VSOCK                       NSM passthrough (port 5002) checks
  attest-helper.py attest-loop VSOCK SECONDS              documents/s and latency p50/p99 (JSON)

A minimal ttrpc client (10-byte frame header, hand-encoded protobuf), a minimal CBOR codec
(the nsm-api subset) and the Firecracker-style vsock bridge (CONNECT <port>)."""
import json
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttrpc_wire import Conn, pb, pb_decode, read_varint, varint  # noqa: E402,F401

pb_field = pb


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        c = s.recv(min(65536, n - len(buf)))
        if not c:
            fail(f"EOF after {len(buf)} of {n} bytes")
        buf += c
    return bytes(buf)


def ttrpc_call(sock_path, service, method, payload):
    c = Conn(sock_path, timeout=30)
    try:
        return c.call(service, method, payload)
    except EOFError as e:
        fail(str(e))
    finally:
        c.close()


def measurements(buf):
    m = pb_decode(buf)
    pcrs = {}
    for p in m.get(2, []):
        f = pb_decode(p)
        pcrs["PCR%d" % f.get(1, [0])[0]] = f.get(2, [b""])[0].hex()
    return {"HashAlgorithm": m.get(1, [b""])[0].decode(), **pcrs}


def rpc_image(sock, method, path):
    code, msg, payload = ttrpc_call(sock, "Images", method, pb_field(1, path))
    out = {"code": code, "message": msg}
    if code == 0:
        f = pb_decode(payload)
        if method == "Measure":
            out["Measurements"] = measurements(f.get(1, [b""])[0])
        else:
            out["EifVersion"] = f.get(1, [0])[0]
            out["Measurements"] = measurements(f.get(2, [b""])[0])
            out["IsSigned"] = bool(f.get(3, [0])[0])
            out["CheckCRC"] = bool(f.get(5, [0])[0])
            out["FileSize"] = f.get(8, [0])[0]
            out["SectionCount"] = f.get(9, [0])[0]
            out["KernelFormat"] = f.get(10, [b""])[0].decode()
            md = pb_decode(f.get(7, [b""])[0])
            out["ImageName"] = md.get(1, [b""])[0].decode()
    print(json.dumps(out))


def rpc_attest(sock, enclave_id, nonce_hex=""):
    req = pb_field(1, enclave_id)
    if nonce_hex:
        req += pb_field(3, bytes.fromhex(nonce_hex))
    code, msg, payload = ttrpc_call(sock, "Enclaves", "Attest", req)
    out = {"code": code, "message": msg}
    if code == 0:
        out["DocumentSize"] = len(pb_decode(payload).get(1, [b""])[0])
    print(json.dumps(out))


# --- CBOR (definite lengths; the nsm-api subset) ---------------------------------------------
def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor_enc(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        return cbor_head(3, len(v.encode())) + v.encode()
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor_enc(x) for x in v)
    if isinstance(v, dict):
        return cbor_head(5, len(v)) + b"".join(cbor_enc(k) + cbor_enc(x) for k, x in v.items())
    raise TypeError(v)


def cbor_dec(buf, i=0):
    ib = buf[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if major == 7:
        return {20: False, 21: True, 22: None}[ai], i
    if ai < 24:
        n = ai
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
        n = int.from_bytes(buf[i:i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(buf[i:i + n]), i + n
    if major == 3:
        return buf[i:i + n].decode(), i + n
    if major == 4:
        out = []
        for _ in range(n):
            x, i = cbor_dec(buf, i)
            out.append(x)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = cbor_dec(buf, i)
            out[k], i = cbor_dec(buf, i)
        return out, i
    if major == 6:
        return cbor_dec(buf, i)
    raise ValueError(f"major {major}")


# --- vsock bridge ----------------------------------------------------------------------------
def connect(vsock, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(vsock)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            fail(f"port {port}: bridge closed before OK")
        line += c
    if not line.startswith(b"OK "):
        fail(f"port {port}: {line!r}")
    return s


def framed(s, payload):
    s.sendall(struct.pack(">I", len(payload)) + payload)
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    return recv_exact(s, n)


def port_attest(vsock, nonce_hex, out):
    s = connect(vsock, 5001)
    doc = framed(s, bytes.fromhex(nonce_hex))
    s.close()
    if not doc:
        fail("port 5001 answered an empty document")
    with open(out, "wb") as f:
        f.write(doc)


def nsm_checks(vsock):
    s = connect(vsock, 5002)

    def nsm(req):
        resp, _ = cbor_dec(framed(s, cbor_enc(req)))
        return resp

    def pcr(i):
        r = nsm({"DescribePCR": {"index": i}})
        if "DescribePCR" not in r:
            fail(f"DescribePCR {i}: {r}")
        return r["DescribePCR"]

    before = pcr(16)
    if before["lock"] or before["data"] != bytes(48):
        fail(f"PCR16 at boot: {before}")
    r = nsm({"ExtendPCR": {"index": 16, "data": b"attest-guest"}})
    if "ExtendPCR" not in r:
        fail(f"ExtendPCR 16: {r}")
    after = pcr(16)
    if after["data"] == before["data"] or after["data"] != r["ExtendPCR"]["data"]:
        fail(f"ExtendPCR did not change DescribePCR: {before} -> {after}")
    print("ExtendPCR 16 changes DescribePCR: ok")
    r = nsm({"LockPCR": {"index": 16}})
    if r != "LockPCR":
        fail(f"LockPCR 16: {r}")
    if not pcr(16)["lock"]:
        fail("PCR16 not shown locked")
    r = nsm({"ExtendPCR": {"index": 16, "data": b"more"}})
    if r != {"Error": "ReadOnlyIndex"}:
        fail(f"ExtendPCR on a locked PCR: {r}")
    print("ExtendPCR after LockPCR: ReadOnlyIndex: ok")
    r = nsm({"ExtendPCR": {"index": 0, "data": b"x"}})
    if r != {"Error": "ReadOnlyIndex"}:
        fail(f"ExtendPCR 0: {r}")
    print("ExtendPCR 0: ReadOnlyIndex: ok")
    r = nsm({"ExtendPCR": {"index": 32, "data": b"x"}})
    if r != {"Error": "InvalidIndex"}:
        fail(f"ExtendPCR 32: {r}")
    seen = set()
    for _ in range(3):
        r = nsm("GetRandom")
        rnd = r.get("GetRandom", {}).get("random", b"") if isinstance(r, dict) else b""
        if len(rnd) < 24 or rnd in seen:
            fail(f"GetRandom: {r}")
        seen.add(rnd)
    print("GetRandom: fresh bytes: ok")
    r = nsm("DescribeNSM")
    if not isinstance(r, dict) or "DescribeNSM" not in r:
        fail(f"DescribeNSM: {r}")
    print(json.dumps({"module_id": r["DescribeNSM"].get("module_id"),
                      "locked_pcrs": r["DescribeNSM"].get("locked_pcrs")}))
    # garbage gets an error answer, the connection and the daemon live on
    s.sendall(struct.pack(">I", 3) + b"\xff\x00\x01")
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    r, _ = cbor_dec(recv_exact(s, n))
    if not isinstance(r, dict) or "Error" not in r:
        fail(f"garbage request: {r}")
    r = nsm({"Attestation": {"user_data": None, "nonce": b"nsm-nonce", "public_key": None}})
    doc = r.get("Attestation", {}).get("document") if isinstance(r, dict) else None
    if not doc:
        fail(f"Attestation: {r}")
    s.close()
    print("NSM passthrough: ok")


def attest_loop(vsock, seconds):
    s = connect(vsock, 5001)
    lat = []
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        doc = framed(s, os.urandom(32))
        lat.append(time.monotonic() - t0)
        if not doc:
            fail("empty document")
        s.close()
        s = connect(vsock, 5001)
    s.close()
    wall = time.monotonic() - start
    lat.sort()
    print(json.dumps({"documents": len(lat), "per_second": len(lat) / wall,
                      "p50_ms": 1000 * lat[len(lat) // 2],
                      "p99_ms": 1000 * lat[min(len(lat) - 1, (len(lat) * 99) // 100)]}))


def doc_cert(path):
    """Print the leaf certificate a COSE_Sign1 attestation document carries, as hex DER."""
    cose, _ = cbor_dec(open(path, "rb").read())
    payload, _ = cbor_dec(cose[2])
    print(payload["certificate"].hex())


def state_cert(path):
    """Print the leaf certificate saved in an <id>.attest file, as hex DER."""
    state, _ = cbor_dec(open(path, "rb").read())
    print(state["certificate"].hex())


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "rpc-image":
        rpc_image(*args)
    elif cmd == "rpc-attest":
        rpc_attest(*args)
    elif cmd == "port-attest":
        port_attest(*args)
    elif cmd == "nsm-checks":
        nsm_checks(*args)
    elif cmd == "doc-cert":
        doc_cert(*args)
    elif cmd == "state-cert":
        state_cert(*args)
    elif cmd == "attest-loop":
        attest_loop(args[0], float(args[1]))
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
