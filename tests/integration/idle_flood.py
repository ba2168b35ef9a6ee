#!/usr/bin/env python3
"""Opens N connections to a unix socket and holds them without sending a byte, until killed
(or MAX_S seconds). Writes COUNT opened to READY_FILE once done opening.
  idle_flood.py SOCKET N READY_FILE [MAX_S]"""
import resource, socket, sys, time

path, n, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
max_s = float(sys.argv[4]) if len(sys.argv) > 4 else 120
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        held.append(s)
    except OSError:
        s.close()
open(ready, "w").write("%d\n" % len(held))
time.sleep(max_s)
