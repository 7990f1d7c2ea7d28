"""The web chat: `python -m qa serve` (Gradio).

Three tabs: Chat (streamed answers with collapsible, highlighted sources), Articles (list,
upload, remove) and Settings (passages, date range). The only module that imports gradio.

Safety: every piece of article text, title, question and file name is passed through
`html.escape` before it becomes HTML, and the chatbot's own sanitizer stays on as a second
line of defence. Uploaded files are read only from gradio's upload folder; no path sent by
the browser is opened otherwise. The server binds to 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import argparse  # noqa: E402
import html  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterator, Sequence  # noqa: E402

import gradio as gr  # noqa: E402

from .api import DEFAULT_INDEX, get_index  # noqa: E402
from .index import Index, IndexError_  # noqa: E402
from .ingest import SUPPORTED, Article, IngestError, normalize_date, read_file  # noqa: E402

log = logging.getLogger(__name__)

#: Largest accepted upload (gradio rejects bigger files before they reach us).
MAX_UPLOAD = "5mb"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: Questions answered at the same time; more wait in the queue (the embedder is serialised anyway).
ANSWER_CONCURRENCY = 4
#: Requests that may wait in the queue before new ones are turned away.
QUEUE_SIZE = 200
MAX_QUESTION_CHARS = 2000
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"]

EXAMPLES = [
    "Which countries were involved?",
    "Welke landen waren betrokken bij de actie?",
    "Wie leidde de actie?",
]

CSS = """
.gradio-container {max-width: 1100px !important; margin: auto !important;}
#qa-header h1 {margin-bottom: 0;}
#qa-header p {margin-top: 4px; opacity: .75;}
.qa-q {margin: 0;}
.qa-answer {line-height: 1.55;}
.qa-text {font-size: 1.02em;}
.qa-text sup {font-size: .72em; color: var(--color-accent); font-weight: 600; margin-left: 1px;}
.qa-notfound {opacity: .8; font-style: italic;}
.qa-sources {margin-top: 12px; border-top: 1px solid var(--border-color-primary); padding-top: 8px;}
.qa-sources > summary {cursor: pointer; font-weight: 600; font-size: .9em; opacity: .85;}
.qa-src {margin: 6px 0; border: 1px solid var(--border-color-primary); border-radius: 8px;
         padding: 6px 10px; background: var(--background-fill-secondary);}
.qa-src > summary {cursor: pointer; font-size: .92em;}
.qa-n {font-weight: 700; color: var(--color-accent); margin-right: 4px;}
.qa-title {font-weight: 600; display: inline-block; max-width: calc(100% - 240px); overflow: hidden;
            text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom;}
