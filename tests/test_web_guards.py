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
        error = r.json()["error"]  # OpenAI's shape under /v1
        assert r.status_code == 403, (r.request.url, r.text)
        assert "cross-site request refused" in (error["message"] if isinstance(error, dict) else error), r.text
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


# ------------------------------------------------------------------ item 5: X-Forwarded-For
def test_forwarded_for_does_not_dodge_the_login_throttle(locked):
    """uvicorn believed X-Forwarded-For from 127.0.0.1, so each guess came from a 'new' client."""
    running, c = locked
    checked = refused = 0
    t0 = time.monotonic()
    try:
        i = 0
        while time.monotonic() - t0 < 5:
            i += 1
            xff = {"x-forwarded-for": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
            if i % 2:
                r = c.post("/login", data={"username": USER, "password": f"guess{i}"}, headers=xff)
            else:
                r = c.get("/api/articles", headers={**xff, "authorization": "Basic " + base64.b64encode(
                    f"{USER}:guess{i}".encode()).decode()})
            if r.status_code == 429:
                refused += 1
            else:
                assert r.status_code in (400, 401), r.text
                checked += 1
        rate = checked / (time.monotonic() - t0)
    finally:
        running.app.state.throttle.succeeded("127.0.0.1")
    assert rate <= 2.0 and refused > 0, (checked, refused)


def test_forwarded_for_is_believed_from_named_proxies(seed_index_dir, tmp_path):
    from qa.web.server import Security, serve

    with pytest.raises(ValueError, match="forwarded-allow-ips"):
        serve(seed_index_dir, port=0, forwarded_allow_ips="proxy.example")
    running = serve(_copy(seed_index_dir, tmp_path), port=0, security=Security(auth=(USER, PASSWORD)),
                    forwarded_allow_ips="127.0.0.1")
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            for i in range(8):  # 8 clients behind the proxy, one guess each: none is throttled
                r = c.post("/login", data={"username": USER, "password": "guess"},
                           headers={"x-forwarded-for": f"10.0.0.{i}"})
                assert r.status_code == 400
            codes = [c.post("/login", data={"username": USER, "password": "guess"},
                            headers={"x-forwarded-for": "10.0.1.1"}).status_code for _ in range(7)]
            assert codes[:5] == [400] * 5 and 429 in codes[5:]  # but one client is
    finally:
        running.close()


# ------------------------------------------------------------------ item 6: slowloris
@pytest.fixture(scope="module")
def quiet(seed_index_dir, tmp_path_factory):
    """An open server that only the slowloris tests talk to (they count its connections)."""
    from qa.web.server import serve

    running = serve(_copy(seed_index_dir, tmp_path_factory.mktemp("slow")), port=0)
    yield running
    running.close()


def _can_bind(addr: str) -> bool:
    """Whether this machine answers on `addr` (Linux routes all of 127.0.0.0/8 to loopback; macOS does not)."""
    try:
        with socket.socket() as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


#: The slowloris tests play the legitimate client, or the attacker, from other loopback addresses.
other_addresses = pytest.mark.skipif(not (_can_bind("127.0.0.2") and _can_bind("127.0.0.3")),
                                     reason="needs 127.0.0.2 and 127.0.0.3 on the loopback interface")


def _addr(running) -> tuple[str, int]:
    host, port = running.url.rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
    return host, int(port)


async def _trickle(addr: tuple[str, int], n: int, seconds: float, legit) -> tuple[int, list]:
    """`n` connections sending a request's headers one line a second for `seconds`, and `legit()` run
    meanwhile in a thread; returns (connections the server refused or closed, legit's result)."""
    conns = []
    for i in range(n):
        try:
            r, w = await asyncio.open_connection(*addr)
        except OSError:
            continue
        w.write(b"GET /api/articles HTTP/1.1\r\nHost: %s:%d\r\n" % (addr[0].encode(), addr[1]))
        conns.append((r, w))
        if i % 100 == 99:
            await asyncio.sleep(0)
    job = asyncio.ensure_future(asyncio.to_thread(legit))
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for r, w in conns:
            if not w.is_closing():
                try:
                    w.write(b"X-Trickle: 1\r\n")
                except (ConnectionError, RuntimeError):
                    pass
        await asyncio.sleep(1.0)
    result = await job
    closed = 0
    for r, w in conns:
        try:
            data = await asyncio.wait_for(r.read(200), 0.01)
            closed += data == b"" or data.startswith(b"HTTP/1.1 503")
        except asyncio.TimeoutError:
            pass
        except ConnectionError:
            closed += 1
        w.close()
    return closed, result


@other_addresses
def test_slowloris_leaves_room_for_others(quiet):
    """1,100 connections trickling headers from one address; requests from another are answered in < 2 s
    (before: every request got 503 while they trickled)."""
    addr = _addr(quiet)

    def legit() -> list[tuple[int, float]]:
        time.sleep(0.5)
        out = []
        with httpx.Client(base_url=quiet.url, timeout=10,
                          transport=httpx.HTTPTransport(local_address="127.0.0.2")) as c:
            for _ in range(5):
                t0 = time.monotonic()
                out.append((c.get("/api/articles", headers={"connection": "close"}).status_code,
                            time.monotonic() - t0))
                time.sleep(0.3)
        return out

    closed, got = asyncio.run(_trickle(addr, 1100, 4.0, legit))
    assert all(status == 200 and secs < 2.0 for status, secs in got), got
    assert closed >= 1100 - 128, closed  # all but the per-client cap were turned away at once


@other_addresses
def test_per_client_connection_cap(quiet):
    from qa.web.connections import MAX_CONNECTIONS_PER_CLIENT as CAP

    # from an address of its own: the other tests' connections do not count against it
    socks = [socket.create_connection(_addr(quiet), timeout=5, source_address=("127.0.0.3", 0))
             for _ in range(CAP + 5)]
    try:
        busy = 0
        for s in socks[CAP:]:
            data = b""
            while chunk := s.recv(4096):  # the answer, then the server closes
                data += chunk
            busy += data.startswith(b"HTTP/1.1 503") and b"too many open connections" in data
        assert busy == 5
        socks[0].settimeout(0.2)
        with pytest.raises(socket.timeout):  # the first CAP are held open, waiting for a request
            socks[0].recv(10)
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as c:
        assert c.get(quiet.url + "api/articles").status_code == 200  # the count went down again


def test_request_headers_have_a_deadline(seed_index_dir, tmp_path):
    from qa.web.server import serve

    running = serve(_copy(seed_index_dir, tmp_path), port=0, header_timeout=1.0)
    try:
        host, port = _addr(running)
        idle = socket.create_connection((host, port), timeout=5)  # connects and sends nothing
        slow = socket.create_connection((host, port), timeout=5)
        slow.sendall(b"GET /api/articles HTTP/1.1\r\nHost: %s:%d\r\n" % (host.encode(), port))
        t0 = time.monotonic()
        closed_at = None
        while time.monotonic() - t0 < 4:
            try:
                slow.sendall(b"X-Trickle: 1\r\n")
            except OSError:
                closed_at = time.monotonic() - t0
                break
            slow.settimeout(0.3)
            try:
                if slow.recv(10) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
        assert closed_at is not None and closed_at < 2.5, closed_at
        assert idle.recv(10) == b""  # closed too
        # a whole request on a kept-alive connection, then a pause longer than the deadline, is fine
        with httpx.Client(base_url=running.url, timeout=10) as c:
            assert c.get("/api/articles").status_code == 200
            time.sleep(1.5)  # under uvicorn's 5 s keep-alive
            assert c.get("/api/articles").status_code == 200
    finally:
        running.close()


def test_request_bodies_have_a_deadline(seed_index_dir, tmp_path):
    """A body trickled in a byte every 0.3 s is cut off with 408 at the deadline and the connection
    closed (before: uvicorn waited for it as long as it came); a body sent at once is unaffected."""
    from qa.web.server import serve

    running = serve(_copy(seed_index_dir, tmp_path), port=0, body_timeout=1.0)
    try:
        host, port = _addr(running)
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"POST /api/articles HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"text\": \"" % (host.encode(), port))
        t0 = time.monotonic()
        got = b""
        s.settimeout(0.3)
        while time.monotonic() - t0 < 5:
            try:
                s.sendall(b"x")
            except OSError:
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            got += chunk
            if not chunk:
                break
        took = time.monotonic() - t0
        s.close()
        assert got.startswith(b"HTTP/1.1 408") and b"came too slowly" in got, got[:300]
        assert b"connection: close" in got.lower()
        assert 0.9 < took < 2.5, took
        # answered before its body was read (415 here): the connection is closed after the answer
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"POST /api/articles HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: 1000\r\n\r\nx" % (host.encode(), port))
        got = b""
        while chunk := s.recv(4096):
            got += chunk
        s.close()
        assert got.startswith(b"HTTP/1.1 415") and b"connection: close" in got.lower()
        with httpx.Client(base_url=running.url, timeout=60) as c:
            r = c.post("/api/articles", files=[("files", ("town.txt", TOWN, "text/plain"))])
            assert r.status_code == 200 and r.json()["added"] == ["town.txt"]
    finally:
        running.close()


