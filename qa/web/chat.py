"""The web chat: `python -m qa serve` (Gradio).

Three tabs: Chat, Articles (list, reader, upload with progress, remove with undo) and Settings
(language, passages, date range). The chat itself is a small client (static/chat.js) over this
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

import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from contextlib import closing  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterator, Sequence  # noqa: E402

import gradio as gr  # noqa: E402

from .. import limits  # noqa: E402
from ..index.default import DEFAULT_INDEX, get_index  # noqa: E402
from ..index.index import Index  # noqa: E402
from ..ingest.article import Article  # noqa: E402
from ..ingest.chunk import chunk_text  # noqa: E402
# The HTML rendering, re-exported here: callers and tests use qa.web.chat.render_answer etc.
from .render import (EXAMPLES, LANGS, MONTHS, TEXT, _article_choices, _lang,  # noqa: E402,F401
                     _progress_html, _range_text, answer_markdown, answer_plain, both, check_dates, esc,
                     problem_both, render_answer, source_list, render_articles, render_error, render_error_both,
                     render_reader, safe_url, t)
from . import feedback as fb  # noqa: E402
from .examples import examples as _examples  # noqa: E402
from .uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES, WRITE_LOCK, read_upload, within_upload_cap  # noqa: E402

log = logging.getLogger(__name__)

#: Questions answered at the same time; more wait in the queue (the embedder is serialised anyway).
ANSWER_CONCURRENCY = 4
#: Requests that may wait in the queue before new ones are turned away.
QUEUE_SIZE = 200
MAX_QUESTION_CHARS = limits.MAX_QUESTION_CHARS  # the library's cap, checked here to answer in the UI's language

#: The page's files (chat.js, chat.css, the HTML shells); qa.web.chat_mount serves them at STATIC_URL.
STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/qa-static"


def _shell(name: str) -> str:
    """An HTML shell from static/, without its leading comment."""
    return re.sub(r"\A<!--.*?-->\n", "", (STATIC / name).read_text(encoding="utf-8"), flags=re.S)


CSS = (STATIC / "chat.css").read_text(encoding="utf-8")
CHAT_SHELL = _shell("chat.html")
SETTINGS_SHELL = _shell("settings.html")
#: chat.js's content hash in its URL, so a browser never runs a stale copy after an upgrade.
JS_VERSION = hashlib.sha256((STATIC / "chat.js").read_bytes()).hexdigest()[:12]
#: Run once per page load by demo.load, after gradio has rendered the page: adds chat.js to it.
LOADER = """() => {
  if (document.getElementById("qa-chat-script")) return;
  const r = ((window.gradio_config && window.gradio_config.root) || "").replace(/\\/$/, "");
  const s = document.createElement("script");
  s.id = "qa-chat-script";
  s.src = `${r}%s/chat.js?v=%s`;
  document.head.appendChild(s);
}""" % (STATIC_URL, JS_VERSION)


def _theme() -> gr.themes.Base:
    # System fonts: the page loads nothing from outside this server (no Google Fonts).
    # Accents one or two shades darker than Soft's: every text reaches WCAG AA contrast (4.5:1), which
    # indigo-500 on white or on its own light fill does not (axe-core, in tests/test_web_browser_a11y.py).
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                          font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"]).set(
        color_accent="*primary_700", body_text_color_subdued="*neutral_600",
        block_label_text_color="*primary_800", block_title_text_color="*primary_800",
        block_info_text_color="*neutral_600",
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white", slider_color="*primary_700")


def _problem(question: str, date_from: str | None, date_to: str | None) -> tuple[str, ...] | None:
    """What is wrong with a question or its dates, in each of LANGS; None when nothing is."""
    out = []
    for lang in LANGS:
        try:
            if not question:
                raise ValueError(t(lang, "empty_q"))
            if len(question) > MAX_QUESTION_CHARS:
                raise ValueError(t(lang, "long_q", n=len(question), max=MAX_QUESTION_CHARS))
            check_dates(date_from, date_to, lang)
        except ValueError as e:
            out.append(str(e))
    return tuple(out) if out else None


def _date_problem(value: str, lang: str) -> str:
    """Why `value` is not a date, in `lang` ("" when it is one, or empty)."""
    try:
        check_dates(value or None, None, lang)
    except ValueError as e:
        return str(e).replace(" in Settings", "").replace(" in Instellingen", "")
    return ""


def _only(articles: Sequence[str] | None) -> dict:
    """The `articles` keyword for answer_stream, only when a selection is given."""
    ids = [a for a in (articles or []) if isinstance(a, str) and a]
    return {"articles": ids} if ids else {}


# ------------------------------------------------------------------ the app
class ChatBackend:
    """What the event handlers do, without gradio types: easy to test and to reuse."""

    def __init__(self, index: Index, llm: Any = None, searcher: Any = None) -> None:
        self.index = index
        self.llm = llm
        #: What answers read: a qa.index.shards.ShardedIndex over `index` (`qa serve --ray`), else `index`.
        self.searcher = index if searcher is None else searcher
        self._write = WRITE_LOCK  # shared with the JSON API's uploads and removals (qa.web.uploads)
        self._removed: list[Article] = []  # the last removal, for Undo

    def _article(self, article_id: str) -> Article:
        return self.index.article(article_id)

    # -- answering
    def answers(self, question: str, history: Sequence[str] | None = None, k: int = 5,
                date_from: str | None = None, date_to: str | None = None, lang: str = "en",
                articles: Sequence[str] | None = None) -> Iterator[dict]:
        """The answer as it grows: dicts with the same keys each time: "html", "text" (plain, for
        Copy), "md" (for the export; set when done), "done", "error" and "found". A bad question
        or date gives one error dict, its message in `lang` ("html" in both languages).
        `articles`: ids to answer from (None or empty: all)."""
        from ..answers.answer import answer_stream

        lang = _lang(lang)
        question = (question or "").strip()
        problem = _problem(question, date_from, date_to)
        if problem:  # in both languages: the page shows the chosen one, also after a switch
            yield {"html": render_error_both(*problem), "text": problem[LANGS.index(lang)],
                   "md": f"### {question}\n\n{problem[LANGS.index(lang)]}\n", "done": True, "error": True,
                   "found": False, "sources": []}
            return
        try:
            dfrom, dto = check_dates(date_from, date_to, lang)
            k = max(1, min(20, int(k or 5)))
            last = None
            for ans in answer_stream(question, history=list(history or []) or None, k=k, index=self.searcher,
                                     date_from=dfrom, date_to=dto, llm=self.llm, **_only(articles)):
                last = ans
                yield {"html": render_answer(ans, streaming=True, lang=lang, article=self._article,
                                             date_range=(dfrom, dto)),
                       "text": ans.text, "md": "", "done": False, "error": False, "found": bool(ans.found),
                       "sources": []}
            if last is None:
                raise ValueError(t(lang, "no_answer"))
            yield {"html": render_answer(last, lang=lang, article=self._article, date_range=(dfrom, dto)),
                   "text": answer_plain(last, lang=lang, article=self._article),
                   "md": answer_markdown(question, last, lang=lang, article=self._article),
                   "done": True, "error": False, "found": bool(last.found),
                   "sources": source_list(last, article=self._article)}
        except ValueError as e:  # the library's checks (English, one line)
            yield {"html": render_error(str(e)), "text": str(e), "md": f"### {question}\n\n{e}\n", "done": True,
                   "error": True, "found": False, "sources": []}
        except Exception:  # keep the chat alive; the details go to the log
            log.exception("answering %r failed", question)
            en, nl = t("en", "failed"), t("nl", "failed")
            yield {"html": render_error_both(en, nl), "text": t(lang, "failed"), "md": "", "done": True,
                   "error": True, "found": False, "sources": []}

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
        files, over = within_upload_cap(files)
        return files, problems + over

    def upload_steps(self, paths: Sequence[Any] | None) -> Iterator[tuple[str, bool]]:
        """Index uploaded files (gradio temp files only), one article at a time, yielding
        (progress or result HTML, changed) per file and per embedding step. Each article is embedded
        outside any lock and committed under the write lock (never held at a yield), so searches and
        removals go on meanwhile, and it is answerable as soon as it is added. Closing the generator
        (gradio does once the page is gone) stops the embedding there: the article being embedded is
        not written, those added before it stay."""
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
        for i, (name, arts) in enumerate(files):
            yield _progress_html(i, total_files, done_chunks, total_chunks, name), changed
            for a in arts:
                with closing(self.index.add_steps([a], commit_lock=self._write)) as steps:
                    while True:
                        try:
                            done, total = next(steps)
                        except StopIteration as stop:
                            upd = stop.value
                            break
                        if 0 < done < total:  # between two steps: the chunks of this article so far
                            part = sizes[id(a)] * done // total
                            yield _progress_html(i, total_files, done_chunks + part, total_chunks, name), changed
                problems += [f"{name}: the same text as {kept}; kept once" for kept in upd.duplicates.values()]
                added += upd.added
                updated += upd.updated
                unchanged += upd.unchanged
                changed = changed or bool(upd.added or upd.updated)
                done_chunks += sizes[id(a)]
                if len(arts) > 1:
                    yield _progress_html(i, total_files, done_chunks, total_chunks, name), changed
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
                         + "".join(f"<li>{problem_both(x)}</li>" for x in problems) + "</ul>")
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

    def set_date(self, article_id: str | None, date: str | None) -> tuple[str, bool]:
        """Give an article a date ("YYYY", "YYYY-MM" or "YYYY-MM-DD"; empty: no date); (message HTML, changed)."""
        if not article_id:
            return f'<p class="qa-msg-bad">{both("Choose an article first.", "Kies eerst een artikel.")}</p>', False
        value = (date or "").strip()
        bad = [_date_problem(value, lang) for lang in LANGS]
        if bad[0]:
            return f'<p class="qa-msg-bad" role="alert">{both(*bad)}</p>', False
        new = check_dates(value, None)[0] if value else None
        with self._write:
            try:
                a = self.index.article(article_id)
            except KeyError:
                return f'<p class="qa-msg-bad">{both("Not in the index:", "Niet in de index:")} {esc(article_id)}.</p>', False
            if a.date != new:
                self.index.add([replace(a, date=new)])
                self.index.save()
        shown = new or "—"
        return (f'<p class="qa-msg-ok">{both(f"{a.title[:80]}: date set to {shown}.", f"{a.title[:80]}: datum is nu {shown}.")}'
                "</p>"), a.date != new

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


def build_app(index_path: str | Path | Index = DEFAULT_INDEX, llm: Any = None, searcher: Any = None) -> gr.Blocks:
    """The Blocks app over the index at `index_path` (loaded via `get_index`, built from seeds if default);
    answers read `searcher` when given (a ShardedIndex over that index)."""
    idx = index_path if isinstance(index_path, Index) else get_index(index_path)
    be = ChatBackend(idx, llm, searcher)

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
                with gr.Row():
                    date_dd = gr.Dropdown(choices=_article_choices(idx), label="Article", value=None,
                                          elem_id="qa-date-dd", scale=3)
                    date_value = gr.Textbox(label="Its date", placeholder="YYYY-MM-DD (empty: no date)",
                                            elem_id="qa-date-value", scale=2)
                    date_btn = gr.Button("Set the date", variant="secondary", elem_id="qa-setdate", scale=1)
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
                 date_to: str = "", lang: str = "en", articles: list[str] | None = None) -> Iterator[str]:
            """Answer a question (within `articles`, ids, if given); yields JSON {html, text, md, done,
            error, found, sources} as the answer grows."""
            for part in be.answers(question, history, int(k or 5), date_from, date_to, lang, articles):
                yield json.dumps(part, ensure_ascii=False)

        gr.api(chat, api_name="chat", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer",
               api_visibility="undocumented")

        def article(article_id: str, start: int = -1, end: int = -1, lang: str = "en") -> str:
            """The reader view of one article as HTML, the span start:end highlighted."""
            return be.reader(article_id, start, end, lang)

        gr.api(article, api_name="article", queue=False, api_visibility="undocumented")

        def examples(lang: str = "en") -> list[str]:
            """Example questions from the newest articles, in `lang`."""
            return _examples([a.id for a in idx.articles()[:5]], idx.article, lang)

        gr.api(examples, api_name="examples", queue=False, api_visibility="undocumented")

        def feedback(id: str, question: str, answer: str, sources: str = "[]", found: bool = True,
                     rating: str = "up", note: str = "", lang: str = "en") -> str:
            """Keep 👍/👎 (and a note) on an answer in INDEX-feedback.jsonl beside the index."""
            fb.record(fb.feedback_path(idx.path), id=id, question=question, answer=answer, sources=sources,
                      found=found, rating=rating, note=note, lang=lang)
            return "ok"

        gr.api(feedback, api_name="feedback", concurrency_limit=1, concurrency_id="feedback",
               api_visibility="undocumented")

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

        def date_choices():
            return gr.update(choices=_article_choices(idx))

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

        def do_set_date(article_id, value):
            msg, changed = be.set_date(article_id, value)
            return (msg, *refresh()) if changed else (msg, gr.update(), gr.update())

        def pick_date(article_id):  # the chosen article's date, to edit
            try:
                return (idx.article(article_id).date or "") if article_id else ""
            except KeyError:
                return ""

        quiet = {"queue": False, "api_visibility": "undocumented", "show_progress": "hidden"}
        # One upload at a time, in a queue of its own: it holds the write lock only to commit each
        # article, so removals, undo and dates need not queue behind a long upload.
        add_btn.click(do_upload, [files], [status, articles_html, to_remove, files], api_name="upload",
                      concurrency_limit=1, concurrency_id="upload", show_progress="hidden"
                      ).then(date_choices, None, [date_dd], **quiet)
        # New files picked: the previous upload's message no longer applies.
        files.upload(lambda: "", None, [status], **quiet)
        remove_btn.click(do_remove, [to_remove], [status, articles_html, to_remove, undo_btn], api_name="remove",
                         concurrency_limit=1, concurrency_id="write", show_progress="hidden"
                         ).then(date_choices, None, [date_dd], **quiet)
        undo_btn.click(do_undo, None, [status, articles_html, to_remove, undo_btn], api_name="undo",
                       concurrency_limit=1, concurrency_id="write", show_progress="hidden"
                       ).then(date_choices, None, [date_dd], **quiet)
        date_btn.click(do_set_date, [date_dd, date_value], [status, articles_html, to_remove],
                       api_name="set_date", concurrency_limit=1, concurrency_id="write", show_progress="hidden")
        date_dd.change(pick_date, [date_dd], [date_value], **quiet)
        demo.load(refresh, None, [articles_html, to_remove], api_name="articles", queue=False)
        demo.load(date_choices, None, [date_dd], **quiet)
        # The chat client: runs once per page load (no change to `launch` needed).
        demo.load(None, None, None, js=LOADER)

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ANSWER_CONCURRENCY)
    demo.qa_backend = be  # type: ignore[attr-defined]
    return demo
