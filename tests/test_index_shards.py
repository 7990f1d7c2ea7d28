"""Sharded search on Ray (qa.index.shards): 4 shards on a local Ray instance give exactly the
passages of the single-machine index on the same segments, also after an add and a remove, and
when a shard's actor is killed."""
from __future__ import annotations

import pytest

from conftest import FakeEmbedder
from qa import Index
from test_index_write_cost import MAX_WORDS, synthetic_articles

ray = pytest.importorskip("ray")

QUERIES = ["nieuws woord1 woord2", "woord17 woord300", "woord4999 woord12", "nieuws", "woord250"]


def passages(search):
    out = []
    for q in QUERIES:
        for kw in ({}, {"date_from": "2013", "date_to": "2016"}):
            out.append([(p.article_id, p.span, p.score, p.dense, p.lexical) for p in search(q, k=6, **kw)])
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    arts = synthetic_articles(120, seed=5)
    idx = Index(tmp_path_factory.mktemp("shards") / "index", embedder=FakeEmbedder(dim=32), max_words=MAX_WORDS)
    for lo in range(0, 120, 20):  # six segments, some with tombstones
        idx.add(arts[lo:lo + 20])
    idx.remove(["a3", "a44", "a101"])
    return idx


@pytest.fixture(scope="module")
def sharded(index):
    from qa.index.shards import ShardedIndex

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with ShardedIndex(index, shards=4, cpus_per_shard=0.5) as sx:  # 4 actors on 2 CPUs
            yield sx
    finally:
        ray.shutdown()


def test_four_shards_give_the_single_machine_results(index, sharded):
    want = passages(index.search)
    assert all(want)
    assert passages(sharded.search) == want  # scores bit-identical, same order
    assert sorted(i for p in sharded._plan for i in p) == list(range(index.segments))
    assert sum(1 for p in sharded._plan if p) == 4


def test_a_new_generation_reaches_the_shards(index, sharded):
    index.add(synthetic_articles(10, seed=9, prefix="new"))
    index.remove(["a7", "new3"])
    got = passages(sharded.search)  # placed again: the new segment and the new tombstones
    sharded._placed.remote = None  # the same view searched here
    assert got == passages(index.search)
    assert any(p[0].startswith("new") for ps in got for p in ps)


def test_a_killed_shard_is_answered_locally_and_restarted(index, sharded):
    want = passages(index.search)
    sharded.search("nieuws")  # placed on the current view
    victim = sharded.actors[1]
    ray.kill(victim)
    assert passages(sharded.search) == want  # shard 1 answered in this process, identical
    assert sharded.actors[1] is not victim  # and a new actor took its place
    assert ray.get(sharded.actors[1].ping.remote())
    assert passages(sharded.search) == want  # served by the new actor
