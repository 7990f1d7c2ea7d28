"""The web chat (qa/web/chat.py): rendering and safety without a server, then the real server via gradio_client."""
from __future__ import annotations

import html
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import COUNTRIES

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"

TOWN_ARTICLE = """date 2026-03-12
Kleinveldhuizen council approves herring-shaped library

The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a herring.
The library will be moored in the old harbour and hold twelve thousand books.
Mayor Ingrid Vossebelt said the herring library will open in the spring of 2027.
Opposition councillors worried about the cost of 3.4 million euros, but the plan passed by nine votes to four.
"""

XSS_ARTICLE = f"""date 2026-02-01
Weird markup {XSS} in a title

The Zwolbergen water board reported that its new pumping station {XSS} can move four hundred litres a second.
The pumping station was opened by chairwoman Petra Oosterdijk on Monday.
"""


def _answer_text(h: str) -> str:
    """The answer paragraph of a rendered answer (without its sources), as plain text."""
    m = re.search(r'<div class="qa-text[^"]*">(.*?)</div>', h, re.S)
    assert m, h[:500]
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))



# ------------------------------------------------------------------ no server
def test_render_escapes_article_text_and_highlights():
    from qa.index.fusion import Passage
    from qa.web.chat import render_answer

    text = f"Intro. {XSS} The key sentence is here. Outro."
    s = text.index("The key")
    p = Passage(text=text, score=0.5, article_id="a<1>", title=f"T {XSS}", date="2020", chunk_id="c", start=0,
                end=len(text))

    class C:
        n, article_id, title, date, sentence, start, end = 1, "a<1>", "T", "2020", "The key sentence is here.", s, s + 25

    class A:
        text, found, passages, citations = "Answer <b>bold</b> [1].", True, [p], [C()]

    out = render_answer(A())
    assert "<script" not in out and "<img" not in out and "<b>bold" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;img src=x onerror=alert(2)&gt;" in out
    assert "<mark>The key sentence is here.</mark>" in out
    assert re.search(r'<sup><a class="qa-cite" href="#" data-a="a&lt;1&gt;" data-s="\d+" data-e="\d+"[^>]*>\[1\]</a></sup>', out)
    assert "\n\n" not in out  # one HTML block: markdown never gets to parse article text


def test_upload_refuses_paths_outside_the_upload_folder(seed_index_dir, tmp_path):
    from qa import Index
    from qa.web.chat import ChatBackend

    idx = Index.load(seed_index_dir)
    before = idx.articles()
    msg, changed = ChatBackend(idx).upload(["/etc/passwd", str(Path(__file__))])
    assert not changed and "not an uploaded file" in msg
    assert idx.articles() == before


# ------------------------------------------------------------------ a real server
@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory):
    from qa.web.server import serve
    from qa.web.chat import build_app

    path = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(seed_index_dir, path)
    demo = build_app(path)
    running = serve(path, demo=demo, port=0)
    client = gradio_client.Client(running.url, verbose=False)
    yield client, running.url, tmp_path_factory.mktemp("uploads")
    running.close()


def _articles(client) -> str:
    table, _ = client.predict(api_name="/articles")
    return table


def _upload(client, *paths):
    from gradio_client import handle_file

    msg, table, _, _ = client.predict([handle_file(str(p)) for p in paths], api_name="/upload")
    return msg, table


@pytest.mark.slow
def test_page_is_served(server):
    import httpx

    _, url, _ = server
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and "<html" in r.text.lower()
    # no file from the server's disk is handed out on request
    for path in ("/etc/passwd", str(Path(__file__).resolve())):
        r = httpx.get(f"{url}gradio_api/file={path}", timeout=30)
        assert r.status_code in (403, 404) and "root:" not in r.text


