"""The server's doors (issue 19, items 4, 5, 6, 10 and 11's API part), against a real server (uvicorn in a
thread) over a copy of the seed index with the real embedder: cross-site requests, forwarded addresses
and the login throttle, slowloris, what a login leaves open, and a full or read-only disk."""
from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")

USER, PASSWORD = "alice", "s3cret-pw"
TOWN = b"""date 2026-03-12
Kleinveldhuizen council approves herring-shaped library

The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a herring.
"""


def _copy(seed_index_dir: Path, where: Path) -> Path:
    path = where / "index"
    shutil.copytree(seed_index_dir, path)
    return path


@pytest.fixture(scope="module")
def srv(seed_index_dir, tmp_path_factory):
    """An open server (no login)."""
    from qa.web.server import serve

    running = serve(_copy(seed_index_dir, tmp_path_factory.mktemp("guards")), port=0)
    with httpx.Client(base_url=running.url, timeout=60) as client:
        yield running, client
    running.close()


@pytest.fixture(scope="module")
def locked(seed_index_dir, tmp_path_factory):
    """A server with a login."""
    from qa.web.server import Security, serve

    running = serve(_copy(seed_index_dir, tmp_path_factory.mktemp("locked")), port=0,
                    security=Security(auth=(USER, PASSWORD)))
    with httpx.Client(base_url=running.url, timeout=60) as client:
        yield running, client
    running.close()


def _ids(c) -> list[str]:
    return sorted(a["id"] for a in c.get("/api/articles").json()["articles"])


# ------------------------------------------------------------------ item 4: CSRF
@pytest.mark.parametrize("origin", [{"origin": "http://localhost:9999"}, {"origin": "null"},
                                    {"origin": "http://127.0.0.1"}, {"referer": "http://127.0.0.1:1/attack.html"},
                                    {"referer": "file:///home/me/attack.html"}])
def test_cross_site_changes_are_refused(srv, origin):
    _, c = srv
    before = _ids(c)
    sent = [c.post("/api/articles", headers=origin, files=[("files", ("town.txt", TOWN, "text/plain"))]),
            c.delete(f"/api/articles/{before[0]}", headers=origin),
            c.post("/gradio_api/call/remove", headers=origin, json={"data": [[before[0]]]}),
            c.post("/gradio_api/queue/join", headers=origin, json={"data": [[before[0]]], "fn_index": 0,
                                                                    "session_hash": "x"}),
            c.post("/gradio_api/upload", headers=origin, files=[("files", ("town.txt", TOWN, "text/plain"))]),
            c.post("/v1/chat/completions", headers=origin, json={"model": "qa", "messages": []}),
            c.post("/api/ask", headers=origin, json={"question": "Which countries were involved?"})]
    for r in sent:
        assert r.status_code == 403 and "cross-site request refused" in r.json()["error"], (r.request.url, r.text)
    time.sleep(0.5)  # a queued Gradio event would have run by now
    assert _ids(c) == before


def test_own_origin_and_no_origin_are_served(srv):
    running, c = srv
    own = {"origin": running.url.rstrip("/")}
    for headers in (own, {"referer": running.url + "?x=1"}, {}):
        r = c.post("/api/articles", headers=headers, files=[("files", ("town.txt", TOWN, "text/plain"))])
        assert r.status_code == 200 and r.json()["added"] == ["town.txt"], r.text
        assert c.delete("/api/articles/town.txt", headers=headers).status_code == 200
    # localhost and 127.0.0.1 are different origins, but a page on localhost:PORT is this server too
    local = f"http://localhost:{running.url.rstrip('/').rsplit(':', 1)[1]}"
    r = c.post("/api/search", headers={"origin": local, "host": local[7:]}, json={"question": "Canada"})
    assert r.status_code == 200


def test_no_cross_origin_reading(srv):
    """No CORS: Gradio used to reflect any localhost origin, with credentials, also on /api/ preflights."""
    _, c = srv
    for path in ("/", "/config", "/api/articles", "/gradio_api/info"):
        r = c.get(path, headers={"origin": "http://localhost:9999"})
        assert not [h for h in r.headers if h.startswith("access-control-allow")], (path, r.headers)
    r = c.options("/api/articles/x", headers={"origin": "http://localhost:9999",
                                              "access-control-request-method": "DELETE"})
    assert "access-control-allow-origin" not in r.headers and "access-control-allow-credentials" not in r.headers


def test_same_origin_rules():
    from qa.web.guards import same_origin

    assert same_origin("http://127.0.0.1:7860", "127.0.0.1:7860")
    assert same_origin("https://qa.example.org", "qa.example.org")  # a TLS proxy in front
    assert same_origin("http://[::1]:7860", "[::1]:7860")
    assert same_origin("http://LOCALHOST:7860/chat?x", "localhost:7860")
    for other in ("http://127.0.0.1:7861", "http://localhost:7860", "null", "file://", "http://127.0.0.1",
                  "http://127.0.0.1:99999", "chrome-extension://abc", ""):
        assert not same_origin(other, "127.0.0.1:7860"), other
