"""Read articles from files and folders: .txt, .md, .html, .json, .jsonl, .pdf, .docx, and RSS/Atom feeds
(qa.ingest.feeds).

Every reader returns `Article` records; a file that cannot be read becomes a `Skipped`
record with a one-line reason, so one bad file never stops a batch.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

from .. import limits
# The record and the shared helpers; Article, IngestError, ... stay importable from here too.
from .article import (MAX_ARTICLE_BYTES, Article, IngestError, Skipped, _clean, derive_title,  # noqa: F401
                      normalize_date, parse_html)

log = logging.getLogger(__name__)

#: RSS/Atom file endings (qa.ingest.feeds.FEED_SUFFIXES; other files are sniffed for a feed root too).
_FEED_SUFFIXES = (".xml", ".rss", ".atom")
#: Extensions the indexer reads; anything else in a folder is reported and skipped.
SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx")
#: Bulk feeds may be large, but not unbounded.
MAX_FEED_BYTES = 512 * 1024 * 1024
#: A first line at most this long, followed by a blank line or more text, is taken as a title.
MAX_TITLE_CHARS = 120

_DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*\n?", re.IGNORECASE)


def _split_title(body: str) -> tuple[str | None, str]:
    """Take a short first line as title when more text follows it."""
    first, sep, rest = body.partition("\n")
    first = first.strip().lstrip("#").strip()
    if sep and rest.strip() and 0 < len(first) <= MAX_TITLE_CHARS and not first.endswith((".", ",", ";", ":")):
        return first, rest.strip()
    return None, body


def parse_txt(raw: str, source: str, id: str) -> Article:
    """Plain text; an optional leading `date YYYY-MM[-DD]` marker gives the date."""
    text = raw.lstrip("\ufeff")
    date = None
    m = _DATE_MARKER.match(text)
    if m:
        date = normalize_date(m.group(1))
        text = text[m.end():]
    title, body = _split_title(_clean(text))
    if not body:
        raise IngestError("no text after the date marker")
    return Article(id=id, title=title or derive_title(body), text=body, date=date, source=source)


_FRONT = re.compile(r"^---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)


def parse_md(raw: str, source: str, id: str) -> Article:
    """Markdown with optional `---` front matter (title, date, url/source); `# heading` as title."""
    text = raw.lstrip("\ufeff")
    meta: dict[str, str] = {}
    m = _FRONT.match(text)
    if m:
        for line in m.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip().strip("'\"")
        text = text[m.end():]
    d = _DATE_MARKER.match(text)
    if d and "date" not in meta:
        meta["date"] = d.group(1)
        text = text[d.end():]
    text = _clean(text)
    title = meta.get("title")
    h = re.match(r"#\s+(.+)\n*", text)
    if h:
        title = title or h.group(1).strip()
        text = text[h.end():].strip()
    if not text:
        raise IngestError("no text besides front matter and heading")
    return Article(id=id, title=title or derive_title(text), text=text, date=normalize_date(meta.get("date")),
                   url=meta.get("url") or meta.get("source") or None, source=source)


def _doc_date(value: object) -> str | None:
    """YYYY-MM-DD of a document's creation datetime, or None."""
    try:
        return normalize_date(value.strftime("%Y-%m-%d")) if value is not None else None  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return None


def _doc_article(text: str, title: str | None, date: str | None, source: str, id: str, what: str) -> Article:
    found, body = _split_title(_clean(text))
    if not body.strip():
        raise IngestError(what)
    return Article(id=id, title=(title or "").strip() or found or derive_title(body), text=body, date=date,
                   source=source)


def _too_long(what: str) -> IngestError:
    return IngestError(f"{what} yields over {limits.MAX_DOCUMENT_CHARS:,} characters of text, the limit for one "
                       "article; split it into smaller files")


def _pdf_limits():
    """pypdf's decompression and parsing limits, lowered to qa's for the duration of one read
    (a context variable: other pypdf users in the process keep theirs)."""
    import contextlib

    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    if apply is None:  # pypdf < 7: its own 75 MB limits hold; qa's page and content caps still apply
        return contextlib.nullcontext()
    n = limits.MAX_PDF_STREAM_BYTES
    return apply(maximum_declared_stream_length=n, array_based_stream_maximum_output_length=n,
                 jbig2_maximum_output_length=n, lzw_maximum_output_length=n, run_length_maximum_output_length=n,
                 zlib_maximum_output_length=n, brotli_maximum_output_length=n, image_maximum_buffer_size=n,
                 xform_maximum_invocations_per_extraction=limits.MAX_PDF_FORMS_PER_PAGE)


