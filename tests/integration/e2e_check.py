#!/usr/bin/env python3
"""Checks one end-to-end run: every message Postfix accepted is either in the mailbox
(tagged as the engine says) or in the quarantine (with the engine's categories), nothing
is lost, nothing is counted twice, and no forged X-Policy-* header survives.

  e2e_check.py EXPECTED.jsonl MAILBOX_DIR QUARANTINE_DIR SENT_COUNT [--forged MARK]
               [--maillog FILE]
EXPECTED.jsonl is `policyctl scan --json` over the same files (envelope from headers, as
scripts/lib/sendmail.py sends them). Exit 0 when everything adds up; prints a summary.
"""
import email
import email.policy
import json
import os
import sqlite3
import sys


def norm_cats(cats):
    return sorted(c.strip() for c in cats if c.strip())


def main():
    expected_file, mailbox, qdir, sent = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    opts = dict(zip(sys.argv[5::2], sys.argv[6::2]))
    forged = opts.get("--forged")
    # Queue ids Postfix deferred (4xx from the milter, e.g. killed after storing, before
    # answering): such a stored attempt was not counted as sent; its retry is.
    deferred_ids = set()
    if "--maillog" in opts and os.path.exists(opts["--maillog"]):
        for line in open(opts["--maillog"], errors="replace"):
            if "milter-reject:" in line and ": 4." in line:
                deferred_ids.add(line.split(": milter-reject:")[0].rsplit(" ", 1)[-1])
    expected = {}
    for line in open(expected_file):
        line = line.strip()
        if not line:
            continue
        v = json.loads(line)
        # The engine's JSON names the file; the Message-ID links it to what arrived.
        with open(v["file"], "rb") as f:
            hdrs = email.message_from_binary_file(f, policy=email.policy.compat32)
        mid = str(hdrs.get("Message-ID", "")).strip().strip("<>")
        cats = norm_cats(v.get("categories", []))
        expected.setdefault(mid, []).append((v.get("action"), cats))
        # A probable misaddress alone is held for the lookalike recipients only: the
        # others get the message, untagged (issue 13).
        if v.get("action") == "quarantine" and not cats and "probable-misaddress" in v.get("notes", []):
            expected[mid].append(("accept", []))

    errors, delivered, by_action = [], 0, {}
    for name in sorted(os.listdir(mailbox)):
        if not name.endswith(".eml"):
            continue
        msg = email.message_from_binary_file(open(os.path.join(mailbox, name), "rb"),
                                             policy=email.policy.compat32)
        if msg.get("Auto-Submitted", "").startswith("auto-generated"):
            continue  # a notice to a sender (e.g. a misaddress), not test mail
        delivered += 1
        verdicts = msg.get_all("X-Policy-Verdict", [])
        if forged and any(forged in str(v) for k, v in msg.items() if k.lower().startswith("x-policy-")):
            errors.append("%s: forged X-Policy header survived" % name)
        verdicts = [v for v in verdicts if not (forged and forged in v)]
        if len(verdicts) != 1:
            errors.append("%s: %d X-Policy-Verdict headers" % (name, len(verdicts)))
            continue
        action = verdicts[0].split(";")[0].strip()
        by_action[action] = by_action.get(action, 0) + 1
        cats = norm_cats(str(msg.get("X-Policy-Categories", "")).split(","))
        mid = str(msg.get("Message-ID", "")).strip().strip("<>")
        exp = expected.get(mid)
        if exp is None:
            continue  # Postfix-generated id: no expectation to compare with
        want = [e for e in exp if e[0] != "quarantine"]
        if not any(a == action and (action == "accept" or c == cats) for a, c in want):
            errors.append("%s (%s): delivered as %s %s, engine says %s" % (name, mid, action, cats, exp))

    db = sqlite3.connect(os.path.join(qdir, "index.sqlite"))
    rows = db.execute("SELECT id, categories, verdict_json, queue_id, action FROM messages").fetchall()
    # A split message (held for some recipients, delivered to the others) is one message:
    # its delivered copy is counted in the mailbox.
    split = sum(1 for r in rows if r[4] == "split")
    stored_then_deferred = sum(1 for r in rows if r[3] and r[3] in deferred_ids)
    for qid, cats_json, vjson, _, _ in rows:
        by_action["quarantine"] = by_action.get("quarantine", 0) + 1
        cats = norm_cats(json.loads(cats_json))
        if not cats and "probable-misaddress" not in json.loads(vjson or "{}").get("notes", []):
            errors.append("quarantine %s: no category" % qid)
        if not os.path.exists(os.path.join(qdir, "msg", qid + ".eml")):
            errors.append("quarantine %s: message file missing" % qid)
        try:
            json.loads(vjson)
            with open(os.path.join(qdir, "msg", qid + ".eml"), "rb") as f:
                stored = email.message_from_binary_file(f, policy=email.policy.compat32)
            mid = str(stored.get("Message-ID", "")).strip().strip("<>")
        except (ValueError, OSError):
            errors.append("quarantine %s: bad verdict JSON or message file" % qid)
            continue
        exp = expected.get(mid)
        if exp is not None and not any(a == "quarantine" and c == cats for a, c in exp):
            errors.append("quarantine %s (%s): %s, engine says %s" % (qid, mid, cats, exp))

    # A held message sent again with the same envelope and bytes (a client's retry, or
    # this test re-sending a corpus file) is stored once and audited "retried".
    retried = db.execute("SELECT count(*) FROM audit WHERE action = 'retried'").fetchone()[0]
    # ... except a split one's: its retry is delivered again, and counted in the mailbox.
    retried -= db.execute("SELECT count(*) FROM audit JOIN messages ON messages.id = audit.message_id"
                          " WHERE audit.action = 'retried' AND messages.action = 'split'").fetchone()[0]
    total = delivered + len(rows) - split + retried - stored_then_deferred
    print("e2e: sent %d, delivered %d, quarantined %d (+%d retries of held mail, %d of them "
          "after a deferral), by action %s" % (sent, delivered, len(rows), retried,
                                               stored_then_deferred, json.dumps(by_action, sort_keys=True)))
    if total != sent:
        errors.append("counts do not add up: %d delivered + %d quarantined + %d retried - %d "
                      "stored then deferred != %d sent" %
                      (delivered, len(rows), retried, stored_then_deferred, sent))
    for e in errors[:30]:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