@pytest.mark.slow
def test_login_required_with_auth(seed_index_dir):
    import httpx

    from qa.web.server import Security, serve

    running = serve(seed_index_dir, port=0, security=Security(auth=("alice", "s3cret")))
    url = running.url
    try:
        assert httpx.get(f"{url}config", timeout=30).status_code == 401
        r = httpx.post(f"{url}login", data={"username": "alice", "password": "wrong"}, timeout=30)
        assert r.status_code in (400, 401)
        with httpx.Client() as c:
            assert c.post(f"{url}login", data={"username": "alice", "password": "s3cret"}, timeout=30).status_code == 200
            assert c.get(f"{url}config", timeout=30).status_code == 200
    finally:
        running.close()


@pytest.mark.slow
def test_ask_countries(server):
    client, _, _ = server
    out = client.predict("Which countries were involved?", api_name="/ask")
    text = _answer_text(out)
    for country in COUNTRIES:
        assert country in text, text
    assert 'class="qa-src"' in out and "<mark>" in out and "similarity" in out  # sources with highlight


@pytest.mark.slow
def test_upload_then_ask_without_restart(server):
    client, _, tmp = server
    f = tmp / "kleinveldhuizen.txt"
    f.write_text(TOWN_ARTICLE, encoding="utf-8")
    msg, table = _upload(client, f)
    assert "added" in msg and "Kleinveldhuizen" in table
    out = client.predict("When will the herring library in Kleinveldhuizen open?", api_name="/ask")
    assert "2027" in _answer_text(out)
    assert "herring-shaped library" in out  # the source is the new article


@pytest.mark.slow
def test_bad_uploads_change_nothing(server):
    client, _, tmp = server
    before = _articles(client)
    empty = tmp / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    msg, table = _upload(client, empty, binary)
    assert "Nothing was indexed" in msg
    assert "empty.txt: the file is empty" in msg and "binary.txt: a binary file, not text" in msg
    assert "empty.txt: het bestand is leeg" in msg  # the Dutch UI's words come along
    assert table == before == _articles(client)


@pytest.mark.slow
def test_article_markup_is_shown_as_text(server):
    client, _, tmp = server
    f = tmp / "xss.txt"
    f.write_text(XSS_ARTICLE, encoding="utf-8")
    msg, table = _upload(client, f)
    assert "added" in msg
    for h in (table, client.predict("Who opened the Zwolbergen pumping station?", api_name="/ask")):
        assert "<script" not in h and "<img" not in h
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in h
    # and a question with markup in it is answered, not executed
    out = client.predict(f"Who opened {XSS}?", api_name="/ask")
    assert "<script" not in out and "<img" not in out


@pytest.mark.slow
def test_remove_article(server):
    client, _, tmp = server
    f = tmp / "to_remove.txt"
    f.write_text("date 2026-01\nThe Ossenwaard ferry\n\nThe Ossenwaard ferry will stop running in May.\n", encoding="utf-8")
    _upload(client, f)
    assert "to_remove.txt" in _articles(client)
    msg, table, _ = client.predict(["to_remove.txt"], api_name="/remove")
    assert "Removed 1" in msg and "to_remove.txt" not in table


@pytest.mark.slow
def test_twenty_questions_at_once(server):
    """20 questions in flight together: each gets the answer it gets when asked alone."""
    client, _, _ = server
    questions = ["Which countries were involved?", "Wie leidde de actie?", "Which news agency was the target?"]
    alone = {q: client.predict(q, api_name="/ask") for q in questions}
    assert len(set(alone.values())) == len(questions)  # different answers, so a mix-up would show
    assert "Canada" in _answer_text(alone[questions[0]]) and "parket" in _answer_text(alone[questions[1]])
    jobs = [questions[i % len(questions)] for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda q: client.predict(q, api_name="/ask"), jobs))
    for q, got in zip(jobs, answers):
        assert got == alone[q], (q, _answer_text(got))