def _pdf_date(reader: object, meta: object) -> object:
    """The PDF's creation date: XMP (xmp:CreateDate, then dc:date) first, as publishing tools write
    it there, else the Info dictionary's /CreationDate; None when neither holds a readable one."""
    from xml.parsers.expat import ExpatError

    from pypdf.errors import PyPdfError

    try:
        xmp = getattr(reader, "xmp_metadata", None)
        if xmp is not None:
            for value in (getattr(xmp, "xmp_create_date", None), *(getattr(xmp, "dc_date", None) or [])):
                if value is not None:
                    return value
    except (ValueError, TypeError, KeyError, AttributeError, ExpatError, PyPdfError):  # bad XMP: use Info
        pass
    try:
        return getattr(meta, "creation_date", None) if meta else None
    except (ValueError, TypeError):  # a malformed date string in the metadata
        return None


#: python-docx's blank template carries this creation time: a document made from it without
#: setting one has no real date.
DOCX_TEMPLATE_CREATED = "2013-12-23T23:15:00"


def parse_pdf(data: bytes, source: str, id: str) -> Article:
    """A PDF with a text layer (pypdf); a scanned PDF without one is refused with the reason.

    Pages, decompressed page content and extracted text are capped (qa.limits); a file over a cap
    is refused with one line before the work it would cost is done."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

    try:
        with _pdf_limits():
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise IngestError("the PDF is password-protected; save an unprotected copy and upload that")
            n = len(reader.pages)
            if n > limits.MAX_PDF_PAGES:
                raise IngestError(f"the PDF has {n:,} pages, over the limit of {limits.MAX_PDF_PAGES:,} for one "
                                  "article; split it into smaller files")
            pages: list[str] = []
            content = chars = 0
            for i, page in enumerate(reader.pages, 1):
                stream = page.get_contents()
                content += len(stream.get_data()) if stream is not None else 0
                if content > limits.MAX_PDF_CONTENT_BYTES:  # checked before the page is parsed
                    raise IngestError(f"the PDF's page content is over {limits.MAX_PDF_CONTENT_BYTES / 2**20:.0f} MB "
                                      f"decompressed by page {i} of {n}; split it into smaller files")
                text = (page.extract_text() or "").strip()
                chars += len(text)
                if chars > limits.MAX_DOCUMENT_CHARS:
                    raise _too_long(f"the PDF (by page {i} of {n})")
                pages.append(text)
            meta = reader.metadata
            created = _pdf_date(reader, meta)  # under the same limits: XMP is a stream too
    except IngestError:
        raise
    except LimitReachedError:
        raise IngestError(f"the PDF holds a stream that inflates past {limits.MAX_PDF_STREAM_BYTES / 2**20:.0f} MB "
                          "or past pypdf's parsing limits (a decompression bomb?); nothing was read") from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError) as e:
        raise IngestError(f"not a readable PDF ({type(e).__name__}: {_first_line(e)})") from None
    title = getattr(meta, "title", None) if meta else None
    return _doc_article("\n\n".join(p for p in pages if p), title if isinstance(title, str) else None,
                        _doc_date(created), source, id,
                        "the PDF has no text layer (a scanned image?); run OCR on it or upload a text version")


def _first_line(e: BaseException, limit: int = 160) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check_docx_zip(data: bytes) -> None:
    """Refuse a .docx whose zip would inflate past qa's caps, before python-docx reads it."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise IngestError(f"not a readable .docx file ({type(e).__name__}); save it again from Word as .docx") from None
    if len(infos) > limits.MAX_DOCX_MEMBERS:
        raise IngestError(f"the .docx file holds {len(infos):,} parts, over the limit of {limits.MAX_DOCX_MEMBERS:,}")
    total = sum(i.file_size for i in infos)
    xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
    for size, cap, what in ((total, limits.MAX_DOCX_BYTES, "in all"), (xml, limits.MAX_DOCX_XML_BYTES, "of XML")):
        if size > cap:
            raise IngestError(f"the .docx file unpacks to {size / 2**20:,.0f} MB {what}, over the limit of "
                              f"{cap / 2**20:.0f} MB; split it into smaller files")


