#!/usr/bin/env python3
"""Helpers for the quarantine fault tests (store_faults.sh, store_kill9.sh).

  store_faults.py make N FIRST OUTDIR FILE...
      Writes N messages OUTDIR/NNNNNN.eml cycling over FILE... (chosen from the corpus,
      held and delivered ones mixed), each made unique by an X-Test-Serial header and its
      own Message-ID; serials start at FIRST.
  store_faults.py deferred RESULT.json...
      Prints the files whose last answer was not 250 (to send again, as a client would).
  store_faults.py check EXPECTED.jsonl MAILBOX QUARANTINE_DIR|postgresql:DSN FILE...
      Every FILE (by serial) must be exactly once in the mailbox or among the held
      messages: delivered ones with one X-Policy-Verdict and an engine verdict that does
      not hold them, held ones with an engine verdict that does. Exit 0 when it adds up.
EXPECTED.jsonl is `policyctl scan --json` over the generated files.
"""
import email
import email.policy
import json
import os
import re
import sqlite3
import sys


def serial_of(raw):
    m = re.search(rb"^X-Test-Serial: (\d+)", raw, re.M)
    return int(m.group(1)) if m else None


def make(n, first, outdir, files):
    os.makedirs(outdir, exist_ok=True)
    blobs = [open(f, "rb").read() for f in files]
    for i in range(n):
        s = first + i
        raw = blobs[i % len(blobs)]
        raw = re.sub(rb"(?im)^Message-ID:.*\r?\n", b"", raw, count=1)
        head = b"X-Test-Serial: %d\r\nMessage-ID: <fault-%d@stannes.example>\r\n" % (s, s)
        with open(os.path.join(outdir, "%06d.eml" % s), "wb") as f:
            f.write(head + raw)


def deferred(results):
    last = {}
    for r in results:
        for x in json.load(open(r))["results"]:
            last[x["file"]] = x["code"]
    for f, code in sorted(last.items()):
        if code != 250:
            print(f)


def stored_messages(qdir):
    """(id, status, bytes or None) of every row: the SQLite store's directory, or
    "postgresql:DSN" for the PostgreSQL store (issue 15; read with psql)."""
    if qdir.startswith("postgresql:"):
        import subprocess
        out = subprocess.run(
            ["psql", "-X", "-At", "-F", "\t", qdir[len("postgresql:"):], "-c",
             "SELECT m.id, m.status, coalesce(encode(b.bytes, 'hex'), '-') FROM messages m"
             " LEFT JOIN message_bytes b USING (id)"],
            check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            qid, status, hexed = line.split("\t")
            yield qid, status, None if hexed == "-" else bytes.fromhex(hexed)
        return
    db = sqlite3.connect(os.path.join(qdir, "index.sqlite"))
    for qid, status in db.execute("SELECT id, status FROM messages"):
        path = os.path.join(qdir, "msg", qid + ".eml")
        yield qid, status, open(path, "rb").read() if os.path.exists(path) else None


def check(expected_file, mailbox, qdir, files):
    want = {}
    for line in open(expected_file):
        if line.strip():
            v = json.loads(line)
            want[serial_of(open(v["file"], "rb").read())] = v["action"]
    sent = {serial_of(open(f, "rb").read()) for f in files}
    seen, errors = {}, []
    delivered = held = 0
    for name in sorted(os.listdir(mailbox)):
        if not name.endswith(".eml"):
            continue
        raw = open(os.path.join(mailbox, name), "rb").read()
        s = serial_of(raw)
        if s is None:
            continue  # a notice (e.g. the admin alert), not test mail
        seen.setdefault(s, []).append("mailbox/" + name)
        delivered += 1
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        verdicts = msg.get_all("X-Policy-Verdict", [])
        if len(verdicts) != 1:
            errors.append("serial %d delivered with %d X-Policy-Verdict headers (unfiltered?)" % (s, len(verdicts)))
        if want.get(s) == "quarantine":
            errors.append("serial %d delivered, but the engine holds it: let through unfiltered" % s)
    for qid, status, raw in stored_messages(qdir):
        if raw is None:
            if status == "held":
                errors.append("held %s: message file missing" % qid)
            continue
        s = serial_of(raw)
        if s is None:
            continue
        seen.setdefault(s, []).append("quarantine/" + qid)
        held += 1
        if want.get(s) not in (None, "quarantine"):
            errors.append("serial %d held, but the engine says %s" % (s, want.get(s)))
    for s in sorted(sent):
        where = seen.get(s, [])
        if not where:
            errors.append("serial %d: accepted but neither delivered nor held (lost)" % s)
        elif len(where) > 1:
            errors.append("serial %d: stored/delivered %d times: %s" % (s, len(where), where))
    print("check: %d messages, %d delivered, %d held, %d problems" % (len(sent), delivered, held, len(errors)))
    for e in errors[:30]:
        print("FAIL:", e)
    return 1 if errors else 0


def main():
    cmd = sys.argv[1]
    if cmd == "make":
        make(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])
        return 0
    if cmd == "deferred":
        deferred(sys.argv[2:])
        return 0
    if cmd == "check":
        return check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