def test_chat_turns_pass_the_previous_questions(seed_index_dir, monkeypatch):
    """Follow-ups: each turn hands the session's earlier questions to answer_stream(history=...)."""
    import importlib

    answer_module = importlib.import_module("qa.answers.answer")
    from qa import Index
    from qa.web.chat import ChatBackend

    seen = []
    real = answer_module.answer_stream

    def spy(question, history=None, *a, **kw):
        seen.append((question, list(history or [])))
        yield from real(question, history, *a, **kw)

    monkeypatch.setattr(answer_module, "answer_stream", spy)
    be = ChatBackend(Index.load(seed_index_dir))
    past: list[str] = []
    for q in ("Wie leidde de actie?", "En welke landen?"):
        *_, last = list(be.answers(q, past))
        assert last["done"] and "qa-answer" in last["html"]
        past.append(q)
    assert seen == [("Wie leidde de actie?", []), ("En welke landen?", ["Wie leidde de actie?"])]
    assert "Canada" in last["text"]


def test_llm_answers_stream_into_the_chat(seed_index_dir):
    """With an LLM the answer grows piece by piece; every piece is escaped; the last has its sources."""
    from qa import Index
    from qa.answers.llm import LLM
    from qa.web.chat import ChatBackend

    class FakeLLM(LLM):
        def stream(self, messages):
            yield from ["In Bulgarije, ", "Frankrijk <b>en</b> ", "Canada [1]."]

    parts = list(ChatBackend(Index.load(seed_index_dir), llm=FakeLLM("http://127.0.0.1:9/v1")).stream(
        "Which countries were involved?"))
    texts = [_answer_text(p) for p in parts]
    assert len(parts) >= 3 and texts[0].startswith("In Bulgarije") and texts[0].endswith("…")
    grown = [t.removesuffix(" …") for t in texts]
    assert all(b.startswith(a) for a, b in zip(grown, grown[1:])) and len(set(grown)) >= 3
    assert texts[-1] == "In Bulgarije, Frankrijk <b>en</b> Canada [1]."  # shown as typed, not bold
    assert "&lt;b&gt;en&lt;/b&gt;" in parts[-1] and "<b>en" not in parts[-1]
    assert 'class="qa-src"' in parts[-1] and "<mark>" in parts[-1]


def test_settings_date_range_and_bad_dates(seed_index_dir):
    from qa import Index
    from qa.web.chat import ChatBackend

    be = ChatBackend(Index.load(seed_index_dir))
    assert "impossible month" in be.ask("Which countries were involved?", date_from="2018-13")
    assert "qa-error" in be.ask("   ")
    inside = be.ask("Which countries were involved?", k=2, date_from="2018", date_to="2018-12")
    assert "Canada" in _answer_text(inside) and inside.count('class="qa-src"') <= 2
    outside = be.ask("Which countries were involved?", date_from="2020")
    assert "Canada" not in _answer_text(outside) and 'class="qa-src"' not in outside


def test_dates_are_checked_in_the_ui_language():
    from qa.web.chat import check_dates

    assert check_dates("2018", "2018-12") == ("2018", "2018-12")
    assert check_dates("", " ") == (None, None)
    assert check_dates("2024-02-29", None) == ("2024-02-29", None)
    for bad, words in (("2024-02-30", "February 2024 has 29 days"), ("2023-02-29", "February 2023 has 28 days"),
                       ("2018-13", "impossible month"), ("last year", "YYYY")):
        with pytest.raises(ValueError, match=words):
            check_dates(bad, None)
    with pytest.raises(ValueError, match="reversed.*2025.*2020.*swap"):
        check_dates("2025", "2020")
    with pytest.raises(ValueError, match="omgekeerd"):
        check_dates("2025", "2020", "nl")
    assert check_dates("2020-05", "2020-05") == ("2020-05", "2020-05")  # one month is a valid range


