# Free loopback ports for test and benchmark instances. Source this file.
#
#   free_ports N   prints the first of N consecutive ports that are free on 127.0.0.1
#
# The ports are drawn below the kernel's ephemeral range (ip_local_port_range, 32768-60999
# on Debian): a port chosen inside it can be taken, between the choice and the bind, by any
# outgoing connection on the machine (an SMTP client, curl, a parallel test), and Postfix's
# master then refuses to start. Each candidate is bound once to check it is free; two
# tests running at once can still draw the same ports, but only by chance (1 in ~2,000).
free_ports() {
  python3 - "${1:-1}" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
except OSError:
    lo, hi = 32768, 60999
# The widest stretch outside the ephemeral range and above the well-known ports.
start, end = (10000, lo) if lo - 10000 >= 65535 - hi else (hi + 1, 65536)
for _ in range(500):
    base = random.randrange(start, end - n)
    socks = []
    try:
        for port in range(base, base + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("free_ports: no %d free consecutive ports in %d-%d" % (n, start, end))
PY
}
