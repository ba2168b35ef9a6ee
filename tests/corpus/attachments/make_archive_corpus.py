#!/usr/bin/python3
"""Adds the archive / legacy-Office / type-from-bytes messages (issue 11) to
tests/corpus/attachments/ and their rows to labels.tsv (same columns; rows of other files
are kept as they are, rows of these files are replaced).

The attachments are the committed fixtures of tests/unit/attachments/fixtures/, made by
the real tools (make_archive_fixtures.py: GNU tar, gzip, 7-Zip, LibreOffice). Each message
body is neutral: what decides the label is in the attachment. The declared types are the
ones mail clients really send for such files (often application/octet-stream). No rar: no
free RAR writer exists in Debian.

Run: /usr/bin/python3 tests/corpus/attachments/make_archive_corpus.py   (stdlib only)
"""
import os
from email.message import EmailMessage
from email.policy import SMTP

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "unit", "attachments", "fixtures")
BODY = ("Hello,\n\nPlease see the attached.\n\nKind regards\n{name}\nSt Anne's C of E Primary School\n"
        "www.stannes.example\n")
OCTET = ("application", "octet-stream")

MESSAGES = [
    # file, categories, notes, kind, why, sender, to, subject, (attachment name, type, fixture)
    ("a24-class-list-tar-gz-to-gmail.eml", "confidential", "-", "violation",
     "tar.gz (GNU tar + gzip) of the class folder: a CSV with names, DOBs and UPNs, sent to a personal gmail.",
     ("Jo Marsh", "j.marsh@stannes.example"), "jo.marsh.home@gmail.com", "class stuff for home",
     ("Oak class.tar.gz", ("application", "x-gzip"), "class_list.tar.gz")),
    ("a25-class-list-csv-gz-to-gmail.eml", "confidential", "-", "violation",
     "A gzip-compressed CSV class list with DOBs, declared application/octet-stream, to gmail.",
     ("Kieran Lowe", "k.lowe@stannes.example"), "kieran.lowe77@gmail.com", "list",
     ("class_list.csv.gz", OCTET, "class_list.csv.gz")),
    ("a26-class-list-7z-to-gmail.eml", "confidential", "-", "violation",
     "7-Zip archive of the class folder (class list with DOBs) sent to a personal gmail.",
     ("Priya Abara", "p.abara@stannes.example"), "priya.abara@gmail.com", "files",
     ("Oak class.7z", ("application", "x-7z-compressed"), "class_list.7z")),
    ("a27-encrypted-7z-to-gmail.eml", "unscannable", "-", "violation",
     "Password-protected 7z (AES) of the class folder sent to gmail: cannot be read.",
     ("Jo Marsh", "j.marsh@stannes.example"), "jo.marsh.home@gmail.com", "locked files",
     ("Oak class.7z", ("application", "x-7z-compressed"), "class_list_enc.7z")),
    ("a28-class-list-xls-to-gmail.eml", "confidential", "-", "violation",
     "Legacy Excel 97 (.xls, saved by LibreOffice) class list with DOBs and UPNs sent to gmail.",
     ("School Office", "office@stannes.example"), "stannes.office.backup@gmail.com", "register",
     ("class list.xls", ("application", "vnd.ms-excel"), "class_list.xls")),
    ("a29-class-list-doc-to-gmail.eml", "confidential", "-", "violation",
     "Legacy Word 97 (.doc, saved by LibreOffice) class list table with DOBs sent to gmail.",
     ("Rachel Okafor", "r.okafor@stannes.example"), "rachel.okafor@gmail.com", "class list",
     ("class list.doc", ("application", "msword"), "class_list.doc")),
    ("a30-random-octet-stream-to-gmail.eml", "unscannable", "-", "violation",
     "An application/octet-stream attachment of random bytes (no known format) sent to gmail.",
     ("Kieran Lowe", "k.lowe@stannes.example"), "kieran.lowe77@gmail.com", "backup",
     ("backup.dat", OCTET, "random.bin")),
    ("a31-class-list-tar-bz2-to-hotmail.eml", "confidential", "-", "violation",
     "bzip2-compressed tar of the class folder declared as a photo (image/jpeg) sent to hotmail.",
     ("Jo Marsh", "j.marsh@stannes.example"), "jo_marsh@hotmail.com", "pics",
     ("class photo.jpg", ("image", "jpeg"), "class_list.tar.bz2")),
    ("b24-photo-jpg-to-gmail.eml", "-", "-", "benign",
     "A photo (JPEG) of the class garden sent to a parent's gmail: listed, not read, not unscannable.",
     ("Priya Abara", "p.abara@stannes.example"), "m.oduya.family@gmail.com", "Garden photo",
     ("garden.jpg", ("image", "jpeg"), "photo.jpg")),
    ("b25-class-list-tar-xz-internal.eml", "-", "-", "near-miss",
     "xz-compressed tar class list with DOBs sent only to a staff-domain colleague.",
     ("Jo Marsh", "j.marsh@stannes.example"), "senco@stannes.example", "Oak class files",
     ("Oak class.tar.xz", ("application", "x-xz"), "class_list.tar.xz")),
    ("b26-class-list-xls-internal.eml", "-", "-", "near-miss",
     "Legacy .xls class list with DOBs sent only to staff.",
     ("School Office", "office@stannes.example"), "r.okafor@stannes.example", "register",
     ("class list.xls", ("application", "vnd.ms-excel"), "class_list.xls")),
    ("b27-photo-octet-stream-to-gmail.eml", "-", "-", "benign",
     "The same photo declared application/octet-stream: its bytes say image, so it is listed only.",
     ("Priya Abara", "p.abara@stannes.example"), "m.oduya.family@gmail.com", "photo",
     ("IMG_0412", OCTET, "photo.jpg")),
]


def build(file, sender, to, subject, attachment, index):
    name, addr = sender
    m = EmailMessage()
    m["From"] = "%s <%s>" % (name, addr)
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Tue, 05 Mar 2024 10:%02d:00 +0000" % index
    m["Message-ID"] = "<%s@mail.stannes.example>" % file.replace(".eml", "")
    m["X-Mailer"] = "Microsoft Outlook 16.0"
    m.set_content(BODY.format(name=name))
    filename, (maintype, subtype), fixture = attachment
    with open(os.path.join(FIX, fixture), "rb") as f:
        m.add_attachment(f.read(), maintype=maintype, subtype=subtype, filename=filename)
    m.set_boundary("=_pm_" + file.replace(".eml", ""))
    with open(os.path.join(HERE, file), "wb") as f:
        f.write(m.as_bytes(policy=SMTP))


def main():
    labels = os.path.join(HERE, "labels.tsv")
    with open(labels) as f:
        lines = f.read().splitlines()
    header, rows = lines[0], [l for l in lines[1:] if l]
    mine = {m[0] for m in MESSAGES}
    rows = [r for r in rows if r.split("\t", 1)[0] not in mine]
    for i, (file, cats, notes, kind, why, sender, to, subject, att) in enumerate(MESSAGES):
        build(file, sender, to, subject, att, i)
        rows.append("\t".join([file, cats, notes, kind, why]))
    rows.sort(key=lambda r: r.split("\t", 1)[0])
    with open(labels, "w") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")
    print("%d messages" % len(MESSAGES))


if __name__ == "__main__":
    main()
