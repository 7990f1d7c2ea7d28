"""Build crafted PDF and DOCX files at test time (nothing large is committed): small files that
decompress or expand to far more than they weigh (issue 19, items 2 and 3).

    python tests/make_bombs.py DIR     # writes every bomb into DIR and prints name, size

Each builder writes one file and returns its path; `BOMBS` names them all.
"""
from __future__ import annotations

import sys
import zipfile
import zlib
from pathlib import Path
from typing import Callable

_CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  '<Default Extension="xml" ContentType="application/xml"/>'
                  '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                  'wordprocessingml.document.main+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="word/document.xml"/></Relationships>')
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx(path: Path, write_document: Callable[[zipfile.ZipFile], None]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        write_document(z)
    return path


def docx_text(path: Path, text: str = "De haven van Antwerpen ontving twaalf schepen uit Canada.") -> Path:
    """A small, ordinary .docx with one paragraph (the good file beside the bombs)."""
    body = f'<w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
    return _docx(path, lambda z: z.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{_W}">'
                                                                 f'<w:body>{body}</w:body></w:document>'))


def docx_text_bomb(path: Path, mb: int = 120) -> Path:
    """A .docx whose document.xml holds `mb` MB of repeated paragraphs: about 0.5 MB on disk,
    ~100 million characters of text (the audit's 272 KB file)."""
    para = f'<w:p><w:r><w:t>{"Spam spam spam haven schip. " * 20}</w:t></w:r></w:p>'.encode()
    block = para * (1_000_000 // len(para))

    def write(z: zipfile.ZipFile) -> None:
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>'.encode())
            for _ in range(mb):
                f.write(block)
            f.write(b"</w:body></w:document>")
    return _docx(path, write)


def docx_entity_bomb(path: Path) -> Path:
    """A .docx whose document.xml is a "billion laughs" XML entity expansion."""
    ents = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [{ents}]><w:document xmlns:w="{_W}"><w:body>'
           f'<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>')
    return _docx(path, lambda z: z.writestr("word/document.xml", xml))


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF from numbered objects (1-based, in order) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes, compress: bool = True) -> bytes:
    raw = zlib.compress(data, 9) if compress else data
    return (b"<< /Length %d%s >>\nstream\n" % (len(raw), b" /Filter /FlateDecode" if compress else b"")
            + raw + b"\nendstream")


def _text_ops(lines: list[str]) -> bytes:
    ops = ["BT /F1 11 Tf 50 780 Td 14 TL"] + [f"({s}) Tj T*" for s in lines] + ["ET"]
    return "\n".join(ops).encode("latin-1")


def _pages_pdf(n_pages: int, content: bytes, shared: bool = True) -> bytes:
    """`n_pages` pages that all draw the same content stream (one object when `shared`)."""
    first_page = 4
    kids = " ".join(f"{first_page + i} 0 R" for i in range(n_pages))
    stream_obj = first_page + n_pages
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(n_pages):
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                    f"/Contents {stream_obj} 0 R >>".encode())
    objs.append(_stream(content))
    return _pdf(objs)


def pdf_text(path: Path, text: str = "De haven van Antwerpen ontving twaalf schepen uit Canada.") -> Path:
    """A small, ordinary one-page PDF with a text layer."""
    path.write_bytes(_pages_pdf(1, _text_ops([text])))
    return path


def pdf_shared_stream_bomb(path: Path, pages: int = 2000) -> Path:
    """`pages` pages sharing one content stream of ~33,000 characters: ~300 KB, ~66 million characters
    of extracted text (the audit's 314 KB file)."""
    line = "Spam haven schip Antwerpen Canada twaalf schepen " * 2
    path.write_bytes(_pages_pdf(pages, _text_ops([line] * 330)))
    return path


def pdf_flate_bomb(path: Path, mb: int = 500) -> Path:
    """One page whose content stream inflates to `mb` MB (spaces): ~0.5 MB on disk."""
    comp = zlib.compressobj(9)
    block = b" " * (1 << 20)
    raw = b"".join(comp.compress(block) for _ in range(mb)) + comp.flush()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents 5 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(raw) + raw + b"\nendstream"]
    path.write_bytes(_pdf(objs))
    return path


def pdf_content_bomb(path: Path, mb: int = 6) -> Path:
    """One page of `mb` MB of drawing operators (no text): parsing them is the cost."""
    ops = b"1 1 m 200 200 l S\n" * (mb * (1 << 20) // 18)
    path.write_bytes(_pages_pdf(1, ops))
    return path


BOMBS: dict[str, Callable[[Path], Path]] = {
    "text-bomb.docx": docx_text_bomb,  # caught by the unpacked-size cap
    "text-bomb-12mb.docx": lambda p: docx_text_bomb(p, 12),  # under it: caught by the text cap
    "entity-bomb.docx": docx_entity_bomb,
    "shared-stream-bomb.pdf": pdf_shared_stream_bomb,  # caught by the page cap
    "shared-stream-900.pdf": lambda p: pdf_shared_stream_bomb(p, 900),  # under it: the text cap
    "content-bomb.pdf": pdf_content_bomb,  # the decompressed-content cap
    "flate-bomb.pdf": pdf_flate_bomb,  # pypdf's decompression limit, lowered by qa
}


def make_all(folder: Path) -> dict[str, Path]:
    """Every bomb in `folder`, by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: build(folder / name) for name, build in BOMBS.items()}


#: Run in a fresh process per file: seconds and peak RSS of reading it, and what came out.
_MEASURE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from qa.ingest.read import read_file
import pypdf, docx, lxml.etree  # the libraries' own import cost is not the file's
p = Path(sys.argv[1])
t = time.perf_counter()
arts, skipped = read_file(p, p.name)
took = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of a big process (pytest with
# models loaded) would report its parent's peak.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": took, "rss_mb": peak, "articles": len(arts), "reasons": [s.reason for s in skipped]}}))
"""


def _cap_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def measure(path: Path, timeout: float = 120) -> dict:
    """`qa.ingest.read.read_file` of one file in a fresh process (at most 2 GB of address space, so a
    regression cannot take the machine down): seconds, peak RSS in MB (the whole process, Python
    and the libraries included), articles, skip reasons."""
    import json
    import subprocess

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", _MEASURE.format(root=str(root)), str(path)], capture_output=True,
                       text=True, timeout=timeout, preexec_fn=_cap_memory)
    if r.returncode != 0:
        raise RuntimeError(f"reading {path.name} failed: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    for name, p in make_all(Path(sys.argv[1] if len(sys.argv) > 1 else "bombs")).items():
        print(f"{name}: {p.stat().st_size / 1e3:.0f} KB")
