#!/usr/bin/env python3
"""Readiness probes for infra/infra.sh (Python 3.8+ stdlib only, no pymongo).

Usage:
  probe.py mongo PORT [HOST]            send a real `hello` (OP_MSG) and require ok: 1
  probe.py mongo-backend PORT [HOST]    `listDatabases`: FerretDB answers it from its backend
                                        (PostgreSQL), so ok: 1 means the whole chain works
  probe.py mongo-roundtrip PORT [HOST]  insert a document, read it back, drop the collection
  probe.py postgres PORT [HOST]         PostgreSQL wire protocol: log in as `postgres` (trust
                                        auth) to database `postgres` and run SELECT 1
  probe.py http PORT [HOST]             require any HTTP response to GET /
  probe.py port-free PORT               exit 0 if PORT can be bound on 127.0.0.1
  probe.py free-port START [EXCLUDE...] print the first bindable port >= START (else any free port)

Exit status 0 = success, 1 = failure (reason on stderr).
"""

import http.client
import os
import socket
import struct
import sys

TIMEOUT = float(os.environ.get("WAPI_PROBE_TIMEOUT", "3"))

# --------------------------------------------------------------------------- BSON


class ObjectId(bytes):
    def __repr__(self):
        return "ObjectId(%s)" % self.hex()


def _cstring(s):
    b = s.encode("utf-8")
    if b"\x00" in b:
        raise ValueError("NUL in key")
    return b + b"\x00"


def _element(key, value):
    k = _cstring(key)
    if isinstance(value, bool):
        return b"\x08" + k + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x10" + k + struct.pack("<i", value)
        return b"\x12" + k + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + k + struct.pack("<d", value)
    if isinstance(value, str):
        b = value.encode("utf-8") + b"\x00"
        return b"\x02" + k + struct.pack("<i", len(b)) + b
    if isinstance(value, ObjectId):
        return b"\x07" + k + bytes(value)
    if isinstance(value, dict):
        return b"\x03" + k + encode(value)
    if isinstance(value, (list, tuple)):
        return b"\x04" + k + encode({str(i): v for i, v in enumerate(value)})
    if value is None:
        return b"\x0a" + k
    raise TypeError("cannot encode %r" % (value,))


