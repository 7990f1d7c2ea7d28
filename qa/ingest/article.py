"""The article record every reader produces, and what the readers share.

`Article`, `Skipped`, `IngestError`, date checking, titles, text cleaning and the HTML page
reader live here so that qa.ingest.read (files) and qa.ingest.feeds (RSS/Atom, which fetches
HTML pages) both build on this module instead of on each other.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .. import limits

#: One article file larger than this is almost certainly not a news article.
MAX_ARTICLE_BYTES = 5 * 1024 * 1024


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
    """Return "YYYY[-MM[-DD]]" for a date-like value (checked against the calendar), or None when
    there is none; IngestError (one line) for anything else, e.g. 2018-02-30 or 20180101."""
    try:
        return limits.check_date(value)
    except ValueError as e:
        raise IngestError(str(e)) from None


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