def parse_docx(data: bytes, source: str, id: str) -> Article:
    """A Word .docx document (python-docx): its paragraphs, title and creation date.

    The unpacked size and the extracted text are capped (qa.limits); malformed XML, an entity
    expansion bomb included (lxml refuses it), is one line."""
    import io
    import zipfile

    import docx
    from lxml import etree

    _check_docx_zip(data)
    try:
        doc = docx.Document(io.BytesIO(data))
        paras: list[str] = []
        chars = 0
        for p in doc.paragraphs:
            text = p.text.strip()
            if text:
                chars += len(text)
                if chars > limits.MAX_DOCUMENT_CHARS:
                    raise _too_long("the .docx file")
                paras.append(text)
        props = doc.core_properties
        title, created = props.title or None, props.created
    except IngestError:
        raise
    except etree.XMLSyntaxError as e:
        raise IngestError(f"the .docx file's XML is malformed or expands too far ({_first_line(e)})") from None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as e:
        raise IngestError(f"not a readable .docx file ({type(e).__name__}); save it again from Word as .docx") from None
    if created is not None and created.strftime("%Y-%m-%dT%H:%M:%S") == DOCX_TEMPLATE_CREATED:
        created = None
    return _doc_article("\n\n".join(paras), title, _doc_date(created), source, id, "the .docx file has no text")


def _optional_str(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise IngestError(f"'{key}' must be a string, got {type(value).__name__} {_short(value)}")
    return value.strip() or None


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_record(rec: object, source: str, fallback_id: str) -> Article:
    """One feed record: `text` required; `title`, `date`, `url` (strings), `id` (string or integer) optional.

    A field of the wrong type is an error for the record (it is skipped, the others go in), not
    for the whole file.
    """
    if not isinstance(rec, dict):
        raise IngestError(f"expected a JSON object, got {type(rec).__name__} {_short(rec)}")
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IngestError("record has no 'text' (a non-empty string is required)"
                          + (f"; got {type(text).__name__}" if text is not None and not isinstance(text, str) else ""))
    text = _clean(text)
    rid = rec.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (str, int, type(None))):
        raise IngestError(f"'id' must be a string or an integer, got {type(rid).__name__} {_short(rid)}")
    rid = str(rid).strip() if rid is not None else ""
    title = _optional_str(rec, "title")
    url = _optional_str(rec, "url")
    return Article(id=rid or fallback_id, title=title or derive_title(text), text=text,
                   date=normalize_date(rec.get("date")), url=url, source=source)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise IngestError("empty file")
    if b"\x00" in data[:8192]:
        raise IngestError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
                          "save the file as UTF-8") from None