.qa-meta {opacity: .7; font-size: .88em; margin-left: 6px; white-space: nowrap;}
.qa-passage {margin-top: 6px; font-size: .9em; max-height: 240px; overflow-y: auto;}
.qa-passage mark {background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px;}
.qa-error {color: #b91c1c;}
.qa-note {font-size: .85em; opacity: .7; margin-top: 4px;}
.qa-msg-ok {color: #15803d;}
.qa-msg-bad {color: #b91c1c;}
table.qa-articles {width: 100%; border-collapse: collapse; font-size: .92em;}
table.qa-articles th, table.qa-articles td {text-align: left; padding: 6px 8px; border: none !important;
    border-bottom: 1px solid var(--border-color-primary) !important; vertical-align: top;}
table.qa-articles th {font-weight: 600; opacity: .8;}
table.qa-articles td.num {text-align: right;}
table.qa-articles code {font-size: .85em; opacity: .75;}
"""




def _theme() -> gr.themes.Base:
    # System fonts: the page loads nothing from outside this server (no Google Fonts).
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                          font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


# ------------------------------------------------------------------ HTML rendering (pure)
def esc(text: object) -> str:
    """Escape for HTML text and attribute values; newlines become <br> so no blank line
    ever ends the HTML block (which would hand the rest to the markdown renderer)."""
    return html.escape(str(text), quote=True).replace("\r", "").replace("\n", "<br>")


_MARKER = re.compile(r"\[(\d{1,3})\]")


def _answer_text_html(text: str) -> str:
    return _MARKER.sub(r"<sup>[\1]</sup>", esc(text))


def _highlight(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` escaped, with the (relative, possibly overlapping) spans wrapped in <mark>."""
    merged: list[list[int]] = []
    for s, e in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    def para(t: str) -> str:  # a paragraph break is one line break here: passages stay compact
        return esc(re.sub(r"\n\s*\n", "\n", t))

    out, pos = [], 0
    for s, e in merged:
        out.append(para(text[pos:s]))
        out.append(f"<mark>{para(text[s:e])}</mark>")
        pos = e
    out.append(para(text[pos:]))
    return "".join(out)


CONFIDENCE = {"high": "High confidence", "medium": "Medium confidence", "low": "Low confidence — check the sources"}


def render_answer(ans: Any, *, streaming: bool = False) -> str:
    """One assistant message: the answer text with citation markers, then the sources."""
    passages = list(getattr(ans, "passages", None) or [])
    citations = list(getattr(ans, "citations", None) or [])
    found = bool(getattr(ans, "found", True))
    parts = ['<div class="qa-answer">']
    text_cls = "qa-text" if found else "qa-text qa-notfound"
    parts.append(f'<div class="{text_cls}">{_answer_text_html(ans.text)}{" …" if streaming else ""}</div>')
    note = getattr(ans, "note", None)
    if note:
        parts.append(f'<div class="qa-note">{esc(note)}</div>')
    level = getattr(ans, "confidence", None)
    if level in CONFIDENCE and not streaming:  # e.g. "Low confidence — check the sources"
        parts.append(f'<div class="qa-confidence qa-{level}">{CONFIDENCE[level]} (score {ans.score:.2f})</div>')
    if passages or citations:
        entries = []
        used: set[int] = set()
        for i, p in enumerate(passages):
            cites = [c for c in citations if c.article_id == p.article_id and c.start < p.end and p.start < c.end]
            used.update(id(c) for c in cites)
            spans = [(c.start - p.start, c.end - p.start) for c in cites]
            nums = "".join(f"[{c.n}]" for c in sorted(cites, key=lambda c: c.n))
            entries.append((min([c.n for c in cites], default=10_000 + i), nums, p.title, p.date,
                            f"score {p.score:.2f}", _highlight(p.text, spans)))
        for c in citations:  # a cited sentence outside every shown passage still gets a source
            if id(c) not in used:
                entries.append((c.n, f"[{c.n}]", c.title, c.date, "", f"<mark>{esc(c.sentence)}</mark>"))
        entries.sort(key=lambda e: e[0])
        label = "Sources" if found and citations else "Closest passages"
        parts.append(f'<details class="qa-sources" open><summary>{label} ({len(entries)})</summary>')
        for j, (_, nums, title, date, score, body) in enumerate(entries):
            opened = " open" if j == 0 and nums and found else ""
            meta = " · ".join(x for x in (esc(date or "undated"), esc(score)) if x)
            parts.append(f'<details class="qa-src"{opened}><summary><span class="qa-n">{esc(nums)}</span>'
                         f'<span class="qa-title">{esc(title)}</span><span class="qa-meta">{meta}</span>'
                         f'</summary><div class="qa-passage">{body}</div></details>')
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def render_question(q: str) -> str:
    return f'<p class="qa-q">{esc(q)}</p>'


def render_error(msg: str) -> str:
    return f'<div class="qa-error">{esc(msg)}</div>'


def render_articles(idx: Index) -> str:
    rows = idx.articles()
    out = [f"<p>{len(rows)} articles, {len(idx)} chunks.</p>",
           '<table class="qa-articles"><thead><tr><th>Title</th><th>Date</th><th>Chunks</th><th>ID</th>'
           "</tr></thead><tbody>"]
    for r in rows:
        out.append(f"<tr><td>{esc(r.title)}</td><td>{esc(r.date or '—')}</td><td class=\"num\">{r.chunks}</td>"
                   f"<td><code>{esc(r.id)}</code></td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _article_choices(idx: Index) -> list[tuple[str, str]]:
    return [(f"{r.title[:80]} — {r.id}", r.id) for r in idx.articles()]


# ------------------------------------------------------------------ the app
class ChatBackend:
    """What the event handlers do, without gradio types: easy to test and to reuse."""

    def __init__(self, index: Index, llm: Any = None) -> None:
        self.index = index
        self.llm = llm
        self._write = threading.Lock()

    # -- answering
    @staticmethod
    def _dates(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
        try:
            return normalize_date((date_from or "").strip() or None), normalize_date((date_to or "").strip() or None)
        except IngestError as e:
            raise ValueError(f"Settings: {e}") from None

    def stream(self, question: str, history: list[str] | None = None, k: int = 5,
               date_from: str | None = None, date_to: str | None = None) -> Iterator[str]:
        """HTML of the answer as it grows; errors become a one-line message."""
        from .answer import answer_stream

        question = (question or "").strip()
        try:
            if not question:
                raise ValueError("Ask a question, e.g. 'Which countries were involved?'")
            if len(question) > MAX_QUESTION_CHARS:
                raise ValueError(f"The question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS}).")
            dfrom, dto = self._dates(date_from, date_to)
            k = max(1, min(20, int(k or 5)))
            last = None
            for ans in answer_stream(question, history=list(history or []) or None, k=k, index=self.index,
                                     date_from=dfrom, date_to=dto, llm=self.llm):
                last = ans
                yield render_answer(ans, streaming=True)
            if last is None:
                yield render_error("No answer was produced.")
            else:
                yield render_answer(last)
        except ValueError as e:
            yield render_error(str(e))
        except Exception as e:  # keep the chat alive; the details go to the log
            log.exception("answering %r failed", question)
            yield render_error(f"Something went wrong while answering ({type(e).__name__}); see the server log.")

    def turn(self, q: str, msgs: list, past: list, k: float = 5, date_from: str | None = None,
             date_to: str | None = None) -> Iterator[tuple[list, list, str]]:
        """One chat turn: (transcript, previous questions, pending question) as the answer grows.
        The last message of `msgs` is the placeholder the answer replaces; the previous questions
        of the session go to `answer(history=...)` so follow-ups are understood."""
        msgs = list(msgs)
        if not q:
            yield msgs, past, ""
            return
        for part in self.stream(q, past, int(k or 5), date_from, date_to):
            msgs[-1] = {"role": "assistant", "content": part}
            yield msgs, past, q
        yield msgs, list(past) + [q], ""

    def ask(self, question: str, history: list[str] | None = None, k: int = 5,
            date_from: str | None = None, date_to: str | None = None) -> str:
        last = ""
        for last in self.stream(question, history, k, date_from, date_to):
            pass
        return last

    # -- articles
    def upload(self, paths: Sequence[str] | None) -> tuple[str, bool]:
        """Index uploaded files (gradio temp files only). Returns (message HTML, changed)."""
        if not paths:
            return '<p class="qa-msg-bad">Choose one or more files first.</p>', False
        upload_root = Path(gr.utils.get_upload_folder()).resolve()
        articles: list[Article] = []
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
            if rp.suffix.lower() not in SUPPORTED:
                problems.append(f"{name}: unsupported file type {rp.suffix or '(none)'}; "
                                f"use one of {', '.join(UPLOAD_TYPES)}")
                continue
            if rp.stat().st_size > MAX_UPLOAD_BYTES:
                problems.append(f"{name}: file is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
                continue
            arts, skipped = read_file(rp, name)
            for s in skipped:
                src = s.source.replace(str(rp), name)
                reason = s.reason.replace(str(rp), name)
                problems.append(f"{src}: {reason}" if not reason.startswith(src) else reason)
            for a in arts:  # do not keep the server's temp path in the index
                articles.append(Article(id=a.id, title=a.title, text=a.text, date=a.date, url=a.url,
                                        source=f"upload:{a.source.replace(str(rp), name)}"))
        lines = []
        changed = False
        if articles:
            with self._write:
                upd = self.index.add(articles)
                if upd.added or upd.updated:
                    self.index.save()
                    changed = True
            what = ", ".join(f"{n} {w}" for n, w in ((len(upd.added), "added"), (len(upd.updated), "updated"),
                                                     (len(upd.unchanged), "unchanged")) if n)
            lines.append(f'<p class="qa-msg-ok">Indexed: {esc(what)} ({upd.embedded_chunks} chunks embedded in '
                         f'{upd.seconds:.1f} s). New articles can be asked about right away.</p>')
        if problems:
            head = "Not indexed" if articles else "Nothing was indexed"
            lines.append(f'<p class="qa-msg-bad">{head}:</p><ul class="qa-msg-bad">'
                         + "".join(f"<li>{esc(x)}</li>" for x in problems) + "</ul>")
        if not lines:
            lines.append('<p class="qa-msg-bad">Nothing was indexed: no articles found in the files.</p>')
        return "".join(lines), changed

    def remove(self, ids: Sequence[str] | str | None) -> tuple[str, bool]:
        if isinstance(ids, str):
            ids = [ids]
        ids = [i for i in (ids or []) if i]
        if not ids:
            return '<p class="qa-msg-bad">Choose an article to remove.</p>', False
        with self._write:
            removed = self.index.remove(ids)
            if removed:
                self.index.save()
        missing = [i for i in ids if i not in removed]
        msg = ""
        if removed:
            msg += f'<p class="qa-msg-ok">Removed {len(removed)}: {esc(", ".join(removed))}.</p>'
        if missing:
            msg += f'<p class="qa-msg-bad">Not in the index: {esc(", ".join(missing))}.</p>'
        return msg, bool(removed)


def build_app(index_path: str | Path | Index = DEFAULT_INDEX, llm: Any = None) -> gr.Blocks:
    """The Blocks app over the index at `index_path` (loaded via `get_index`, built from seeds if default)."""
    idx = index_path if isinstance(index_path, Index) else get_index(index_path)
    be = ChatBackend(idx, llm)

    with gr.Blocks(title="qa — ask the news", analytics_enabled=False) as demo:
        gr.HTML('<div id="qa-header"><h1>Ask the news</h1><p>Answers come only from the indexed articles, '
                'with their sources. Ask in English or Dutch; follow-up questions are understood.</p></div>')
        messages = gr.State([])  # the transcript shown in the chatbot
        asked = gr.State([])  # previous questions of this session, for follow-ups
        pending = gr.State("")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(label="Chat", show_label=False, height=700, sanitize_html=True,
                                     allow_tags=False, render_markdown=True, latex_delimiters=[],
                                     feedback_options=None, buttons=["copy"], elem_id="qa-chat",
                                     placeholder="<b>Ask a question about the articles.</b><br>"
                                                 "Sources appear under each answer; click one to see the passage.")
                with gr.Row():
                    question = gr.Textbox(show_label=False, placeholder="Ask a question… (Enter to send)",
                                          scale=8, lines=1, max_lines=4, elem_id="qa-question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-send")
                with gr.Row():
                    gr.Examples(EXAMPLES, inputs=[question], label="Examples")
                    clear = gr.Button("New conversation", variant="secondary", size="sm", scale=0)
            with gr.Tab("Articles", id="articles"):
                articles_html = gr.HTML(render_articles(idx), elem_id="qa-articles")
                with gr.Row():
                    with gr.Column(scale=3):
                        files = gr.File(label="Add articles (.txt, .md, .html, .json, .jsonl; at most 5 MB each)",
                                        file_count="multiple", file_types=UPLOAD_TYPES, type="filepath")
                        add_btn = gr.Button("Add to index", variant="primary")
                    with gr.Column(scale=2):
                        to_remove = gr.Dropdown(choices=_article_choices(idx), multiselect=True,
                                                label="Remove articles", value=[])
                        remove_btn = gr.Button("Remove", variant="stop")
                status = gr.HTML(elem_id="qa-status")
            with gr.Tab("Settings", id="settings"):
                k = gr.Slider(1, 10, value=5, step=1, label="Passages to read per question")
                with gr.Row():
                    date_from = gr.Textbox(label="From date", placeholder="YYYY, YYYY-MM or YYYY-MM-DD (optional)")
                    date_to = gr.Textbox(label="Until date", placeholder="YYYY, YYYY-MM or YYYY-MM-DD (optional)")
                gr.Markdown("With a date range set, only dated articles inside it are searched.")

        # ---- chat events
        def submit(q: str, msgs: list, past: list):
            q = (q or "").strip()
            if not q:
                return gr.update(), msgs, msgs, ""
            msgs = list(msgs) + [{"role": "user", "content": render_question(q)},
                                 {"role": "assistant", "content": '<div class="qa-answer"><i>Searching the articles…</i></div>'}]
            return "", msgs, msgs, q

        def respond(q: str, msgs: list, past: list, k_: float, dfrom: str, dto: str):
            for msgs_, past_, pending_ in be.turn(q, msgs, past, k_, dfrom, dto):
                yield msgs_, msgs_, past_, pending_

        ev = dict(fn=submit, inputs=[question, messages, asked], outputs=[question, chatbot, messages, pending],
                  queue=False, api_visibility="undocumented")
        resp = dict(fn=respond, inputs=[pending, messages, asked, k, date_from, date_to],
                    outputs=[chatbot, messages, asked, pending], api_visibility="undocumented",
                    concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer")
        question.submit(**ev).then(**resp)
        send.click(**ev).then(**resp)
        clear.click(lambda: ([], [], [], ""), None, [chatbot, messages, asked, pending], queue=False,
                    api_visibility="undocumented")
        chatbot.clear(lambda: ([], [], ""), None, [messages, asked, pending], queue=False,
                      api_visibility="undocumented")

        # ---- API for scripts and tests (gradio_client): /ask, /upload, /remove, /articles
        def ask(question: str, k: int = 5, date_from: str = "", date_to: str = "",
                history: list[str] | None = None) -> str:
            """Answer a question; returns the answer and its sources as HTML."""
            return be.ask(question, history, k, date_from, date_to)

        gr.api(ask, api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer")

        def refresh():
            return render_articles(idx), gr.update(choices=_article_choices(idx), value=[])

        def do_upload(paths):
            msg, _ = be.upload(paths)
            table, dd = refresh()
            return msg, table, dd, None

        def do_remove(ids):
            msg, _ = be.remove(ids)
            table, dd = refresh()
            return msg, table, dd

        add_btn.click(do_upload, [files], [status, articles_html, to_remove, files], api_name="upload",
                      concurrency_limit=1, concurrency_id="write")
        remove_btn.click(do_remove, [to_remove], [status, articles_html, to_remove], api_name="remove",
                         concurrency_limit=1, concurrency_id="write")
        demo.load(refresh, None, [articles_html, to_remove], api_name="articles", queue=False)

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ANSWER_CONCURRENCY)
    demo.qa_backend = be  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860,
           auth: tuple[str, str] | None = None, prevent_thread_lock: bool = False, quiet: bool = False):
    """Start the server with the safety settings: size limit, no share link, no extra paths."""
    return demo.launch(server_name=host, server_port=port, auth=auth, share=False, max_file_size=MAX_UPLOAD,
                       prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False,
                       allowed_paths=[], ssr_mode=False, mcp_server=False, pwa=False,
                       footer_links=["api"], theme=_theme(),
                       css=CSS, inbrowser=False)


def _make_llm(url: str | None, model: str | None) -> Any:
    """The LLM client for generated answers (`--llm-url`/`--llm-model` or QA_LLM_*), or None."""
    from .llm import from_settings

    return from_settings(url, model)


def _parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must be USER:PASS")
    return user, password


def main_serve(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    auth = _parse_auth(getattr(args, "auth", None))
    path = Path(getattr(args, "index", DEFAULT_INDEX))
    if not (path / "manifest.json").exists() and path != DEFAULT_INDEX:
        raise IndexError_(f"no index at {path}; build one with: python -m qa index ARTICLES --index {path}")
    idx = get_index(path)
    llm = _make_llm(getattr(args, "llm_url", None), getattr(args, "llm_model", None))
    demo = build_app(idx, llm=llm)
    host = getattr(args, "host", "127.0.0.1") or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {host} without --auth: anyone who can reach it can read and change the index",
              file=sys.stderr)
    _, url, _ = launch(demo, host=host, port=args.port, auth=auth, quiet=True, prevent_thread_lock=True)
    print(f"qa: chat on {len(idx.articles())} articles ({len(idx)} chunks, {path}) at {url} "
          f"(started in {time.perf_counter() - t0:.1f} s{'; login required' if auth else ''}); Ctrl-C to stop",
          file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0
