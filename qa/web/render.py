"""The chat's server-rendered HTML: answers with their sources, the reader, the article list, and the
words in both UI languages. No gradio here: qa.web.chat wires these into the page.

Safety: every piece of article text, title, URL, question and file name is passed through
`html.escape` before it becomes HTML (only http(s) URLs become links, with rel="noopener
noreferrer").
"""
from __future__ import annotations

import calendar
import html
import re
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

from ..index.index import Index
from ..ingest.article import Article, IngestError, normalize_date

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
