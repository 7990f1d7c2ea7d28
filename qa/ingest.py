"""Read articles from files and folders: .txt, .md, .html, .json, .jsonl, .pdf and .docx.

Every reader returns `Article` records; a file that cannot be read becomes a `Skipped`
record with a one-line reason, so one bad file never stops a batch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

#: Extensions the indexer reads; anything else in a folder is reported and skipped.
SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx")
#: One article file larger than this is almost certainly not a news article.
MAX_ARTICLE_BYTES = 5 * 1024 * 1024
#: Bulk feeds may be large, but not unbounded.
MAX_FEED_BYTES = 512 * 1024 * 1024
#: A first line at most this long, followed by a blank line or more text, is taken as a title.
MAX_TITLE_CHARS = 120

_DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*\n?", re.IGNORECASE)
_DATE_VALUE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


@dataclass(frozen=True)
class Article:
    """One news article as indexed: `text` is the body the chunk spans point into."""

    id: str
    title: str
    text: str
    date: str | None = None  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    url: str | None = None
    source: str = ""  # file the article came from

    @property
    def hash(self) -> str:
        """Content hash: changes whenever title, date or text change."""
        h = hashlib.sha256()
        for part in (self.title, self.date or "", self.url or "", self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    """A file (or feed record) that was not indexed, and why."""

    source: str
    reason: str


class IngestError(ValueError):
    """Raised for a single file that cannot become an article."""


def normalize_date(value: object) -> str | None:
    """Return "YYYY[-MM[-DD]]" for a date-like value, or None when there is none."""
    if value is None or value == "":
        return None
    m = _DATE_VALUE.match(str(value).strip())
    if not m:
        raise IngestError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    y, mo, d = m.groups()
    if mo and not 1 <= int(mo) <= 12 or d and not 1 <= int(d) <= 31:
        raise IngestError(f"date {value!r} has an impossible month or day")
    return "-".join(p for p in (y, mo, d) if p)


def derive_title(text: str, limit: int = 90) -> str:
    """A title from the first sentence, cut at a word boundary."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first.rstrip(".")
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _clean(text: str) -> str:
    # Normalise line endings and trailing spaces but keep paragraphs: spans point into this.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


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


def parse_html(raw: str, source: str, id: str) -> Article:
    """A saved news page: main text, title and date by trafilatura (not by stripping tags)."""
    import trafilatura  # heavy (lxml, dateparser): import only when an HTML file comes along

    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_precision=True)
    if doc is None:
        raise IngestError("no article text found in the HTML")
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    text = _clean(get("text") or "")
    if not text:
        raise IngestError("no article text found in the HTML")
    try:
        date = normalize_date(get("date"))
    except IngestError:
        date = None
    return Article(id=id, title=(get("title") or "").strip() or derive_title(text), text=text, date=date,
                   url=get("url") or None, source=source)


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


def parse_pdf(data: bytes, source: str, id: str) -> Article:
    """A PDF with a text layer (pypdf); a scanned PDF without one is refused with the reason."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("the PDF is password-protected; save an unprotected copy and upload that")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta = reader.metadata
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise IngestError(f"not a readable PDF ({type(e).__name__}: {e})") from None
    title = getattr(meta, "title", None) if meta else None
    try:
        created = getattr(meta, "creation_date", None) if meta else None
    except (ValueError, TypeError):  # a malformed date string in the metadata
        created = None
    return _doc_article("\n\n".join(p for p in pages if p), title if isinstance(title, str) else None,
                        _doc_date(created), source, id,
                        "the PDF has no text layer (a scanned image?); run OCR on it or upload a text version")


def parse_docx(data: bytes, source: str, id: str) -> Article:
    """A Word .docx document (python-docx): its paragraphs, title and creation date."""
    import io
    import zipfile

    import docx

    try:
        doc = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(f"not a readable .docx file ({type(e).__name__}); save it again from Word as .docx") from None
    paras = [p.text.strip() for p in doc.paragraphs if p.text.strip()]
    props = doc.core_properties
    return _doc_article("\n\n".join(paras), props.title or None, _doc_date(props.created), source, id,
                        "the .docx file has no text")


def parse_record(rec: object, source: str, fallback_id: str) -> Article:
    """One feed record: `text` required; `title`, `date`, `url`, `id` optional."""
    if not isinstance(rec, dict):
        raise IngestError(f"expected a JSON object, got {type(rec).__name__}")
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IngestError("record has no 'text' (a non-empty string is required)")
    text = _clean(text)
    rid = rec.get("id")
    title = rec.get("title")
    return Article(id=str(rid) if rid not in (None, "") else fallback_id,
                   title=str(title).strip() if title else derive_title(text), text=text,
                   date=normalize_date(rec.get("date")), url=rec.get("url") or None, source=source)


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


def read_file(path: Path, id: str) -> tuple[list[Article], list[Skipped]]:
    """Read one file into articles; feed files may yield several articles and skipped records."""
    source = str(path)
    ext = path.suffix.lower()
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


def _read_feed(raw: str, ext: str, source: str, id: str) -> tuple[list[Article], list[Skipped]]:
    arts: list[Article] = []
    skipped: list[Skipped] = []
    if ext == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise IngestError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        records = data if isinstance(data, list) else data.get("articles") if isinstance(data, dict) and isinstance(data.get("articles"), list) else [data]
        numbered = [(i + 1, r) for i, r in enumerate(records)]
        where = "record"
    else:
        numbered = []
        for n, line in enumerate(raw.split("\n"), 1):
            if not line.strip():
                continue
            try:
                numbered.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                skipped.append(Skipped(f"{source}:{n}", f"invalid JSON: {e.msg} (column {e.colno})"))
        where = "line"
    for n, rec in numbered:
        try:
            arts.append(parse_record(rec, f"{source}:{n}", f"{id}#{n}"))
        except IngestError as e:
            skipped.append(Skipped(f"{source}:{n}", f"{where} {n}: {e}"))
    if not arts and not skipped:
        raise IngestError("no records in the feed")
    return arts, skipped


def _walk(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts):
            yield p


def load_articles(paths: Iterable[str | Path]) -> tuple[list[Article], list[Skipped]]:
    """Read files and folders (recursively). Ids are paths relative to the folder given.

    Returns the articles and the skipped inputs; a missing path is a skipped input too.
    Duplicate ids (the same article twice) keep the last one read.
    """
    found: dict[str, Article] = {}
    skipped: list[Skipped] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files = [(p, p.relative_to(root).as_posix()) for p in _walk(root)]
            if not files:
                skipped.append(Skipped(str(root), "folder has no files"))
        elif root.is_file():
            files = [(root, root.name)]
        else:
            skipped.append(Skipped(str(root), "no such file or folder"))
            continue
        for path, rel in files:
            arts, skips = read_file(path, rel)
            skipped.extend(skips)
            for a in arts:
                found[a.id] = a
    for s in skipped:
        log.info("skipped %s: %s", s.source, s.reason)  # callers report skips to the user
    return list(found.values()), skipped
