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
        "low": "low", "filter_note": "Only articles dated {range} were searched; undated ones were left out (date filter in Settings).",
        "no_answer": "No answer was produced.", "empty_q": "Ask a question, e.g. 'Which countries were involved?'",
        "long_q": "The question is too long ({n} characters; at most {max}).",
        "failed": "Something went wrong while answering; see the server log.",
        "bad_date": "{which} date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD; fix it in Settings.",
        "bad_month": "{which} date {value!r} has an impossible month; fix it in Settings.",
        "bad_day": "{which} date {value!r} does not exist ({month} has {days} days); fix it in Settings.",
        "reversed": "The date range is reversed: From {a} is after Until {b}; swap the two dates in Settings.",
        "from": "From", "until": "Until", "range_ok": "Date filter on: {range}.",
        "open_article": "Open the article", "not_in_index": "The article {id} is no longer in the index.",
        "similarity_n": "similarity {x}", "not_cited": "not cited", "passage_btn": "Passage",
        "ask_picked": "Ask within the selected", "ask_shown": "Ask within those shown",
    },
    "nl": {
        "sources": "Bronnen", "closest": "Dichtstbijzijnde passages (geen ervan beantwoordt de vraag)",
        "undated": "zonder datum", "similarity": "gelijkenis", "passage": "passage", "para": "¶",
        "of": "van", "cited": "geciteerd", "confidence": "Betrouwbaarheid", "high": "hoog", "medium": "middel",
        "low": "laag", "filter_note": "Alleen artikelen van {range} zijn doorzocht; artikelen zonder datum niet (datumfilter in Instellingen).",
        "no_answer": "Er kwam geen antwoord.", "empty_q": "Stel een vraag, bijv. 'Welke landen waren betrokken?'",
        "long_q": "De vraag is te lang ({n} tekens; hoogstens {max}).",
        "failed": "Er ging iets mis bij het antwoorden; zie het serverlog.",
        "bad_date": "{which}datum {value!r} is geen JJJJ, JJJJ-MM of JJJJ-MM-DD; pas hem aan in Instellingen.",
        "bad_month": "{which}datum {value!r} heeft een onmogelijke maand; pas hem aan in Instellingen.",
        "bad_day": "{which}datum {value!r} bestaat niet ({month} heeft {days} dagen); pas hem aan in Instellingen.",
        "reversed": "Het datumbereik is omgekeerd: Van {a} ligt na Tot {b}; wissel de twee datums om in Instellingen.",
        "from": "Van", "until": "Tot", "range_ok": "Datumfilter aan: {range}.",
        "open_article": "Open het artikel", "not_in_index": "Het artikel {id} staat niet meer in de index.",
        "similarity_n": "gelijkenis {x}", "not_cited": "niet geciteerd", "passage_btn": "Passage",
        "ask_picked": "Vraag binnen de gekozen", "ask_shown": "Vraag binnen de getoonde",
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


def _answer_text_html(text: str, cites: dict[int, Any], num_of: dict[int, int] | None = None) -> str:
    """The answer's text, escaped, each [n] marker a link to its sentence, shown as the number of
    its source in the list below (`num_of`: citation number -> source number)."""
    num_of = num_of or {}

    def sub(m: re.Match) -> str:
        c = cites.get(int(m.group(1)))
        if c is None:
            return f"<sup>[{m.group(1)}]</sup>"
        shown = num_of.get(c.n, c.n)
        return (f'<sup><a class="qa-cite" href="#" data-a="{esc(c.article_id)}" data-s="{int(c.start)}" '
                f'data-e="{int(c.end)}" title="{esc(c.title)}">[{shown}]</a></sup>')
    return _MARKER.sub(sub, esc(text))


def renumber(text: str, num_of: dict[int, int]) -> str:
    """`text` with each [n] marker replaced by its source's number (markers of no source kept)."""
    return _MARKER.sub(lambda m: f"[{num_of.get(int(m.group(1)), int(m.group(1)))}]", text)


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
    """The sources of an answer, each with its citations, position, URL and its number `num`: the
    cited ones first, in the order the answer cites them (so answer [1] is source 1), then the
    passages the answer does not cite, in retrieval rank order."""
    passages = list(getattr(ans, "passages", None) or [])
    citations = list(getattr(ans, "citations", None) or [])
    out: list[dict] = []
    used: set[int] = set()
    for rank, p in enumerate(passages, 1):
        cites = sorted((c for c in citations if c.article_id == p.article_id and c.start < p.end and p.start < c.end
                        and id(c) not in used), key=lambda c: c.n)
        used.update(id(c) for c in cites)
        out.append({"rank": rank, "passage": p, "cites": cites, "article_id": p.article_id, "title": p.title,
                    "date": p.date, "start": p.start, "end": p.end, "text": p.text,
                    "similarity": float(getattr(p, "dense", 0.0) or 0.0)})
    for c in citations:  # a cited sentence outside every shown passage still gets a source
        if id(c) not in used:
            out.append({"rank": None, "passage": None, "cites": [c], "article_id": c.article_id, "title": c.title,
                        "date": c.date, "start": c.start, "end": c.end, "text": c.sentence, "similarity": None})
    big = 10 ** 9
    out.sort(key=lambda s: (min((c.n for c in s["cites"]), default=big), s["rank"] or big))
    for num, s in enumerate(out, 1):
        s["num"] = num
        a = None
        if article is not None:
            try:
                a = article(s["article_id"])
            except KeyError:
                a = None
        s["url"] = safe_url(getattr(a, "url", None))
        s["where"] = _paragraphs(a.text, s["start"], s["end"]) if a is not None else None
    return out


def numbers(sources: Sequence[dict]) -> dict[int, int]:
    """Citation number -> the number of the source it is listed under."""
    return {c.n: s["num"] for s in sources for c in s["cites"]}


def _tb(key: str, **kw: object) -> str:
    """A UI string in both languages (the page's CSS shows the chosen one): an answer stored in the
    browser reads right after the language is switched."""
    return both(t("en", key, **kw), t("nl", key, **kw))


#: The confidence line in words. `score` is the probability that what is shown is right: for an
#: answer, that it answers the question; for "not covered", that the articles indeed do not answer it.
CONFIDENCE_WORDS = {
    "en": {True: {"high": "Sure", "medium": "Fairly sure", "low": "Unsure — check the sources"},
           False: {"high": "Not in the articles",
                   "medium": "Probably not in the articles — closest passages below",
                   "low": "Probably not in the articles — closest passages below"}},
    "nl": {True: {"high": "Zeker", "medium": "Vrij zeker", "low": "Onzeker — controleer de bronnen"},
           False: {"high": "Staat niet in de artikelen",
                   "medium": "Waarschijnlijk niet in de artikelen — de dichtstbijzijnde passages staan hieronder",
                   "low": "Waarschijnlijk niet in de artikelen — de dichtstbijzijnde passages staan hieronder"}},
}
CONFIDENCE_ODDS = {"en": {True: "{p}% chance this answer is right",
                          False: "{p}% chance the articles do not answer this"},
                   "nl": {True: "{p}% kans dat dit antwoord klopt",
                          False: "{p}% kans dat de artikelen dit niet beantwoorden"}}


def confidence_words(found: bool, level: str | None, score: float | None, lang: str) -> str:
    """The confidence line as a user reads it, e.g. "Fairly sure · 71% chance this answer is right"."""
    lang = _lang(lang)
    words = CONFIDENCE_WORDS[lang][bool(found)].get(level or "", "")
    # never "100%" or "0%": the score is a model's estimate, not a certainty
    odds = (CONFIDENCE_ODDS[lang][bool(found)].format(p=min(99, max(1, round(100 * float(score)))))
            if isinstance(score, (int, float)) else "")
    return " · ".join(x for x in (words, odds) if x)


def _confidence_html(ans: Any, lang: str) -> str:
    conf = getattr(ans, "confidence", None)
    score = getattr(ans, "score", None)
    if conf is None and score is None:
        return ""
    found = bool(getattr(ans, "found", True))
    level = str(conf) if conf in ("high", "medium", "low") else None
    cls = f"qa-conf-{level or 'na'}" if found else "qa-conf-nf"
    return (f'<span class="qa-conf {cls}">'
            + both(confidence_words(found, level, score, "en"), confidence_words(found, level, score, "nl"))
            + "</span>")


def render_answer(ans: Any, *, streaming: bool = False, lang: str = "en",
                  article: Callable[[str], Any] | None = None,
                  date_range: tuple[str | None, str | None] = (None, None)) -> str:
    """One assistant message: the answer with clickable [n] markers, the confidence in words, then
    the sources numbered as the answer cites them (title, date, position, URL, similarity, and the
    passage with the cited sentences marked, behind a toggle button). Labels come in both UI
    languages (`lang` is kept for callers; the page shows the chosen one)."""
    citations = list(getattr(ans, "citations", None) or [])
    found = bool(getattr(ans, "found", True))
    sources = _sources(ans, article)
    num_of = numbers(sources)
    cites = {c.n: c for c in citations}
    parts = ['<div class="qa-answer">']
    text_cls = "qa-text" if found else "qa-text qa-notfound"
    parts.append(f'<div class="{text_cls}">{_answer_text_html(ans.text, cites, num_of)}{" …" if streaming else ""}</div>')
    conf = _confidence_html(ans, lang)
    note = getattr(ans, "note", None)
    if any(date_range):
        parts.append(f'<div class="qa-note qa-filter-note">{_tb("filter_note", range=_range_text(*date_range))}</div>')
    if note:
        parts.append(f'<div class="qa-note">{esc(note)}</div>')
    if conf:
        parts.append(f'<div class="qa-confrow">{conf}</div>')
    if sources:
        label = _tb("sources") if found and citations else _tb("closest")
        parts.append(f'<details class="qa-sources" open><summary>{label} ({len(sources)})</summary>'
                     '<ol class="qa-srclist">')
        for j, s in enumerate(sources):
            shown = j == 0 and bool(s["cites"]) and found
            first = s["cites"][0] if s["cites"] else None
            ds, de = (first.start, first.end) if first else (s["start"], s["end"])
            meta = [esc(s["date"]) if s["date"] else _tb("undated")]
            if s["where"]:
                a, b, n = s["where"]
                span = f'{a}{"–" + str(b) if b != a else ""}'
                meta.append(both(f"¶ {span} of {n}", f"¶ {span} van {n}"))
            if s["similarity"]:
                meta.append(_tb("similarity_n", x=f'{s["similarity"]:.2f}'))
            if not s["cites"] and citations:
                meta.append(_tb("not_cited"))
            spans = [(c.start - s["start"], c.end - s["start"]) for c in s["cites"]]
            body = _highlight(s["text"], spans) if s["passage"] is not None else f"<mark>{esc(s['text'])}</mark>"
            url = f'<div class="qa-srcurl">{_link(s["url"])}</div>' if s["url"] else ""
            # No <details> per source: its <summary> would hold the title link (nested interactive
            # elements); a button with aria-expanded shows and hides the passage instead (chat.js).
            parts.append(
                f'<li class="qa-src{" qa-src-cited" if s["cites"] else ""}"><div class="qa-srchead">'
                f'<span class="qa-n">[{s["num"]}]</span>'
                f'<a class="qa-open qa-title" href="#" data-a="{esc(s["article_id"])}" data-s="{int(ds)}" '
                f'data-e="{int(de)}">{esc(s["title"])}</a>'
                f'<button type="button" class="qa-toggle" aria-expanded="{"true" if shown else "false"}">'
                f'{_tb("passage_btn")}</button></div>'
                f'<span class="qa-meta">{" · ".join(meta)}</span>{url}'
                f'<div class="qa-passage" tabindex="0"{"" if shown else " hidden"}>{body}</div></li>')
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def source_list(ans: Any, *, article: Callable[[str], Any] | None = None) -> list[dict]:
    """The cited sources as plain data (number, article id, title, date, quoted sentences): what the
    chat sends along with feedback."""
    return [{"n": s["num"], "article_id": s["article_id"], "title": s["title"], "date": s["date"],
             "quotes": [c.sentence for c in s["cites"]]} for s in _sources(ans, article) if s["cites"]]


def answer_plain(ans: Any, *, lang: str = "en", article: Callable[[str], Any] | None = None) -> str:
    """The answer as plain text for the clipboard: its text with [n] markers, then the sources."""
    sources = [s for s in _sources(ans, article) if s["cites"]]
    lines = [renumber(ans.text.strip(), numbers(sources))]
    if sources:
        lines += ["", f'{t(lang, "sources")}:']
        for s in sources:
            head = f'[{s["num"]}] {s["title"]}' + (f' ({s["date"]})' if s["date"] else "") + (f' {s["url"]}' if s["url"] else "")
            lines.append(head)
            for c in s["cites"]:
                lines.append(f'    "{c.sentence.strip()}"')
    return "\n".join(lines)


def answer_markdown(question: str, ans: Any, *, lang: str = "en", article: Callable[[str], Any] | None = None) -> str:
    """One turn as Markdown for the export: question, answer, numbered sources with links and quotes."""
    def md(x: str) -> str:  # keep article text literal in Markdown
        return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", x)

    sources = [s for s in _sources(ans, article) if s["cites"]]
    text = renumber(ans.text.strip(), numbers(sources))
    out = [f"### {md(question)}", "", md(text).replace("\\[", "[").replace("\\]", "]"), ""]
    if sources:
        out.append(f'**{t(lang, "sources")}**')
        out.append("")
        for s in sources:
            title = f'[{md(s["title"])}]({s["url"]})' if s["url"] else md(s["title"])
            date = f' ({s["date"]})' if s["date"] else ""
            quotes = " ".join(f"“{md(c.sentence.strip())}”" for c in s["cites"])
            out.append(f'{s["num"]}. {title}{date} — {quotes}')
        out.append("")
    return "\n".join(out)


def render_error(msg: str) -> str:
    return f'<div class="qa-error" role="alert">{esc(msg)}</div>'


def render_error_both(en: str, nl: str) -> str:
    """An error message in both UI languages (the page shows the chosen one)."""
    return f'<div class="qa-error" role="alert">{both(en, nl)}</div>'


def _plural(n: int, en1: str, enn: str, nl1: str, nln: str) -> str:
    return both(f"{n} {en1 if n == 1 else enn}", f"{n} {nl1 if n == 1 else nln}")


def render_articles(idx: Index) -> str:
    """The article list: a search box and "ask within" buttons over a table whose titles open the
    reader and whose boxes choose articles to ask within (chat.js does both)."""
    rows = idx.articles()
    out = [f"<p>{_plural(len(rows), 'article', 'articles', 'artikel', 'artikelen')}, "
           f"{_plural(len(idx), 'chunk', 'chunks', 'stuk', 'stukken')}.</p>",
           '<div class="qa-arttools"><input type="search" class="qa-artsearch" id="qa-artsearch" '
           'aria-label="Search the articles / Zoek in de artikelen">'
           f'<button type="button" class="qa-askwithin" data-which="picked">{_tb("ask_picked")}</button>'
           f'<button type="button" class="qa-askwithin" data-which="shown">{_tb("ask_shown")}</button></div>',
           '<div class="qa-tablewrap"><table class="qa-articles"><thead><tr>'
           f"<th><span class=\"qa-sr\">{both('Ask within', 'Vraag binnen')}</span></th>"
           f"<th>{both('Title', 'Titel')}</th><th>{both('Date', 'Datum')}</th>"
           f"<th>{both('Chunks', 'Stukken')}</th><th>ID</th></tr></thead><tbody>"]
    for r in rows:
        url = _link(r.url, urlparse(r.url).netloc if safe_url(r.url) else None)
        out.append(f'<tr data-id="{esc(r.id)}"><td><input type="checkbox" class="qa-pick" value="{esc(r.id)}" '
                   f'data-title="{esc(r.title[:80])}" aria-label="Select {esc(r.title[:80])}"></td>'
                   f'<td><a class="qa-open" href="#" data-a="{esc(r.id)}" data-s="-1" data-e="-1">{esc(r.title)}</a>'
                   f'{"<br>" + url if url else ""}</td><td class="qa-date">{esc(r.date) if r.date else _tb("undated")}</td>'
                   f'<td class="num">{r.chunks}</td><td><code>{esc(r.id)}</code></td></tr>')
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


# ------------------------------------------------------------------ upload refusals in both languages
# The reasons qa.ingest and qa.web.uploads give (English, one line), as the user reads them: without
# Python exception names, in the UI's language. Unknown reasons are shown as they are in both.
_PROBLEMS: list[tuple[re.Pattern, str, str]] = [(re.compile(p), en, nl) for p, en, nl in (
    (r"^unsupported file type (?P<ext>\S+); use one of (?P<list>.+)$",
     "unsupported file type {ext}; use one of {list}", "bestandstype {ext} wordt niet ondersteund; gebruik {list}"),
    (r"^file is over the (?P<mb>\d+) MB limit \((?P<size>\d+) bytes\)$",
     "the file is over the {mb} MB limit", "het bestand is groter dan {mb} MB"),
    (r"^file is (?P<size>[\d.]+) MB, over the (?P<mb>\d+) MB limit for (?P<ext>\S+) files$",
     "the file is {size} MB, over the {mb} MB limit for {ext} files",
     "het bestand is {size} MB, groter dan {mb} MB voor {ext}-bestanden"),
    (r"^not a readable PDF\b.*$", "not a readable PDF (damaged, or not a PDF); save or export it again",
     "geen leesbare PDF (beschadigd, of geen PDF); sla het bestand opnieuw op of exporteer het opnieuw"),
    (r"^the PDF is password-protected.*$", "the PDF is password-protected; upload an unprotected copy",
     "de PDF is beveiligd met een wachtwoord; upload een onbeveiligde kopie"),
    (r"^the PDF has no text layer.*$", "the PDF has no text layer (a scanned image?); run OCR on it or upload a text version",
     "de PDF heeft geen tekstlaag (een scan?); laat er tekstherkenning (OCR) op los of upload een tekstversie"),
    (r"^not a readable \.docx file\b.*$", "not a readable .docx file; save it again from Word as .docx",
     "geen leesbaar .docx-bestand; sla het in Word opnieuw op als .docx"),
    (r"^the \.docx file has no text$", "the .docx file has no text", "het .docx-bestand bevat geen tekst"),
    (r"^empty file$", "the file is empty", "het bestand is leeg"),
    (r"^binary file.*$", "a binary file, not text", "een binair bestand, geen tekst"),
    (r"^not valid UTF-8.*$", "not valid UTF-8 text; save it as UTF-8", "geen geldige UTF-8-tekst; sla het op als UTF-8"),
    (r"^not an uploaded file$", "not an uploaded file", "geen geüpload bestand"),
    (r"^cannot be read.*$|^cannot read.*$", "the file cannot be read", "het bestand kan niet worden gelezen"),
    (r"^no article text found in the HTML$", "no article text found in the HTML", "geen artikeltekst gevonden in de HTML"),
    (r"^no records in the feed$", "no records in the file", "geen artikelen in het bestand"),
    (r"^invalid JSON at (?P<where>.+?):.*$", "invalid JSON at {where}", "ongeldige JSON bij {where}"),
    (r"^record has no 'text'.*$", "a record has no 'text'", "een record heeft geen 'text'"),
    (r"^no text.*$", "no text found", "geen tekst gevonden"),
    (r"^its (?P<n>[\d,]+) characters of text would take this upload past the limit of (?P<cap>[\d,]+) .*$",
     "its {n} characters of text would take this upload past the limit of {cap} characters; upload it on its own",
     "de {n} tekens tekst brengen deze upload boven de grens van {cap} tekens; upload het bestand apart"),
    (r"^the same text as (?P<other>.+?)(; kept once)?$", "the same text as {other}; kept once",
     "dezelfde tekst als {other}; één keer bewaard"),
)]


def problem_both(line: str) -> str:
    """One upload problem ("NAME: reason") as escaped HTML in both UI languages."""
    name, sep, reason = line.partition(": ")
    if not sep:
        name, reason = "", line
    for pat, en, nl in _PROBLEMS:
        m = pat.match(reason.strip())
        if m:
            kw = m.groupdict()
            head = f"{name}: " if name else ""
            return both(head + en.format(**kw), head + nl.format(**kw))
    return esc(line)
