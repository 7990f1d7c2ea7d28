"""News feeds: RSS 2.0 and Atom, from a file or an http(s) URL, parsed by feedparser.

Each item becomes an `Article`: its link is the id and url, its publication (or update) date
the date, its content (or description) converted to text by trafilatura. With `fetch_pages`,
an item that has only a summary gets its linked page fetched and extracted. Network reads have
a timeout and a size cap; a feed that cannot be fetched or parsed raises `FeedError` (one
line, without the source, which the caller reports) and nothing of it is used. `FeedState` carries what polling needs between rounds.
"""
from __future__ import annotations

import concurrent.futures
import email.utils
import html
import http.client
import io
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import limits
from .article import MAX_ARTICLE_BYTES, Article, IngestError, Skipped, derive_title, parse_html

log = logging.getLogger(__name__)

#: File name endings read as feeds; other files are sniffed for an <rss>, <feed> or <rdf:RDF> root.
FEED_SUFFIXES = (".xml", ".rss", ".atom")
#: Whole-request deadline for a feed or a page, in seconds (DNS, connect, redirects and reading).
FETCH_TIMEOUT = 20.0
#: Redirects followed per fetch; each hop is checked like the first URL.
MAX_REDIRECTS = 5
#: A feed document larger than this is refused (big news feeds are a few hundred KB).
MAX_FEED_DOWNLOAD_BYTES = 10 * 1024 * 1024
#: A fetched article page larger than this is refused (the same cap as an article file).
MAX_PAGE_BYTES = MAX_ARTICLE_BYTES
#: Polling faster than this is refused: feeds change every few minutes at most.
MIN_POLL_SECONDS = 60
#: Sent with every feed and page request: names the software (the qa-news package) and what it does.
USER_AGENT = "qa-news/0.1 (feed reader of qa, question answering over news articles)"

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


class _Deadline:
    """The whole-request deadline: when it passes, the request's sockets are shut down, so a
    sender that trickles one byte at a time (every read succeeds, no socket timeout ever fires)
    cannot hold the status line, the headers or the body past it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return max(0.01, self.end - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if not self.expired:
                return
        self._expire()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv at once
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to the address that was checked (`ip`), not to a second DNS answer."""

    def __init__(self, host: str, port: int, ip: str, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.left())
        self._ip, self._deadline = ip, deadline

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._ip, self.port), timeout=self._deadline.left())
        self._deadline.watch(sock)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.left(), context=ssl.create_default_context())
        self._ip, self._deadline = ip, deadline

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), timeout=self._deadline.left())
        self._deadline.watch(sock)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # certificate checked for the name
        self._deadline.watch(self.sock)


def is_public_address(ip: str) -> bool:
    """Whether `ip` is a global unicast address: not loopback, private, link-local, shared,
    reserved, multicast or unspecified (IPv4-mapped IPv6 judged by its IPv4 address)."""
    a = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.is_global and not a.is_multicast


#: DNS lookups run here so the whole-request deadline also bounds them (the system resolver
#: cannot be interrupted; a lookup that outlives its deadline finishes in the background, and
#: at most this many run at once, so a dead resolver cannot pile up threads).
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-dns")


def _resolve(host: str, port: int, seconds: float) -> list[tuple]:
    job = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return job.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        job.cancel()
        raise FeedError(f"cannot fetch: {host} did not resolve within the {seconds:.0f} s left of the "
                        "fetch deadline (check the name or the DNS server)") from None


def _target(url: str, allow_private: bool, first: bool, seconds: float = 20.0) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) of `url`, or FeedError (one line) when it is not
    http(s) or, unless `allow_private`, when its host resolves to a non-public address."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FeedError("only http and https URLs are read" if first else
                        f"redirected to {url[:200]}, which is not http(s); not followed")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FeedError(f"cannot fetch: invalid port in {url[:200]}") from None
    host = parts.hostname
    if not host:
        raise FeedError(f"cannot fetch: no host in {url[:200]}")
    try:
        infos = _resolve(host, port, seconds)
    except (socket.gaierror, UnicodeError) as e:
        raise FeedError(f"cannot fetch: cannot resolve {host} ({getattr(e, 'strerror', None) or e})") from None
    ips = [info[4][0] for info in infos]
    if not allow_private:
        for ip in ips:
            if not is_public_address(ip):
                raise FeedError(f"refused: {host} is {ip}, a loopback, private or link-local address"
                                f"{'' if first else ' (after a redirect)'}; nothing was fetched. "
                                "Pass --allow-private (allow_private=True) to read from this network")
    return scheme, host, port, ips[0]


