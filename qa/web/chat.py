"""The web chat: `python -m qa serve` (Gradio).

Three tabs: Chat, Articles (list, reader, upload with progress, remove with undo) and Settings
(language, passages, date range). The chat itself is a small client (qa/ui_assets.py) over this
app's own API (/chat streams JSON, /article gives the reader): it queues questions typed in quick
succession, keeps the conversation in the browser's localStorage, copies plain text and opens
cited articles in a reader. The only module that imports gradio.

Safety: every piece of article text, title, URL, question and file name is passed through
`html.escape` before it becomes HTML (only http(s) URLs become links, with rel="noopener
noreferrer"). Uploaded files are read only from gradio's upload folder; no path sent by the
browser is opened otherwise. The server binds to 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import calendar  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator, Sequence  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import gradio as gr  # noqa: E402

from . import limits  # noqa: E402
from .api import DEFAULT_INDEX, get_index  # noqa: E402
from .chunk import chunk_text  # noqa: E402
from .index import Index  # noqa: E402
from .articles import MAX_UPLOAD_BYTES, UPLOAD_TYPES, WRITE_LOCK, read_upload  # noqa: E402
from .ingest import Article, IngestError, normalize_date  # noqa: E402
from .ui_assets import CHAT_SHELL, CSS, JS, SETTINGS_SHELL  # noqa: E402

log = logging.getLogger(__name__)

#: Questions answered at the same time; more wait in the queue (the embedder is serialised anyway).
ANSWER_CONCURRENCY = 4
#: Requests that may wait in the queue before new ones are turned away.
QUEUE_SIZE = 200
MAX_QUESTION_CHARS = limits.MAX_QUESTION_CHARS  # the library's cap, checked here to answer in the UI's language
LANGS = ("en", "nl")

EXAMPLES = [
    "Which countries were involved?",
    "Welke landen waren betrokken bij de actie?",
    "Wie leidde de actie?",
]

# Server-rendered words, in both UI languages. The chat API gets the language with each request;
# HTML for gradio outputs (status, article list) carries both and CSS shows the chosen one.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "sources": "Sources", "closest": "Closest passages (none answers the question)",
        "undated": "undated", "similarity": "similarity", "passage": "passage", "para": "¶",
        "of": "of", "cited": "cited", "confidence": "Confidence", "high": "high", "medium": "medium",
        "low": "low", "filter_note": "Only articles dated {range} were searched (date filter in Settings).",
        "no_answer": "No answer was produced.", "empty_q": "Ask a question, e.g. 'Which countries were involved?'",
        "long_q": "The question is too long ({n} characters; at most {max}).",
        "failed": "Something went wrong while answering ({err}); see the server log.",
        "bad_date": "{which} date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD; fix it in Settings.",
        "bad_month": "{which} date {value!r} has an impossible month; fix it in Settings.",
        "bad_day": "{which} date {value!r} does not exist ({month} has {days} days); fix it in Settings.",
        "reversed": "The date range is reversed: From {a} is after Until {b}; swap the two dates in Settings.",
        "from": "From", "until": "Until", "range_ok": "Date filter on: {range}.",
        "open_article": "Open the article", "not_in_index": "The article {id} is no longer in the index.",
    },
    "nl": {
        "sources": "Bronnen", "closest": "Dichtstbijzijnde passages (geen ervan beantwoordt de vraag)",
        "undated": "zonder datum", "similarity": "gelijkenis", "passage": "passage", "para": "¶",
        "of": "van", "cited": "geciteerd", "confidence": "Betrouwbaarheid", "high": "hoog", "medium": "middel",
        "low": "laag", "filter_note": "Alleen artikelen van {range} zijn doorzocht (datumfilter in Instellingen).",
        "no_answer": "Er kwam geen antwoord.", "empty_q": "Stel een vraag, bijv. 'Welke landen waren betrokken?'",
        "long_q": "De vraag is te lang ({n} tekens; hoogstens {max}).",
        "failed": "Er ging iets mis bij het antwoorden ({err}); zie het serverlog.",
        "bad_date": "{which}datum {value!r} is geen JJJJ, JJJJ-MM of JJJJ-MM-DD; pas hem aan in Instellingen.",
        "bad_month": "{which}datum {value!r} heeft een onmogelijke maand; pas hem aan in Instellingen.",
        "bad_day": "{which}datum {value!r} bestaat niet ({month} heeft {days} dagen); pas hem aan in Instellingen.",
        "reversed": "Het datumbereik is omgekeerd: Van {a} ligt na Tot {b}; wissel de twee datums om in Instellingen.",
        "from": "Van", "until": "Tot", "range_ok": "Datumfilter aan: {range}.",
        "open_article": "Open het artikel", "not_in_index": "Het artikel {id} staat niet meer in de index.",
    },
}
MONTHS = {"en": list(calendar.month_name), "nl": ["", "januari", "februari", "maart", "april", "mei", "juni", "juli",
                                                  "augustus", "september", "oktober", "november", "december"]}


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else "en"


def t(lang: str | None, key: str, **kw: object) -> str:
    """A UI string in `lang` ("en" or "nl"), formatted with `kw`."""
    return TEXT[_lang(lang)][key].format(**kw)


def both(en: str, nl: str) -> str:
    """Escaped text in both languages; the page's CSS shows the chosen one."""
    return f'<span class="qa-l-en">{esc(en)}</span><span class="qa-l-nl">{esc(nl)}</span>'


