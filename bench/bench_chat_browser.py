"""First and next answers through the web chat in headless Chromium, on an index of seeds/.

    python bench/bench_chat_browser.py [--runs 5]

Times Enter -> the finished answer (its Copy button) as a user sees it, in a fresh browser
context (the first answer of a page load) and then the next answers on the same page.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = ["Which countries were involved?", "Wie leidde de actie?", "Which news agency was the target?"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from qa import Index, load_articles
    from qa.web.server import serve

    idx = Index(Path(tempfile.mkdtemp()) / "index")
    idx.add(load_articles([Path(__file__).resolve().parent.parent / "seeds"])[0])
    running = serve(idx, port=0)
    url = running.url
    first, nxt = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(args.runs):
                ctx = browser.new_context(viewport={"width": 1366, "height": 768})
                page = ctx.new_page()
                page.goto(url)
                page.locator("#qa-q").wait_for()
                page.wait_for_function("() => document.querySelector('#qa-send').textContent.length > 0")
                for i, q in enumerate(QUESTIONS, 1):
                    t0 = time.perf_counter()
                    page.locator("#qa-q").fill(q)
                    page.locator("#qa-q").press("Enter")
                    page.wait_for_function(f"() => document.querySelectorAll('.qa-bot .qa-copy').length >= {i}")
                    (first if i == 1 else nxt).append(time.perf_counter() - t0)
                ctx.close()
            browser.close()
    finally:
        running.close()
    print(f"first answer of a page load: median {statistics.median(first):.3f} s, max {max(first):.3f} s "
          f"({len(first)} runs)")
    print(f"next answers:                median {statistics.median(nxt):.3f} s, max {max(nxt):.3f} s "
          f"({len(nxt)} answers)")


if __name__ == "__main__":
    main()
