"""Cross-site requests in a real (headless) Chromium (issue 19, item 4): a page served from another local
port and an HTML file opened from disk try to add and delete articles on the open (no-login) server
through the JSON API and Gradio's routes; nothing may change. The chat's own page still works.

Needs Debian's chromium at /usr/bin/chromium."""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from test_web_browser import ARGS, CHROMIUM, DESKTOP, Q1, ask

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is absent "
                                                           "(apt-get install chromium)"),
]
httpx = pytest.importorskip("httpx")

TOWN = ("date 2026-03-12\\nKleinveldhuizen council approves herring-shaped library\\n\\n"
        "The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a herring.\\n")

#: What the audit's pages did: no-cors POSTs (sent, answer unreadable) and a DELETE (needs a CORS preflight).
ATTACK = """<!doctype html><title>attack</title><script>
const T = %(url)s, ID = %(id)s;
async function attempt(what, f) {
  try { const r = await f(); return what + " " + r.type + " " + r.status; } catch (e) { return what + " error " + e; }
}
async function go() {
  const out = [];
  const fd = new FormData();
  fd.append("files", new Blob(["%(town)s"], {type: "text/plain"}), "town.txt");
  out.push(await attempt("upload", () => fetch(T + "api/articles", {method: "POST", mode: "no-cors", body: fd,
                                                                     credentials: "include"})));
  out.push(await attempt("delete", () => fetch(T + "api/articles/" + encodeURIComponent(ID),
                                               {method: "DELETE", credentials: "include"})));
  for (const path of ["gradio_api/call/remove", "gradio_api/run/remove"]) {
    out.push(await attempt(path, () => fetch(T + path, {method: "POST", mode: "no-cors", credentials: "include",
                                                         body: JSON.stringify({data: [[ID]]}),
                                                         headers: {"Content-Type": "text/plain"}})));
  }
  const up = new FormData();
  up.append("files", new Blob(["%(town)s"], {type: "text/plain"}), "town.txt");
  out.push(await attempt("gradio-upload", () => fetch(T + "gradio_api/upload", {method: "POST", mode: "no-cors",
                                                                                body: up, credentials: "include"})));
  window.qaResults = out;
}
go();
</script>"""


@pytest.fixture
def server(seed_index_dir, tmp_path_factory):
    """A fresh open server for each test: what one attack did must not hide what the next one does."""
    pytest.importorskip("gradio")
    from qa.web.server import serve

    path = tmp_path_factory.mktemp("csrf") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _ids(url: str) -> list[str]:
    return sorted(a["id"] for a in httpx.get(url + "api/articles", timeout=30).json()["articles"])


def _page(url: str, article: str) -> str:
    return ATTACK % {"url": json.dumps(url), "id": json.dumps(article), "town": TOWN}


@pytest.fixture
def other_origin(tmp_path):
    """A second local web server (another port: another origin) serving the attack page."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _run(browser, page_url: str) -> list[str]:
    ctx = browser.new_context(viewport=DESKTOP)
    try:
        pg = ctx.new_page()
        pg.goto(page_url)
        pg.wait_for_function("() => window.qaResults !== undefined", timeout=30_000)
        return pg.evaluate("window.qaResults")
    finally:
        ctx.close()


def test_a_page_on_another_port_changes_nothing(browser, server, other_origin):
    folder, origin = other_origin
    before = _ids(server.url)
    (folder / "attack.html").write_text(_page(server.url, before[0]), "utf-8")
    results = _run(browser, origin + "attack.html")
    assert len(results) == 5, results
    httpx.get(server.url + "api/articles", timeout=30)  # let a queued Gradio event run first
    assert _ids(server.url) == before, results


def test_a_file_opened_from_disk_changes_nothing(browser, server, tmp_path):
    before = _ids(server.url)
    page = tmp_path / "attack.html"
    page.write_text(_page(server.url, before[0]), "utf-8")
    results = _run(browser, page.as_uri())
    assert len(results) == 5, results
    assert _ids(server.url) == before, results


def test_the_chat_itself_still_works(browser, server):
    """Its own origin: answers, and a change sent from its page is accepted."""
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        pg = ctx.new_page()
        pg.goto(server.url)
        pg.locator("#qa-q").wait_for(timeout=60_000)
        pg.wait_for_function("() => document.querySelector('#qa-send').textContent.length > 0")
        assert "Canada" in ask(pg, Q1)
        statuses = pg.evaluate("""async ([text]) => {
            const fd = new FormData();
            fd.append("files", new Blob([text], {type: "text/plain"}), "town.txt");
            const up = await fetch("api/articles", {method: "POST", body: fd});
            const del = await fetch("api/articles/town.txt", {method: "DELETE"});
            return [up.status, del.status];
        }""", [TOWN.replace("\\n", "\n")])
        assert statuses == [200, 200]
    finally:
        ctx.close()