def read_file(path: Path, id: str, *, fetch: bool = False, allow_private: bool = False
              ) -> tuple[list[Article], list[Skipped]]:
    """Read one file into articles; feed files may yield several articles and skipped records.

    RSS/Atom files (qa.ingest.feeds) are read by qa.ingest.feeds; `fetch` fetches the pages of summary-only items.
    """
    source = str(path)
    ext = path.suffix.lower()
    if ext in _FEED_SUFFIXES or ext not in SUPPORTED and path.is_file():
        from . import feeds  # feedparser loads only when a feed comes along

        if feeds.looks_like_feed(path):
            return _read_news_feed(source, fetch, None, allow_private)
    if ext not in SUPPORTED:
        return [], [Skipped(source, f"unsupported file type {ext or '(none)'}; use one of {', '.join(SUPPORTED)}")]
    try:
        size = path.stat().st_size
        limit = MAX_FEED_BYTES if ext in (".json", ".jsonl") else MAX_ARTICLE_BYTES
        if size > limit:
            raise IngestError(f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit for {ext} files")
        if ext in (".pdf", ".docx"):  # binary formats: parsed from bytes, not decoded as text
            data = path.read_bytes()
            if not data.strip():
                raise IngestError("empty file")
            return [(parse_pdf if ext == ".pdf" else parse_docx)(data, source, id)], []
        raw = _decode(path.read_bytes())
        if ext == ".txt":
            return [parse_txt(raw, source, id)], []
        if ext in (".md", ".markdown"):
            return [parse_md(raw, source, id)], []
        if ext in (".html", ".htm"):
            return [parse_html(raw, source, id)], []
        return _read_feed(raw, ext, source, id)
    except IngestError as e:
        return [], [Skipped(source, str(e))]
    except OSError as e:
        return [], [Skipped(source, f"cannot read: {e.strerror or e}")]
    except Exception as e:  # noqa: BLE001 - any failure of one file skips that file, never the batch
        log.debug("reading %s failed", source, exc_info=True)
        return [], [Skipped(source, f"cannot be read ({type(e).__name__}: {_first_line(e)})")]


def _loads(raw: str, where: str) -> object:
    """json.loads with the nesting bounded first (deep input made the parser raise RecursionError)."""
    try:
        limits.check_json_depth(raw, where)
        return json.loads(raw)
    except ValueError as e:
        if isinstance(e, json.JSONDecodeError):
            raise IngestError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        raise IngestError(str(e)) from None
    except RecursionError:
        raise IngestError(f"{where} is nested too deeply") from None


def _array_lines(raw: str, count: int) -> list[int]:
    """Line numbers where the elements of a top-level JSON array start (for messages)."""
    dec = json.JSONDecoder()
    lines: list[int] = []
    i = raw.index("[") + 1
    line, last = 1 + raw.count("\n", 0, i), i
    ws = re.compile(r"[\s,]*")
    while len(lines) < count:
        i = ws.match(raw, i).end()
        line += raw.count("\n", last, i)
        lines.append(line)
        last = i
        _, i = dec.raw_decode(raw, i)
    return lines


def _read_feed(raw: str, ext: str, source: str, id: str) -> tuple[list[Article], list[Skipped]]:
    """A .json file (an array of records, {"articles": [...]}, or one record) or .jsonl (one
    record per line). Bad records are skipped as FILE:LINE with the reason; the rest go in."""
    arts: list[Article] = []
    skipped: list[Skipped] = []
    # (label for messages, fallback-id number, record)
    numbered: list[tuple[str, int, object]] = []
    if ext == ".json":
        data = _loads(raw, "the JSON")
        if isinstance(data, list):
            lines = _array_lines(raw, len(data))
            numbered = [(f"{source}:{ln}", i + 1, r) for i, (ln, r) in enumerate(zip(lines, data))]
        else:
            records = data["articles"] if isinstance(data, dict) and isinstance(data.get("articles"), list) else [data]
            numbered = [(f"{source} record {i + 1}", i + 1, r) for i, r in enumerate(records)]
    else:
        for n, line in enumerate(raw.split("\n"), 1):
            if not line.strip():
                continue
            try:
                numbered.append((f"{source}:{n}", n, _loads(line, "the line")))
            except IngestError as e:
                skipped.append(Skipped(f"{source}:{n}", str(e).replace(" at line 1 column", " at column")))
    for label, n, rec in numbered:
        try:
            arts.append(parse_record(rec, label, f"{id}#{n}"))
        except IngestError as e:
            skipped.append(Skipped(label, str(e)))
    if not arts and not skipped:
        raise IngestError("no records in the feed")
    return arts, skipped


def _read_news_feed(source: str, fetch: bool, state: object, allow_private: bool = False
                    ) -> tuple[list[Article], list[Skipped]]:
    from . import feeds

    try:
        return feeds.read_feed(source, fetch_pages=fetch, state=state,  # type: ignore[arg-type]
                               allow_private=allow_private)
    except IngestError as e:  # FeedError: the whole feed is unusable; nothing of it goes in
        return [], [Skipped(source, str(e))]
    except Exception as e:  # noqa: BLE001 - one feed's failure skips that feed, never the batch
        log.debug("reading feed %s failed", source, exc_info=True)
        return [], [Skipped(source, f"cannot be read ({type(e).__name__}: {_first_line(e)})")]


def _walk(root: Path, follow_symlinks: bool = False, skipped: list[Skipped] | None = None) -> Iterator[Path]:
    """The files under `root` (hidden ones left out), sorted. A symlink, to a file or a folder,
    that leads outside `root` is skipped with a reason unless `follow_symlinks` (a folder of
    articles must not pull in /etc/passwd or a login file); one that stays inside is read."""
    top = root.resolve()
    seen: set[Path] = set()
    out: list[Path] = []

    def visit(folder: Path) -> None:
        real = folder.resolve()
        if real in seen:  # a symlink loop, or a folder reached twice
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            if skipped is not None:
                skipped.append(Skipped(str(folder), f"cannot read the folder: {e.strerror or e}"))
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            if e.is_symlink():
                target = p.resolve()
                if not follow_symlinks and not target.is_relative_to(top):
                    if skipped is not None:
                        skipped.append(Skipped(str(p), f"symlink to {target}, outside the input folder; not read "
                                                       "(pass --follow-symlinks to read it)"))
                    continue
            if e.is_dir():  # follows a symlink that passed the check
                visit(p)
            elif e.is_file():
                out.append(p)

    visit(root)
    yield from sorted(out, key=lambda p: p.relative_to(root).as_posix())


def load_articles(paths: Iterable[str | Path], *, fetch: bool = False, feed_state: object = None,
                  allow_private: bool = False, follow_symlinks: bool = False) -> tuple[list[Article], list[Skipped]]:
    """Read files, folders (recursively) and feed URLs. Ids are paths relative to the folder given;
    feed items have their link as id. `fetch`: fetch the page of a feed item that has only a
    summary. `feed_state`: a qa.ingest.feeds.FeedState kept between polling rounds. `allow_private`:
    also fetch feeds and pages from loopback, private and link-local addresses (refused by default,
    at every redirect too: a feed's links must not reach this machine's or this network's services).
    `follow_symlinks`: read symlinks in a folder that lead outside it (skipped by default).

    Returns the articles and the skipped inputs; a missing path is a skipped input too.
    The same id from two different inputs (a/x.txt and b/x.txt given as `a b`) is kept apart:
    the later one gets the input's name in front ("b/x.txt"), and a warning is logged. The same
    id twice within one input (a repeated record id in a feed) keeps the later record, and the
    earlier one is reported as skipped.
    """
    found: dict[str, Article] = {}
    origin: dict[str, int] = {}  # id -> which input it came from
    skipped: list[Skipped] = []
    for n_input, given in enumerate(paths):
        root = Path(given)
        if isinstance(given, str) and given.lower().startswith(("http://", "https://")):
            arts, skips = _read_news_feed(given, fetch, feed_state, allow_private)
            skipped.extend(skips)
            for a in arts:
                found[a.id] = a
                origin[a.id] = n_input
            continue
        if root.is_dir():
            before = len(skipped)
            files = [(p, p.relative_to(root).as_posix()) for p in _walk(root, follow_symlinks, skipped)]
            if not files and len(skipped) == before:
                skipped.append(Skipped(str(root), "folder has no files"))
        elif root.is_file():
            files = [(root, root.name)]
        else:
            skipped.append(Skipped(str(root), "no such file or folder"))
            continue
        prefix = (root if root.is_dir() else root.parent).resolve().name or "input"
        for path, rel in files:
            arts, skips = read_file(path, rel, fetch=fetch, allow_private=allow_private)
            skipped.extend(skips)
            for a in arts:
                if a.id.startswith(("http://", "https://")):
                    pass  # a feed item's link: the same link is the same article wherever it came from
                elif a.id in found and origin[a.id] != n_input and found[a.id].source != a.source:
                    new_id = _free_id(f"{prefix}/{a.id}", found)
                    log.warning("%s: id %s is also used by %s; indexed as %s", a.source, a.id, found[a.id].source, new_id)
                    a = Article(id=new_id, title=a.title, text=a.text, date=a.date, url=a.url, source=a.source)
                elif a.id in found and found[a.id].source != a.source:
                    skipped.append(Skipped(found[a.id].source, f"id {a.id} appears again in {a.source}; the later one is kept"))
                found[a.id] = a
                origin[a.id] = n_input
    for s in skipped:
        log.info("skipped %s: %s", s.source, s.reason)  # callers report skips to the user
    return list(found.values()), skipped


def _free_id(wanted: str, taken: dict[str, Article]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}~{n}" in taken:
        n += 1
    return f"{wanted}~{n}"