def test_plain_text_markdown_confidence_and_links(seed_index_dir):
    from dataclasses import replace

    from qa import Index
    from qa.answers.answer import answer
    from qa.web.chat import answer_markdown, answer_plain, render_answer, render_reader, safe_url

    idx = Index.load(seed_index_dir)
    ans = answer("Which countries were involved?", index=idx)
    plain = answer_plain(ans, article=idx.article)
    assert "<" not in plain and "Canada" in plain and "[1]" in plain and "\nSources:\n[1]" in plain
    md = answer_markdown("Which countries?", ans, article=idx.article)
    assert md.startswith("### Which countries?") and "**Sources**" in md and "1. " in md

    class WithConfidence:  # the fields the answer-quality branch adds
        def __init__(self, a):
            self.__dict__.update(a.__dict__)
            self.confidence, self.score = "medium", 0.61
    out = render_answer(WithConfidence(ans), lang="nl")
    assert "Vrij zeker · 61% kans dat dit antwoord klopt" in out and "qa-conf-medium" in out
    assert "Fairly sure · 61% chance this answer is right" in out  # both languages: the page shows one
    assert f"qa-conf-{ans.confidence}" in render_answer(ans) and "chance this answer is right" in render_answer(ans)
    bare = type("Bare", (), {k: v for k, v in ans.__dict__.items() if k not in ("confidence", "score")})()
    assert "qa-conf" not in render_answer(bare)  # nothing when the answer has no confidence
    # URLs: only http(s) becomes a link, always with rel="noopener noreferrer"
    assert safe_url("javascript:alert(1)") is None and safe_url("data:text/html,x") is None
    art = replace(idx.article(idx.articles()[0].id), url="https://example.org/a?b=<c>")
    page = render_reader(art, 10, 40)
    assert 'href="https://example.org/a?b=&lt;c&gt;" target="_blank" rel="noopener noreferrer"' in page
    assert '<mark id="qa-cited">' in page
    assert "href=" not in render_reader(replace(art, url="javascript:alert(1)"))


def test_not_covered_shows_no_certainty(seed_index_dir):
    from qa import Index
    from qa.web.chat import ChatBackend

    be = ChatBackend(Index.load(seed_index_dir))
    out = be.ask("What is the recipe for Dutch apple pie?")
    assert "Closest passages (none answers the question)" in out and "1.00" not in out
    sims = [float(x) for x in re.findall(r"similarity (\d\.\d\d)", out)]
    assert sims and max(sims) < 0.9
    nl = be.ask("Wat is het recept voor appeltaart?", date_from="2018", lang="nl")
    assert "Alleen artikelen van 2018 – … zijn doorzocht" in nl  # the filter is visible with the answer


def test_upload_progress_remove_and_undo(seed_index_dir, tmp_path, monkeypatch):
    import gradio as gr

    from qa import Index
    from qa.web.chat import ChatBackend, render_articles

    monkeypatch.setattr(gr.utils, "get_upload_folder", lambda: str(tmp_path))
    shutil.copytree(seed_index_dir, tmp_path / "index")  # a copy: the shared seed index stays as it is
    idx = Index.load(tmp_path / "index")
    be = ChatBackend(idx)
    assert "1 article</span>" in render_articles(idx) and "1 artikel</span>" in render_articles(idx)
    (tmp_path / "town.txt").write_text(TOWN_ARTICLE, encoding="utf-8")
    (tmp_path / "notes.xyz").write_text("x", encoding="utf-8")
    steps = list(be.upload_steps([str(tmp_path / "town.txt"), str(tmp_path / "notes.xyz")]))
    assert "0 of 1 files" in steps[0][0] and "<progress" in steps[0][0]
    final, changed = steps[-1]
    assert changed and "1 of 1 files" in final and "1 added" in final
    assert "notes.xyz: unsupported file type .xyz" in final
    assert "2 articles</span>" in render_articles(idx)
    msg, removed = be.remove(["town.txt"])
    assert removed and "Removed 1" in msg and "town.txt" not in {a.id for a in idx.articles()}
    msg, restored = be.undo()
    assert restored and "town.txt" in {a.id for a in idx.articles()}
    assert "herring" in be.ask("What shape will the Kleinveldhuizen library have?")