def _theme() -> gr.themes.Base:
    # System fonts: the page loads nothing from outside this server (no Google Fonts).
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                          font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


# ------------------------------------------------------------------ dates
def check_dates(date_from: str | None, date_to: str | None, lang: str = "en") -> tuple[str | None, str | None]:
    """Validated (from, to) for the date filter; ValueError with a one-line message naming the fix
    for a malformed date, a day that does not exist (2024-02-30) or a reversed range."""
    out: list[str | None] = []
    for which, raw in ((t(lang, "from"), date_from), (t(lang, "until"), date_to)):
        value = (raw or "").strip()
        if not value:
            out.append(None)
            continue
        if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            raise ValueError(t(lang, "bad_date", which=which, value=value))
        parts = [int(x) for x in value.split("-")]
        if len(parts) == 3 and 1 <= parts[1] <= 12:  # the day first: normalize_date refuses 02-30 as well
            days = calendar.monthrange(parts[0], parts[1])[1]
            if not 1 <= parts[2] <= days:
                raise ValueError(t(lang, "bad_day", which=which, value=value, days=days,
                                   month=f"{MONTHS[_lang(lang)][parts[1]]} {parts[0]}"))
        try:
            norm = normalize_date(value)
        except IngestError:
            raise ValueError(t(lang, "bad_month", which=which, value=value)) from None
        out.append(norm)
    dfrom, dto = out
    if dfrom and dto and _pad(dfrom, False) > _pad(dto, True):
        raise ValueError(t(lang, "reversed", a=dfrom, b=dto))
    return dfrom, dto


def _pad(date: str, high: bool) -> str:
    parts = date.split("-")
    return "-".join(parts + ["99" if high else "00"] * (3 - len(parts)))


def _range_text(dfrom: str | None, dto: str | None) -> str:
    return f"{dfrom or '…'} – {dto or '…'}"


