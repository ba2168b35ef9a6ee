#!/usr/bin/python3
"""Builds tests/corpus/attachments/: outgoing St Anne's mail whose violation (or near miss)
sits ONLY in an attachment, plus labels.tsv. The message bodies are neutral ("please see
attached"); what decides each label is in the attached file.

Run: /usr/bin/python3 tests/corpus/attachments/make_corpus.py
Uses the builders of tests/unit/attachments/fixtures/make_fixtures.py (python3-openpyxl,
python3-docx, python3-reportlab, python3-odf, python3-pil, /usr/bin/zip). Deterministic:
fixed dates, Message-IDs and MIME boundaries.

Everything is invented: .example domains (and the webmail domains POLICY.md names as
recipient classes), people, UPNs (LA 933, valid check letter), NHS numbers (valid mod 11),
NI numbers (valid shape and prefix).
"""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from email.policy import SMTP

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "unit", "attachments", "fixtures"))
import make_fixtures as mf  # noqa: E402

D = datetime.date
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DOCX = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")
PPTX = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")
ODT = ("application", "vnd.oasis.opendocument.text")
ODS = ("application", "vnd.oasis.opendocument.spreadsheet")
PDF = ("application", "pdf")
ZIP = ("application", "zip")
CSV = ("text", "csv")
TXT = ("text", "plain")
HTML = ("text", "html")
PNG = ("image", "png")

STAFF = {
    "okafor": "Rachel Okafor <r.okafor@stannes.example>",
    "marsh": "Jo Marsh <j.marsh@stannes.example>",
    "lowe": "Kieran Lowe <k.lowe@stannes.example>",
    "abara": "Priya Abara <p.abara@stannes.example>",
    "senco": "Helen Ashdown <senco@stannes.example>",
    "office": "School Office <office@stannes.example>",
}

PUPILS = [
    ("Amelia Thornbury", D(2016, 3, 12), mf.upn(2145, 16, 101), mf.nhs(485777300)),
    ("Oscar Pemberton", D(2015, 11, 2), mf.upn(2145, 15, 102), mf.nhs(485777301)),
    ("Isla Fairweather", D(2016, 1, 27), mf.upn(2145, 16, 103), mf.nhs(485777302)),
    ("Reuben Castellan", D(2015, 9, 30), mf.upn(2145, 15, 104), mf.nhs(485777303)),
    ("Maisie Oduya", D(2016, 6, 18), mf.upn(2145, 16, 105), mf.nhs(485777304)),
    ("Theo Brannagh", D(2015, 12, 5), mf.upn(2145, 15, 106), mf.nhs(485777306)),
]
PUPILS = [p for p in PUPILS if p[3]]  # drop any 9-digit stem whose NHS check would be 10

BODY = ("Hello,\n\nPlease see the attached.\n\nKind regards\n{name}\nSt Anne's C of E Primary School\n"
        "www.stannes.example\n")


def class_list_rows(with_ids=True):
    rows = [("Name", "DOB", "UPN")] if with_ids else [("Name", "Group")]
    for name, dob, upn, _ in PUPILS:
        rows.append((name, dob, upn) if with_ids else (name, "Oak"))
    return rows


def png_logo():
    import io
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (80, 40), (20, 60, 120))
    ImageDraw.Draw(img).ellipse((5, 5, 35, 35), fill=(240, 200, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def encrypted_zip(member, data, password="kestrel"):
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, member), "wb") as f:
            f.write(data)
        subprocess.run(["zip", "-q", "-X", "-P", password, "out.zip", member], cwd=tmp, check=True)
        with open(os.path.join(tmp, "out.zip"), "rb") as f:
            return f.read()


def ratio_bomb():
    """A zip whose one member inflates 1000-fold, wrapped twice: over max_compression_ratio."""
    leaf = mf.zip_bytes({"data.bin": b"\0" * (24 << 20)})
    return mf.zip_bytes({"part1.zip": mf.zip_bytes({"inner.zip": leaf})})


def forwarded(subject, sender, to, body):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, subject
    m["Date"] = "Fri, 01 Mar 2024 16:10:00 +0000"
    m.set_content(body)
    return m