def fetch(url: str, max_bytes: int, *, timeout: float | None = None,
          validators: tuple[str | None, str | None] = (None, None),
          allow_private: bool = False) -> tuple[bytes | None, dict[str, str]]:
    """GET `url` with a whole-request deadline and a size cap. Returns (body, headers); body is
    None for "304 Not Modified" when `validators` (etag, last-modified) were sent. FeedError otherwise.

    Every hop (the URL and each redirect, at most MAX_REDIRECTS) must be http(s) and, unless
    `allow_private`, resolve only to public addresses; this is checked before connecting, and the
    connection goes to the address checked. The deadline (`timeout`, default FETCH_TIMEOUT) starts
    before the first DNS lookup and covers every hop to the last byte: at it, the sockets are shut
    down, however slowly data trickles; a DNS lookup that outlives it is abandoned (it finishes in
    the background).
    Proxies from the environment are not used (the target must be the address checked).
    """
    timeout = FETCH_TIMEOUT if timeout is None else timeout
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*", "Connection": "close"}
    etag, modified = validators
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    deadline = _Deadline(timeout)
    conn: http.client.HTTPConnection | None = None
    answered = False
    try:
        for hop in range(MAX_REDIRECTS + 1):
            scheme, host, port, ip = _target(url, allow_private, hop == 0, deadline.left())
            conn = (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(host, port, ip, deadline)
            parts = urllib.parse.urlsplit(url)
            conn.request("GET", urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")), headers=headers)
            r = conn.getresponse()
            answered = True
            got = {k.lower(): v for k, v in r.getheaders()}
            if r.status in (301, 302, 303, 307, 308) and got.get("location"):
                url = urllib.parse.urljoin(url, got["location"].strip())
                conn.close()
                continue
            if r.status == 304:
                return None, got
            if not 200 <= r.status < 300:
                raise FeedError(f"cannot fetch: HTTP {r.status} {r.reason}")
            length = got.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise FeedError(f"{int(length) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB download limit")
            parts_: list[bytes] = []
            size = 0
            while True:
                block = r.read1(65536)
                if deadline.expired:
                    raise TimeoutError
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise FeedError(f"over the {max_bytes / 1e6:.0f} MB download limit")
                parts_.append(block)
            if r.length:  # fewer bytes than Content-Length: cut off
                raise FeedError(f"cannot fetch: the connection closed after {size} bytes")
            return b"".join(parts_), got
        raise FeedError(f"cannot fetch: more than {MAX_REDIRECTS} redirects")
    except FeedError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:  # timeouts, resets, bad status lines
        if deadline.expired or isinstance(e, TimeoutError):
            raise FeedError(f"cannot fetch: {'download not complete' if answered else 'no answer'} within "
                            f"{timeout:.0f} s") from None
        why = getattr(e, "strerror", None) or (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise FeedError(f"cannot fetch: {why}") from None
    finally:
        deadline.cancel()
        if conn is not None:
            conn.close()


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
    """The item's publication (else update) date, checked against the calendar like every date in
    qa; IngestError (one line) for one that is not real. feedparser normalises what it parses, so
    2018-02-30 came out as 2018-03-02 and month 13 as January of the next year; and it reads the
    compact 20180101, which qa refuses everywhere else. The raw text is checked first."""
    for key in ("published", "updated"):
        raw = (entry.get(key) or "").strip()
        if not raw:
            continue
        t = entry.get(f"{key}_parsed")
        utc = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}" if t else None
        try:
            if re.match(r"\d{4}", raw):  # ISO 8601 / W3C-DTF, or the refused compact form
                day = limits.check_date(raw, "date")
                return utc if utc and re.search(r"\d[T ]\d", raw) else day  # a time given: its UTC day, as before
            if re.match(r"[A-Za-z]{3},?\s+\d|\d{1,2}\s+[A-Za-z]{3}\s+\d{4}", raw):  # RFC 822 (RSS)
                email.utils.parsedate_to_datetime(raw)  # ValueError for 30 Feb or an unknown month
                if utc:
                    return utc
            elif utc:
                return utc  # another format feedparser understood
            raise ValueError(f"date {raw[:60]!r} is not a date qa can read; write it like 2018-04-15 or "
                             "Sun, 15 Apr 2018 10:00:00 GMT")
        except (ValueError, TypeError, IndexError) as e:
            msg = str(e) if str(e).startswith("date ") else f"date {raw[:60]!r} is not a real date ({e})"
            raise IngestError(msg) from None
    return None


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


def item_article(entry: Any, source: str, n: int, fetch_pages: bool, state: FeedState | None = None,
                 allow_private: bool = False) -> Article:
    """One feed item as an article; IngestError (one line) when it has no text at all. A page
    that cannot or may not be fetched (see `fetch`) leaves the item's summary."""
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
            raw, _ = fetch(link, MAX_PAGE_BYTES, allow_private=allow_private)
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


def read_feed(source: str | Path, *, fetch_pages: bool = False, state: FeedState | None = None,
              allow_private: bool = False) -> tuple[list[Article], list[Skipped]]:
    """The items of an RSS/Atom feed (file or URL) as articles; items without text are skipped.

    FeedError (one line) when the feed cannot be fetched or is not a readable feed: then
    nothing of it is used. With `state`, an unchanged feed (HTTP 304) returns the last result.
    """
    import feedparser  # import only when a feed comes along

    src = str(source)
    headers: dict[str, str] = {}
    if is_url(src):
        raw, headers = fetch(src, MAX_FEED_DOWNLOAD_BYTES, allow_private=allow_private,
                             validators=state.validators.get(src, (None, None)) if state else (None, None))
        if raw is None and state is not None and src in state.last:
            return state.last[src]
        if raw is None:  # 304 without a previous result: ask again without validators
            raw, headers = fetch(src, MAX_FEED_DOWNLOAD_BYTES, allow_private=allow_private)
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
            arts.append(item_article(entry, src, n, fetch_pages, state, allow_private))
        except IngestError as e:
            skipped.append(Skipped(f"{src} item {n}", str(e)))
    if state is not None:
        state.validators[src] = (headers.get("etag"), headers.get("last-modified"))
        state.last[src] = (arts, skipped)
    return arts, skipped
