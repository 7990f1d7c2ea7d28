"""One upload's cost is bounded and cancellable (issue 19, item 2's last part), with the real embedder on
real text (the repo's eval/crossling articles): an upload left half-way holds no lock and writes nothing
of the article it was embedding, a cancelled `Index.add` stops embedding at the next step, an API upload
whose client disconnects stops, and one request's text is capped."""
from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa import AddCancelled, Article, Index, limits
from qa.ingest.chunk import chunk_text

ROOT = Path(__file__).resolve().parent.parent
TOWN = """date 2026-03-12
Kleinveldhuizen council approves herring-shaped library

The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a herring.
The library will be moored in the old harbour and hold twelve thousand books.
"""


def _long_text(chars: int) -> str:
    """Real news prose (the repo's crossling articles, nl and en) joined to at least `chars` characters."""
    texts = [json.loads(line)["text"] for line in (ROOT / "eval/crossling/articles.jsonl").read_text("utf-8").splitlines()]
    out, i = [], 0
    while sum(map(len, out)) < chars:
        out.append(texts[i % len(texts)] + f" (deel {i})")  # no two paragraphs alike: nothing deduplicated
        i += 1
    return "\n\n".join(out)


def _copy(seed_index_dir: Path, where: Path) -> Path:
    shutil.copytree(seed_index_dir, where / "index")
    return where / "index"


def _counting(monkeypatch, idx: Index) -> list[int]:
    """Texts per call into the real embedder's `passage`, which still does the work."""
    calls: list[int] = []
    real = idx.embedder.passage

    def passage(texts, *a, **kw):
        calls.append(len(texts))
        return real(texts, *a, **kw)

    monkeypatch.setattr(idx.embedder, "passage", passage)
    return calls


def _in_thread(fn, seconds: float) -> tuple[bool, float]:
    """(finished within `seconds`, how long it took)."""
    t0 = time.monotonic()
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), time.monotonic() - t0


def test_a_chat_upload_closed_half_way_holds_no_lock_and_writes_nothing_more(seed_index_dir, tmp_path, monkeypatch):
    """Before: the generator held the shared write lock across its yields, so a page closed mid-upload
    blocked every removal and upload until the generator was collected (here: for ever)."""
    import gradio as gr

    from qa.web.chat import ChatBackend
    from qa.web.uploads import WRITE_LOCK

    monkeypatch.setattr(gr.utils, "get_upload_folder", lambda: str(tmp_path))
    monkeypatch.setattr(limits, "ADD_STEP_CHARS", 1500)
    idx = Index.load(_copy(seed_index_dir, tmp_path))
    before = {a.id for a in idx.articles()}
    be = ChatBackend(idx)
    calls = _counting(monkeypatch, idx)
    (tmp_path / "town.txt").write_text(TOWN, encoding="utf-8")
    (tmp_path / "long.txt").write_text("A long report\n\n" + _long_text(12_000), encoding="utf-8")
    steps = be.upload_steps([str(tmp_path / "town.txt"), str(tmp_path / "long.txt")])
    mark = None
    for html, changed in steps:
        assert not WRITE_LOCK.locked()  # never held at a yield
        if "long.txt" in html:
            if mark is None:
                mark = sum(calls)  # town.txt is in; long.txt about to start
            elif sum(calls) > mark:
                break  # long.txt half-way: one step of it embedded
    assert mark is not None and "town.txt" in {a.id for a in idx.articles()}
    embedded = sum(calls) - mark
    steps.close()  # what gradio does when the page is gone
    time.sleep(0.5)
    assert sum(calls) - mark == embedded  # nothing embeds after the close
    long_text = (tmp_path / "long.txt").read_text(encoding="utf-8")
    assert embedded < len(chunk_text("long.txt", long_text, idx.max_words, idx.overlap)[0]) / 3
    # the close released everything at once: a removal and another upload go through
    ok, secs = _in_thread(lambda: be.remove(["town.txt"]), 10)
    assert ok and secs < 5, secs
    (tmp_path / "other.txt").write_text(TOWN.replace("Kleinveldhuizen", "Grootveldhuizen"), encoding="utf-8")
    msg, changed = be.upload([str(tmp_path / "other.txt")])
    assert changed and "1 added" in msg
    ids = {a.id for a in Index.load(idx.path).articles()}
    assert ids == before | {"other.txt"}  # long.txt (cancelled) never written, town.txt removed
    assert idx.check() == []


