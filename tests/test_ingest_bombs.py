"""Crafted PDF and .docx files (built by tests/make_bombs.py at test time) are refused quickly,
in bounded memory, with one line each, and the good files beside them still go in (issue 19,
items 2 and 3)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from make_bombs import BOMBS, docx_text, make_all, measure, pdf_text
from qa import limits
from qa.ingest.read import load_articles, read_file


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    return make_all(tmp_path_factory.mktemp("bombs"))


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_refused_fast_in_bounded_memory_with_one_line(bombs, name):
    got = measure(bombs[name])
    assert got["articles"] == 0 and len(got["reasons"]) == 1, got
    reason = got["reasons"][0]
    assert "\n" not in reason and "Traceback" not in reason and len(reason) < 300, reason
    assert got["seconds"] <= 5 and got["rss_mb"] <= 300, got


def test_the_caps_that_catch_each_bomb(bombs):
    why = {name: read_file(p, name)[1][0].reason for name, p in bombs.items()}
    assert "unpacks to" in why["text-bomb.docx"]
    assert f"over {limits.MAX_DOCUMENT_CHARS:,} characters" in why["text-bomb-12mb.docx"]
    assert "expands too far" in why["entity-bomb.docx"]
    assert "2,000 pages" in why["shared-stream-bomb.pdf"]
    assert f"over {limits.MAX_DOCUMENT_CHARS:,} characters" in why["shared-stream-900.pdf"]
    assert "page content is over" in why["content-bomb.pdf"]
    assert "inflates past" in why["flate-bomb.pdf"]


def _folder(tmp_path: Path, bombs: dict[str, Path]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, p in bombs.items():
        os.link(p, folder / name)
    (folder / "good.txt").write_text("De brug van Gent\n\nDe nieuwe brug van Gent is 40 meter lang.", "utf-8")
    docx_text(folder / "good.docx", "De haven van Antwerpen ontving twaalf schepen uit Canada.")
    pdf_text(folder / "good.pdf", "Roemenie en Bulgarije sloten een akkoord over de Donau.")
    return folder


def test_good_files_beside_the_bombs_go_in(tmp_path, bombs):
    arts, skipped = load_articles([_folder(tmp_path, bombs)])
    assert sorted(a.id for a in arts) == ["good.docx", "good.pdf", "good.txt"]
    assert sorted(Path(s.source).name for s in skipped) == sorted(BOMBS)


def test_any_failure_of_one_file_is_a_one_line_skip(tmp_path, monkeypatch):
    import qa.ingest.read as ingest

    def boom(*a, **k):
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(ingest, "parse_docx", boom)
    docx_text(tmp_path / "a.docx")
    (tmp_path / "b.txt").write_text("Een bericht over de haven van Antwerpen.", "utf-8")
    arts, skipped = load_articles([tmp_path])
    assert [a.id for a in arts] == ["b.txt"]
    assert [s.reason for s in skipped] == ["cannot be read (RuntimeError: something nobody expected)"]


def test_cli_indexes_the_good_files_and_skips_each_bomb_in_one_line(tmp_path, bombs):
    folder = _folder(tmp_path, bombs)
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-m", "qa", "index", str(folder), "--index", str(tmp_path / "ix")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    skips = [line for line in r.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skips) == len(BOMBS), r.stderr
    assert "added 3," in r.stdout, r.stdout