# ------------------------------------------------------------------ item 10: what a login leaves open
def test_nothing_but_the_login_page_before_the_login(locked):
    from qa import Index

    running, c = locked
    arts = Index.load(running.app.state.index_path).articles()
    with httpx.Client(base_url=running.url, timeout=60) as anon:
        page = anon.get("/", headers={"accept-encoding": "br, gzip"})
        assert page.status_code == 200 and '"auth_required":true' in page.text
        for a in arts:
            assert a.id not in page.text and a.title[:40] not in page.text
        assert anon.get("/theme.css").status_code == 200
        for path in ("/openapi.json", "/docs", "/redoc", "/gradio_api/runs", "/gradio_api/app_id",
                     "/gradio_api/startup-events", "/gradio_api/heartbeat/abc", "/qa-static/chat.js",
                     f"/article/{arts[0].id}", "/qa-docs-static/swagger-ui.css"):
            r = anon.get(path)
            assert r.status_code == 401 and "authentication required" in r.json()["error"], (path, r.text[:200])
        cancel = {"session_hash": "x", "fn_index": 0, "event_id": "x"}
        for path, body in (("/gradio_api/reset", {"event_id": "x"}), ("/gradio_api/cancel", cancel)):
            assert anon.post(path, json=body).status_code == 401, path
    with httpx.Client(base_url=running.url, timeout=60) as user:  # logged in with the chat's form
        assert user.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        assert arts[0].id in user.get("/").text
        assert user.get("/openapi.json").status_code == 200 and user.get("/docs").status_code == 200
    basic = {"authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    assert c.get("/openapi.json", headers=basic).json()["info"]["title"] == "qa"


# ------------------------------------------------------------------ item 11: a full or read-only disk


def test_full_and_read_only_disk_answer_json_and_lose_nothing(seed_index_dir, tmpfs):
    from qa.web.server import serve

    mnt, mount = tmpfs
    mount("size=1m")
    path = _copy(seed_index_dir, mnt)
    running = serve(path, port=0)
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            before = _ids(c)
            filler = mnt / "filler"
            with open(filler, "wb") as f:  # fill the disk
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            for r in (c.post("/api/articles", files=[("files", ("town.txt", TOWN, "text/plain"))]),
                      c.delete(f"/api/articles/{before[0]}")):
                assert r.status_code == 507, r.text
                assert "No space left on device" in r.json()["error"] and "nothing was changed" in r.json()["error"]
                assert str(mnt) not in r.text  # no server paths
            assert _ids(c) == before
            filler.unlink()
            r = c.post("/api/articles", files=[("files", ("town.txt", TOWN, "text/plain"))])
            assert r.status_code == 200 and r.json()["added"] == ["town.txt"], r.text
            mount("remount", "ro")
            for r in (c.post("/api/articles", files=[("files", ("town2.txt", TOWN + b"Again.", "text/plain"))]),
                      c.delete("/api/articles/town.txt")):
                assert r.status_code == 503 and "Read-only file system" in r.json()["error"], r.text
            assert _ids(c) == sorted(before + ["town.txt"])
            assert c.post("/api/search", json={"question": "herring library"}).status_code == 200
    finally:
        running.close()
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], capture_output=True)


def test_the_connection_cap_counts_an_ipv6_host_by_its_64():
    """One IPv6 host usually owns a /64: counted per address, it could open the cap 2^64 times."""
    from qa.web.connections import client_key

    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7" == client_key("203.0.113.7")
    assert client_key("127.0.0.2") != client_key("127.0.0.3") and client_key("::1") == "::1"