def build(file, sender, to, subject, attachments, cc=None, bcc=None, body=None):
    m = EmailMessage()
    m["From"] = STAFF[sender]
    m["To"] = to
    if cc:
        m["Cc"] = cc
    if bcc:
        m["Bcc"] = bcc
    m["Subject"] = subject
    m["Date"] = "Mon, 04 Mar 2024 09:%02d:00 +0000" % (hash_index(file) % 60)
    m["Message-ID"] = "<%s@mail.stannes.example>" % file.replace(".eml", "")
    m["X-Mailer"] = "Microsoft Outlook 16.0"
    name = STAFF[sender].split(" <")[0]
    m.set_content(body or BODY.format(name=name))
    for filename, (maintype, subtype), data in attachments:
        if isinstance(data, EmailMessage):
            m.add_attachment(data, filename=filename)
        else:
            m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    m.set_boundary("=_pm_" + file.replace(".eml", ""))
    for i, part in enumerate(m.iter_attachments()):
        if part.get_content_type() == "message/rfc822":
            part.get_payload(0).set_boundary("=_fw_%d" % i) if part.get_payload(0).is_multipart() else None
    with open(os.path.join(HERE, file), "wb") as f:
        f.write(m.as_bytes(policy=SMTP))


def hash_index(s):
    return sum(map(ord, s))


