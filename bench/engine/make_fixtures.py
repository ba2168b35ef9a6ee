#!/usr/bin/python3
"""Attachment-heavy benchmark mail for engine_bench: a ~2 MB xlsx, a ~5 MB PDF and a zip of
20 docx, each wrapped in an outgoing .eml (multipart/mixed, base64).

    /usr/bin/python3 bench/engine/make_fixtures.py OUT_DIR

Deterministic: a seeded PRNG, fixed document dates. Uses Debian's python3-openpyxl,
python3-docx, python3-reportlab (and python3-pil, which reportlab pulls in). All names,
addresses and identifiers are invented; domains are .example. Skips files already present.
"""
import base64
import datetime
import io
import os
import random
import sys
import zipfile

FIXED = datetime.datetime(2024, 3, 4, 9, 30, 0)
FIRST = ["Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Freya", "Leo", "Poppy", "Arthur",
         "Maya", "Theo", "Ivy", "Oscar", "Rosie", "Jack", "Elsie", "Harry", "Willow", "Alfie"]
LAST = ["Whitcombe", "Penhallow", "Ashdown", "Tregarth", "Moorcroft", "Fenwick", "Halloran",
        "Brightwell", "Carrow", "Dunmore", "Ellery", "Fairbairn", "Garland", "Hollis"]
WORDS = ("the class has been working hard on their reading and writing this term and we are "
         "very proud of the progress everyone has made in maths science art music history "
         "geography swimming forest school trip assembly homework spelling phonics library "
         "lunch playground sports day parents evening harvest festival nativity choir").split()


def sentence(rng, n=14):
    w = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(w).capitalize() + "."


def make_xlsx(rng, target):
    import openpyxl
    wb = openpyxl.Workbook()
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    ws = wb.active
    ws.title = "Reading records"
    ws.append(["Name", "Class", "Date", "Book", "Pages", "Comment", "Level", "Score"])
    rows = 0
    # Text-heavy rows compress ~4x; write until the saved file is near the target size.
    while True:
        for _ in range(5000):
            ws.append([f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"Y{rng.randint(1, 6)}",
                       f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
                       " ".join(rng.choice(WORDS) for _ in range(4)).title(), rng.randint(1, 60),
                       sentence(rng, 10), rng.randint(1, 12), round(rng.random() * 100, 1)])
            rows += 1
        buf = io.BytesIO()
        wb.save(buf)
        if buf.tell() >= target:
            return buf.getvalue()


def make_pdf(rng, target):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from PIL import Image
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle("Summer term newsletter and curriculum booklet")
    # ~120 pages of text (the extractor's real work) plus photo-like images (incompressible
    # noise JPEGs) that bring the file to the target size, as a scanned-photo booklet would.
    for page in range(120):
        t = c.beginText(50, 790)
        t.setFont("Helvetica", 10)
        t.textLine(f"Curriculum booklet - page {page + 1}")
        for _ in range(60):
            t.textLine(sentence(rng, 12))
        c.drawText(t)
        c.showPage()
    photo = 0
    while True:
        img = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
        jb = io.BytesIO()
        img.save(jb, "JPEG", quality=85)
        jb.seek(0)
        c.drawImage(ImageReader(jb), 50, 300, width=480, height=360)
        c.drawString(50, 280, f"Photo {photo + 1}: sports day")
        c.showPage()
        photo += 1
        # each 640x480 noise JPEG at q85 is ~300 KB; stop near the target size
        if photo * 300 * 1024 + 120 * 3000 >= target:
            break
    c.save()
    return buf.getvalue()


def make_xlsx_rows(rng, target):
    """The 10 MB xlsx of issue 12: rows calibrated from a sample, then written once
    (openpyxl's write-only mode; saving a growing workbook again and again is quadratic)."""
    import openpyxl

    def build(rows):
        wb = openpyxl.Workbook(write_only=True)
        wb.properties.created = FIXED
        wb.properties.modified = FIXED
        ws = wb.create_sheet("Reading records")
        ws.append(["Name", "Class", "Date", "Book", "Pages", "Comment", "Level", "Score"])
        r = random.Random(rng)
        for _ in range(rows):
            ws.append([f"{r.choice(FIRST)} {r.choice(LAST)}", f"Y{r.randint(1, 6)}",
                       f"2024-0{r.randint(1, 9)}-{r.randint(10, 28)}",
                       " ".join(r.choice(WORDS) for _ in range(4)).title(), r.randint(1, 60),
                       sentence(r, 10), r.randint(1, 12), round(r.random() * 100, 1)])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    sample = 20000
    size = len(build(sample))
    return build(int(sample * target / size))