def encode(doc):
    body = b"".join(_element(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def decode(data, pos=0):
    """Decode one BSON document starting at pos; return (dict, end_pos)."""
    (length,) = struct.unpack_from("<i", data, pos)
    end = pos + length
    pos += 4
    out = {}
    while pos < end - 1:
        t = data[pos]
        pos += 1
        nul = data.index(b"\x00", pos)
        key = data[pos:nul].decode("utf-8")
        pos = nul + 1
        if t == 0x01:
            (v,) = struct.unpack_from("<d", data, pos)
            pos += 8
        elif t in (0x02, 0x0D, 0x0E):  # string, js code, symbol
            (n,) = struct.unpack_from("<i", data, pos)
            v = data[pos + 4 : pos + 4 + n - 1].decode("utf-8", "replace")
            pos += 4 + n
        elif t == 0x03:
            v, pos = decode(data, pos)
        elif t == 0x04:
            d, pos = decode(data, pos)
            v = list(d.values())
        elif t == 0x05:
            (n,) = struct.unpack_from("<i", data, pos)
            v = bytes(data[pos + 5 : pos + 5 + n])
            pos += 5 + n
        elif t == 0x07:
            v = ObjectId(data[pos : pos + 12])
            pos += 12
        elif t == 0x08:
            v = data[pos] == 1
            pos += 1
        elif t in (0x09, 0x11, 0x12):  # datetime, timestamp, int64
            (v,) = struct.unpack_from("<q", data, pos)
            pos += 8
        elif t in (0x0A, 0x06, 0x7F, 0xFF):  # null, undefined, maxkey, minkey
            v = None
        elif t == 0x0B:  # regex: two cstrings
            a = data.index(b"\x00", pos)
            b = data.index(b"\x00", a + 1)
            v = (data[pos:a].decode(), data[a + 1 : b].decode())
            pos = b + 1
        elif t == 0x10:
            (v,) = struct.unpack_from("<i", data, pos)
            pos += 4
        elif t == 0x13:
            v = bytes(data[pos : pos + 16])
            pos += 16
        else:
            raise ValueError("unsupported BSON type 0x%02x for key %r" % (t, key))
        out[key] = v
    return out, end


# --------------------------------------------------------------------- wire protocol

OP_MSG = 2013
_request_id = [0]


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by server after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def command(sock, doc):
    """Send one OP_MSG command (section kind 0 only) and return the reply document."""
    _request_id[0] += 1
    body = struct.pack("<I", 0) + b"\x00" + encode(doc)
    header = struct.pack("<iiii", 16 + len(body), _request_id[0], 0, OP_MSG)
    sock.sendall(header + body)
    length, _req, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
    payload = _recv_exact(sock, length - 16)
    if opcode != OP_MSG:
        raise ValueError("unexpected reply opcode %d" % opcode)
    if response_to != _request_id[0]:
        raise ValueError("reply is for request %d, not %d" % (response_to, _request_id[0]))
    if payload[4] != 0:
        raise ValueError("unexpected reply section kind %d" % payload[4])
    reply, _ = decode(payload, 5)
    return reply


def _ok(reply):
    return reply.get("ok") in (1, 1.0, True)


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def mongo_hello(port, host):
    with connect(host, port) as sock:
        reply = command(sock, {"hello": 1, "$db": "admin"})
    if not _ok(reply):
        raise RuntimeError("hello did not return ok:1: %r" % (reply,))
    return reply


def mongo_backend(port, host):
    # `hello` is answered by FerretDB itself even when its PostgreSQL is down;
    # `listDatabases` has to ask PostgreSQL.
    with connect(host, port) as sock:
        reply = command(sock, {"listDatabases": 1, "nameOnly": True, "$db": "admin"})
    if not _ok(reply):
        raise RuntimeError("listDatabases did not return ok:1: %r" % (reply,))
    return reply


def mongo_roundtrip(port, host):
    db, coll = "wapi_infra_probe", "probe_%d" % os.getpid()
    oid = ObjectId(os.urandom(12))
    doc = {"_id": oid, "n": 42, "s": "héllo", "nested": {"a": [1, 2.5, "x"]}, "flag": True}
    with connect(host, port) as sock:
        r = command(sock, {"insert": coll, "documents": [doc], "$db": db})
        if not _ok(r) or r.get("n") != 1:
            raise RuntimeError("insert failed: %r" % (r,))
        r = command(sock, {"find": coll, "filter": {"_id": oid}, "$db": db})
        if not _ok(r):
            raise RuntimeError("find failed: %r" % (r,))
        batch = r.get("cursor", {}).get("firstBatch", [])
        if len(batch) != 1 or batch[0] != dict(doc):
            raise RuntimeError("read back %r, expected %r" % (batch, doc))
        r = command(sock, {"drop": coll, "$db": db})
        if not _ok(r):
            raise RuntimeError("drop failed: %r" % (r,))
        command(sock, {"dropDatabase": 1, "$db": db})
    return batch[0]


# ------------------------------------------------------------------ PostgreSQL protocol


def _pg_read(sock):
    kind = _recv_exact(sock, 1)
    (length,) = struct.unpack("!i", _recv_exact(sock, 4))
    return kind, _recv_exact(sock, length - 4)


def _pg_error(body):
    """The human part of an ErrorResponse: severity, SQLSTATE and message fields."""
    fields = {}
    for part in body.split(b"\x00"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return "%s %s: %s" % (fields.get("S", "ERROR"), fields.get("C", "?"), fields.get("M", "?"))


def postgres_probe(port, host, user="postgres", database="postgres"):
    """Protocol 3.0 start-up with trust auth, then a simple query; returns the server version."""
    params = b"".join(_cstring(x) for x in ("user", user, "database", database)) + b"\x00"
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    version = "?"
    with connect(host, port) as sock:
        sock.sendall(startup)
        while True:
            kind, body = _pg_read(sock)
            if kind == b"R":
                (code,) = struct.unpack_from("!i", body)
                if code != 0:
                    raise RuntimeError("server asks for authentication (method %d); expected trust" % code)
            elif kind == b"E":
                raise RuntimeError(_pg_error(body))
            elif kind == b"S":
                name, value = body.split(b"\x00")[:2]
                if name == b"server_version":
                    version = value.decode()
            elif kind == b"Z":
                break
        q = b"SELECT 1\x00"
        sock.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        row = None
        while True:
            kind, body = _pg_read(sock)
            if kind == b"D":
                (_ncols, n) = struct.unpack_from("!hi", body)
                row = body[6 : 6 + n]
            elif kind == b"E":
                raise RuntimeError(_pg_error(body))
            elif kind == b"Z":
                break
        sock.sendall(b"X" + struct.pack("!i", 4))
    if row != b"1":
        raise RuntimeError("SELECT 1 returned %r" % (row,))
    return version


def http_probe(port, host):
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    host = args[1] if len(args) > 1 and cmd != "free-port" else "127.0.0.1"
    try:
        if cmd == "mongo":
            r = mongo_hello(int(args[0]), host)
            print("ok: hello answered (maxWireVersion=%s)" % r.get("maxWireVersion"))
        elif cmd == "mongo-backend":
            r = mongo_backend(int(args[0]), host)
            print("ok: listDatabases answered (%d databases)" % len(r.get("databases", [])))
        elif cmd == "postgres":
            print("ok: PostgreSQL %s answered SELECT 1" % postgres_probe(int(args[0]), host))
        elif cmd == "mongo-roundtrip":
            d = mongo_roundtrip(int(args[0]), host)
            print("ok: inserted and read back %r" % (d,))
        elif cmd == "http":
            print("ok: HTTP %d" % http_probe(int(args[0]), host))
        elif cmd == "port-free":
            return 0 if port_free(int(args[0])) else 1
        elif cmd == "free-port":
            start, exclude = int(args[0]), {int(a) for a in args[1:]}
            for p in range(start, min(start + 200, 65536)):
                if p not in exclude and port_free(p):
                    print(p)
                    return 0
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
            s.close()
        else:
            print("unknown probe %r\n%s" % (cmd, __doc__), file=sys.stderr)
            return 2
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"
        print("%s probe failed: %s: %s" % (cmd, type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
