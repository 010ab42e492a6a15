#!/usr/bin/env python3
"""Writes an encrypted Go 2.9.10 store: stream ENC (subjects foo, bar), ten
messages "ENCRYPTED PAYLOAD!!" on foo, then 3 on bar, a durable pull
consumer dlc on foo with five messages acknowledged. Usage: gen.py PORT."""
import json, socket, sys, time

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")

def line():
    return f.readline().decode().rstrip("\r\n")

def send(b):
    s.sendall(b)

def read_msg():
    while True:
        l = line()
        if l.startswith("MSG") or l.startswith("HMSG"):
            parts = l.split()
            if l.startswith("HMSG"):
                n = int(parts[-1])
                reply = parts[3] if len(parts) == 6 else None
            else:
                n = int(parts[-1])
                reply = parts[3] if len(parts) == 5 else None
            body = f.read(n + 2)[:-2]
            return parts[1], reply, body
        if l == "PING":
            send(b"PONG\r\n")
        elif l.startswith("-ERR"):
            raise SystemExit(l)

line()  # INFO
send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nSUB _R 1\r\nSUB _M 2\r\n')

def req(subj, body):
    b = body.encode() if isinstance(body, str) else body
    send(b"PUB %s _R %d\r\n%s\r\n" % (subj.encode(), len(b), b))
    _, _, r = read_msg()
    return r

print(req("$JS.API.STREAM.CREATE.ENC", json.dumps({"name": "ENC", "subjects": ["foo", "bar"], "storage": "file"})))
for i in range(10):
    req("foo", "ENCRYPTED PAYLOAD!!")
for i in range(3):
    req("bar", "SECRET BAR %d" % i)
print(req("$JS.API.CONSUMER.DURABLE.CREATE.ENC.dlc", json.dumps({"stream_name": "ENC", "config": {"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo", "deliver_policy": "all"}})))
b = json.dumps({"batch": 5}).encode()
send(b"PUB $JS.API.CONSUMER.MSG.NEXT.ENC.dlc _M %d\r\n%s\r\n" % (len(b), b))
replies = []
for i in range(5):
    _, reply, body = read_msg()
    replies.append(reply)
for r in replies:
    req(r, "+ACK")
print(req("$JS.API.CONSUMER.INFO.ENC.dlc", ""))
print(req("$JS.API.STREAM.INFO.ENC", ""))
