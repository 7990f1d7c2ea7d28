"""The OpenAI-compatible endpoint and the JSON API's additions (issue 18, items 1-6), over HTTP against
a real server (uvicorn in a thread) on the seed index with the real embedder: usage, url_citation
annotations, refused parameters, max_tokens, Open WebUI's task prompts, the error shapes, the
OpenAPI document, the article page and JSON uploads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import COUNTRIES, ROOT

pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")

TASKS = ROOT / "tests" / "data" / "openwebui"
Q1 = "Which countries were involved?"
HERRING = {"title": "Kleinveldhuizen approves herring-shaped library", "date": "2026-03-12",
           "url": "https://example.org/news/herring",
           "text": "The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a "
                   "herring.\n\nThe library will be moored in the old harbour and hold twelve thousand books.\n\n"
                   "Mayor Ingrid Vossebelt said the herring library will open in the spring of 2027."}


@pytest.fixture(scope="module")
def srv(seed_index_dir, tmp_path_factory):
    from qa.web.server import serve

    path = tmp_path_factory.mktemp("openai") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    with httpx.Client(base_url=running.url, timeout=120) as client:
        yield running, client
    running.close()


def chat(c, **body):
    return c.post("/v1/chat/completions", json={"model": "qa", **body})


def ask(q: str = Q1) -> list[dict]:
    return [{"role": "user", "content": q}]


def events(c, **body) -> list[dict]:
    with c.stream("POST", "/v1/chat/completions", json={"model": "qa", "stream": True, **body}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [x for x in r.iter_lines() if x]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(x[len("data: "):]) for x in lines[:-1]]


def tokens(text: str) -> int:
    from qa.index.embed import get_embedder

    return get_embedder().token_count(text)


def openai_error(r, status: int, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and isinstance(err["code"], str) and err["message"]
    assert err["param"] == param
    return err


# ------------------------------------------------------------------ usage and annotations
def test_reply_has_usage_and_url_citation_annotations(srv):
    running, c = srv
    r = chat(c, messages=ask())
    assert r.status_code == 200
    d = r.json()
    msg, content = d["choices"][0]["message"], d["choices"][0]["message"]["content"]
    for country in COUNTRIES:
        assert country in content
    assert d["choices"][0]["finish_reason"] == "stop"
    u = d["usage"]
    assert u["completion_tokens"] == tokens(content) > 20
    assert u["prompt_tokens"] == tokens(Q1) and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    notes = msg["annotations"]
    assert [n["type"] for n in notes] == ["url_citation"] * len(d["citations"]) and notes
    for note, cit in zip(notes, d["citations"]):
        uc = note["url_citation"]
        assert content[uc["start_index"]:uc["end_index"]] == f"[{cit['n']}]"
        # the seed article has no URL of its own: qa's page, at the cited sentence
        assert uc["url"] == f"{running.url}article/{cit['article']}#s{cit['span'][0]}" == cit["url"]
        assert uc["title"] == cit["title"]
        page = c.get(uc["url"].split("#")[0])
        assert page.status_code == 200 and f'id="s{cit["span"][0]}"' in page.text
        assert " ".join(cit["sentence"].split()) in " ".join(page.text.split())


def test_stream_has_annotations_in_the_last_delta_and_a_usage_chunk(srv):
    _, c = srv
    evs = events(c, messages=ask("Wie leidde de actie?"), stream_options={"include_usage": True})
    *chunks, last = evs
    assert last["choices"] == [] and last["object"] == "chat.completion.chunk"
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in chunks)
    assert "parket" in content and last["usage"]["completion_tokens"] == tokens(content)
    assert last["usage"]["prompt_tokens"] == tokens("Wie leidde de actie?")
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "stop"
    notes = final["delta"]["annotations"]  # one per quoted sentence: the model may quote one or two
    assert notes and all(n["type"] == "url_citation" for n in notes)
    uc = notes[0]["url_citation"]
    assert content[uc["start_index"]:uc["end_index"]] == "[1]" and "/article/" in uc["url"]
    assert chunks[-1]["citations"][0]["url"] == uc["url"]  # the old top-level field stays, with the URL
    # without include_usage: no usage chunk
    assert all(e["choices"] for e in events(c, messages=ask("Wie leidde de actie?")))


def test_an_article_with_a_url_is_cited_by_its_own_url(srv):
    _, c = srv
    r = c.post("/api/articles", json=HERRING)
    assert r.status_code == 200 and r.json()["added"] == [HERRING["url"]]
    d = chat(c, messages=ask("When will the herring library open?")).json()
    urls = [n["url_citation"]["url"] for n in d["choices"][0]["message"]["annotations"]]
    assert urls and set(urls) == {HERRING["url"]}
    a = c.post("/api/ask", json={"question": "When will the herring library open?"}).json()
    assert a["citations"][0]["url"] == HERRING["url"] and a["passages"][0]["url"] == HERRING["url"]
    s = c.post("/api/search", json={"question": "Amaq"}).json()
    assert s["passages"][0]["url"].split("#")[0].endswith("/article/000_7307e82632753693.txt")


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("extra, param", [
    ({"n": 2}, "n"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "response_format"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
    ({"tool_choice": "required"}, "tool_choice"),
])
def test_what_qa_cannot_do_is_a_400_naming_the_param(srv, extra, param):
    _, c = srv
    openai_error(chat(c, messages=ask(), **extra), 400, param)
    openai_error(chat(c, messages=ask(), stream=True, **extra), 400, param)


def test_accepted_parameters_still_answer(srv):
    _, c = srv
    r = chat(c, messages=ask("Wie leidde de actie?"), n=1, response_format={"type": "text"}, tool_choice="none",
             temperature=0.2, user="someone", seed=3)
    assert r.status_code == 200 and "parket" in r.json()["choices"][0]["message"]["content"]


def test_max_tokens_cuts_the_reply(srv):
    _, c = srv
    for field in ("max_tokens", "max_completion_tokens"):
        d = chat(c, messages=ask(), **{field: 12}).json()
        choice = d["choices"][0]
        assert choice["finish_reason"] == "length" and d["usage"]["completion_tokens"] <= 12
        assert choice["message"]["content"] and tokens(choice["message"]["content"]) == d["usage"]["completion_tokens"]
        assert choice["message"]["annotations"] == []  # the markers were cut off
    evs = events(c, messages=ask(), max_tokens=30, stream_options={"include_usage": True})
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in evs if e["choices"])
    assert evs[-2]["choices"][0]["finish_reason"] == "length" and 0 < evs[-1]["usage"]["completion_tokens"] <= 30
    assert "[1]" in content and len(evs[-2]["choices"][0]["delta"]["annotations"]) == 1
    openai_error(chat(c, messages=ask(), max_tokens=0), 422, "max_tokens")
    long = chat(c, messages=ask(), max_tokens=4000).json()["choices"][0]
    assert long["finish_reason"] == "stop"


# ------------------------------------------------------------------ Open WebUI's background tasks
@pytest.mark.parametrize("kind, expected", [
    ("title", {"title": "Which countries were involved"}), ("tags", {"tags": []}),
    ("follow_ups", {"follow_ups": []}), ("queries", {"queries": []}), ("text", {"text": ""})])
def test_open_webui_task_prompts_get_task_answers(srv, kind, expected):
    _, c = srv
    body = json.loads((TASKS / f"{kind}.json").read_text(encoding="utf-8"))
    r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert json.loads(d["choices"][0]["message"]["content"]) == expected
    assert d["usage"]["prompt_tokens"] > 300 and d["choices"][0]["finish_reason"] == "stop"
    evs = events(c, **{**body, "stream": True, "stream_options": {"include_usage": True}})
    assert json.loads("".join(e["choices"][0]["delta"].get("content") or "" for e in evs if e["choices"])) == expected


def test_task_prompts_run_past_the_question_cap():
    from qa.web.state import MAX_QUESTION_CHARS

    sizes = [len(json.loads(p.read_text(encoding="utf-8"))["messages"][0]["content"]) for p in TASKS.glob("*.json")]
    assert len(sizes) == 5 and sum(s > MAX_QUESTION_CHARS for s in sizes) >= 3


def test_task_recognition_and_titles():
    from qa.web.openai_tasks import recognise, title_of

    assert recognise("Which countries were involved?") is None
    assert recognise("### Task: what is this?") is None  # no chat history: a question like any other
    assert title_of("Wie leidde de actie?") == "Wie leidde de actie"
    assert title_of("How many servers were seized in Bulgaria, France and Romania last week?") == \
        "How many servers were seized in Bulgaria, France…"
    odd = recognise("### Task:\nRate the chat from 1 to 10.\n<chat_history>\nUSER: hi\n</chat_history>")
    assert odd is not None and odd.reply == "{}"


# ------------------------------------------------------------------ routes and error shapes
def test_models_routes(srv):
    _, c = srv
    assert c.get("/v1/models").json()["data"][0]["id"] == "qa"
    assert c.get("/v1/models/qa").json() == {"id": "qa", "object": "model", "created": 0, "owned_by": "qa"}
    assert openai_error(c.get("/v1/models/gpt-4o"), 404, "model")["code"] == "model_not_found"
    assert openai_error(chat(c, model="gpt-4o", messages=ask()), 404, "model")["code"] == "model_not_found"


def test_every_error_under_v1_is_openai_shaped(srv):
    _, c = srv
    for r in (c.get("/v1/nothing-here"), c.post("/v1/completions", json={}), c.get("/v1")):
        assert openai_error(r, 404)["code"] == "unknown_url"
    big = b'{"model": "qa", "messages": [{"role": "user", "content": "' + b"x" * (2 * 1024 * 1024) + b'"}]}'
    r = c.post("/v1/chat/completions", content=big, headers={"content-type": "application/json"})
    assert openai_error(r, 413)["code"] == "request_too_large"
    assert "Host header" in openai_error(c.get("/v1/models", headers={"Host": "attacker.example"}), 400)["message"]
    assert openai_error(c.post("/v1/chat/completions", json={"model": "qa"}), 422, "messages")["code"] == \
        "invalid_request"
    assert openai_error(c.post("/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}),
                        400)
    assert openai_error(chat(c, messages=ask("y" * 2001)), 413, "messages")
    # the JSON API keeps its own shape
    assert c.get("/api/articles", headers={"Host": "attacker.example"}).json()["error"].startswith("Host header")


def test_openapi_declares_the_error_shapes_and_the_event_stream(srv):
    _, c = srv
    spec = c.get("/openapi.json").json()
    post = spec["paths"]["/v1/chat/completions"]["post"]
    assert set(post["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    for path, method in (("/v1/chat/completions", "post"), ("/v1/models", "get"), ("/v1/models/{model_id}", "get")):
        for status in ("400", "404", "422"):
            ref = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/OpenAIErrorOut"), (path, status)
    assert spec["paths"]["/api/ask"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/ErrorOut")
    assert "HTTPValidationError" not in json.dumps(spec["paths"])
    body = spec["paths"]["/api/articles"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}


def test_docs_pages_load_their_assets_from_this_server(srv):
    _, c = srv
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = c.get(page).text
        assert f"/qa-docs-static/{asset}" in html and "cdn" not in html.lower() and "fonts.googleapis" not in html
        assert c.get(f"/qa-docs-static/{asset}").status_code == 200


# ------------------------------------------------------------------ the article page and JSON uploads
def test_article_page_escapes_and_anchors(srv):
    _, c = srv
    text = "The <script>alert(1)</script> pumping station moves water. It was opened on Monday by the mayor."
    r = c.post("/api/articles", json={"text": text, "title": "<b>Pump</b>", "url": "javascript:alert(2)"})
    (aid,) = r.json()["added"]
    assert aid.startswith("api-")
    page = c.get(f"/article/{aid}")
    assert page.status_code == 200 and "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "javascript:" not in page.text and "&lt;b&gt;Pump&lt;/b&gt;" in page.text
    assert 'id="s0"' in page.text and f'id="s{text.index("It was")}"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert c.get("/article/no-such-article").status_code == 404
    assert c.delete(f"/api/articles/{aid}").status_code == 200


def test_post_articles_takes_json(srv):
    _, c = srv
    body = {"text": "Kleinveldhuizen's ferry will sail again from May, the harbour master said on Friday.",
            "title": "Ferry returns", "date": "2026-04"}
    first = c.post("/api/articles", json=body).json()
    (aid,) = first["added"]
    assert c.post("/api/articles", json=body).json()["unchanged"] == [aid]  # the same text again: no copy
    listed = {a["id"]: a for a in c.get("/api/articles").json()["articles"]}
    assert listed[aid]["title"] == "Ferry returns" and listed[aid]["date"] == "2026-04"
    two = c.post("/api/articles", json=[{**body, "id": "ferry-2", "text": body["text"] + " Tickets cost 3 euros."},
                                        {"title": "no text"}]).json()
    assert two["added"] == ["ferry-2"] and "article 2" in two["problems"][0] and "text" in two["problems"][0]
    bad = c.post("/api/articles", json={"text": "x y z", "date": "2026-02-30"})
    assert bad.status_code == 400 and "2026-02-30" in bad.json()["error"]
    assert c.post("/api/articles", content=b"hi", headers={"content-type": "text/plain"}).status_code == 415
    # multipart files still work, with an optional date for all of them
    r = c.post("/api/articles", data={"date": "2025-12-01"},
               files=[("files", ("dike.txt", b"The dike at Zwolbergen was raised by a metre this winter.", "text/plain"))])
    assert r.status_code == 200 and r.json()["added"] == ["dike.txt"]
    listed = {a["id"]: a for a in c.get("/api/articles").json()["articles"]}
    assert listed["dike.txt"]["date"] == "2025-12-01"
    for x in (aid, "ferry-2", "dike.txt"):
        assert c.delete(f"/api/articles/{x}").status_code == 200
