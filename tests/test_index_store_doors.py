"""Nothing on disk is replaced unless asked: `Index(path)` opens what is there, first writers into
an absent folder merge, a folder that only looks like an index is refused (issue 19, item 1)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, FakeEmbedder
from qa import Article, Index, QAIndexError

WRITER = str(Path(__file__).with_name("_writer.py"))


def art(i: int) -> Article:
    return Article(id=f"a{i}", title=f"Bericht {i}", text=f"Bericht {i} over de haven van Antwerpen. Er kwamen {i} schepen.")


def ids(path: Path) -> set[str]:
    return {a.id for a in Index.load(path, embedder=FakeEmbedder()).articles()}


def test_index_of_a_saved_folder_opens_it_and_add_keeps_the_old_articles(tmp_path):
    path = tmp_path / "my-index"
    first = Index(path, embedder=FakeEmbedder())
    first.add([art(i) for i in range(4)])
    again = Index(path, embedder=FakeEmbedder())  # the natural spelling: opens what is there
    assert {a.id for a in again.articles()} == {"a0", "a1", "a2", "a3"}
    again.add([art(9)])
    assert ids(path) == {"a0", "a1", "a2", "a3", "a9"}
    Index(path, embedder=FakeEmbedder()).save()  # nothing to do: nothing replaced
    assert ids(path) == {"a0", "a1", "a2", "a3", "a9"}
    # Options that do not fit the saved index are refused, not applied.
    for kw in ({"max_words": 7}, {"embedder": FakeEmbedder("other")}):
        with pytest.raises(QAIndexError) as e:
            Index(path, **({"embedder": FakeEmbedder()} | kw))
        assert "\n" not in str(e.value)
    # Replacing is its own verb, refused without overwrite=True.
    with pytest.raises(QAIndexError, match="already holds a qa index"):
        Index.create(path, embedder=FakeEmbedder())
    assert ids(path) == {"a0", "a1", "a2", "a3", "a9"}
    r = Index.create(path, overwrite=True, embedder=FakeEmbedder(), max_words=7)
    r.add([art(5)])
    assert ids(path) == {"a5"} and Index(path, embedder=FakeEmbedder()).max_words == 7


def test_a_replace_keeps_what_other_writers_committed_after_it_started(tmp_path):
    path = tmp_path / "ix"
    Index(path, embedder=FakeEmbedder()).add([art(1), art(2)])
    rebuild = Index.create(path, overwrite=True, embedder=FakeEmbedder())
    Index(path, embedder=FakeEmbedder()).add([art(3)])  # lands while the rebuild is embedding
    rebuild.add([art(4)])
    assert ids(path) == {"a3", "a4"}  # the old generation is replaced, the newer article is kept
    empty = tmp_path / "empty"
    Index(empty, embedder=FakeEmbedder()).add([art(1)])
    Index.create(empty, overwrite=True, embedder=FakeEmbedder()).save()  # --rebuild with no input
    assert ids(empty) == set()


def test_a_new_index_object_picks_up_an_index_another_writer_made(tmp_path):
    path = tmp_path / "ix"
    late = Index(path, embedder=FakeEmbedder())  # absent when opened
    Index(path, embedder=FakeEmbedder()).add([art(1), art(2)])
    assert {a.id for a in late.articles()} == {"a1", "a2"}
    late.add([art(3)])
    late.save()
    assert ids(path) == {"a1", "a2", "a3"}


def _first_writers(path: Path, go: Path, n: int, count: int) -> list[str]:
    procs = [subprocess.Popen([sys.executable, WRITER, str(path), f"w{i}", str(count), "add", str(go)],
                              stdout=subprocess.PIPE, text=True) for i in range(n)]
    for p in procs:  # every writer has opened the (absent) index before any writes
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return outs


def test_concurrent_first_writers_into_an_absent_folder_all_keep_their_articles(tmp_path):
    for rnd in range(10):
        path = tmp_path / f"ix{rnd}"
        outs = _first_writers(path, tmp_path / f"go{rnd}", 3, 2)
        reported = {line.split()[1] for out in outs for line in out.splitlines() if line.startswith("added")}
        assert len(reported) == 6 and ids(path) == reported, (rnd, reported, ids(path))


def test_a_folder_with_only_a_foreign_seg_folder_is_refused_and_kept(tmp_path):
    user = tmp_path / "u"
    (user / "seg-00000001-deadbeef").mkdir(parents=True)
    (user / "seg-00000001-deadbeef" / "precious.txt").write_text("keep me")
    for make in (lambda: Index(user, embedder=FakeEmbedder()).add([art(1)]),
                 lambda: Index.create(user, overwrite=True, embedder=FakeEmbedder()).add([art(1)])):
        with pytest.raises(QAIndexError) as e:
            make()
        assert "not a qa index" in str(e.value) and "\n" not in str(e.value)
    assert (user / "seg-00000001-deadbeef" / "precious.txt").read_text() == "keep me"
    assert os.listdir(user) == ["seg-00000001-deadbeef"]
    # What a writer killed before its first commit leaves is still taken for an empty folder.
    crashed = tmp_path / "crashed"
    (crashed / "seg-00000001-0badf00d").mkdir(parents=True)
    (crashed / "seg-00000001-0badf00d" / "vectors.npy").write_bytes(b"x")
    (crashed / "tmp-999999-0badf00d.json").write_text("{")
    Index(crashed, embedder=FakeEmbedder()).add([art(1)])
    assert ids(crashed) == {"a1"} and not (crashed / "seg-00000001-0badf00d").exists()
    # Inside an index, an unlisted seg-* folder holding a foreign file is left alone too.
    (crashed / "seg-00000002-0badf00d").mkdir()
    (crashed / "seg-00000002-0badf00d" / "precious.txt").write_text("keep me")
    Index(crashed, embedder=FakeEmbedder()).add([art(2)])
    assert (crashed / "seg-00000002-0badf00d" / "precious.txt").read_text() == "keep me"


def _qa(*args):
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "qa", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def test_cli_refuses_a_folder_with_only_a_foreign_seg_folder(tmp_path):
    user = tmp_path / "u"
    (user / "seg-00000001-deadbeef").mkdir(parents=True)
    (user / "seg-00000001-deadbeef" / "precious.txt").write_text("keep me")
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("Een bericht over de haven van Antwerpen.")
    for extra in ([], ["--rebuild"]):
        p = _qa("index", src, "--index", user, *extra)
        out, err = p.communicate(timeout=300)
        assert p.returncode == 2 and "not a qa index" in err and len(err.strip().splitlines()) == 1, err
    assert (user / "seg-00000001-deadbeef" / "precious.txt").read_text() == "keep me"


def _cli_first_writers(tmp_path: Path, rounds: int) -> list[int]:
    """`rounds` rounds of 3 `qa index` runs started at once on an absent folder; articles kept per round."""
    kept = []
    for rnd in range(rounds):
        srcs = []
        for w in range(3):
            src = tmp_path / f"r{rnd}" / f"src{w}"
            src.mkdir(parents=True)
            for i in range(2):
                (src / f"w{w}-{i}.txt").write_text(f"Bericht {i} van schrijver {w} over de haven.\n\n"
                                                   f"Schrijver {w} telde {i + 3} schepen in de haven van Gent.")
            srcs.append(src)
        ix = tmp_path / f"r{rnd}" / "ix"
        procs = [_qa("index", s, "--index", ix) for s in srcs]
        for p in procs:
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0 and "added 2" in out, err
        kept.append(len(Index.load(ix).articles()))
    return kept


def test_cli_first_writers_keep_every_article(tmp_path):
    assert _cli_first_writers(tmp_path, 2) == [6, 6]


@pytest.mark.slow
def test_cli_first_writers_keep_every_article_10_rounds(tmp_path):
    assert _cli_first_writers(tmp_path, 10) == [6] * 10


def test_build_from_seeds_onto_an_index_made_meanwhile_keeps_it(seed_index_dir, tmp_path):
    from qa.api import build_from_seeds

    ix = tmp_path / "ix"
    shutil.copytree(seed_index_dir, ix)
    extra = Article(id="extra", title="Brug", text="De nieuwe brug van Gent is 40 meter lang.")
    Index(ix).add([extra])  # another process built the index first and added to it
    idx = build_from_seeds(ix)
    assert "extra" in {a.id for a in idx.articles()} and len(idx.articles()) == 2
