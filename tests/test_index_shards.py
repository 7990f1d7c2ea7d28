"""Sharded search on Ray (qa.index.shards): 4 shards on a local Ray instance give exactly the
passages of the single-machine index on the same segments, also after an add and a remove, when
a shard's actor is killed, and when one hangs (alive, answering nothing)."""
from __future__ import annotations

import logging
import time

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
        with ShardedIndex(index, shards=4, cpus_per_shard=0.5).ready() as sx:  # 4 actors on 2 CPUs
            yield sx
    finally:
        ray.shutdown()


def test_four_shards_give_the_single_machine_results(index, sharded):
    want = passages(index.search)
    assert all(want)
    assert passages(sharded.search) == want  # scores bit-identical, same order
    assert not sharded._starting and not sharded._local  # answered by the 4 actors, none in this process
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
    assert not sharded._starting and not sharded._local


@pytest.fixture
def in_driver(monkeypatch):
    """How many times a shard's dense and BM25 parts were answered in this process (the actors'
    processes import qa afresh: the patch does not reach them)."""
    from qa.index.shards import Shard

    seen = {"dense": 0, "lexical": 0}
    for name in seen:
        def counting(self, *a, _name=name, _real=getattr(Shard, name)):
            seen[_name] += 1
            return _real(self, *a)
        monkeypatch.setattr(Shard, name, counting)
    return seen


def test_a_hung_shard_is_answered_locally_after_the_timeout_and_replaced(index, sharded, in_driver, monkeypatch,
                                                                        caplog):
    want = passages(index.search)
    assert passages(sharded.search) == want and not sharded._starting  # the 4 actors answer
    assert in_driver == {"dense": 0, "lexical": 0}
    monkeypatch.setattr(sharded, "timeout", 1.5)
    victim = sharded.actors[2]
    victim.__ray_call__.remote(lambda _shard: time.sleep(300))  # alive, but busy for good: calls queue
    with caplog.at_level(logging.INFO, logger="qa.index.shards"):
        t = time.monotonic()
        first = sharded.search(QUERIES[0], k=6)
        took = time.monotonic() - t
        assert 1.5 <= took < 1.5 + 5  # the deadline, then shard 2 answered here; not forever
        assert [(p.article_id, p.span, p.score, p.dense, p.lexical) for p in first] == want[0]
        assert in_driver["dense"] == 1 and in_driver["lexical"] == 1  # BM25 too: its new actor is starting
        assert sharded.actors[2] is not victim
        with pytest.raises(ray.exceptions.RayActorError):  # killed: it no longer holds its CPU
            ray.get(victim.ping.remote(), timeout=60)
        assert passages(sharded.search) == want  # identical while the new actor starts
        assert ray.get(sharded.actors[2].ping.remote(), timeout=120)
        before = dict(in_driver)
        assert passages(sharded.search) == want
        assert in_driver == before and not sharded._starting and not sharded._local  # the new actor answers
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == ["shard 2 did not answer within 1.5 s; answering it in this process and replacing its actor"]


def test_the_timeout_is_checked(index):
    from qa.index.shards import ShardedIndex

    with pytest.raises(ValueError, match=r"^timeout must be above 0 seconds, got 0$"):
        ShardedIndex(index, timeout=0)  # refused before Ray is touched