# ------------------------------------------------------------------ HTML rendering (pure)
def esc(text: object) -> str:
    """Escape for HTML text and attribute values; newlines become <br> so no blank line
    ever ends the HTML block (which would hand the rest to a markdown renderer)."""
    return html.escape(str(text), quote=True).replace("\r", "").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL (never javascript: or data:), else None."""
    if not url:
        return None
    u = urlparse(str(url).strip())
    return str(url).strip() if u.scheme in ("http", "https") and u.netloc else None


def _link(url: str | None, text: str | None = None) -> str:
    u = safe_url(url)
    if not u:
        return ""
    return (f'<a class="qa-url" href="{esc(u)}" target="_blank" rel="noopener noreferrer">'
            f'{esc(text or u)}</a>')


_MARKER = re.compile(r"\[(\d{1,3})\]")


def _answer_text_html(text: str, cites: dict[int, Any]) -> str:
    def sub(m: re.Match) -> str:
        c = cites.get(int(m.group(1)))
        if c is None:
            return f"<sup>[{m.group(1)}]</sup>"
        return (f'<sup><a class="qa-cite" href="#" data-a="{esc(c.article_id)}" data-s="{int(c.start)}" '
                f'data-e="{int(c.end)}" title="{esc(c.title)}">[{m.group(1)}]</a></sup>')
    return _MARKER.sub(sub, esc(text))


def _highlight(text: str, spans: Sequence[tuple[int, int]], compact: bool = True) -> str:
    """`text` escaped, with the (relative, possibly overlapping) spans wrapped in <mark>
    (the first one with id="qa-cited" when not `compact`, for the reader to scroll to)."""
    merged: list[list[int]] = []
    for s, e in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])

    def para(x: str) -> str:  # in a passage a paragraph break is one line break: passages stay compact
        return esc(re.sub(r"\n\s*\n", "\n", x)) if compact else esc(x)

    out, pos = [], 0
    for i, (s, e) in enumerate(merged):
        out.append(para(text[pos:s]))
        mid = ' id="qa-cited"' if i == 0 and not compact else ""
        out.append(f"<mark{mid}>{para(text[s:e])}</mark>")
        pos = e
    out.append(para(text[pos:]))
    return "".join(out)


def _paragraphs(text: str, start: int, end: int) -> tuple[int, int, int]:
    """(first, last, total) paragraph numbers (1-based) of text[start:end]."""
    total = len(re.findall(r"\n\s*\n", text)) + 1
    first = len(re.findall(r"\n\s*\n", text[:start])) + 1
    last = len(re.findall(r"\n\s*\n", text[:max(start, end - 1)])) + 1
    return first, last, total


def _sources(ans: Any, article: Callable[[str], Any] | None) -> list[dict]:
    """The sources of an answer in retrieval rank order, each with its citations, position and URL."""
    passages = list(getattr(ans, "passages", None) or [])
    citations = list(getattr(ans, "citations", None) or [])
    out: list[dict] = []
    used: set[int] = set()
    for rank, p in enumerate(passages, 1):
        cites = sorted((c for c in citations if c.article_id == p.article_id and c.start < p.end and p.start < c.end),
                       key=lambda c: c.n)
        used.update(id(c) for c in cites)
        out.append({"rank": rank, "passage": p, "cites": cites, "article_id": p.article_id, "title": p.title,
                    "date": p.date, "start": p.start, "end": p.end, "text": p.text,
                    "similarity": float(getattr(p, "dense", 0.0) or 0.0)})
    for c in citations:  # a cited sentence outside every shown passage still gets a source
        if id(c) not in used:
            out.append({"rank": None, "passage": None, "cites": [c], "article_id": c.article_id, "title": c.title,
                        "date": c.date, "start": c.start, "end": c.end, "text": c.sentence, "similarity": None})
    for s in out:
        a = None
        if article is not None:
            try:
                a = article(s["article_id"])
            except KeyError:
                a = None
        s["url"] = safe_url(getattr(a, "url", None))
        s["where"] = _paragraphs(a.text, s["start"], s["end"]) if a is not None else None
    return out


def _confidence_html(ans: Any, lang: str) -> str:
    conf = getattr(ans, "confidence", None)
    score = getattr(ans, "score", None)
    if conf is None and score is None:
        return ""
    level = str(conf) if conf in ("high", "medium", "low") else None
    label = t(lang, level) if level else ""
    num = f"{float(score):.2f}" if isinstance(score, (int, float)) else ""
    shown = " · ".join(x for x in (label, num) if x)
    return (f'<span class="qa-conf qa-conf-{esc(level or "na")}" title="{esc(t(lang, "confidence"))}">'
            f'{esc(t(lang, "confidence"))}: {esc(shown)}</span>')


def render_answer(ans: Any, *, streaming: bool = False, lang: str = "en",
                  article: Callable[[str], Any] | None = None,
                  date_range: tuple[str | None, str | None] = (None, None)) -> str:
    """One assistant message: the answer with clickable [n] markers, confidence, then the sources
    in rank order (title, date, position, URL, similarity, the passage with cited sentences marked)."""
    lang = _lang(lang)
    citations = list(getattr(ans, "citations", None) or [])
    found = bool(getattr(ans, "found", True))
    cites = {c.n: c for c in citations}
    parts = ['<div class="qa-answer">']
    text_cls = "qa-text" if found else "qa-text qa-notfound"
    parts.append(f'<div class="{text_cls}">{_answer_text_html(ans.text, cites)}{" …" if streaming else ""}</div>')
    conf = _confidence_html(ans, lang)
    note = getattr(ans, "note", None)
    if any(date_range):
        parts.append(f'<div class="qa-note qa-filter-note">{esc(t(lang, "filter_note", range=_range_text(*date_range)))}</div>')
    if note:
        parts.append(f'<div class="qa-note">{esc(note)}</div>')
    if conf:
        parts.append(f'<div class="qa-confrow">{conf}</div>')
    sources = _sources(ans, article)
    if sources:
        label = t(lang, "sources") if found and citations else t(lang, "closest")
        parts.append(f'<details class="qa-sources" open><summary>{esc(label)} ({len(sources)})</summary><ol class="qa-srclist">')
        for j, s in enumerate(sources):
            nums = "".join(f"[{c.n}]" for c in s["cites"])
            opened = " open" if j == 0 and nums and found else ""
            first = s["cites"][0] if s["cites"] else None
            ds, de = (first.start, first.end) if first else (s["start"], s["end"])
            meta = [esc(s["date"] or t(lang, "undated"))]
            if s["where"]:
                a, b, n = s["where"]
                meta.append(f'{t(lang, "para")} {a}{"–" + str(b) if b != a else ""} {t(lang, "of")} {n}')
            if s["similarity"]:
                meta.append(f'{t(lang, "similarity")} {s["similarity"]:.2f}')
            if nums:
                meta.append(f'{t(lang, "cited")} {nums}')
            rank = f'#{s["rank"]}' if s["rank"] else "·"
            spans = [(c.start - s["start"], c.end - s["start"]) for c in s["cites"]]
            body = _highlight(s["text"], spans) if s["passage"] is not None else f"<mark>{esc(s['text'])}</mark>"
            url = f'<div class="qa-srcurl">{_link(s["url"])}</div>' if s["url"] else ""
            parts.append(
                f'<li class="qa-src-li"><details class="qa-src"{opened}><summary>'
                f'<span class="qa-n">{esc(rank)}</span>'
                f'<a class="qa-open qa-title" href="#" data-a="{esc(s["article_id"])}" data-s="{int(ds)}" '
                f'data-e="{int(de)}" title="{esc(t(lang, "open_article"))}">{esc(s["title"])}</a>'
                f'<span class="qa-meta">{" · ".join(meta)}</span></summary>{url}'
                f'<div class="qa-passage">{body}</div></details></li>')
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def answer_plain(ans: Any, *, lang: str = "en", article: Callable[[str], Any] | None = None) -> str:
    """The answer as plain text for the clipboard: its text with [n] markers, then the sources."""
    lines = [ans.text.strip()]
    sources = [s for s in _sources(ans, article) if s["cites"]]
    if sources:
        lines += ["", f'{t(lang, "sources")}:']
        for s in sources:
            nums = "".join(f"[{c.n}]" for c in s["cites"])
            head = f'{nums} {s["title"]}' + (f' ({s["date"]})' if s["date"] else "") + (f' {s["url"]}' if s["url"] else "")
            lines.append(head)
            for c in s["cites"]:
                lines.append(f'    "{c.sentence.strip()}"')
    return "\n".join(lines)


def answer_markdown(question: str, ans: Any, *, lang: str = "en", article: Callable[[str], Any] | None = None) -> str:
    """One turn as Markdown for the export: question, answer, numbered sources with links and quotes."""
    def md(x: str) -> str:  # keep article text literal in Markdown
        return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", x)

    out = [f"### {md(question)}", "", md(ans.text.strip()).replace("\\[", "[").replace("\\]", "]"), ""]
    sources = [s for s in _sources(ans, article) if s["cites"]]
    if sources:
        out.append(f'**{t(lang, "sources")}**')
        out.append("")
        for s in sources:
            for c in s["cites"]:
                title = f'[{md(s["title"])}]({s["url"]})' if s["url"] else md(s["title"])
                date = f' ({s["date"]})' if s["date"] else ""
                out.append(f'{c.n}. {title}{date} — “{md(c.sentence.strip())}”')
        out.append("")
    return "\n".join(out)


def render_error(msg: str) -> str:
    return f'<div class="qa-error" role="alert">{esc(msg)}</div>'


def _plural(n: int, en1: str, enn: str, nl1: str, nln: str) -> str:
    return both(f"{n} {en1 if n == 1 else enn}", f"{n} {nl1 if n == 1 else nln}")


def render_articles(idx: Index) -> str:
    """The article list; each title opens the reader."""
    rows = idx.articles()
    out = [f"<p>{_plural(len(rows), 'article', 'articles', 'artikel', 'artikelen')}, "
           f"{_plural(len(idx), 'chunk', 'chunks', 'stuk', 'stukken')}.</p>",
           '<div class="qa-tablewrap"><table class="qa-articles"><thead><tr>'
           f"<th>{both('Title', 'Titel')}</th><th>{both('Date', 'Datum')}</th>"
           f"<th>{both('Chunks', 'Stukken')}</th><th>ID</th></tr></thead><tbody>"]
    for r in rows:
        url = _link(r.url, urlparse(r.url).netloc if safe_url(r.url) else None)
        out.append(f'<tr><td><a class="qa-open" href="#" data-a="{esc(r.id)}" data-s="-1" data-e="-1">{esc(r.title)}</a>'
                   f'{"<br>" + url if url else ""}</td><td>{esc(r.date or "—")}</td><td class="num">{r.chunks}</td>'
                   f"<td><code>{esc(r.id)}</code></td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def render_reader(a: Article, start: int = -1, end: int = -1, lang: str = "en") -> str:
    """The full article for the reader: title, date, URL (a link), text with the cited span marked."""
    spans = [(start, end)] if 0 <= start < end <= len(a.text) else []
    url = _link(a.url)
    return (f'<article class="qa-reader-article" data-a="{esc(a.id)}"><h2 id="qa-reader-title">{esc(a.title)}</h2>'
            f'<p class="qa-reader-meta">{esc(a.date or t(lang, "undated"))} · <code>{esc(a.id)}</code>'
            f'{" · " + url if url else ""}</p>'
            f'<div class="qa-reader-text">{_highlight(a.text, spans, compact=False)}</div></article>')


def _article_choices(idx: Index) -> list[tuple[str, str]]:
    return [(f"{r.title[:80]} — {r.id}", r.id) for r in idx.articles()]


def _progress_html(files_done: int, files_total: int, chunks_done: int, chunks_total: int, name: str = "") -> str:
    pct = int(100 * chunks_done / chunks_total) if chunks_total else int(100 * files_done / max(1, files_total))
    now = both(f"indexing {name}…", f"bezig met {name}…") if name else ""
    return (f'<div class="qa-progress" role="status"><progress max="100" value="{pct}" aria-label="upload"></progress>'
            f'<span class="qa-progress-text">{both(f"{files_done} of {files_total} files", f"{files_done} van {files_total} bestanden")}'
            f' · {both(f"{chunks_done} of {chunks_total} chunks", f"{chunks_done} van {chunks_total} stukken")}'
            f' {now}</span></div>')


# ------------------------------------------------------------------ the app
class ChatBackend:
    """What the event handlers do, without gradio types: easy to test and to reuse."""

    def __init__(self, index: Index, llm: Any = None) -> None:
        self.index = index
        self.llm = llm
        self._write = WRITE_LOCK  # shared with the JSON API's uploads and removals (qa.articles)
        self._removed: list[Article] = []  # the last removal, for Undo

    def _article(self, article_id: str) -> Article:
        return self.index.article(article_id)

    # -- answering
    def answers(self, question: str, history: Sequence[str] | None = None, k: int = 5,
                date_from: str | None = None, date_to: str | None = None, lang: str = "en") -> Iterator[dict]:
        """The answer as it grows: dicts with the same keys each time: "html", "text" (plain, for
        Copy), "md" (for the export; set when done), "done", "error" and "found". A bad question
        or date gives one error dict, its message in `lang`."""
        from .answer import answer_stream

        lang = _lang(lang)
        question = (question or "").strip()
        try:
            if not question:
                raise ValueError(t(lang, "empty_q"))
            if len(question) > MAX_QUESTION_CHARS:
                raise ValueError(t(lang, "long_q", n=len(question), max=MAX_QUESTION_CHARS))
            dfrom, dto = check_dates(date_from, date_to, lang)
            k = max(1, min(20, int(k or 5)))
            last = None
            for ans in answer_stream(question, history=list(history or []) or None, k=k, index=self.index,
                                     date_from=dfrom, date_to=dto, llm=self.llm):
                last = ans
                yield {"html": render_answer(ans, streaming=True, lang=lang, article=self._article,
                                             date_range=(dfrom, dto)),
                       "text": ans.text, "md": "", "done": False, "error": False, "found": bool(ans.found)}
            if last is None:
                raise ValueError(t(lang, "no_answer"))
            yield {"html": render_answer(last, lang=lang, article=self._article, date_range=(dfrom, dto)),
                   "text": answer_plain(last, lang=lang, article=self._article),
                   "md": answer_markdown(question, last, lang=lang, article=self._article),
                   "done": True, "error": False, "found": bool(last.found)}
        except ValueError as e:
            yield {"html": render_error(str(e)), "text": str(e), "md": f"### {question}\n\n{e}\n", "done": True,
                   "error": True, "found": False}
        except Exception as e:  # keep the chat alive; the details go to the log
            log.exception("answering %r failed", question)
            msg = t(lang, "failed", err=type(e).__name__)
            yield {"html": render_error(msg), "text": msg, "md": "", "done": True, "error": True, "found": False}

    def stream(self, question: str, history: list[str] | None = None, k: int = 5,
               date_from: str | None = None, date_to: str | None = None, lang: str = "en") -> Iterator[str]:
        """HTML of the answer as it grows; errors become a one-line message."""
        for part in self.answers(question, history, k, date_from, date_to, lang):
            yield part["html"]

    def ask(self, question: str, history: list[str] | None = None, k: int = 5,
            date_from: str | None = None, date_to: str | None = None, lang: str = "en") -> str:
        last = ""
        for last in self.stream(question, history, k, date_from, date_to, lang):
            pass
        return last

    def reader(self, article_id: str, start: int = -1, end: int = -1, lang: str = "en") -> str:
        """The reader view of one article, the span start:end highlighted (-1: none)."""
        try:
            a = self.index.article(article_id)
        except KeyError:
            return render_error(t(lang, "not_in_index", id=article_id))
        return render_reader(a, int(start), int(end), _lang(lang))

    # -- articles
    def _read_uploads(self, paths: Sequence[Any]) -> tuple[list[tuple[str, list[Article]]], list[str]]:
        """(file name, articles) per readable uploaded file, and one-line reasons for the rest."""
        upload_root = Path(gr.utils.get_upload_folder()).resolve()
        files: list[tuple[str, list[Article]]] = []
        problems: list[str] = []
        for raw in paths:
            p = Path(raw if isinstance(raw, str) else getattr(raw, "name", str(raw)))
            try:
                rp = p.resolve()
            except OSError:
                rp = p
            name = p.name
            if not rp.is_relative_to(upload_root) or not rp.is_file():
                problems.append(f"{name}: not an uploaded file")
                continue
            arts, probs = read_upload(rp, name, MAX_UPLOAD_BYTES)  # type, size, reading: as the JSON API
            problems += probs
            if arts:
                files.append((name, arts))
        return files, problems

    def upload_steps(self, paths: Sequence[Any] | None) -> Iterator[tuple[str, bool]]:
        """Index uploaded files (gradio temp files only), one article at a time, yielding
        (progress or result HTML, changed). Searches go on meanwhile: Index.add embeds outside
        its lock, and each article is answerable as soon as it is added."""
        if not paths:
            yield f'<p class="qa-msg-bad">{both("Choose one or more files first.", "Kies eerst een of meer bestanden.")}</p>', False
            return
        files, problems = self._read_uploads(paths)
        total_files = len(files)
        sizes = {id(a): len(chunk_text(a.id, a.text, self.index.max_words, self.index.overlap)[1])
                 for _, arts in files for a in arts}
        total_chunks = sum(sizes.values())
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        done_chunks = 0
        t0 = time.perf_counter()
        changed = False
        with self._write:
            for i, (name, arts) in enumerate(files):
                yield _progress_html(i, total_files, done_chunks, total_chunks, name), changed
                for a in arts:
                    upd = self.index.add([a])
                    added += upd.added
                    updated += upd.updated
                    unchanged += upd.unchanged
                    changed = changed or bool(upd.added or upd.updated)
                    done_chunks += sizes[id(a)]
                    if len(arts) > 1:
                        yield _progress_html(i, total_files, done_chunks, total_chunks, name), changed
            if changed:
                self.index.save()
        lines = []
        if files:
            en = ", ".join(f"{n} {w}" for n, w in ((len(added), "added"), (len(updated), "updated"),
                                                   (len(unchanged), "unchanged")) if n)
            nl = ", ".join(f"{n} {w}" for n, w in ((len(added), "toegevoegd"), (len(updated), "bijgewerkt"),
                                                   (len(unchanged), "ongewijzigd")) if n)
            secs = time.perf_counter() - t0
            lines.append(f'<div class="qa-msg-ok">{_progress_html(total_files, total_files, total_chunks, total_chunks)}'
                         + both(f"Indexed: {en} ({total_chunks} chunks in {secs:.1f} s). "
                                "New articles can be asked about right away.",
                                f"Geïndexeerd: {nl} ({total_chunks} stukken in {secs:.1f} s). "
                                "Je kunt er meteen vragen over stellen.") + "</div>")
        if problems:
            head = both("Not indexed", "Niet geïndexeerd") if files else both("Nothing was indexed", "Niets geïndexeerd")
            lines.append(f'<p class="qa-msg-bad">{head}:</p><ul class="qa-msg-bad">'
                         + "".join(f"<li>{esc(x)}</li>" for x in problems) + "</ul>")
        if not lines:
            lines.append(f'<p class="qa-msg-bad">{both("Nothing was indexed: no articles found in the files.", "Niets geïndexeerd: geen artikelen in de bestanden.")}</p>')
        yield "".join(lines), changed

    def upload(self, paths: Sequence[Any] | None) -> tuple[str, bool]:
        """Index uploaded files; (message HTML, changed) when done."""
        msg, changed = "", False
        for msg, changed in self.upload_steps(paths):
            pass
        return msg, changed

    def remove(self, ids: Sequence[str] | str | None) -> tuple[str, bool]:
        """Remove articles; they are kept in memory until the next removal so `undo` can restore them."""
        if isinstance(ids, str):
            ids = [ids]
        ids = [i for i in (ids or []) if i]
        if not ids:
            return f'<p class="qa-msg-bad">{both("Choose an article to remove.", "Kies een artikel om te verwijderen.")}</p>', False
        with self._write:
            present = {r.id for r in self.index.articles()}
            keep = [self.index.article(i) for i in ids if i in present]
            removed = self.index.remove(ids)
            if removed:
                self.index.save()
                self._removed = [a for a in keep if a.id in removed]
        missing = [i for i in ids if i not in removed]
        msg = ""
        if removed:
            msg += (f'<p class="qa-msg-ok">{both(f"Removed {len(removed)}:", f"{len(removed)} verwijderd:")} '
                    f'{esc(", ".join(removed))}. {both("Undo puts it back.", "Ongedaan maken zet het terug.")}</p>')
        if missing:
            msg += f'<p class="qa-msg-bad">{both("Not in the index:", "Niet in de index:")} {esc(", ".join(missing))}.</p>'
        return msg, bool(removed)

    def undo(self) -> tuple[str, bool]:
        """Put back the articles of the last removal."""
        with self._write:
            arts, self._removed = self._removed, []
            if not arts:
                return f'<p class="qa-msg-bad">{both("Nothing to undo.", "Niets om ongedaan te maken.")}</p>', False
            self.index.add(arts)
            self.index.save()
        ids = ", ".join(a.id for a in arts)
        return f'<p class="qa-msg-ok">{both("Restored:", "Teruggezet:")} {esc(ids)}.</p>', True


def build_app(index_path: str | Path | Index = DEFAULT_INDEX, llm: Any = None) -> gr.Blocks:
    """The Blocks app over the index at `index_path` (loaded via `get_index`, built from seeds if default)."""
    idx = index_path if isinstance(index_path, Index) else get_index(index_path)
    be = ChatBackend(idx, llm)

    with gr.Blocks(title="qa — ask the news", analytics_enabled=False) as demo:
        gr.HTML(f'<header id="qa-header"><h1>{both("Ask the news", "Vraag het nieuws")}</h1><p>'
                + both("Answers come only from the indexed articles, with their sources. Ask in English or Dutch; "
                       "follow-up questions are understood.",
                       "Antwoorden komen alleen uit de geïndexeerde artikelen, met hun bronnen. Vraag in het "
                       "Nederlands of Engels; vervolgvragen worden begrepen.") + "</p></header>",
                elem_id="qa-headerblock")
        with gr.Tabs(elem_id="qa-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="qa-tab-chat"):
                gr.HTML(CHAT_SHELL.replace("{EXAMPLES}", "".join(
                    f'<button type="button" class="qa-example">{esc(x)}</button>' for x in EXAMPLES)),
                    elem_id="qa-chat")
            with gr.Tab("Articles", id="articles", elem_id="qa-tab-articles"):
                articles_html = gr.HTML(render_articles(idx), elem_id="qa-articles")
                with gr.Row():
                    with gr.Column(scale=3):
                        # No file_types: gradio would refuse other files with an error badge; the
                        # server gives each refused file a one-line reason and indexes the rest.
                        files = gr.File(label="Add articles (.txt, .md, .html, .json, .jsonl, .pdf, .docx; "
                                              "at most 5 MB each)",
                                        file_count="multiple", type="filepath", elem_id="qa-files")
                        add_btn = gr.Button("Add to index", variant="primary", elem_id="qa-add")
                    with gr.Column(scale=2):
                        to_remove = gr.Dropdown(choices=_article_choices(idx), multiselect=True,
                                                label="Remove articles", value=[], elem_id="qa-remove-dd")
                        with gr.Row():
                            remove_btn = gr.Button("Remove", variant="stop", elem_id="qa-remove")
                            undo_btn = gr.Button("Undo", variant="secondary", elem_id="qa-undo", visible=False)
                status = gr.HTML(elem_id="qa-status")
            with gr.Tab("Settings", id="settings", elem_id="qa-tab-settings"):
                gr.HTML(SETTINGS_SHELL, elem_id="qa-settings-lang")
                k = gr.Slider(1, 10, value=5, step=1, label="Passages to read per question", elem_id="qa-k")
                with gr.Row():
                    date_from = gr.Textbox(label="From date", placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                                           elem_id="qa-from")
                    date_to = gr.Textbox(label="Until date", placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                                         elem_id="qa-to")
                date_msg = gr.HTML(elem_id="qa-datemsg")
                gr.HTML("<p>" + both("With a date range set, only dated articles inside it are searched; "
                                     "the chat shows the filter while it is on.",
                                     "Met een datumbereik worden alleen gedateerde artikelen daarbinnen doorzocht; "
                                     "de chat toont het filter zolang het aan staat.") + "</p>")

        # ---- the chat's API (called by the page's script; also usable from scripts)
        def chat(question: str, history: list[str] | None = None, k: float = 5, date_from: str = "",
                 date_to: str = "", lang: str = "en") -> Iterator[str]:
            """Answer a question; yields JSON {html, text, md, done, error} as the answer grows."""
            for part in be.answers(question, history, int(k or 5), date_from, date_to, lang):
                yield json.dumps(part, ensure_ascii=False)

        gr.api(chat, api_name="chat", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer",
               api_visibility="undocumented")

        def article(article_id: str, start: int = -1, end: int = -1, lang: str = "en") -> str:
            """The reader view of one article as HTML, the span start:end highlighted."""
            return be.reader(article_id, start, end, lang)

        gr.api(article, api_name="article", queue=False, api_visibility="undocumented")

        def ask(question: str, k: int = 5, date_from: str = "", date_to: str = "",
                history: list[str] | None = None) -> str:
            """Answer a question; returns the answer and its sources as HTML."""
            return be.ask(question, history, k, date_from, date_to)

        gr.api(ask, api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer")

        def check(dfrom: str, dto: str) -> str:
            out = []
            for lang in LANGS:
                try:
                    a, b = check_dates(dfrom, dto, lang)
                    msg = f'<p class="qa-msg-ok qa-l-{lang}">{esc(t(lang, "range_ok", range=_range_text(a, b)))}</p>' \
                        if a or b else ""
                except ValueError as e:
                    msg = f'<p class="qa-msg-bad qa-l-{lang}" role="alert">{esc(str(e))}</p>'
                out.append(msg)
            return "".join(out)

        for box in (date_from, date_to):
            box.change(check, [date_from, date_to], [date_msg], queue=False, api_visibility="undocumented",
                       show_progress="hidden")

        # ---- articles
        def refresh():
            return render_articles(idx), gr.update(choices=_article_choices(idx), value=[])

        def do_upload(paths):
            for msg, changed in be.upload_steps(paths):
                yield msg, gr.update(), gr.update(), gr.update()
            table, dd = refresh()
            yield msg, table, dd, None

        def do_remove(ids):
            msg, removed = be.remove(ids)
            table, dd = refresh()
            return msg, table, dd, gr.update(visible=removed)

        def do_undo():
            msg, _ = be.undo()
            table, dd = refresh()
            return msg, table, dd, gr.update(visible=False)

        add_btn.click(do_upload, [files], [status, articles_html, to_remove, files], api_name="upload",
                      concurrency_limit=1, concurrency_id="write", show_progress="hidden")
        # New files picked: the previous upload's message no longer applies.
        files.upload(lambda: "", None, [status], queue=False, api_visibility="undocumented", show_progress="hidden")
        remove_btn.click(do_remove, [to_remove], [status, articles_html, to_remove, undo_btn], api_name="remove",
                         concurrency_limit=1, concurrency_id="write", show_progress="hidden")
        undo_btn.click(do_undo, None, [status, articles_html, to_remove, undo_btn], api_name="undo",
                       concurrency_limit=1, concurrency_id="write", show_progress="hidden")
        demo.load(refresh, None, [articles_html, to_remove], api_name="articles", queue=False)
        # The chat client: runs once per page load (no change to `launch` needed).
        demo.load(None, None, None, js=JS)

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ANSWER_CONCURRENCY)
    demo.qa_backend = be  # type: ignore[attr-defined]
    return demo