def test_index_stays_answerable_during_an_upload(seed_index_dir, tmp_path, monkeypatch):
    """While an upload is embedding, a question is answered (Index.add embeds outside its lock)."""
    import threading

    import gradio as gr

    from qa import Index
    from qa.web.chat import ChatBackend

    monkeypatch.setattr(gr.utils, "get_upload_folder", lambda: str(tmp_path))
    shutil.copytree(seed_index_dir, tmp_path / "index")
    idx = Index.load(tmp_path / "index")
    be = ChatBackend(idx)
    started, release = threading.Event(), threading.Event()
    real = idx.embedder.passage

    def slow_passage(texts, *a, **kw):
        started.set()
        release.wait(30)
        return real(texts)

    monkeypatch.setattr(idx.embedder, "passage", slow_passage)
    (tmp_path / "town.txt").write_text(TOWN_ARTICLE, encoding="utf-8")
    t = threading.Thread(target=be.upload, args=([str(tmp_path / "town.txt")],))
    t.start()
    try:
        assert started.wait(30)
        assert "Canada" in _answer_text(be.ask("Which countries were involved?"))  # not blocked by the upload
    finally:
        release.set()
        t.join(60)


def test_chat_api_parts_have_the_same_keys(seed_index_dir):
    from qa import Index
    from qa.web.chat import ChatBackend

    be = ChatBackend(Index.load(seed_index_dir))
    ok = list(be.answers("Which countries were involved?"))
    bad = list(be.answers("Which countries?", date_from="2025", date_to="2020", lang="nl"))
    keys = {"html", "text", "md", "done", "error", "found", "sources"}
    assert all(set(p) == keys for p in ok + bad)
    assert ok[-1]["done"] and ok[-1]["found"] and not ok[-1]["error"] and "**Sources**" in ok[-1]["md"]
    assert len(bad) == 1 and bad[0]["error"] and "omgekeerd" in bad[0]["text"]
    assert ok[-1]["sources"] and ok[-1]["sources"][0]["n"] == 1 and ok[-1]["sources"][0]["quotes"]
    assert "omgekeerd" in bad[0]["html"] and "reversed" in bad[0]["html"]  # both: the page shows the chosen one


def test_sources_are_numbered_as_the_answer_cites_them():
    """Answer [1] is source [1] even when its passage ranks second; markers show source numbers."""
    from qa.index.fusion import Passage
    from qa.web.render import answer_markdown, answer_plain, render_answer

    t1 = "Alpha one. Alpha two."
    t2 = "Beta first sentence here. Beta second sentence here."
    p1 = Passage(text=t1, score=0.9, article_id="a", title="A title", date=None, chunk_id="c1", start=0, end=len(t1))
    p2 = Passage(text=t2, score=0.8, article_id="b", title="B title", date="2020", chunk_id="c2", start=0, end=len(t2))

    class C:
        def __init__(self, n, aid, title, sentence, start):
            self.n, self.article_id, self.title, self.date = n, aid, title, None
            self.sentence, self.start, self.end = sentence, start, start + len(sentence)

    c1 = C(1, "b", "B title", "Beta first sentence here.", 0)
    c2 = C(2, "b", "B title", "Beta second sentence here.", 26)
    c3 = C(3, "a", "A title", "Alpha two.", 11)

    class A:
        text, found, passages, citations = "Beta one [1]. Beta two [2]. Alpha [3].", True, [p1, p2], [c1, c2, c3]

    out = render_answer(A())
    nums = re.findall(r'<span class="qa-n">\[(\d+)\]</span><a class="qa-open qa-title"[^>]*>([^<]+)</a>', out)
    assert nums == [("1", "B title"), ("2", "A title")], nums  # the cited order, not the rank order
    assert [m for m in re.findall(r'class="qa-cite"[^>]*>\[(\d)\]', out)] == ["1", "1", "2"]
    assert "<summary" in out and not re.search(r"<summary>[^/]*<a ", out)  # no link inside a <summary>
    plain = answer_plain(A())
    assert plain.startswith("Beta one [1]. Beta two [1]. Alpha [2].") and "\n[1] B title" in plain
    assert "\n[2] A title" in plain
    assert "1. B title" in answer_markdown("q", A()) and "2. A title" in answer_markdown("q", A())


