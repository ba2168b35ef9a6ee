#!/usr/bin/env python3
"""policyctl scan over folders and mailboxes (issue 13), through the real binary:

- a directory (recursive only with --recursive), a Maildir (cur/ and new/, not tmp/), an
  mbox (From_ lines, >From unquoted): one result per message, named FILE#N for an mbox,
  the same verdict as the message scanned on its own, and a summary table at the end;
- the exit status is the worst action (0 accept, 3 tag, 4 quarantine), 1 when a path could
  not be scanned;
- what is not mail (an empty file, binary data, text without a header, a directory of
  such files) is an error, never an `accept`;
- an mbox message over [limits] max_message_bytes is judged unscannable without being held
  in memory (peak RSS stays near that of a small scan);
- --explain prints each rule and its clause once, with every piece of evidence under it;
- --from with a sender the milter would not filter says so.

Usage: scan_folders.py POLICYCTL SOURCE_DIR
"""
import glob, json, os, re, resource, shutil, subprocess, sys, tempfile

POLICYCTL, SRC = sys.argv[1], sys.argv[2]
CONF = os.path.join(SRC, "conf", "policy-milter.toml")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args, conf=CONF):
    p = subprocess.run([POLICYCTL, "--config", conf, "scan", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def verdicts(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


tmp = tempfile.mkdtemp(prefix="pm-cli-scan.")
try:
    dev = sorted(glob.glob(os.path.join(SRC, "tests/corpus/dev/*.eml")))
    rc, out, _ = run("--json", *dev[:40])
    single = {os.path.basename(v["file"]): v for v in verdicts(out)}
    held = [f for f in dev[:40] if single[os.path.basename(f)]["action"] == "quarantine"]
    clean = [f for f in dev[:40] if single[os.path.basename(f)]["action"] == "accept"]
    check(len(held) >= 3 and len(clean) >= 3, "the corpus has held and accepted messages")
    check(rc == 4, f"a list with held mail exits 4 (quarantine), got {rc}")
    rc, _, _ = run(clean[0])
    check(rc == 0, f"one accepted message exits 0, got {rc}")

    # --- Maildir: cur/ and new/ are read, tmp/ is not --------------------------------------
    md = os.path.join(tmp, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    picks = [clean[0], held[0], clean[1], held[1]]
    for i, f in enumerate(picks[:3]):
        shutil.copy(f, os.path.join(md, "cur", f"1700000000.{i}.host:2,S"))
    shutil.copy(picks[3], os.path.join(md, "new", "1700000009.9.host"))
    shutil.copy(held[2], os.path.join(md, "tmp", "1700000010.1.host"))  # delivery in progress
    rc, out, err = run("--json", md)
    got = verdicts(out)
    check(len(got) == 4, f"Maildir: 4 results (tmp/ not read), got {len(got)}: {err}")
    check([v["action"] for v in got] == [single[os.path.basename(f)]["action"] for f in picks],
          "Maildir: each message has the verdict it has on its own")
    check(rc == 4, f"Maildir with held mail exits 4, got {rc}")

    # --- mbox: From_ separators, >From unquoted, FILE#N ------------------------------------
    mbox = os.path.join(tmp, "sent.mbox")
    members = [clean[0], held[0], clean[1], held[1], held[2]]
    with open(mbox, "w", newline="") as out_f:
        for f in members:
            body = open(f, newline="", encoding="utf-8", errors="surrogateescape").read().replace("\r\n", "\n")
            body = "\n".join((">" + l) if re.match(r"^>*From ", l) else l for l in body.split("\n"))
            out_f.write("From office@stannes.example Mon Jan  6 09:00:00 2026\n" + body.rstrip("\n") + "\n\n")
        # A message whose body has a From_ line (quoted by the mbox writer) and a >From line.
        out_f.write("From office@stannes.example Mon Jan  6 09:05:00 2026\n"
                    "From: Ada Teacher <ada.teacher@stannes.example>\nTo: colleague@stannes.example\n"
                    "Subject: quoting\n\nFirst line\n>From the minutes: nothing to add.\n"
                    ">>From here on, quoted twice.\n\n")
    rc, out, err = run("--json", mbox)
    got = verdicts(out)
    check(len(got) == 6, f"mbox: 6 results, got {len(got)}: {err}")
    check([v["file"] for v in got] == [f"{mbox}#{i}" for i in range(1, 7)], "mbox: results named FILE#N")
    check([v["action"] for v in got[:5]] == [single[os.path.basename(f)]["action"] for f in members],
          "mbox: each message has the verdict it has as a file")
    check([v["categories"] for v in got[:5]] == [single[os.path.basename(f)]["categories"] for f in members],
          "mbox: each message has the categories it has as a file")
    rc, out, err = run("--segments", mbox)
    check("\nFrom the minutes" in out and ">From here on" in out and ">>From here" not in out,
          "mbox: >From lines lose one '>'")
    check(rc == 4, f"mbox with held mail exits 4, got {rc}")

    # --- the summary ---------------------------------------------------------------------------
    rc, out, err = run(mbox)
    m = re.search(r"summary: (\d+) message\(s\), (\d+) error\(s\)", out)
    check(m and m.group(1) == "6" and m.group(2) == "0", f"summary line: {out[-400:]}")
    n_held = sum(1 for f in members if single[os.path.basename(f)]["action"] == "quarantine")
    check(re.search(rf"^\s+quarantine\s+{n_held}$", out, re.M) is not None, "summary counts held mail")
    check(re.search(rf"^\s+accept\s+{6 - n_held}$", out, re.M) is not None, "summary counts accepted mail")
    cats = {}
    for f in members:
        for c in single[os.path.basename(f)]["categories"]:
            cats[c] = cats.get(c, 0) + 1
    for c, n in cats.items():
        check(re.search(rf"^\s+{re.escape(c)}\s+{n}$", out, re.M) is not None, f"summary counts category {c}")
    rc, out, _ = run("--json", "--summary", mbox)
    last = verdicts(out)[-1]
    check("summary" in last and last["summary"]["messages"] == 6 and last["summary"]["by_action"].get("quarantine") == n_held,
          f"--json --summary: a last summary line: {last}")

    # --- a directory: recursive only when asked ------------------------------------------------
    d = os.path.join(tmp, "exported")
    os.makedirs(os.path.join(d, "2025", "autumn"))
    shutil.copy(clean[2], d)
    shutil.copy(held[0], os.path.join(d, "2025", "autumn"))
    shutil.copy(mbox, os.path.join(d, "2025"))
    rc, out, err = run("--json", d)
    check(len(verdicts(out)) == 1 and rc == 0, f"DIR without --recursive: its own file only (rc {rc})")
    rc, out, err = run("--json", "--recursive", d)
    got = verdicts(out)
    check(len(got) == 8, f"DIR --recursive: 1 + 6 (mbox) + 1 results, got {len(got)}: {err}")
    check(rc == 4, f"DIR --recursive exits 4, got {rc}")

    # --- not mail: an error, never an accept -----------------------------------------------------
    junk = os.path.join(tmp, "junk")
    os.makedirs(junk)
    open(os.path.join(junk, "empty.eml"), "w").close()
    open(os.path.join(junk, "photo.jpg"), "wb").write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(4000))
    open(os.path.join(junk, "notes.txt"), "w").write("Staff meeting notes\nnothing here is mail\n")
    for name, why in (("empty.eml", "empty"), ("photo.jpg", "binary data"), ("notes.txt", "no mail header")):
        rc, out, err = run(os.path.join(junk, name))
        check(rc == 1 and ": accept" not in out and why in err, f"{name}: an error ({why}), rc {rc}: {out} {err}")
    rc, out, err = run(junk)
    check(rc == 1 and ": accept" not in out and "no mail message in this directory" in err,
          f"a directory of non-mail: an error, rc {rc}: {out} {err}")
    os.makedirs(os.path.join(tmp, "empty-dir"))
    rc, out, err = run(os.path.join(tmp, "empty-dir"))
    check(rc == 1, f"an empty directory: an error, rc {rc}")
    rc, out, err = run(clean[0], os.path.join(junk, "notes.txt"))
    check(rc == 1 and clean[0] in out, "one bad path among good ones: the others scanned, exit 1")

    # --- a huge mbox message: bounded memory, unscannable ----------------------------------------
    small = os.path.join(tmp, "small.toml")
    conf = open(CONF).read().replace('dir = "../rules"', f'dir = "{SRC}/rules"')
    conf = re.sub(r"(?m)^max_message_bytes = .*$", "max_message_bytes = 1048576", conf)
    check("max_message_bytes = 1048576" in conf, "config copy sets max_message_bytes")
    open(small, "w").write(conf)
    big = os.path.join(tmp, "big.mbox")
    with open(big, "w") as f:
        f.write("From x Mon Jan  6 09:00:00 2026\nFrom: office@stannes.example\nTo: parent.one@gmail.example\n"
                "Subject: the archive\n\n")
        line = "All of the term's newsletters, again and again, for the archive of the school.\n"
        for _ in range(48 * 1024 * 1024 // len(line)):
            f.write(line)
        f.write("\n")
        f.write(open(clean[0]).read().replace("\r\n", "\n").join(["From x Mon Jan  6 09:01:00 2026\n", "\n"]))

    # Peak RSS of each child measured with /usr/bin/time-like wait4.
    def scan_rss(*args):
        p = subprocess.Popen([POLICYCTL, "--config", small, "scan", "--json", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.read().decode()
        err = p.stderr.read().decode()
        _, status, ru = os.wait4(p.pid, 0)
        return os.waitstatus_to_exitcode(status), out, err, ru.ru_maxrss

    rc0, out0, _, base = scan_rss(clean[0])
    rc, out, err, peak = scan_rss(big)
    got = verdicts(out)
    check(len(got) == 2, f"big mbox: 2 results, got {len(got)}: {err}")
    if len(got) == 2:
        check(got[0]["action"] == "quarantine" and "unscannable" in got[0]["categories"],
              f"a message over max_message_bytes is unscannable: {got[0]['action']} {got[0]['categories']}")
        check(got[1]["action"] == single[os.path.basename(clean[0])]["action"], "the message after it is scanned")
    check(peak < base + 16 * 1024, f"big mbox: peak RSS {peak} KiB vs {base} KiB for one small message (48 MB message)")
    print(f"peak RSS: small message {base} KiB, mbox with a 48 MB message {peak} KiB")

    # --- --explain: one clause per rule, every piece of evidence under it -----------------------
    multi = None
    for f in dev:
        rc, out, _ = run("--json", f)
        v = verdicts(out)[0]
        rules = [x["rule"] for x in v["findings"]]
        if any(rules.count(r) > 1 for r in rules):
            multi = (f, v)
            break
    check(multi is not None, "some dev message has a rule with several findings")
    if multi:
        f, v = multi
        rules = [x["rule"] for x in v["findings"]]
        rc, out, _ = run("--explain", f)
        findings = out.split("  findings:")[1].split("  segments:")[0].split("  matched but not counted")[0]
        for r in set(rules):
            check(findings.count(f"] {r}") == 1, f"--explain names {r} once")
        check(findings.count("policy:") == len(set(rules)), "--explain prints one clause per rule")
        check(findings.count("      in ") == len(rules), "--explain prints every piece of evidence")

    # --- --from: a sender the milter would not filter ------------------------------------------
    rc, out, err = run("--from", "someone@elsewhere.example", clean[0])
    check("would not filter mail from someone@elsewhere.example" in err, f"--from outside: a note: {err}")
    rc, out, err = run("--from", "ada.teacher@stannes.example", clean[0])
    check("would not filter" not in err, "--from a staff sender: no note")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("cli_scan_folders: PASS")
