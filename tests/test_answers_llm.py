"""Generative answers against a real local HTTP server that speaks the OpenAI chat API (SSE streaming)."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa.answers.answer import NOT_COVERED, answer, answer_stream
from qa.answers.llm import LLM, LLMError, build_messages, endpoint, from_settings


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):  # keep test output quiet
        pass

    def do_POST(self):
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if srv.mode == "500":
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"model crashed")
            return
        self.send_response(200)
        if srv.mode == "json":  # ignores "stream"
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"choices": [{"message": {"content": "".join(srv.pieces)}}]}).encode())
            return
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n")
        for piece in srv.pieces:
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.01)  # really streamed, piece by piece
        if srv.mode == "badjson":
            self.wfile.write(b"data: {not json\n\n")
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests, srv.mode = [], "sse"
    srv.pieces = ["Volgens het federaal parket ", "in Bulgarije, Frankrijk, Roemenië, ", "Nederland, Canada en de ",
                  "Verenigde Staten [1]."]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    yield srv
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_endpoint():
    assert endpoint("http://h:1") == "http://h:1/v1/chat/completions"
    assert endpoint("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert endpoint("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"


def test_client_streams_and_sends_key(server):
    llm = LLM(server.url, model="tiny", key="sekrit")
    pieces = list(llm.stream([{"role": "user", "content": "hi"}]))
    assert pieces == server.pieces
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekrit"
    assert req["body"]["model"] == "tiny" and req["body"]["stream"] is True


def test_client_non_streaming_server(server):
    server.mode = "json"
    assert LLM(server.url).chat([{"role": "user", "content": "hi"}]) == "".join(server.pieces)


def test_client_errors(server):
    server.mode = "500"
    with pytest.raises(LLMError, match="HTTP 500"):
        list(LLM(server.url).stream([]))
    with pytest.raises(LLMError, match="cannot connect"):
        list(LLM(f"http://127.0.0.1:{_closed_port()}").stream([]))
    server.mode = "badjson"
    with pytest.raises(LLMError, match="bad JSON"):
        list(LLM(server.url).stream([]))


def test_from_settings(monkeypatch):
    monkeypatch.delenv("QA_LLM_URL", raising=False)
    assert from_settings() is None
    monkeypatch.setenv("QA_LLM_URL", "http://x:1")
    monkeypatch.setenv("QA_LLM_MODEL", "m")
    monkeypatch.setenv("QA_LLM_KEY", "k")
    llm = from_settings()
    assert (llm.url, llm.model, llm.key) == ("http://x:1", "m", "k")
    assert from_settings("http://y:2", "n").model == "n"


def test_prompt_numbers_passages(seed_index):
    ps = seed_index.search("Which countries were involved?", 3)
    msgs = build_messages("Which countries were involved?", ps, ["Earlier?"])
    user = msgs[-1]["content"]
    assert "[1] " in user and "Question: Which countries were involved?" in user and "Earlier?" in user
    assert NOT_COVERED["en"] in msgs[0]["content"]


def test_answer_streams_growing_text(server, seed_index):
    steps = list(answer_stream("Which countries were involved?", index=seed_index, llm=LLM(server.url)))
    assert len(steps) >= len(server.pieces)
    texts = [s.text for s in steps]
    assert all(b.startswith(a.strip()) for a, b in zip(texts, texts[1:]))
    final = steps[-1]
    assert final.found and final.note is None and "Bulgarije" in final.text
    assert final.citations and final.citations[0].n == 1
    c = final.citations[0]
    assert seed_index.article(c.article_id).text[c.start:c.end] == c.sentence
    # The prompt held only the retrieved passages.
    prompt = server.requests[0]["body"]["messages"][-1]["content"]
    assert final.passages[0].text.split()[0] in prompt


def test_answer_llm_says_not_covered(server, seed_index):
    server.pieces = ["The articles do not ", "cover this."]
    a = answer("What is the capital of Japan?", index=seed_index, llm=LLM(server.url))
    assert not a.found and a.citations == ()


@pytest.mark.parametrize("mode", ["500", "closed", "badjson"])
def test_fallback_to_extractive(server, seed_index, mode):
    if mode == "closed":
        url = f"http://127.0.0.1:{_closed_port()}/v1"
    else:
        server.mode, url = mode, server.url
    a = answer("Which countries were involved?", index=seed_index, llm=LLM(url, timeout=5))
    assert a.note and "unavailable" in a.note and url in a.note and "extractive" in a.note
    assert a.found and "Bulgarije" in a.text and a.citations  # the extractive answer
    assert a.to_dict()["note"] == a.note


def test_cli_ask_with_llm(server, seed_index_dir, capsys):
    from qa.cli import main

    assert main(["ask", "Which countries were involved?", "--index", str(seed_index_dir),
                 "--llm-url", server.url, "--llm-model", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "Verenigde Staten [1]." in out and "\n[1] " in out
    assert server.requests[0]["body"]["model"] == "tiny"
