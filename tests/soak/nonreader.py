#!/usr/bin/env python3
"""Soak companion: CLIENTS connections that pipeline requests as fast as the socket takes them
and never read a byte (4 KiB receive buffer). A connection the gateway drops (write timeout) is
replaced at once. Runs for SECONDS, then prints what it sent and how many connections were
dropped by the server.

usage: nonreader.py PORT SECONDS [CLIENTS]"""
import selectors
import socket
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 50
REQ = (b"GET /healthz HTTP/1.1\r\nHost: soak\r\n\r\n" * 64 +
       b"GET /hls/vod/index.m3u8 HTTP/1.1\r\nHost: soak\r\n\r\n" * 4)
sel = selectors.DefaultSelector()
sent = dropped = opened = 0


def connect():
    global opened
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    sel.register(s, selectors.EVENT_WRITE)
    opened += 1


for _ in range(clients):
    connect()
end = time.time() + seconds
while time.time() < end:
    for key, _ in sel.select(0.5):
        s = key.fileobj
        try:
            n = s.send(REQ)
            sent += n
        except BlockingIOError:
            continue
        except OSError:
            sel.unregister(s)
            s.close()
            dropped += 1
            connect()
for key in list(sel.get_map().values()):
    key.fileobj.close()
print("nonreader: %d connections opened, %d dropped by the server, %.1f MB of requests sent"
      % (opened, dropped, sent / 1e6))