def test_confidence_in_words():
    from qa.web.render import confidence_words

    assert confidence_words(True, "high", 0.96, "en") == "Sure · 96% chance this answer is right"
    assert confidence_words(True, "low", 0.2, "nl") == "Onzeker — controleer de bronnen · 20% kans dat dit antwoord klopt"
    assert confidence_words(False, "high", 0.92, "en") == "Not in the articles · 92% chance the articles do not answer this"
    assert confidence_words(False, "medium", 0.6, "nl").startswith("Waarschijnlijk niet in de artikelen")
    assert confidence_words(True, "high", 1.0, "en").endswith("99% chance this answer is right")  # never 100%


def test_upload_problems_in_both_languages_without_exception_names():
    from qa.web.render import problem_both

    out = problem_both("scan.pdf: not a readable PDF (PdfStreamError: Stream has ended unexpectedly)")
    assert "PdfStreamError" not in out and "scan.pdf: not a readable PDF" in out and "geen leesbare PDF" in out
    out = problem_both("x.exe: unsupported file type .exe; use one of .txt, .md")
    assert "bestandstype .exe wordt niet ondersteund" in out
    assert problem_both("odd: something new <b>") == "odd: something new &lt;b&gt;"  # unknown: shown, escaped


def test_examples_come_from_the_newest_articles(seed_index_dir, tmp_path):
    from qa import Index
    from qa.ingest.article import Article
    from qa.web.examples import examples

    shutil.copytree(seed_index_dir, tmp_path / "index")
    idx = Index.load(tmp_path / "index")
    idx.add([Article(id="town.txt", title="Herring library approved", date="2030-01-02",
                     text="The council of Kleinveldhuizen approved a library. Mayor Ingrid Vossebelt was pleased. "
                          "Kleinveldhuizen will pay for it. Ingrid Vossebelt opens it in Kleinveldhuizen.")])
    ids = [a.id for a in idx.articles()]
    en, nl = examples(ids, idx.article, "en"), examples(ids, idx.article, "nl")
    assert en[0] == "What happened: “Herring library approved”?" and nl[0] == "Wat is er gebeurd: “Herring library approved”?"
    assert "What do the articles say about Kleinveldhuizen?" in en and "Wat zeggen de artikelen over Kleinveldhuizen?" in nl
    assert len(en) == 3 and examples([], idx.article, "nl")[0].startswith("Welke landen")


def test_ask_within_chosen_articles_and_set_a_date(seed_index_dir, tmp_path):
    from qa import Index
    from qa.ingest.article import Article
    from qa.web.chat import ChatBackend

    shutil.copytree(seed_index_dir, tmp_path / "index")
    idx = Index.load(tmp_path / "index")
    idx.add([Article(id="town.txt", title="Kleinveldhuizen approves herring-shaped library", date="2026-03-12",
                     text=TOWN_ARTICLE.split("\n", 1)[1])])
    seed = [a.id for a in idx.articles() if a.id != "town.txt"]
    be = ChatBackend(idx)
    last = list(be.answers("Which countries were involved?", articles=["town.txt"]))[-1]
    assert {s["article_id"] for s in last["sources"]} <= {"town.txt"} and "Canada" not in last["text"]
    assert "Canada" in list(be.answers("Which countries were involved?", articles=seed))[-1]["text"]
    msg, changed = be.set_date("town.txt", "2031-02-30")
    assert not changed and "does not exist" in msg and "bestaat niet" in msg
    msg, changed = be.set_date("town.txt", "2019-05")
    assert changed and idx.article("town.txt").date == "2019-05" and "2019-05" in msg
    msg, changed = be.set_date("town.txt", "")
    assert changed and idx.article("town.txt").date is None


