"""A write costs what it writes: add + durable save at 200k chunks is no slower than 1.5x at 20k.

Vectors come through the passage-embedder seam (random unit vectors), so nothing is embedded; the
articles are synthetic text, chunked and tokenised for real. Until 2026-12 the search view was
rebuilt over every article on each add (62 of 82 ms at 100k chunks), so the ratio grew with the index.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest

from conftest import FakeEmbedder
from qa import Article, Index

WORDS = [f"woord{i}" for i in range(5000)]
SENTENCES = 4  # per article: with max_words=20, chunks of 2 sentences overlapping by 1 -> 3 chunks
MAX_WORDS = 20


def synthetic_articles(n: int, seed: int, prefix: str = "a") -> list[Article]:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, len(WORDS), (n, SENTENCES, 8))
    return [Article(id=f"{prefix}{i}", title=f"Bericht {i}", date=f"20{10 + i % 10}-0{1 + i % 9}",
                    text=" ".join("Nieuws " + " ".join(WORDS[w] for w in sent) + "." for sent in words[i].tolist()))
            for i in range(n)]


def random_vectors(dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def embed(texts):
        v = rng.normal(size=(len(texts), dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    return embed


def build(path, chunks: int) -> Index:
    idx = Index(path, embedder=FakeEmbedder(dim=32), max_words=MAX_WORDS)
    per = SENTENCES - 1
    idx.add(synthetic_articles(chunks // per, seed=chunks), passage_embedder=random_vectors(32))
    return idx


def _rounds(small: Index, large: Index, tag: str) -> tuple[float, float, dict]:
    """Median ms of add 1 article + durable save, interleaved (a burst of load on the machine hits
    both alike); the first round warms up both. Also checks that the first search after each add
    costs about what a search costs anyway (no rebuild): search time grows with the index, the
    add must not."""
    qv = np.ones(32, np.float32) / np.sqrt(32)
    times: dict[str, list[float]] = {"small": [], "large": []}
    for i in range(6):
        for name, idx in (("small", small), ("large", large)):
            art = synthetic_articles(1, seed=1000 + i, prefix=f"{tag}{i}-")[0]
            t = time.perf_counter()
            idx.add([art], passage_embedder=random_vectors(32, i))  # durable on return
            if i:
                times[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            idx.search("nieuws woord7", query_vector=qv)  # the first search after the add
            first = time.perf_counter() - t
            steady = []
            for _ in range(3):
                t = time.perf_counter()
                idx.search("nieuws woord7", query_vector=qv)
                steady.append(time.perf_counter() - t)
            times.setdefault(f"{name} first/steady search ms", []).append(
                (round(first * 1000, 1), round(statistics.median(steady) * 1000, 1)))
    return statistics.median(times["small"]) * 1000, statistics.median(times["large"]) * 1000, times


@pytest.mark.slow
def test_add_and_save_at_200k_chunks_costs_no_more_than_at_20k(tmp_path, monkeypatch):
    small, large = build(tmp_path / "small", 20_000), build(tmp_path / "large", 200_000)
    assert 19_000 <= len(small) <= 21_000 and 190_000 <= len(large) <= 210_000
    load = os.getloadavg()[0]
    small_ms, large_ms, times = _rounds(small, large, "new")
    assert [a.id for a in large.articles() if a.id.startswith("new1-")]  # it was added
    print(f"\nadd + durable save: 20k {small_ms:.1f} ms, 200k {large_ms:.1f} ms, "
          f"ratio {large_ms / small_ms:.2f} (load average {load:.1f}); first search after add / steady "
          f"search: {times['small first/steady search ms'][1:]} (20k), {times['large first/steady search ms'][1:]} (200k)")
    assert large_ms <= 1.5 * small_ms, (small_ms, large_ms, times)
    # Diagnostic only (printed, not asserted): without fsync. At load average 3 it measured 1.0 ms
    # at 20k and 0.9 ms at 200k; at load 9-15 it swung to 15-28 vs 37-65 ms, too noisy to assert.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    small_ms, large_ms, _ = _rounds(small, large, "cpu")
    print(f"the same without fsync: 20k {small_ms:.1f} ms, 200k {large_ms:.1f} ms, ratio {large_ms / small_ms:.2f}")


def test_remove_and_update_keep_results_identical_to_a_fresh_build(tmp_path):
    """Tombstones in several segments, an update and a remove: the same passages as an index
    built fresh from the surviving articles (the view's physical rows keep their order)."""
    arts = synthetic_articles(60, seed=3)
    emb = FakeEmbedder(dim=32)
    idx = Index(tmp_path / "ix", embedder=emb, max_words=MAX_WORDS)
    for lo in range(0, 60, 20):
        idx.add(arts[lo:lo + 20])
    changed = Article(id="a25", title="Bericht 25", text=arts[7].text + " Nieuws woord1 woord2.", date="2014-02")
    idx.add([changed])
    assert idx.remove(["a3", "a41", "a59"]) == ["a3", "a41", "a59"]
    survivors = [a for a in arts if a.id not in {"a3", "a41", "a59", "a25"}] + [changed]
    fresh = Index(tmp_path / "fresh", embedder=emb, max_words=MAX_WORDS)
    fresh.add(survivors)
    for q in ("nieuws woord1 woord2", "woord17 woord300", "woord4999"):
        for kw in ({}, {"date_from": "2013", "date_to": "2016"}):
            got = [(p.article_id, p.span, round(p.score, 6), round(p.dense, 5), round(p.lexical, 4))
                   for p in idx.search(q, k=8, **kw)]
            want = [(p.article_id, p.span, round(p.score, 6), round(p.dense, 5), round(p.lexical, 4))
                    for p in fresh.search(q, k=8, **kw)]
            assert got == want and got
    assert [a.id for a in idx.articles()] == [a.id for a in fresh.articles()]
    assert len(idx) == len(fresh)
    assert idx.article("a25").text == changed.text
