#!/usr/bin/env python3
"""The daemon's lines, read from the stream journald would read, carry sd-daemon priorities.

systemd gives a service a stream socket as stderr and sets JOURNAL_STREAM=<dev>:<inode> of
that socket; journald takes a leading "<N>" as the line's priority. Here the test is
journald: it opens the socket pair, sets JOURNAL_STREAM the same way and starts the real
policy-milter (a copy of the shipped configuration and rules, random loopback port). Then
it breaks a rule file and sends SIGHUP: the refused reload is an error and must arrive as
"<3>...", the start-up line as "<6>...", and no line may carry a timestamp of its own
(journald adds one). A last run with JOURNAL_STREAM naming some other file checks that
the prefixes are not written to a stream that is not the journal's.

usage: journal_priority.py POLICY_MILTER SOURCE_DIR
"""
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(tmp, src):
    rules = os.path.join(tmp, "rules")
    shutil.copytree(os.path.join(src, "rules"), rules)
    text = open(os.path.join(src, "conf", "policy-milter.toml")).read()
    text = re.sub(r'(?m)^dir = "\.\./rules"', 'dir = "%s"' % rules, text)
    text = re.sub(r'(?m)^socket = .*', 'socket = "inet:%d@127.0.0.1"' % free_port(), text)
    text = re.sub(r'(?m)^stats_file = .*', 'stats_file = "%s/stats.json"' % tmp, text)
    text = re.sub(r'(?m)^cache_dir = .*', 'cache_dir = "%s/cache"' % tmp, text)
    text = re.sub(r'(?m)^dir = "/var/lib/policy-milter/quarantine"', 'dir = "%s/quarantine"' % tmp, text)
    path = os.path.join(tmp, "policy-milter.toml")
    open(path, "w").write(text)
    return path, rules


class Reader:
    """Lines from the daemon's stderr socket, with a deadline."""

    def __init__(self, sock):
        self.sock, self.buf, self.lines = sock, b"", []
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ)

    def until(self, pattern, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for line in self.lines:
                if re.search(pattern, line):
                    return line
            if self.sel.select(timeout=0.2):
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [d.decode("utf-8", "replace") for d in done]
        sys.exit("no line matching %r within %d s; got:\n%s" % (pattern, seconds, "\n".join(self.lines)))


def start(milter, cfg, journal_stream_of=None):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = dict(os.environ)
    st = os.fstat(journal_stream_of if journal_stream_of is not None else theirs.fileno())
    env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    p = subprocess.Popen([milter, "--foreground", "--config", cfg], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=theirs.fileno(), env=env)
    theirs.close()
    return p, Reader(ours)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main():
    milter, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        cfg, rules = config(tmp, src)
        p, r = start(milter, cfg)
        try:
            up = r.until(r"listening on", 120)
            assert up.startswith("<6>policy-milter "), "start-up line: %r" % up
            # A broken rule file: the reload is refused (an error), the old rules keep running.
            with open(os.path.join(rules, "abusive.toml"), "a") as f:
                f.write("\n[[rule]\nthis is not toml\n")
            p.send_signal(signal.SIGHUP)
            err = r.until(r"reload refused", 120)
            assert err.startswith("<3>"), "error line without priority 3: %r" % err
            for line in r.lines:
                assert re.match(r"<[0-7]>", line), "line without a priority prefix: %r" % line
                assert not re.match(r"<[0-7]>\d{4}-\d\d-\d\d", line), "timestamp under journald: %r" % line
        finally:
            stop(p)
        print("journald stream: start-up <6>, refused reload <3>, %d lines, no timestamps" % len(r.lines))

        # JOURNAL_STREAM set, but stderr is not that stream (a child of a service started
        # from a terminal): plain lines with one timestamp.
        shutil.rmtree(rules)
        shutil.copytree(os.path.join(src, "rules"), rules)
        with open(os.path.join(tmp, "other"), "w") as other:
            p, r = start(milter, cfg, journal_stream_of=other.fileno())
            try:
                up = r.until(r"listening on", 120)
                assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} info: policy-milter ", up), up
            finally:
                stop(p)
        print("other stream: '%s...'" % up[:40])


if __name__ == "__main__":
    main()
