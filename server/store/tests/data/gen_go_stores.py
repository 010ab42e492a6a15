#!/usr/bin/env python3
"""Regenerates the Go-written file stores in this folder.

Runs Debian's nats-server 2.9.10 (/usr/sbin/nats-server) with JetStream in a
temporary store directory, drives it over the client protocol, stops it, and
copies each stream's directory (meta.inf, meta.sum, msgs/) here, next to an
`expect.json` with what the Go server reported for the stream after a
restart on the same files. The tests in ../file_go_compat.rs read both.

Usage: python3 gen_go_stores.py   (from anywhere; needs the Go server)
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GO = "/usr/sbin/nats-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    def __init__(self, port):
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
            b"SUB _INBOX.gen.* 1\r\nPING\r\n"
        )
        while self._line() != b"PONG":
            pass
        self.rid = 0

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _payload(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def request(self, subject, payload=b"", hdr=b""):
        self.rid += 1
        reply = "_INBOX.gen.%d" % self.rid
        if hdr:
            total = len(hdr) + len(payload)
            op = "HPUB %s %s %d %d\r\n" % (subject, reply, len(hdr), total)
            self.sock.sendall(op.encode() + hdr + payload + b"\r\n")
        else:
            op = "PUB %s %s %d\r\n" % (subject, reply, len(payload))
            self.sock.sendall(op.encode() + payload + b"\r\n")
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            if parts[0] == b"MSG":
                body = self._payload(int(parts[-1]))
            elif parts[0] == b"HMSG":
                body = self._payload(int(parts[-1]))[int(parts[-2]) :]
            else:
                continue
            if parts[1].decode() == reply:
                return json.loads(body) if body else {}

    def api(self, what, body):
        return self.request("$JS.API." + what, json.dumps(body).encode())


def start(sd, port):
    return subprocess.Popen(
        [GO, "-js", "-sd", sd, "-p", str(port), "-a", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    proc.wait(timeout=20)


def stream_dir(sd, name):
    return os.path.join(sd, "jetstream", "$G", "streams", name)


def hdr(k, v):
    return ("NATS/1.0\r\n%s: %s\r\n\r\n" % (k, v)).encode()


def orders(c):
    """Headers, interior deletes, a secure erase and a removed first."""
    r = c.api("STREAM.CREATE.ORDERS", {"name": "ORDERS", "subjects": ["orders.>"], "storage": "file"})
    assert "error" not in r, r
    for i in range(1, 13):
        subj = "orders.%s" % "abc"[i % 3]
        h = hdr("Nats-Msg-Id", "id-%d" % i) if i % 4 == 0 else b""
        ack = c.request(subj, b"order number %d" % i, h)
        assert ack.get("seq") == i, ack
    for seq, erase in ((1, False), (4, False), (6, True)):
        r = c.api("STREAM.MSG.DELETE.ORDERS", {"seq": seq, "no_erase": not erase})
        assert r.get("success"), r


def limits(c):
    """Max bytes small enough for 32 KB blocks: several blocks, the oldest gone."""
    r = c.api(
        "STREAM.CREATE.LIMITS",
        {"name": "LIMITS", "subjects": ["lim.*"], "storage": "file", "max_bytes": 33000},
    )
    assert "error" not in r, r
    for i in range(1000):
        c.request("lim.%d" % (i % 7), b"%010d" % i)


def kv(c):
    """Per-subject limit 2 (a KV bucket's shape), with a subject purged."""
    r = c.api(
        "STREAM.CREATE.KV_CFG",
        {
            "name": "KV_CFG",
            "subjects": ["$KV.CFG.>"],
            "storage": "file",
            "max_msgs_per_subject": 2,
            "allow_rollup_hdrs": True,
            "deny_delete": True,
        },
    )
    assert "error" not in r, r
    for i in range(20):
        c.request("$KV.CFG.key%d" % (i % 5), b"value %d" % i)
    r = c.api("STREAM.PURGE.KV_CFG", {"filter": "$KV.CFG.key3"})
    assert r.get("success"), r


def crashed(c, name):
    """Killed (SIGKILL) with writes after the last index write: stale .idx."""
    r = c.api("STREAM.CREATE." + name, {"name": name, "subjects": [name.lower() + ".*"], "storage": "file"})
    assert "error" not in r, r
    for i in range(1, 6):
        c.request("%s.%d" % (name.lower(), i % 2), b"before %d" % i)
    r = c.api("STREAM.MSG.DELETE." + name, {"seq": 3, "no_erase": True})
    assert r.get("success"), r
    for i in range(6, 9):
        c.request("%s.%d" % (name.lower(), i % 2), b"after %d" % i)


def info(c, name):
    st = c.api("STREAM.INFO." + name, {"deleted_details": True, "subjects_filter": ">"})["state"]
    for k in ("first_ts", "last_ts"):
        st.pop(k, None)
    return st


def run(sd, port, work, sig):
    proc = start(sd, port)
    try:
        c = Client(port)
        work(c)
        c.sock.close()
    finally:
        stop(proc, sig)


def expectations(sd, port, names):
    """What Go itself recovers from the files, after a restart."""
    proc = start(sd, port)
    try:
        c = Client(port)
        return {n: info(c, n) for n in names}
    finally:
        c.sock.close()
        stop(proc)


def main():
    work = tempfile.mkdtemp(prefix="gogen-")
    port = free_port()
    clean, crash = os.path.join(work, "clean"), os.path.join(work, "crash")
    run(clean, port, lambda c: (orders(c), limits(c), kv(c)), signal.SIGTERM)
    run(crash, port, lambda c: (crashed(c, "CRASH"), crashed(c, "TORN")), signal.SIGKILL)
    # A torn last record: the tail of TORN's block lost 5 bytes.
    blk = os.path.join(stream_dir(crash, "TORN"), "msgs", "1.blk")
    os.truncate(blk, os.path.getsize(blk) - 5)
    dirs = {}
    for sd, names in ((clean, ["ORDERS", "LIMITS", "KV_CFG"]), (crash, ["CRASH", "TORN"])):
        for n in names:
            dst = os.path.join(HERE, "go", n)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(stream_dir(sd, n), dst, ignore=shutil.ignore_patterns("obs"))
            dirs[n] = dst
        for n, st in expectations(sd, port, names).items():
            with open(os.path.join(dirs[n], "expect.json"), "w") as f:
                json.dump(st, f, indent=1, sort_keys=True)
                f.write("\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