def make_text_pdf(rng, pages, target):
    """The 10 MB, 4,000-page text PDF of issue 12: uncompressed text pages only."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    lines = max(5, int(target / pages / 80))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=0)
    c.setTitle("School policies handbook")
    for page in range(pages):
        t = c.beginText(40, 800)
        t.setFont("Helvetica", 8)
        t.textLine(f"Policies handbook - page {page + 1}")
        for _ in range(lines):
            t.textLine(sentence(rng, 11))
        c.drawText(t)
        c.showPage()
    c.save()
    return buf.getvalue()


def make_docx(rng, i):
    import docx
    d = docx.Document()
    d.core_properties.created = FIXED
    d.core_properties.modified = FIXED
    d.core_properties.author = "Year 4 team"
    d.add_heading(f"Worksheet {i + 1}: {rng.choice(WORDS)} and {rng.choice(WORDS)}", 1)
    for _ in range(40):
        d.add_paragraph(" ".join(sentence(rng) for _ in range(4)))
    t = d.add_table(rows=10, cols=3)
    for r in t.rows:
        for cell in r.cells:
            cell.text = rng.choice(WORDS)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_zip(rng):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(20):
            info = zipfile.ZipInfo(f"Worksheets/worksheet-{i + 1:02d}.docx", (2024, 3, 4, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, make_docx(rng, i))
    return buf.getvalue()


def eml(name, ctype, filename, payload):
    b = "=_pm_bench_" + name
    body = base64.encodebytes(payload).decode("ascii").replace("\n", "\r\n")
    return ("From: Hannah Penhallow <h.penhallow@stannes.example>\r\n"
            "To: Year 4 parents <y4-parents@parents.example>\r\n"
            f"Subject: Bench {name}\r\n"
            "Date: Mon, 04 Mar 2024 09:33:00 +0000\r\n"
            f"Message-ID: <bench-{name}@mail.stannes.example>\r\n"
            "MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\n"
            "Dear parents,\r\n\r\nPlease find attached the documents for this term.\r\n\r\n"
            "Kind regards\r\nHannah Penhallow\r\n\r\n"
            f"--{b}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n\r\n"
            f"{body}--{b}--\r\n").encode("ascii")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench-fixtures"
    os.makedirs(out, exist_ok=True)
    jobs = [
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "Reading records.xlsx", lambda: make_xlsx(random.Random(1), 2 * 1024 * 1024)),
        ("pdf", "application/pdf", "Curriculum booklet.pdf",
         lambda: make_pdf(random.Random(2), 5 * 1024 * 1024)),
        ("zip", "application/zip", "Worksheets.zip", lambda: make_zip(random.Random(3))),
        # issue 12: a 10 MB xlsx and a 10 MB, 4,000-page text PDF (BM_LargeDocument)
        ("xlsx10", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "Reading records 2020-2024.xlsx", lambda: make_xlsx_rows(4, 10 * 1000 * 1000)),
        ("pdf4000", "application/pdf", "Policies handbook.pdf",
         lambda: make_text_pdf(random.Random(5), 4000, 10 * 1000 * 1000)),
    ]
    for name, ctype, filename, make in jobs:
        path = os.path.join(out, f"attach-{name}.eml")
        if os.path.exists(path):
            continue
        data = make()
        with open(os.path.join(out, filename.replace(" ", "-")), "wb") as f:
            f.write(data)
        with open(path + ".tmp", "wb") as f:
            f.write(eml(name, ctype, filename, data))
        os.replace(path + ".tmp", path)
        print(f"{path}: attachment {len(data) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