def test_a_cancelled_add_stops_at_the_next_step_and_writes_nothing(seed_index_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "ADD_STEP_CHARS", 1500)
    idx = Index.load(_copy(seed_index_dir, tmp_path))
    gen = idx.generation
    big = Article(id="big", title="Big", text=_long_text(12_000))
    calls: list[int] = []

    def passage(texts):  # the real model, counted
        calls.append(len(texts))
        return idx.embedder.passage(texts)

    with pytest.raises(AddCancelled, match=r"cancelled after embedding \d+ of \d+ sentences; nothing of it was written"):
        idx.add([big], passage_embedder=passage, cancel=lambda: len(calls) >= 2)
    units = len(chunk_text("big", big.text, idx.max_words, idx.overlap)[0])
    assert len(calls) == 2 and sum(calls) < units / 2, (calls, units)  # 2 of ~8 steps
    assert idx.generation == gen and "big" not in {a.id for a in idx.articles()}
    assert idx.check() == []
    # the same add, not cancelled, goes in; a cancel before anything is embedded costs nothing
    calls.clear()
    with pytest.raises(AddCancelled):
        idx.add([big], passage_embedder=passage, cancel=lambda: True)
    assert calls == []
    upd = idx.add([big], passage_embedder=passage)
    assert upd.added == ["big"] and sum(calls) == units and len(calls) == 1  # no cancel: one call, as before
    assert "big" in {a.id for a in Index.load(idx.path).articles()} and idx.check() == []


def test_an_api_upload_stops_when_its_client_disconnects(seed_index_dir, tmp_path, monkeypatch):
    """A real server; a raw socket posts a long article and goes away once embedding started."""
    from qa.index.default import get_index
    from qa.web.server import serve

    monkeypatch.setattr(limits, "ADD_STEP_CHARS", 1500)
    path = _copy(seed_index_dir, tmp_path)
    running = serve(path, port=0)
    try:
        idx = get_index(path)
        calls = _counting(monkeypatch, idx)
        body = json.dumps({"title": "A long report", "text": _long_text(40_000)}).encode()
        host, port = running.url.rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"POST /api/articles HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port.encode(), len(body), body))
        t0 = time.monotonic()
        while not calls and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        assert calls, "the upload never started embedding"
        s.close()
        t_close = time.monotonic()
        # the handler notices within DISCONNECT_POLL; the embedding stops after the step under way
        last, still = sum(calls), time.monotonic()
        while time.monotonic() - still < 3.0 and time.monotonic() - t_close < 30:
            time.sleep(0.2)
            if sum(calls) != last:
                last, still = sum(calls), time.monotonic()
        stopped_after = still - t_close
        units = 40_000 // 100  # far more sentence units than this (prose: ~100-150 characters each)
        assert sum(calls) < units / 2, (sum(calls), calls)
        assert stopped_after < 10, stopped_after
        ids = {a["id"] for a in httpx.get(running.url + "api/articles").json()["articles"]}
        assert not any(i.startswith("api-") for i in ids)  # nothing of the abandoned article written
        # and the upload slot is free again: the next upload goes through
        r = httpx.post(running.url + "api/articles", json={"title": "Town", "text": TOWN}, timeout=60)
        assert r.status_code == 200 and len(r.json()["added"]) == 1
        assert Index.load(path).check() == []
    finally:
        running.close()


def test_one_upload_request_has_a_text_cap(seed_index_dir, tmp_path, monkeypatch):
    import gradio as gr

    from qa.web.chat import ChatBackend
    from qa.web.json_api import json_articles
    from qa.web.uploads import within_upload_cap

    monkeypatch.setattr(limits, "MAX_UPLOAD_CHARS", 2000)
    a = Article(id="a", title="A", text="x " * 600)
    b = Article(id="b", title="B", text="y " * 600)
    c = Article(id="c", title="C", text="z " * 100)
    kept, problems = within_upload_cap([("a.txt", [a]), ("b.txt", [b]), ("c.txt", [c])])
    assert [n for n, _ in kept] == ["a.txt", "c.txt"]  # b would pass the cap; the small one after it fits
    assert problems == ["b.txt: its 1,200 characters of text would take this upload past the limit of 2,000 "
                        "characters for one upload; upload it on its own or in smaller parts, or index it with "
                        "`qa index`"]
    arts, problems = json_articles([{"title": "A", "text": a.text}, {"title": "B", "text": b.text}])
    assert len(arts) == 1 and problems[0].startswith("article 2: its 1,199 characters")  # text stripped
    # the chat: the second file is refused in one line, the first is indexed
    monkeypatch.setattr(gr.utils, "get_upload_folder", lambda: str(tmp_path))
    monkeypatch.setattr(limits, "MAX_UPLOAD_CHARS", len(TOWN) + 100)
    idx = Index.load(_copy(seed_index_dir, tmp_path))
    (tmp_path / "town.txt").write_text(TOWN, encoding="utf-8")
    (tmp_path / "long.txt").write_text(_long_text(3000), encoding="utf-8")
    msg, changed = ChatBackend(idx).upload([str(tmp_path / "town.txt"), str(tmp_path / "long.txt")])
    assert changed and "1 added" in msg and "long.txt: its" in msg and "past the limit" in msg
    assert "long.txt" not in {x.id for x in idx.articles()}