def test_feedback_is_kept_beside_the_index_and_qa_eval_reads_it(seed_index_dir, tmp_path):
    import json

    from qa.evaluate import parse_questions
    from qa.web import feedback as fb

    path = fb.feedback_path(tmp_path / "index")
    assert path == tmp_path / "index-feedback.jsonl"
    src = [{"n": 1, "article_id": "a.txt", "title": "T", "date": "2018-04", "quotes": ["Canada took part."]}]
    fb.record(path, id="x1", question="Which countries?", answer="Canada [1]", sources=json.dumps(src), found=True,
              rating="up", lang="en")
    fb.record(path, id="x1", question="Which countries?", answer="Canada [1]", sources=src, found=True,
              rating="up", note="right", lang="en")  # the note, sent again: the last one counts
    fb.record(path, id="x2", question="Recipe for pie?", answer="Not in the articles", sources=[], found=False,
              rating="up")
    fb.record(path, id="x3", question="Who?", answer="Wrong", sources=src, found=True, rating="down", note="x" * 5000)
    with pytest.raises(ValueError, match="rating must be"):
        fb.record(path, id="x4", question="q", answer="a", sources=[], found=True, rating="meh")
    recs = fb.read(path)
    assert [r["id"] for r in recs] == ["x1", "x2", "x3"] and recs[0]["note"] == "right"
    assert len(recs[2]["note"]) == fb.MAX_NOTE  # capped
    n_q, n_label = fb.convert(path, tmp_path / "eval")
    assert (n_q, n_label) == (2, 1)
    qs = parse_questions((tmp_path / "eval" / "questions.jsonl").read_text("utf-8"))
    assert qs[0].question == "Which countries?" and qs[0].passage == "Canada took part." and not qs[0].unanswerable
    assert qs[1].unanswerable
    from qa.cli import main
    assert main(["eval", "--from-feedback", str(path), "--out", str(tmp_path / "eval2")]) == 0
    assert (tmp_path / "eval2" / "questions.jsonl").read_text("utf-8") == (tmp_path / "eval" / "questions.jsonl").read_text("utf-8")


@pytest.mark.slow
def test_serve_builds_a_new_index_from_the_seed_and_refuses_a_full_folder(tmp_path):
    """`qa serve --index NEW` builds NEW from the shipped articles (as the README says); a folder
    holding something else is never written into."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    full = tmp_path / "notes"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    r = subprocess.run([sys.executable, "-m", "qa", "serve", "--index", str(full), "--port", "0"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not empty" in r.stderr and sorted(p.name for p in full.iterdir()) == ["mine.txt"]
    new = tmp_path / "new-index"
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(new), "--port", "0"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        url, t0 = None, time.time()
        while url is None and time.time() - t0 < 180:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "qa serve stopped"
            m = re.search(r" at (http://\S+) ,", line)
            url = m.group(1) if m else None
        assert url and (new / "manifest.json").exists()
        r = httpx.post(f"{url}api/ask", json={"question": "Which countries were involved?"}, timeout=60)
        assert r.status_code == 200 and "Canada" in r.json()["answer"], r.text[:300]
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_same_text_uploaded_under_another_name_is_kept_once(seed_index_dir, tmp_path, monkeypatch):
    import gradio as gr

    from qa import Index
    from qa.web.chat import ChatBackend

    monkeypatch.setattr(gr.utils, "get_upload_folder", lambda: str(tmp_path))
    shutil.copytree(seed_index_dir, tmp_path / "index")
    idx = Index.load(tmp_path / "index")
    (tmp_path / "town.txt").write_text(TOWN_ARTICLE, encoding="utf-8")
    (tmp_path / "town-copy.txt").write_text(TOWN_ARTICLE.replace("\n", "\n\n"), encoding="utf-8")
    msg, changed = ChatBackend(idx).upload([str(tmp_path / "town.txt"), str(tmp_path / "town-copy.txt")])
    assert changed and "1 added" in msg
    assert "town-copy.txt: the same text as town.txt; kept once" in msg and "dezelfde tekst als town.txt" in msg
    assert "town-copy.txt" not in {a.id for a in idx.articles()}
