"""PDF and DOCX articles (qa/ingest/read.py): text extracted, title and date kept, bad files refused in one line."""
from __future__ import annotations

from pathlib import Path

import pytest

from qa.ingest.read import read_file


def make_pdf(path: Path, lines: list[str], title: str | None = None, date: str = "20260312") -> Path:
    """A small, valid one-page PDF with a real text layer (Helvetica), written by hand."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(f"({esc(x)}) Tj T*" for x in lines) + " ET"
    info = f"<< /CreationDate (D:{date}120000Z)" + (f" /Title ({esc(title)})" if title else "") + " >>"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 4 0 R >> >> "
            "/Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
            info]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)
    return path


LINES = ["The Zeewolde windmill museum reopened on Saturday after a two-year restoration.",
         "Curator Anouk Verbeek said the restored mill grinds four hundred kilos of grain a day.",
         "The restoration cost 1.2 million euros, paid mostly by the province of Flevoland."]


def test_pdf_text_title_and_date(tmp_path):
    arts, skipped = read_file(make_pdf(tmp_path / "mill.pdf", LINES, title="Zeewolde mill reopens"), "mill.pdf")
    assert skipped == [] and len(arts) == 1
    a = arts[0]
    assert a.title == "Zeewolde mill reopens" and a.date == "2026-03-12"
    assert "Anouk Verbeek" in a.text and "Flevoland" in a.text


def test_scanned_pdf_gets_one_line_reason(tmp_path):
    arts, skipped = read_file(make_pdf(tmp_path / "scan.pdf", []), "scan.pdf")
    assert arts == [] and len(skipped) == 1
    assert "no text layer" in skipped[0].reason and "\n" not in skipped[0].reason


def test_broken_pdf_and_docx_are_refused(tmp_path):
    for name in ("broken.pdf", "broken.docx"):
        (tmp_path / name).write_bytes(b"this is not really a document at all" * 10)
        arts, skipped = read_file(tmp_path / name, name)
        assert arts == [] and len(skipped) == 1 and "\n" not in skipped[0].reason, skipped


def test_docx_paragraphs_and_title(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.core_properties.title = "Harlingen ferry strike"
    for line in LINES[:1] + ["The ferry crews of Harlingen stopped work on Monday over pay.",
                             "About two thousand travellers to Terschelling were stranded."]:
        d.add_paragraph(line)
    d.save(tmp_path / "ferry.docx")
    arts, skipped = read_file(tmp_path / "ferry.docx", "ferry.docx")
    assert skipped == [] and arts[0].title == "Harlingen ferry strike"
    assert "Terschelling" in arts[0].text
    assert arts[0].date is None  # python-docx's template date (2013-12-23) is no date
    d.core_properties.created = __import__("datetime").datetime(2025, 11, 4, 9, 30)
    d.save(tmp_path / "ferry.docx")
    assert read_file(tmp_path / "ferry.docx", "ferry.docx")[0][0].date == "2025-11-04"


def test_pdf_date_from_xmp_first_else_info_else_none(tmp_path):
    from pypdf import PdfReader, PdfWriter

    src = make_pdf(tmp_path / "a.pdf", LINES, date="20260312")
    w = PdfWriter(clone_from=PdfReader(src))
    w.xmp_metadata = None
    xmp = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
           b'xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:CreateDate>2024-06-30T08:00:00Z</xmp:CreateDate>'
           b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    from pypdf.generic import NameObject, StreamObject
    stream = StreamObject()
    stream.set_data(xmp)
    stream.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    w._root_object[NameObject("/Metadata")] = w._add_object(stream)
    w.write(tmp_path / "xmp.pdf")
    assert read_file(tmp_path / "xmp.pdf", "xmp.pdf")[0][0].date == "2024-06-30"  # XMP wins over Info
    assert read_file(src, "a.pdf")[0][0].date == "2026-03-12"  # Info's /CreationDate
    bare = (tmp_path / "a.pdf").read_bytes().replace(b"/CreationDate (D:20260312120000Z)", b"/Producer (hand)              ")
    (tmp_path / "bare.pdf").write_bytes(bare)
    assert read_file(tmp_path / "bare.pdf", "bare.pdf")[0][0].date is None  # no date: none, not today


def test_empty_docx_refused(tmp_path):
    docx = pytest.importorskip("docx")
    docx.Document().save(tmp_path / "empty.docx")
    arts, skipped = read_file(tmp_path / "empty.docx", "empty.docx")
    assert arts == [] and "no text" in skipped[0].reason
