"""News feeds: RSS 2.0 and Atom, from a file or an http(s) URL, parsed by feedparser.

Each item becomes an `Article`: its link is the id and url, its publication (or update) date
the date, its content (or description) converted to text by trafilatura. With `fetch_pages`,
an item that has only a summary gets its linked page fetched and extracted. Network reads have
a timeout and a size cap; a feed that cannot be fetched or parsed raises `FeedError` (one
line, without the source, which the caller reports) and nothing of it is used. `FeedState` carries what polling needs between rounds.
"""
from __future__ import annotations

import html
import io
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .article import MAX_ARTICLE_BYTES, Article, IngestError, Skipped, derive_title, parse_html

log = logging.getLogger(__name__)

#: File name endings read as feeds; other files are sniffed for an <rss>, <feed> or <rdf:RDF> root.
FEED_SUFFIXES = (".xml", ".rss", ".atom")
#: Whole-request deadline for a feed or a page, in seconds (connect, redirects and reading).
FETCH_TIMEOUT = 20.0
#: A feed document larger than this is refused (big news feeds are a few hundred KB).
MAX_FEED_DOWNLOAD_BYTES = 10 * 1024 * 1024
#: A fetched article page larger than this is refused (the same cap as an article file).
MAX_PAGE_BYTES = MAX_ARTICLE_BYTES
#: Polling faster than this is refused: feeds change every few minutes at most.
MIN_POLL_SECONDS = 60
USER_AGENT = "qa-news-reader/0.1 (+https://github.com/; feed polling)"

_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*|<\?[^>]*>\s*)*<(rss|feed|rdf:RDF)\b",
                   re.DOTALL | re.IGNORECASE)
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)", re.IGNORECASE)


class FeedError(IngestError):
    """A feed (or page) that cannot be fetched or parsed; the message is one line."""


@dataclass
class FeedState:
    """What a polling loop keeps between rounds: conditional-GET validators per feed, and the
    articles made from items, so an unchanged item's page is not fetched again."""

    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    last: dict[str, tuple[list[Article], list[Skipped]]] = field(default_factory=dict)
    items: dict[str, tuple[str, Article]] = field(default_factory=dict)


def is_url(source: str | Path) -> bool:
    """Whether `source` is an http(s) URL (other schemes are not read)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def looks_like_feed(path: Path) -> bool:
    """A feed file: a feed suffix, or an XML document whose root is <rss>, <feed> or <rdf:RDF>."""
    if path.suffix.lower() in FEED_SUFFIXES:
        return True
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return bool(_ROOT.match(head.lstrip(b"\xef\xbb\xbf")))


def parse_interval(value: str) -> float:
    """"30m", "1h", "90s", "1d" as seconds; ValueError (one line) otherwise or under MIN_POLL_SECONDS."""
    m = _INTERVAL.fullmatch(value.strip())
    if not m:
        raise ValueError(f"interval {value!r} is not a number with a unit; write it like 30m, 2h or 90s")
    seconds = float(m.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[m.group(2).lower()]
    if seconds < MIN_POLL_SECONDS:
        raise ValueError(f"interval {value!r} is under the minimum of {MIN_POLL_SECONDS} s; poll at most once a minute")
    return seconds


def fetch(url: str, max_bytes: int, *, timeout: float | None = None,
          validators: tuple[str | None, str | None] = (None, None)) -> tuple[bytes | None, dict[str, str]]:
    """GET `url` with a total deadline and a size cap. Returns (body, headers); body is None
    for "304 Not Modified" when `validators` (etag, last-modified) were sent. FeedError otherwise."""
    if not is_url(url):
        raise FeedError("only http and https URLs are read")
    timeout = FETCH_TIMEOUT if timeout is None else timeout
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    etag, modified = validators
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
            if not is_url(r.geturl()):
                raise FeedError(f"redirected to {r.geturl()}, which is not http(s)")
            length = r.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FeedError(f"{int(length) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB download limit")
            parts: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FeedError(f"download not complete within {timeout:.0f} s")
                block = r.read(65536)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise FeedError(f"over the {max_bytes / 1e6:.0f} MB download limit")
                parts.append(block)
            return b"".join(parts), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return None, {k.lower(): v for k, v in e.headers.items()}
        raise FeedError(f"cannot fetch: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise FeedError(f"cannot fetch: {getattr(e.reason, 'strerror', None) or e.reason}") from None
    except TimeoutError:
        raise FeedError(f"cannot fetch: no answer within {timeout:.0f} s") from None
    except (OSError, ValueError) as e:  # connection reset, bad status line, invalid URL
        raise FeedError(f"cannot fetch: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed item's content or description), via trafilatura."""
    import trafilatura  # heavy: only when a feed comes along

    if "<" not in fragment:
        return html.unescape(fragment).strip()
    doc = f"<html><body><article>{fragment}</article></body></html>"
    text = trafilatura.extract(doc, include_comments=False, include_tables=False, favor_recall=True) or \
        trafilatura.html2txt(doc) or ""
    return text.strip()


