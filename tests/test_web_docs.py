"""The API docs (/docs: Swagger UI, /redoc: ReDoc) render in a real headless Chromium with every request
to anything but this server refused: their scripts and styles come from the server (fastapi-offline's
files), not a CDN."""
from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_web_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is absent "
                                                           "(apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def url(seed_index_dir, tmp_path_factory):
    pytest.importorskip("gradio")
    from qa.web.server import serve

    path = tmp_path_factory.mktemp("docs") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    yield running.url
    running.close()


@pytest.mark.parametrize("page, ready", [
    ("docs", ".swagger-ui .opblock-summary-path"),
    ("redoc", "[data-section-id^='tag/openai'], [data-section-id*='chat']"),
])
def test_docs_render_offline(url, page, ready):
    sync_api = pytest.importorskip("playwright.sync_api")
    own = urlparse(url).netloc
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1366, "height": 768})

            def route(r):  # the machine is offline: anything not on this server would fail
                if urlparse(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
                    r.continue_()
                else:
                    outside.append(r.request.url)
                    r.abort()

            ctx.route("**/*", route)
            pg = ctx.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(url + page, wait_until="networkidle", timeout=60_000)
            pg.locator(ready).first.wait_for(timeout=60_000)
            text = pg.locator("body").inner_text()
            assert "/v1/chat/completions" in text and "/api/ask" in text
            assert not errors, errors
        finally:
            browser.close()
    assert outside == [], outside
