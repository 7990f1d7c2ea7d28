"""The chat in a real (headless) browser: type a question, see the answer and its sources.

Needs Debian's chromium at /usr/bin/chromium (CI installs it). Set QA_SCREENSHOT=PATH to keep
a screenshot of the answered chat (docs/chat.png is made this way).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is absent "
                                                           "(apt-get install chromium)"),
]



@pytest.fixture(scope="module")
def url(seed_index_dir, tmp_path_factory):
    pytest.importorskip("gradio")
    from qa.server import serve

    path = tmp_path_factory.mktemp("browser") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    yield running.url
    running.close()


def test_ask_in_the_browser(url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1100})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="load", timeout=60_000)
            box = page.locator("#qa-question textarea")
            box.wait_for(timeout=60_000)
            box.fill("Which countries were involved?")
            box.press("Enter")
            answer = page.locator("#qa-chat .qa-answer .qa-text").last
            answer.wait_for(timeout=60_000)
            page.locator("#qa-chat .qa-src").first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('#qa-chat').innerText.includes('Searching the articles')",
                timeout=60_000)
            text = answer.inner_text()
            assert "Canada" in text, text
            # the sources: a title, a date, a score, and the supporting sentence highlighted
            src = page.locator("#qa-chat .qa-src").first
            assert "2018-04" in src.inner_text() and "score" in src.inner_text()
            assert page.locator("#qa-chat .qa-src mark").count() >= 1
            # the question is shown as typed
            assert "Which countries were involved?" in page.locator("#qa-chat").inner_text()
            page.wait_for_timeout(500)
            shot = Path(os.environ.get("QA_SCREENSHOT") or tmp_path / "chat.png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            # markup in a question is shown as typed and never runs
            evil = "Who led it? <img src=x onerror=alert(1)><script>alert(2)</script>"
            box.fill(evil)
            box.press("Enter")
            page.locator("#qa-chat .qa-answer .qa-text").nth(1).wait_for(timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('#qa-chat').innerText.includes('Searching the articles')",
                timeout=60_000)
            page.wait_for_timeout(500)
            assert evil in page.locator("#qa-chat").inner_text()
            assert page.locator("#qa-chat img[src=x]").count() == 0
            assert dialogs == []
        finally:
            browser.close()