def _date(entry: Any) -> str | None:
    t = entry.get("published_parsed") or entry.get("updated_parsed")
    if not t:
        return None
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def _title(entry: Any) -> str:
    title = entry.get("title") or ""
    detail = entry.get("title_detail") or {}
    if "html" in (detail.get("type") or "") and "<" in title:
        title = html_to_text(title)
    return " ".join(title.split())


def _body(entry: Any) -> tuple[str, bool]:
    """(text, is_full_content): the longest content element, else the description/summary."""
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if contents:
        best = max(contents, key=lambda c: len(c.get("value") or ""))
        return _to_text(best.get("value") or "", best.get("type") or "text/html"), True
    summary = entry.get("summary") or ""
    detail = entry.get("summary_detail") or {}
    return _to_text(summary, detail.get("type") or "text/html"), False


def _to_text(value: str, kind: str) -> str:
    return html_to_text(value) if "html" in kind else html.unescape(value).strip()


def _fingerprint(entry: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for key in ("title", "link", "id", "published", "updated", "summary"):
        h.update(str(entry.get(key) or "").encode())
        h.update(b"\0")
    for c in entry.get("content") or []:
        h.update(str(c.get("value") or "").encode())
    return h.hexdigest()


def item_article(entry: Any, source: str, n: int, fetch_pages: bool, state: FeedState | None = None) -> Article:
    """One feed item as an article; IngestError (one line) when it has no text at all."""
    link = (entry.get("link") or "").strip()
    aid = link or (entry.get("id") or "").strip() or f"{source}#{n}"
    fp = _fingerprint(entry)
    if state is not None and aid in state.items and state.items[aid][0] == fp:
        return state.items[aid][1]  # unchanged since the last round: no page fetch
    text, full = _body(entry)
    title = _title(entry)
    date = _date(entry)
    if fetch_pages and not full and is_url(link):
        try:
            raw, _ = fetch(link, MAX_PAGE_BYTES)
            page = parse_html((raw or b"").decode("utf-8", errors="replace"), link, aid)
            if len(page.text) > len(text):
                text = page.text
                title = title or page.title
                date = date or page.date
        except IngestError as e:  # FeedError or "no article text": keep the summary
            log.warning("%s: using the feed's summary: %s", link, e)
    if not text:
        raise IngestError("item has no text (no content, description or fetched page)")
    art = Article(id=aid, title=title or derive_title(text), text=text, date=date, url=link if is_url(link) else None,
                  source=f"{source} item {n}")
    if state is not None:
        state.items[aid] = (fp, art)
    return art


def read_feed(source: str | Path, *, fetch_pages: bool = False,
              state: FeedState | None = None) -> tuple[list[Article], list[Skipped]]:
    """The items of an RSS/Atom feed (file or URL) as articles; items without text are skipped.

    FeedError (one line) when the feed cannot be fetched or is not a readable feed: then
    nothing of it is used. With `state`, an unchanged feed (HTTP 304) returns the last result.
    """
    import feedparser  # import only when a feed comes along

    src = str(source)
    headers: dict[str, str] = {}
    if is_url(src):
        raw, headers = fetch(src, MAX_FEED_DOWNLOAD_BYTES,
                             validators=state.validators.get(src, (None, None)) if state else (None, None))
        if raw is None and state is not None and src in state.last:
            return state.last[src]
        if raw is None:  # 304 without a previous result: ask again without validators
            raw, headers = fetch(src, MAX_FEED_DOWNLOAD_BYTES)
    else:
        path = Path(src)
        try:
            if path.stat().st_size > MAX_FEED_DOWNLOAD_BYTES:
                raise FeedError(f"over the {MAX_FEED_DOWNLOAD_BYTES / 1e6:.0f} MB limit for a feed")
            raw = path.read_bytes()
        except OSError as e:
            raise FeedError(f"cannot read: {e.strerror or e}") from None
    assert raw is not None
    if not raw.strip():
        raise FeedError("empty document, not a feed")
    parsed = feedparser.parse(io.BytesIO(raw), response_headers={
        "content-location": src if is_url(src) else "", "content-type": headers.get("content-type", "application/xml")})
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        detail = f" ({str(why).splitlines()[0]})" if why else ""
        raise FeedError(f"not an RSS or Atom feed{detail}")
    if parsed.get("bozo"):
        log.warning("%s: feed is not well-formed (%s); read %d items anyway", src,
                    str(parsed.get("bozo_exception")).splitlines()[0], len(parsed.entries))
    arts: list[Article] = []
    skipped: list[Skipped] = []
    for n, entry in enumerate(parsed.entries, 1):
        try:
            arts.append(item_article(entry, src, n, fetch_pages, state))
        except IngestError as e:
            skipped.append(Skipped(f"{src} item {n}", str(e)))
    if state is not None:
        state.validators[src] = (headers.get("etag"), headers.get("last-modified"))
        state.last[src] = (arts, skipped)
    return arts, skipped
