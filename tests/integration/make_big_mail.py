#!/usr/bin/env python3
"""Writes N messages of about SIZE MB each: a class list (invented names, dates of birth) as
a base64 CSV attachment, from a staff sender to a personal webmail address.
  make_big_mail.py DIR N SIZE_MB"""
import base64, os, random, sys

out, n, size_mb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
random.seed(7)
first = ["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Freya", "Oscar"]
last = ["Lane", "Brook", "Hart", "Field", "Marsh", "Stone", "Wood", "Hill", "Reed", "Ford"]
rows, size = ["Name,Date of birth,Class,Needs"], 0
while size < size_mb * 1e6 * 0.73:  # base64 grows it by 4/3 (+ line ends)
    r = "%s %s,%02d/%02d/20%02d,Year %d,%s" % (random.choice(first), random.choice(last),
        random.randint(1, 28), random.randint(1, 12), random.randint(14, 19), random.randint(1, 6),
        random.choice(["none", "EAL", "SEN support", "EHCP"]))
    rows.append(r)
    size += len(r) + 2
b64 = base64.encodebytes(("\r\n".join(rows) + "\r\n").encode()).decode().replace("\n", "\r\n")
os.makedirs(out, exist_ok=True)
for i in range(n):
    head = ("From: Ada Teacher <ada@stannes.example>\r\nTo: parent%d@gmail.com\r\n"
            "Subject: Class list %d\r\nMessage-ID: <big-%d@stannes.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            "The list as asked.\r\n--b1\r\nContent-Type: text/csv; name=\"class-%d.csv\"\r\n"
            "Content-Disposition: attachment; filename=\"class-%d.csv\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n") % (i, i, i, i, i)
    with open(os.path.join(out, "big%02d.eml" % i), "w") as f:
        f.write(head + b64 + "--b1--\r\n")
