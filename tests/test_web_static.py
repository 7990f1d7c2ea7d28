"""The chat page's files (qa/web/static): the script parses (node --check) and passes eslint's recommended
rules (pinned in tests/web/package.json), and the running app serves the files the page loads."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "qa" / "web" / "static"
WEB = ROOT / "tests" / "web"
NODE = shutil.which("node")
ESLINT = WEB / "node_modules" / ".bin" / "eslint"


def test_the_page_files_are_there():
    assert sorted(p.name for p in STATIC.iterdir()) == ["chat.css", "chat.html", "chat.js", "settings.html"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_chat_js_parses():
    r = subprocess.run([NODE, "--check", str(STATIC / "chat.js")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_check_fails_on_a_broken_script(tmp_path):
    bad = tmp_path / "bad.js"
    bad.write_text("(() => {\n  const x = ;\n})();\n")
    assert subprocess.run([NODE, "--check", str(bad)], capture_output=True, timeout=60).returncode != 0


@pytest.mark.skipif(NODE is None or not ESLINT.exists(),
                    reason="node or eslint missing (install it: npm ci --prefix tests/web)")
def test_chat_js_passes_eslint():
    r = subprocess.run([str(ESLINT), "-c", str(WEB / "eslint.config.js"), "--max-warnings", "0",
                        "qa/web/static/chat.js"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(NODE is None or not ESLINT.exists(),
                    reason="node or eslint missing (install it: npm ci --prefix tests/web)")
def test_eslint_reports_an_undefined_name():
    """The lint is real: the same config on the script plus one undefined call fails."""
    src = (STATIC / "chat.js").read_text(encoding="utf-8") + "\nundefinedHelper();\n"
    r = subprocess.run([str(ESLINT), "-c", str(WEB / "eslint.config.js"), "--stdin", "--stdin-filename",
                        "qa/web/static/chat.js"], input=src, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no-undef" in r.stdout, r.stdout + r.stderr


@pytest.fixture(scope="module")
def srv(seed_index_dir, tmp_path_factory):
    pytest.importorskip("gradio")
    from qa.web.server import serve

    path = tmp_path_factory.mktemp("static") / "index"
    shutil.copytree(seed_index_dir, path)
    running = serve(path, port=0)
    yield running.url
    running.close()


def test_the_app_serves_the_page_files(srv):
    import httpx

    for name, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        r = httpx.get(f"{srv}qa-static/{name}", timeout=30)
        assert r.status_code == 200 and kind in r.headers["content-type"], (name, r.status_code, r.headers)
        assert r.text == (STATIC / name).read_text(encoding="utf-8")
    assert httpx.get(f"{srv}qa-static/nothing.js", timeout=30).status_code == 404


def test_the_page_loads_chat_js(srv):
    """The page's config carries the loader, which names chat.js with its content hash."""
    import httpx

    from qa.web.chat import JS_VERSION

    config = httpx.get(f"{srv}config", timeout=30).text
    assert re.search(r"/qa-static/chat\.js\?v=" + JS_VERSION, config), config[:500]
