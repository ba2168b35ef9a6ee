#!/usr/bin/env python3
"""Sends .eml files over SMTP the way a school mail client would, and reports each answer.

The envelope comes from the headers: MAIL FROM = From, RCPT TO = To + Cc + Bcc.
  sendmail.py --port 2525 [--clients 20] [--per-connection 10] [--repeat N]
              [--add-header 'X-Policy-Verdict: accept'] [--json OUT] FILE...
Prints one line per message (file, SMTP code, elapsed ms) unless --quiet; --json writes
a list of {file, code, reply, ms, at (Unix time of the answer), from, rcpts, n} for the
tests and the benchmark.
A message whose recipients are all refused gets the highest of their codes.
"""
import argparse
import email.utils
import json
import smtplib
import sys
import threading
import time
from email.parser import BytesHeaderParser
from email import policy as email_policy


def envelope(raw):
    msg = BytesHeaderParser(policy=email_policy.compat32).parsebytes(raw)
    frm = email.utils.getaddresses(msg.get_all("From", []))
    rcpts = email.utils.getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []) +
                                     msg.get_all("Bcc", []))
    sender = frm[0][1] if frm and frm[0][1] else "postmaster@stannes.example"
    return sender, [a for _, a in rcpts if "@" in a] or ["nobody@stannes.example"]


def add_header(raw, header):
    if not header:
        return raw
    return header.encode() + b"\r\n" + raw


def worker(jobs, lock, results, args):
    conn, sent = None, 0
    while True:
        with lock:
            if not jobs:
                break
            n, path, raw = jobs.pop()
        sender, rcpts = envelope(raw)
        t0 = time.monotonic()
        code, reply = 0, ""
        for attempt in range(2):
            try:
                if conn is None or sent >= args.per_connection:
                    if conn is not None:
                        try:
                            conn.quit()
                        except Exception:
                            pass
                    conn = smtplib.SMTP("127.0.0.1", args.port, timeout=args.timeout)
                    conn.ehlo("client.stannes.example")
                    sent = 0
                refused = conn.sendmail(sender, rcpts, add_header(raw, args.add_header))
                code, reply = 250, "ok" if not refused else "some refused"
                sent += 1
                break
            except smtplib.SMTPResponseException as e:
                code, reply = e.smtp_code, e.smtp_error.decode("latin-1", "replace")
                try:
                    conn.rset()
                except Exception:
                    conn = None
                break
            except smtplib.SMTPRecipientsRefused as e:
                # The server's own code: a 4xx (e.g. the milter unreachable) is a deferral.
                codes = [c for c, _ in e.recipients.values()] or [550]
                code, reply = max(codes), "all recipients refused"
                conn = None
                break
            except (smtplib.SMTPException, OSError) as e:
                code, reply = -1, str(e)
                conn = None  # reconnect once
        ms = (time.monotonic() - t0) * 1000.0
        with lock:
            results.append({"n": n, "file": path, "code": code, "reply": reply, "ms": ms,
                            "at": time.time(), "from": sender, "rcpts": rcpts})
            if not args.quiet:
                print("%-60s %4d %8.1f ms %s" % (path.split("/")[-1], code, ms, reply[:60]), flush=True)
    if conn is not None:
        try:
            conn.quit()
        except Exception:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--per-connection", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=1, help="send the list N times")
    ap.add_argument("--count", type=int, default=0, help="send exactly N messages (cycling)")
    ap.add_argument("--add-header", default="")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    blobs = [(p, open(p, "rb").read()) for p in args.files]
    order = blobs * args.repeat
    if args.count:
        order = [blobs[i % len(blobs)] for i in range(args.count)]
    jobs = [(i, p, b) for i, (p, b) in enumerate(order)][::-1]
    lock, results = threading.Lock(), []
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(jobs, lock, results, args))
               for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    results.sort(key=lambda r: r["n"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"wall_s": wall, "results": results}, f)
    ok = sum(1 for r in results if r["code"] == 250)
    print("sent %d/%d accepted by Postfix in %.1f s" % (ok, len(results), wall), file=sys.stderr)


if __name__ == "__main__":
    main()
