#!/usr/bin/env python3
"""Latency of a normal request to policy-review while N slow clients hold connections.

usage: bench/review/slow_clients.py PORT [SLOW=200] [ADDRESSES=8] [REQUESTS=50]

Opens SLOW connections to 127.0.0.1:PORT from 127.0.0.2 .. 127.0.0.(1+ADDRESSES), each
sending one header byte every 2 s (never finishing), then times REQUESTS sequential
GET /app.css from 127.0.0.1 and prints p50/p95/max in ms and how many got an answer.
Run against `policy-review --listen 127.0.0.1:PORT` (figures in bench/README.md).
"""
import socket, sys, threading, time, http.client

port = int(sys.argv[1])
slow = int(sys.argv[2]) if len(sys.argv) > 2 else 200
addrs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
reqs = int(sys.argv[4]) if len(sys.argv) > 4 else 50
socks, stop = [], False
for i in range(slow):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % addrs), 0))
    s.connect(("127.0.0.1", port))
    s.send(b"G")
    socks.append(s)

def drip():
    while not stop:
        for s in socks:
            try: s.send(b"E")
            except OSError: pass
        time.sleep(2)

threading.Thread(target=drip, daemon=True).start()
time.sleep(1)
lat, ok = [], 0
for _ in range(reqs):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/app.css")
        ok += c.getresponse().status == 200
    except OSError:
        pass
    lat.append((time.monotonic() - t) * 1000)
stop = True
lat.sort()
print("slow=%d from %d addresses: %d/%d answered, p50 %.1f ms, p95 %.1f ms, max %.1f ms" %
      (slow, addrs, ok, reqs, lat[len(lat) // 2], lat[int(len(lat) * 0.95) - 1], lat[-1]))
