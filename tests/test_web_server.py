"""The HTTP server (qa/web/server.py): JSON API, OpenAI-compatible endpoint and the guards, against a
real server (uvicorn in a thread) over the seed index with the real embedder."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import COUNTRIES, ROOT

pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")

TOWN_ARTICLE = """date 2026-03-12
Kleinveldhuizen council approves herring-shaped library

The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a herring.
The library will be moored in the old harbour and hold twelve thousand books.
Mayor Ingrid Vossebelt said the herring library will open in the spring of 2027.
"""
USER, PASSWORD, TOKEN = "alice", "s3cret-pw", "tok-0123456789"


@pytest.fixture(scope="module")
def srv(seed_index_dir, tmp_path_factory):
    """An open server (no login) on a copy of the seed index."""
    from qa.web.server import serve

    path = tmp_path_factory.mktemp("server") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    with httpx.Client(base_url=running.url, timeout=60) as client:
        yield running, client
    running.close()


@pytest.fixture(scope="module")
def locked(seed_index_dir, tmp_path_factory):
    """A server with a login and an API token."""
    from qa.web.server import Security, serve

    path = tmp_path_factory.mktemp("locked") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0, security=Security(auth=(USER, PASSWORD), api_token=TOKEN))
    with httpx.Client(base_url=running.url, timeout=60) as client:
        yield running, client
    running.close()


def _basic(user: str, pw: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


# ------------------------------------------------------------------ JSON API
def test_ask_returns_the_ask_json_object(srv):
    from qa import Index, answer

    running, c = srv
    r = c.post("/api/ask", json={"question": "Which countries were involved?"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    got = r.json()
    assert got["found"] is True and got["citations"] and got["passages"]
    for country in COUNTRIES:
        assert country in got["answer"]
    # the same object as `qa ask --json` / Answer.to_dict() for the same index, plus a `url` on each
    # citation and passage (the seed article has none of its own: qa's article page)
    for x in got["citations"] + got["passages"]:
        assert x.pop("url").startswith(f"{running.url}article/000_")
    local = answer("Which countries were involved?", index=Index.load(running.app.state.index_path)).to_dict()
    assert got == json.loads(json.dumps(local))


def test_ask_follow_up_k_and_dates(srv):
    _, c = srv
    r = c.post("/api/ask", json={"question": "Wie leidde de actie?", "history": ["Which countries were involved?"], "k": 2})
    assert r.status_code == 200 and "parket" in r.json()["answer"] and len(r.json()["passages"]) <= 2
    msgs = [{"role": "user", "content": "Which countries were involved?"}, {"role": "assistant", "content": "…"}]
    assert "parket" in c.post("/api/ask", json={"question": "Wie leidde de actie?", "history": msgs}).json()["answer"]
    outside = c.post("/api/ask", json={"question": "Which countries were involved?", "date_from": "2020"}).json()
    assert outside["found"] is False and outside["passages"] == []


def test_search_returns_the_search_json_object(srv):
    _, c = srv
    got = c.post("/api/search", json={"question": "Welke landen waren betrokken?", "k": 3}).json()
    assert got["question"] == "Welke landen waren betrokken?" and 1 <= len(got["passages"]) <= 3
    p = got["passages"][0]
    assert set(p) == {"article", "title", "date", "text", "score", "chunk", "span", "url"}
    assert "Canada" in " ".join(x["text"] for x in got["passages"])


def test_articles_upload_ask_delete(srv, tmp_path):
    _, c = srv
    before = c.get("/api/articles").json()
    assert before["count"] == 1 and before["articles"][0]["date"] == "2018-04"
    r = c.post("/api/articles", files=[("files", ("town.txt", TOWN_ARTICLE.encode(), "text/plain"))])
    assert r.status_code == 200, r.text
    assert r.json()["added"] == ["town.txt"] and r.json()["articles"] == 2
    ids = [a["id"] for a in c.get("/api/articles").json()["articles"]]
    assert "town.txt" in ids
    a = c.post("/api/ask", json={"question": "When will the herring library in Kleinveldhuizen open?"}).json()
    assert "2027" in a["answer"] and a["citations"][0]["article"] == "town.txt"
    r = c.delete("/api/articles/town.txt")
    assert r.status_code == 200 and r.json() == {"removed": "town.txt", "articles": 1}
    assert c.get("/api/articles").json() == before
    r = c.delete("/api/articles/town.txt")
    assert r.status_code == 404 and "town.txt" in r.json()["error"]
    # ids with slashes (feed records, files in sub-folders)
    feed = json.dumps({"id": "2026/03/ferry", "title": "Ferry", "date": "2026-03",
                       "text": "The Ossenwaard ferry will stop running in May, the province said on Monday."})
    r = c.post("/api/articles", files=[("files", ("feed.jsonl", feed.encode(), "application/jsonl"))])
    assert r.json()["added"] == ["2026/03/ferry"], r.text
    assert c.delete("/api/articles/2026/03/ferry").json() == {"removed": "2026/03/ferry", "articles": 1}


def test_bad_uploads_change_nothing(srv):
    _, c = srv
    before = c.get("/api/articles").json()
    r = c.post("/api/articles", files=[("files", ("empty.txt", b"", "text/plain")),
                                       ("files", ("binary.txt", b"\x00\x01PNG\x00" * 100, "text/plain")),
                                       ("files", ("tool.exe", b"MZ....", "application/octet-stream"))])
    assert r.status_code == 400
    err = r.json()
    assert err["error"].startswith("nothing was indexed")
    assert any(p.startswith("empty.txt: empty file") for p in err["problems"])
    assert any(p.startswith("binary.txt: binary file") for p in err["problems"])
    assert any(p.startswith("tool.exe: unsupported file type .exe") for p in err["problems"])
    assert "/tmp" not in r.text  # the server's temp paths stay out of messages
    assert c.get("/api/articles").json() == before
    r = c.post("/api/articles", files=[("files", ("big.txt", b"word " * (1024 * 1024 + 10), "text/plain"))])
    assert r.status_code == 400 and "over the 5 MB limit" in r.json()["error"]


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"question": "   "}', 400, "empty"),
    (b"{}", 422, "question: Field required"),
    (b'["a list"]', 400, "JSON object"),
    (b'{"question": "Which countries?", "k": 0}', 422, "k:"),
    (b'{"question": "Which countries?", "date_from": "2018-13"}', 400, "date"),
    (json.dumps({"question": "x" * 2001}).encode(), 413, "too long"),
    (json.dumps({"question": "And?", "history": ["y" * 30_000]}).encode(), 413, "history"),
])
def test_api_errors_are_json_with_4xx(srv, body, status, words):
    _, c = srv
    r = c.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and words in r.json()["error"], r.json()


def test_form_encoded_body_is_a_400(srv):
    _, c = srv  # curl -d without -H content-type sends a form
    r = c.post("/api/ask", content=b'{"question": "x"}', headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "Content-Type: application/json" in r.json()["error"]


def test_request_bodies_are_capped(srv):
    _, c = srv
    big = b'{"question": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = c.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunked():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 64 * 1024

    r = c.post("/api/search", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    # and the server still answers
    assert c.post("/api/search", json={"question": "Amaq"}).status_code == 200


def test_openapi_docs_are_served(srv):
    _, c = srv
    assert c.get("/docs").status_code == 200 and "swagger" in c.get("/docs").text.lower()
    spec = c.get("/openapi.json").json()
    for path in ("/api/ask", "/api/search", "/api/articles", "/api/articles/{article_id}", "/v1/models",
                 "/v1/chat/completions"):
        assert path in spec["paths"], path
    assert "AnswerOut" in spec["components"]["schemas"]


def test_the_chat_is_served_on_the_same_port(srv):
    _, c = srv
    r = c.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert c.get("/config").status_code == 200


# ------------------------------------------------------------------ hardening
def test_host_header_checked_on_api_and_gradio_routes(srv):
    running, c = srv
    before = c.get("/api/articles").json()
    evil = {"Host": "attacker.example"}
    r = c.post("/api/articles", files=[("files", ("x.txt", TOWN_ARTICLE.encode(), "text/plain"))], headers=evil)
    assert r.status_code == 400 and "attacker.example" in r.json()["error"]
    assert c.get("/api/articles", headers={"Host": "attacker.example:80"}).status_code == 400
    r = c.post("/gradio_api/call/remove", json={"data": [[before["articles"][0]["id"]]]}, headers=evil)
    assert r.status_code == 400
    assert c.get("/", headers=evil).status_code == 400
    assert c.get("/api/articles").json() == before  # nothing removed
    # the same gradio call with a local Host is let through (to an id that is not there)
    port = running.url.rstrip("/").rsplit(":", 1)[1]
    r = c.post("/gradio_api/call/remove", json={"data": [["no-such-id"]]}, headers={"Host": f"localhost:{port}"})
    assert r.status_code == 200 and "event_id" in r.json()


def test_allowed_host_option(seed_index_dir):
    from qa.web.server import Security, allowed_hosts_for, serve

    hosts = allowed_hosts_for("0.0.0.0", ["qa.example.org"])
    assert "0.0.0.0" not in hosts and "qa.example.org" in hosts and "localhost" in hosts
    running = serve(seed_index_dir, port=0, security=Security(allowed_hosts=hosts))
    try:
        with httpx.Client(base_url=running.url, timeout=30) as c:
            assert c.get("/api/articles", headers={"Host": "qa.example.org:8080"}).status_code == 200
            assert c.get("/api/articles", headers={"Host": "other.example.org"}).status_code == 400
    finally:
        running.close()


def test_api_requires_the_login_or_the_token(locked):
    running, c = locked
    running.app.state.throttle.succeeded("127.0.0.1")
    q = {"question": "Which countries were involved?"}
    r = c.post("/api/ask", json=q)
    assert r.status_code == 401 and "authentication required" in r.json()["error"]
    assert c.get("/api/articles").status_code == 401 and c.get("/v1/models").status_code == 401
    assert c.post("/api/ask", json=q, headers=_basic(USER, PASSWORD)).json()["found"] is True
    assert c.get("/api/articles", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/api/articles", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/articles", headers=_basic(USER, "wrong")).status_code == 401
    # the chat needs the login too; a browser logged into it may use the API with its cookie
    assert c.get("/config").status_code == 401
    with httpx.Client(base_url=running.url, timeout=30) as b:
        assert b.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        assert b.get("/config").status_code == 200
        assert b.get("/api/articles").status_code == 200
    running.app.state.throttle.succeeded("127.0.0.1")


def test_login_throttle_backs_off(locked):
    from qa.web.guards import FREE_FAILURES

    running, c = locked
    throttle = running.app.state.throttle
    throttle.succeeded("127.0.0.1")
    try:
        for _ in range(FREE_FAILURES):
            assert c.post("/login", data={"username": USER, "password": "guess"}).status_code == 400
        assert c.post("/login", data={"username": USER, "password": "guess"}).status_code == 400  # 1 s lock now
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "try again" in r.json()["error"]
        # the API's credential check shares the lock-out
        assert c.get("/api/articles", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
        time.sleep(1.1)
        assert c.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200  # resets
        assert c.post("/login", data={"username": USER, "password": "guess"}).status_code == 400
    finally:
        throttle.succeeded("127.0.0.1")


def test_throttle_doubles_the_wait():
    from qa.web.guards import LoginThrottle

    t = LoginThrottle(free=2, max_backoff=8)
    waits = []
    for _ in range(7):
        t.failed("a")
        waits.append(round(t.retry_after("a")))
    assert waits == [0, 0, 1, 2, 4, 8, 8]
    assert t.retry_after("b") == 0  # per client
    t.succeeded("a")
    assert t.retry_after("a") == 0


def test_answer_slots_turn_away_beyond_the_queue():
    import asyncio

    from qa.web.server import ApiError, _Slots, _WriteSlots

    async def run() -> list:
        s = _Slots(size=1, queue=1)
        await s.acquire()
        waiter = asyncio.ensure_future(s.acquire())  # waits in the queue
        await asyncio.sleep(0.01)
        assert not waiter.done()
        with pytest.raises(ApiError) as e:  # the queue is full
            await s.acquire()
        s.release()
        await asyncio.wait_for(waiter, 1)  # the waiter got the slot
        s.release()
        return [e.value.status]

    assert asyncio.run(run()) == [503]
    w = _WriteSlots(queue=0)
    w.acquire()
    with pytest.raises(ApiError) as e:
        w.acquire()
    assert e.value.status == 503
    w.release()


def test_credentials_from_file_env_and_argv(tmp_path, capsys):
    import argparse

    from qa.web.server import resolve_auth

    f = tmp_path / "login"
    f.write_text("bob:pa:ss\n", encoding="utf-8")
    ns = argparse.Namespace
    assert resolve_auth(ns(auth=None, auth_file=f), {}) == ("bob", "pa:ss")
    assert resolve_auth(ns(auth=None, auth_file=None), {"QA_AUTH": "carol:pw"}) == ("carol", "pw")
    assert resolve_auth(ns(auth=None, auth_file=None), {}) is None
    assert capsys.readouterr().err == ""
    assert resolve_auth(ns(auth="dave:pw", auth_file=None), {}) == ("dave", "pw")
    assert "visible" in capsys.readouterr().err
    with pytest.raises(ValueError, match="USER:PASS"):
        resolve_auth(ns(auth=None, auth_file=None), {"QA_AUTH": "nocolon"})
    with pytest.raises(ValueError, match="cannot be read"):
        resolve_auth(ns(auth=None, auth_file=tmp_path / "missing"), {})


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_bad_port_is_one_line(port, tmp_path):
    r = subprocess.run([sys.executable, "-m", "qa", "serve", "--port", port], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    line = r.stderr.strip()
    assert line.count("\n") == 0 and "port" in line and port in line and "65535" in line, r.stderr


# ------------------------------------------------------------------ OpenAI-compatible endpoint
def test_openai_client_non_streamed_and_follow_up(srv):
    openai = pytest.importorskip("openai")
    running, _ = srv
    client = openai.OpenAI(base_url=running.url + "v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["qa"]
    resp = client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": "Which countries were involved?"}])
    text = resp.choices[0].message.content
    for country in COUNTRIES:
        assert country in text
    assert "\n\nSources:\n[1] " in text and resp.choices[0].finish_reason == "stop"
    extra = resp.model_extra
    assert extra["found"] is True and extra["citations"][0]["n"] == 1 and extra["citations"][0]["span"]
    follow = client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": "Which countries were involved?"}, {"role": "assistant", "content": text},
        {"role": "user", "content": "Wie leidde de actie?"}])
    assert "parket" in follow.choices[0].message.content
    long_earlier = client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": "Which countries were involved? " + "x" * 30_000},
        {"role": "user", "content": "And who led it?"}])  # an overlong earlier turn is cut, not refused
    assert long_earlier.choices[0].message.content
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "y" * 2001}])
    assert e.value.status_code == 413 and "too long" in e.value.message
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "  "}])


def test_openai_client_streamed(srv):
    openai = pytest.importorskip("openai")
    running, _ = srv
    client = openai.OpenAI(base_url=running.url + "v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(model="qa", stream=True, messages=[
        {"role": "user", "content": "Wie leidde de actie?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) >= 3 and chunks[-1].choices[0].finish_reason == "stop"
    assert "parket" in text and "Sources:" in text
    assert chunks[-1].model_extra["citations"] and chunks[-1].model_extra["found"] is True
    # the raw stream ends with [DONE]
    with httpx.stream("POST", running.url + "v1/chat/completions", timeout=60, json={
            "model": "qa", "stream": True, "messages": [{"role": "user", "content": "Wie leidde de actie?"}]}) as r:
        lines = [x for x in r.iter_lines() if x]
    assert r.headers["content-type"].startswith("text/event-stream") and lines[-1] == "data: [DONE]"


def test_openai_client_with_the_api_token(locked):
    openai = pytest.importorskip("openai")
    running, _ = locked
    running.app.state.throttle.succeeded("127.0.0.1")
    good = openai.OpenAI(base_url=running.url + "v1", api_key=TOKEN, max_retries=0)
    resp = good.chat.completions.create(model="qa", messages=[{"role": "user", "content": "Wie leidde de actie?"}])
    assert "parket" in resp.choices[0].message.content
    bad = openai.OpenAI(base_url=running.url + "v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    running.app.state.throttle.succeeded("127.0.0.1")


def test_accepted_connections_have_nodelay():
    """Pre-bound listening sockets must pass TCP_NODELAY on: else every response waits ~40 ms."""
    import socket

    from qa.web.server import bind

    listener = bind("127.0.0.1", 0)
    try:
        with socket.create_connection(listener.getsockname()):
            conn, _ = listener.accept()
            with conn:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()


def test_busy_port_is_one_line():
    from qa.web.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ValueError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*pick another --port"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


@pytest.mark.parametrize("header, name", [("localhost:7860", "localhost"), ("LOCALHOST.", "localhost"),
                                          ("[::1]:7860", "::1"), ("::1", "::1"), ("127.0.0.1", "127.0.0.1"),
                                          ("attacker.example:7860", "attacker.example"), ("", "")])
def test_host_name_of_a_header(header, name):
    from qa.web.guards import host_name

    assert host_name(header) == name


def test_streamed_answer_gives_its_slot_back_when_the_client_leaves_before_the_first_chunk():
    import asyncio

    from qa.web.server import _once, _SlotStream

    released = []
    release = _once(lambda: released.append(1))

    async def body():
        try:
            yield "data: x\n\n"
        finally:
            release()

    async def gone(message):  # the client disconnected: the first send fails
        raise OSError("client went away")

    async def receive():
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    resp = _SlotStream(body(), release, media_type="text/event-stream")
    with pytest.raises(Exception):  # starlette turns the OSError into ClientDisconnect
        asyncio.run(resp({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, gone))
    assert released == [1]  # given back once, although the body never ran

    released.clear()
    release = _once(lambda: released.append(1))  # body() reads this name when it runs
    sent = []

    async def ok(message):
        sent.append(message)

    resp = _SlotStream(body(), release, media_type="text/event-stream")
    asyncio.run(resp({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, ok))
    assert released == [1] and any(m.get("body") == b"data: x\n\n" for m in sent)  # and once after a full stream


# ------------------------------------------------------------------ an app given an Index object
def test_the_app_uses_the_index_object_it_is_given(tmp_path):
    """`create_app(Index(..., embedder=E))` serves that object, with E: the folder is not loaded again
    (the model its manifest names, "recording", is no real model)."""
    from conftest import FakeEmbedder
    from qa import Article, Index
    from qa.index import default
    from qa.web.server import serve

    class Recording(FakeEmbedder):
        def __init__(self) -> None:
            super().__init__(name="recording", dim=32)
            self.questions: list[str] = []

        def query(self, texts):
            self.questions += list(texts)
            return FakeEmbedder.query(self, texts)

        def passage(self, texts):
            self.passages_embedded += len(texts)
            return FakeEmbedder.query(self, texts)

    emb = Recording()
    idx = Index(tmp_path / "index", embedder=emb)
    idx.add([Article("ferry", "Ossenwaard ferry stops in May", "The Ossenwaard ferry will stop running in May. "
                     "Its captain, Marja Dekker, has steered the ferry for 31 years.", "2026-03-01"),
             Article("school", "De Linde school gets a roof garden", "Pupils of the De Linde school planted "
                     "herbs and tomatoes on the school's new roof garden.", "2025-11-20")])
    running = serve(idx, port=0)
    emb.questions.clear()  # the index's fingerprint check embeds a sentence of its own
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            r = c.post("/api/search", json={"question": "Who is the captain of the ferry?", "k": 2})
            assert r.status_code == 200, r.text
            assert r.json()["passages"][0]["article"] == "ferry"
            assert emb.questions == ["Who is the captain of the ferry?"]  # embedded by the object's embedder
            up = c.post("/api/articles", json={"title": "Harbour dredging starts", "date": "2026-02-03",
                                               "text": "Dredgers began deepening the harbour on Monday."})
            assert up.status_code == 200, up.text
            assert up.json()["articles"] == 3 and len(idx.articles()) == 3  # written to the same object
            assert "Marja Dekker" in c.get("/article/ferry").text  # the page, from the same object
    finally:
        running.close()
    assert (tmp_path / "index").resolve() not in default._indexes  # the folder was never loaded again