def main():
    rows = []  # file, categories, notes, kind, why

    def add(file, cats, notes, kind, why, **kw):
        build(file, **kw)
        rows.append((file, cats, notes, kind, why))

    p = PUPILS
    # --- violations -------------------------------------------------------------------
    add("a01-class-list-xlsx-to-gmail.eml", "confidential", "-", "violation",
        "xlsx class list with names, DOBs (date-formatted cells) and UPNs sent to a personal gmail address.",
        sender="okafor", to="Rachel Okafor <rachel.okafor1984@gmail.com>", subject="Class list for home",
        attachments=[("Y3 Oak class list.xlsx", XLSX, mf.xlsx_bytes({"Oak": class_list_rows()}, title="Y3 Oak", author="R Okafor"))])
    add("a02-ehcp-review-pdf-lookalike.eml", "confidential", "probable-misaddress", "violation",
        "EHCP annual review PDF naming a pupil and diagnosis sent to a lookalike of the staff domain.",
        sender="senco", to="Jo Marsh <j.marsh@stannes.exampel>", subject="Review paperwork",
        attachments=[("EHCP review.pdf", PDF, mf.pdf_bytes([[
            "EHCP Annual Review - CONFIDENTIAL", "Pupil: %s   DOB: %s" % (p[1][0], p[1][1].strftime("%d/%m/%Y")),
            "UPN: %s" % p[1][2], "Primary need: autism spectrum condition (ASD), speech and language delay.",
            "Outcome 2 not met: needs 1:1 support at lunchtime."]], title="EHCP review"))])
    add("a03-sen-register-zip-hotmail.eml", "confidential", "-", "violation",
        "Zipped SEN register (xlsx inside zip) with names, needs and UPNs sent to hotmail.",
        sender="senco", to="h.ashdown@hotmail.co.uk", subject="register",
        attachments=[("register.zip", ZIP, mf.zip_bytes({"SEN.xlsx": mf.xlsx_bytes({"SEN register": [("Name", "UPN", "Need", "Stage")] + [
            (n, u, need, "EHCP" if i % 2 else "SEN support") for i, ((n, _, u, _n), need) in enumerate(zip(p, ["dyslexia", "ASD", "ADHD", "SEMH", "hearing impairment", "speech and language"]))]})}))])
    add("a04-blog-link-in-docx-hyperlink.eml", "personal-link", "-", "violation",
        "docx newsletter item whose 'my blog' link target sits only in the hyperlink relationship: the teacher's own blog.",
        sender="lowe", to=STAFF["office"], subject="Newsletter item - reading",
        attachments=[("newsletter item.docx", DOCX, mf.docx_bytes(
            ["Year 4 reading challenge", "I have written up all of my favourite class reads."],
            links=[("my blog - Mr Lowe Reads", "https://kieranlowereads.wordpress.example/")]))])
    add("a05-encrypted-zip-to-external.eml", "unscannable", "-", "violation",
        "Password-protected zip sent outside the school cannot be read.",
        sender="office", to="admin@payroll-bureau.example", subject="Files as discussed",
        attachments=[("staff files.zip", ZIP, encrypted_zip("contracts.csv", b"Name,Salary\r\nJo Marsh,31000\r\n"))])
    add("a06-medical-csv-1252-to-parent.eml", "confidential", "-", "violation",
        "windows-1252 CSV of pupils' medical conditions with NHS numbers sent to a parent.",
        sender="office", to="Zoe Hartley <zoe.hartley@parentmail.example>", subject="Trip medical list",
        attachments=[("medical.csv", CSV, ("Name,NHS number,Condition,Medication\r\n" + "".join(
            "%s,%s %s %s,%s,%s\r\n" % (n, h[:3], h[3:6], h[6:], c, med) for (n, _, _, h), (c, med) in zip(p, [
                ("asthma", "salbutamol"), ("epilepsy", "buccal midazolam"), ("nut allergy", "EpiPen"), ("diabetes type 1", "insulin"),
                ("eczema", "emollient"), ("coeliac", "none")]))).encode("cp1252"))])
    add("a07-safeguarding-chronology-docx-own-gmail.eml", "confidential", "-", "violation",
        "Safeguarding chronology in Word about a named pupil sent to the DSL's own gmail.",
        sender="senco", to="helen.ashdown.home@gmail.com", subject="to finish at home",
        attachments=[("chronology.docx", DOCX, mf.docx_bytes(
            ["Safeguarding chronology: %s (Year 3)" % p[0][0],
             "12/01/2024 Bruise on left arm noticed by class teacher; mother said he fell.",
             "19/01/2024 Referral to children's social care; child protection strategy meeting held.",
             "02/02/2024 Placed on a child protection plan under neglect."], header="CONFIDENTIAL - DSL only"))])
    add("a08-pptx-notes-cp-to-consultant.eml", "confidential", "-", "violation",
        "Training slides are generic but the speaker notes name a pupil on a child protection plan; sent to an outside trainer.",
        sender="senco", to="trainer@safeguarding-training.example", subject="Slides for Thursday",
        attachments=[("inset.pptx", PPTX, mf.pptx_bytes([
            (["Spotting the signs", "Neglect, emotional abuse, physical abuse"], ["Use our case: %s is on a child protection plan since February, social worker visits weekly." % p[3][0]], []),
            (["What to do next"], None, [])]))])
    add("a09-odt-letter-whatsapp-to-parent.eml", "social-contact", "-", "violation",
        "Letter (odt) to a parent invites private contact on the teacher's personal WhatsApp number.",
        sender="abara", to="Mr D Castellan <d.castellan@familymail.example>", subject="Reuben's reading",
        attachments=[("letter.odt", ODT, mf.odt_bytes(
            ["Dear Mr Castellan,", "Reuben has made a great start this term.",
             "It's easier to just message me on my personal WhatsApp, 07700 900461, any evening - add me!", "Priya"]))])
    add("a10-ods-pupil-premium-list-external.eml", "confidential", "-", "violation",
        "ods listing named pupils with free school meals / pupil premium status sent to an outside tutoring company.",
        sender="office", to="bookings@tutor-hub.example", subject="Tutoring list",
        attachments=[("tutoring.ods", ODS, mf.ods_bytes({"PP pupils": [["Name", "DOB", "FSM", "Pupil premium"]] + [
            [n, dob, "yes", "yes"] for n, dob, _, _ in p[:4]]}))])
    add("a11-scanned-pdf-to-external.eml", "unscannable", "-", "violation",
        "Image-only (scanned) PDF sent outside the school has no text to check.",
        sender="office", to="enquiries@insurer.example", subject="Signed form",
        attachments=[("scan0001.pdf", PDF, mf.pdf_bytes([[]], image_only=True))])
    add("a12-encrypted-pdf-to-external.eml", "unscannable", "-", "violation",
        "Password-protected PDF sent to an external address.",
        sender="marsh", to="j.marsh.personal@outlook.com", subject="report",
        attachments=[("report.pdf", PDF, mf.pdf_bytes([["Pupil progress report"]], password="robin"))])
    add("a13-docx-in-zip-capability-to-gmail.eml", "confidential", "-", "violation",
        "Zip holding a Word letter about a named teacher's capability procedure and sickness absence, sent to gmail.",
        sender="okafor", to="union.rep.somerset@gmail.com", subject="the letter",
        attachments=[("hr.zip", ZIP, mf.zip_bytes({"HR/capability letter.docx": mf.docx_bytes(
            ["Dear Mr Lowe,", "Formal capability procedure - stage 1",
             "Following 23 days of sickness absence (stress) this year and the lesson observations of 4 March, "
             "you are invited to a formal capability meeting."], header="Private and confidential")}))])
    add("a14-html-attachment-instagram.eml", "personal-link", "-", "violation",
        "HTML newsletter draft attached for parents links to the teacher's personal Instagram ('follow my insta').",
        sender="abara", to="year5parents@parentmail.example", subject="Newsletter draft",
        attachments=[("newsletter.html", HTML, (
            "<html><body><h1>Year 5 news</h1><p>We loved the museum trip!</p>"
            "<p>For more photos of my weekends follow my insta: <a href=\"https://www.instagram.com/priya.abara.life/\">here</a></p>"
            "</body></html>").encode())])
    add("a15-xlsx-hyperlink-own-youtube.eml", "personal-link", "-", "violation",
        "Resource spreadsheet to colleagues: one cell is a hyperlink to the teacher's own YouTube channel ('my channel').",
        sender="lowe", to=STAFF["marsh"], subject="Maths resources",
        attachments=[("resources.xlsx", XLSX, mf.xlsx_bytes({"Links": [("Topic", "Where"), ("Fractions", "White Rose"), ("Times tables", "my channel - Mr Lowe Maths")]},
                                                         links={("Links", "B3"): "https://www.youtube.com/@kieranlowemaths"}))])
    add("a16-forwarded-eml-abuse-to-friend.eml", "abusive,disrepute", "-", "violation",
        "Attached forwarded message (.eml) calls a colleague a useless fat cow and mocks the school's leadership; sent to a friend.",
        sender="marsh", to="sam.friend@friendsmail.example", subject="look at this",
        attachments=[("rant.eml", ("message", "rfc822"), forwarded(
            "re: meeting", STAFF["marsh"], STAFF["lowe"],
            "Honestly Helen is a useless fat cow and everyone in the staffroom hates her.\n"
            "This school is a joke run by clowns, the head hasn't a clue what she's doing.\n"))])
    add("a17-txt-complaint-to-press.eml", "disrepute", "-", "violation",
        "Plain-text attachment to a journalist disparaging the head teacher and leaking an internal dispute.",
        sender="lowe", to="newsdesk@somerset-gazette.example", subject="story",
        attachments=[("statement.txt", TXT, (
            "The head of St Anne's is a bully and a liar. She has driven out four teachers this year and the governors "
            "are covering it up. The school is falling apart and parents deserve to know.\r\n").encode())])
    add("a18-docx-comment-cp-to-parent.eml", "confidential", "-", "violation",
        "Benign letter body, but a Word comment names a pupil's social worker visit and CP plan; sent to a parent.",
        sender="abara", to="Mrs M Oduya <m.oduya@parentmail.example>", subject="Trip letter",
        attachments=[("trip letter.docx", DOCX, mf.docx_bytes(
            ["Dear parents,", "The Year 5 trip to the museum is on 14 June."],
            comments=[("P. Abara", "Don't send this one to Theo Brannagh's dad - Theo is on a child protection plan and the social worker says no contact.")]))])
    add("a19-pptx-sexist-abuse-internal.eml", "abusive", "-", "violation",
        "Slide notes in a presentation to colleagues call a named colleague a stupid hysterical woman who should be sacked.",
        sender="lowe", to=STAFF["abara"], subject="slides for phase meeting",
        attachments=[("phase meeting.pptx", PPTX, mf.pptx_bytes([
            (["Phase meeting", "Assessment calendar"], ["Jo Marsh is a stupid hysterical woman, typical female, she should be sacked before she ruins Year 3."], [])]))])
    add("a20-xlsx-staff-pay-nino-to-gmail.eml", "confidential", "-", "violation",
        "Staff pay spreadsheet with NI numbers and salaries sent to a personal gmail.",
        sender="office", to="school.bursar.accounts@gmail.com", subject="pay",
        attachments=[("pay 2024.xlsx", XLSX, mf.xlsx_bytes({"Pay": [("Name", "NI number", "Salary", "Sickness days"),
                                                                  ("Jo Marsh", "JG103759A", (31650, "#,##0"), 3),
                                                                  ("Kieran Lowe", "HT284716C", (35100, "#,##0"), 23)]}))])
    add("a21-zip-in-zip-class-list-to-pupil.eml", "confidential", "-", "violation",
        "Zip inside a zip holds a CSV class list with DOBs and UPNs, sent to a pupil account.",
        sender="marsh", to="reuben.castellan@pupils.stannes.example", subject="files for the project",
        attachments=[("project.zip", ZIP, mf.zip_bytes({"data/old.zip": mf.zip_bytes({"class.csv": ("Name,DOB,UPN\r\n" + "".join(
            "%s,%s,%s\r\n" % (n, dob.strftime("%d/%m/%Y"), u) for n, dob, u, _ in p)).encode()}), "readme.txt": b"Project files"}))])
    add("a22-pdf-link-annotation-tiktok.eml", "personal-link", "-", "violation",
        "PDF flyer for parents: its link annotation points to the teacher's personal TikTok ('my TikTok').",
        sender="abara", to="year5parents@parentmail.example", subject="Science week flyer",
        attachments=[("science week.pdf", PDF, mf.pdf_bytes([["Science Week 18-22 March", "Experiments to try at home!"]],
                                                          links=[(0, "Watch my TikTok for more experiments", "https://www.tiktok.com/@missabara_science")]))])
    add("a23-zip-bomb-to-external.eml", "unscannable", "-", "violation",
        "Nested zip whose member inflates 1000-fold (zip bomb pattern): over the compression-ratio limit, sent outside.",
        sender="office", to="it-support@managed-it.example", subject="logs",
        attachments=[("logs.zip", ZIP, ratio_bomb())])

    # --- near misses and benign -----------------------------------------------------------
    add("b01-timetable-xlsx-to-parents.eml", "-", "-", "benign",
        "Spring timetable spreadsheet with times (time-formatted cells) to parents.",
        sender="office", to="year3parents@parentmail.example", subject="Spring timetable",
        attachments=[("timetable.xlsx", XLSX, mf.xlsx_bytes({"Year 3": [("Day", "Start", "Lesson"),
                                                                      ("Monday", (0.375, "h:mm"), "Phonics"),
                                                                      ("Monday", (0.4375, "h:mm"), "Maths"),
                                                                      ("Tuesday", (0.375, "h:mm"), "PE - bring kit")]}))])
    add("b02-kit-list-docx-official-link.eml", "-", "-", "benign",
        "PE kit list in Word with a hyperlink to the school's own website.",
        sender="lowe", to="parents@parentmail.example", subject="PE kit",
        attachments=[("kit list.docx", DOCX, mf.docx_bytes(["PE kit: white t-shirt, navy shorts, trainers.", "Please label everything."],
                                                           links=[("uniform page", "https://www.stannes.example/uniform")]))])
    add("b03-stock-order-csv-supplier.eml", "-", "-", "near-miss",
        "Stationery order CSV with order numbers, product codes and a freephone number: identifier look-alikes, no person.",
        sender="office", to="orders@school-supplies.example", subject="Order 448120",
        attachments=[("order.csv", CSV, b"Order no,Product code,Item,Qty\r\n4481203377,9780140328721,Exercise books A4,200\r\n"
                                        b"4481203378,0800 123 4567,Glue sticks,60\r\n")])
    add("b04-newsletter-pdf-official-facebook.eml", "-", "-", "near-miss",
        "Newsletter PDF whose link annotation points to the school's official Facebook page.",
        sender="office", to="allparents@parentmail.example", subject="Newsletter March",
        attachments=[("newsletter.pdf", PDF, mf.pdf_bytes([["St Anne's Newsletter - March", "Well done to our choir!"]],
                                                         links=[(0, "Follow us on Facebook", "https://www.facebook.com/StAnnesPrimary")]))])
    add("b05-flyer-pptx-school-site.eml", "-", "-", "benign",
        "Open-morning flyer slides linking to the school website.",
        sender="office", to="nursery@littleacorns.example", subject="Open morning flyer",
        attachments=[("open morning.pptx", PPTX, mf.pptx_bytes([(["Open Morning", "Thursday 9:30"], ["Print 50 copies"], ["https://www.stannes.example/admissions"])]))])
    add("b06-blank-consent-form-docx.eml", "-", "-", "near-miss",
        "Blank medicine consent form: fields for name, DOB and NHS number are empty.",
        sender="office", to="parents@parentmail.example", subject="Medicine form",
        attachments=[("medicine consent.docx", DOCX, mf.docx_bytes(["Administration of medicine - consent form",
                                                                    "Child's name: ____________", "Date of birth: __/__/____",
                                                                    "NHS number: ___ ___ ____", "Medical condition: ____________"]))])
    add("b07-aggregate-sen-xlsx-to-la.eml", "-", "-", "near-miss",
        "Aggregate SEN and pupil premium figures (counts and percentages, no names) to the local authority.",
        sender="senco", to="sen.team@somerset-la.example", subject="Census figures",
        attachments=[("figures.xlsx", XLSX, mf.xlsx_bytes({"Summary": [("Measure", "Count", "Share"),
                                                                     ("SEN support", 24, (0.114, "0.0%")),
                                                                     ("EHCP", 6, (0.029, "0.0%")), ("Pupil premium", 41, (0.195, "0.0%"))]}))])
    add("b08-class-list-xlsx-internal.eml", "-", "-", "near-miss",
        "Class list with DOBs and UPNs sent only to staff-domain colleagues.",
        sender="okafor", to=STAFF["marsh"], cc=STAFF["office"], subject="Class list",
        attachments=[("class list.xlsx", XLSX, mf.xlsx_bytes({"Oak": class_list_rows()}))])
    add("b09-ehcp-pdf-internal.eml", "-", "-", "near-miss",
        "EHCP review PDF with a named pupil sent only to the SENCo on the staff domain.",
        sender="marsh", to=STAFF["senco"], subject="EHCP review notes",
        attachments=[("review.pdf", PDF, mf.pdf_bytes([["EHCP review notes", "Pupil: %s" % p[1][0], "Primary need: ASD"]]))])
    add("b10-esafety-lesson-odt.eml", "-", "-", "near-miss",
        "E-safety lesson plan mentions Snapchat, TikTok and friend requests, teaching pupils not to accept strangers.",
        sender="abara", to="parents@parentmail.example", subject="E-safety week",
        attachments=[("esafety lesson.odt", ODT, mf.odt_bytes(["E-safety week: Year 5",
                                                               "We talk about Snapchat, TikTok and Instagram and why you should never accept a friend request from someone you don't know.",
                                                               "Resources: "], links=[("NSPCC", "https://www.nspcc.org.uk/keeping-children-safe/online-safety/")]))])
    add("b11-book-order-ods-isbns.eml", "-", "-", "near-miss",
        "Reading-book order (ods) full of ISBNs and invoice numbers: identifier look-alikes.",
        sender="office", to="sales@bookshop.example", subject="Book order",
        attachments=[("books.ods", ODS, mf.ods_bytes({"Order": [["ISBN", "Title", "Qty"], ["9780141354828", "The BFG", 30],
                                                               ["9780552577915", "Wonder", 30], ["Invoice", "INV-20240304-0071", 1]]}))])
    add("b12-trip-info-html-gov-bbc.eml", "-", "-", "benign",
        "HTML trip information with links to gov.uk and BBC Bitesize.",
        sender="lowe", to="year4parents@parentmail.example", subject="Trip information",
        attachments=[("trip.html", HTML, (b"<html><body><h2>Year 4 trip</h2><p>Travel advice: "
                                         b"<a href=\"https://www.gov.uk/travel-advice\">gov.uk</a>. Revision: "
                                         b"<a href=\"https://www.bbc.co.uk/bitesize\">BBC Bitesize</a></p></body></html>"))])
    add("b13-worksheets-zip-docx.eml", "-", "-", "benign",
        "Zip of three homework worksheets (docx) for parents.",
        sender="marsh", to="year3parents@parentmail.example", subject="Homework pack",
        attachments=[("homework.zip", ZIP, mf.zip_bytes({"week%d.docx" % i: mf.docx_bytes(["Week %d spellings" % i, "because, could, should, would"]) for i in (1, 2, 3)}))])
    add("b14-oak-twinkl-links-docx.eml", "-", "-", "near-miss",
        "Word list of teaching resources linking to Oak National Academy and Twinkl (educational sites).",
        sender="lowe", to="supply.teacher@teachmail.example", subject="Cover resources",
        attachments=[("cover.docx", DOCX, mf.docx_bytes(["Cover work for Thursday"],
                                                        links=[("Oak lesson", "https://www.thenational.academy/teachers/lessons/fractions"),
                                                               ("Twinkl sheet", "https://www.twinkl.co.uk/resource/fractions-worksheet")]))])
    add("b15-staff-rota-txt-internal.eml", "-", "-", "benign",
        "Playground duty rota in a text file to staff.",
        sender="office", to="allstaff@stannes.example", subject="Duty rota",
        attachments=[("rota.txt", TXT, b"Mon: Jo Marsh\r\nTue: Kieran Lowe\r\nWed: Priya Abara\r\n")])
    add("b16-pptx-idiom-notes-internal.eml", "-", "-", "near-miss",
        "Slide notes use harmless idiom ('I could kill for a cup of tea', 'the Year 5s were savage at rounders').",
        sender="abara", to=STAFF["lowe"], subject="Sports slides",
        attachments=[("sports.pptx", PPTX, mf.pptx_bytes([(["Sports day results"], ["I could kill for a cup of tea after this. The Year 5s were savage at rounders - absolute legends."], [])]))])
    add("b17-forwarded-professional-reply.eml", "-", "-", "near-miss",
        "Attached forwarded .eml is a professional reply to a parent's complaint about homework.",
        sender="okafor", to="Mr P Fairweather <p.fairweather@parentmail.example>", subject="Fwd: homework",
        attachments=[("reply.eml", ("message", "rfc822"), forwarded(
            "Re: homework", STAFF["okafor"], STAFF["marsh"],
            "Thank you for raising this. I understand the concern about the amount of homework and we will review "
            "the policy at the next staff meeting. I would be happy to meet you.\n"))])
    add("b18-invoice-csv-bom.eml", "-", "-", "near-miss",
        "UTF-8 (BOM) CSV of invoice numbers and booking references for the coach company.",
        sender="office", to="accounts@coaches.example", subject="Invoices",
        attachments=[("invoices.csv", CSV, "\ufeffInvoice,Booking ref,Amount\r\n7734120045,BK-55102,\u00a3420.00\r\n".encode())])
    add("b19-safeguarding-policy-pdf.eml", "-", "-", "near-miss",
        "Safeguarding policy PDF with a 'confidential' disclaimer and generic content, no named child.",
        sender="senco", to="governor.clerk@governorhub.example", subject="Policy for approval",
        attachments=[("safeguarding policy.pdf", PDF, mf.pdf_bytes([["Child Protection and Safeguarding Policy 2024",
                                                                     "All staff receive safeguarding training every year.",
                                                                     "This document may contain confidential information."]]))])
    add("b20-class-blog-on-school-site-docx.eml", "-", "-", "near-miss",
        "Word letter links to 'our class blog' hosted on the school website.",
        sender="marsh", to="year3parents@parentmail.example", subject="Class blog",
        attachments=[("blog letter.docx", DOCX, mf.docx_bytes(["Have a look at what we did this week on our class blog."],
                                                              links=[("our class blog", "https://www.stannes.example/classes/oak/blog")]))])
    add("b21-staff-whatsapp-xlsx-internal.eml", "-", "-", "near-miss",
        "Staff contact sheet for the staff WhatsApp group, sent only to staff.",
        sender="office", to="allstaff@stannes.example", subject="Staff WhatsApp group",
        attachments=[("staff contacts.xlsx", XLSX, mf.xlsx_bytes({"Staff": [("Name", "Mobile"), ("Jo Marsh", (7700900311, "00000 000000")),
                                                                           ("Kieran Lowe", (7700900312, "00000 000000"))]}))])
    add("b22-declining-friend-request-odt.eml", "-", "-", "near-miss",
        "Letter to a parent politely declining their Facebook friend request and pointing to the school's channels.",
        sender="abara", to="Mrs M Oduya <m.oduya@parentmail.example>", subject="Your message",
        attachments=[("reply.odt", ODT, mf.odt_bytes(["Dear Mrs Oduya,",
                                                      "Thank you for the friend request. I'm afraid staff do not accept friend requests from parents.",
                                                      "Please contact me through the school office or Class Dojo."]))])
    add("b23-logo-png-to-parents.eml", "-", "-", "benign",
        "The school logo as a PNG for the PTA poster: images are listed, not read.",
        sender="office", to="pta.chair@parentmail.example", subject="Logo",
        attachments=[("logo.png", PNG, png_logo())])

    with open(os.path.join(HERE, "labels.tsv"), "w") as f:
        f.write("file\tcategories\tnotes\tkind\twhy\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("%d messages" % len(rows))


if __name__ == "__main__":
    if not shutil.which("zip"):
        sys.exit("needs /usr/bin/zip (package zip) for the password-protected zip")
    main()
