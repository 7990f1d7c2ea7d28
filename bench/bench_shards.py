"""Scatter-gather overhead of qa.index.shards on one machine: the same searches on the local index
and through 1, 2 and 4 Ray actors, as ratios to the local search measured in the same run.

    python bench/bench_shards.py [--articles 3000] [--segments 8] [--rounds 3] [--serve]

Synthetic index (tests/test_index_write_cost.synthetic_articles, random 32-d vectors through the
passage-embedder seam), query vectors given, so the figures are the search alone. One machine
cannot show a gain (the actors share its cores); this measures what the scatter-gather costs.
With --serve, also the server's POST /api/search (qa.web.server.serve, as `qa serve` and `qa serve
--ray` run it) over HTTP on the same index and queries.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import FakeEmbedder  # noqa: E402
from qa import Index  # noqa: E402
from test_index_write_cost import MAX_WORDS, random_vectors, synthetic_articles  # noqa: E402

QUERIES = ["nieuws woord1 woord2", "woord17 woord300", "woord4999 woord12", "nieuws", "woord250 woord3"]


def timed(search, qvs, rounds: int) -> float:
    for q, v in zip(QUERIES, qvs):
        search(q, k=5, query_vector=v)
    ts = []
    for _ in range(rounds):
        for q, v in zip(QUERIES, qvs):
            t = time.perf_counter()
            search(q, k=5, query_vector=v)
            ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def timed_http(url: str, rounds: int) -> float:
    """p50 of POST /api/search (k=5) in ms; the server embeds the question (the fake embedder: ~0 ms)."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as c:
        def search(q: str) -> None:
            r = c.post("/api/search", json={"question": q, "k": 5})
            r.raise_for_status()
        for q in QUERIES:
            search(q)
        ts = []
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                search(q)
                ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def served(idx: Index, shards: int | None, rounds: int) -> float:
    """p50 of /api/search on a server over `idx`, its searches on `shards` actors (None: in process)."""
    from qa.index.shards import ShardedIndex
    from qa.web.server import serve

    sx = ShardedIndex(idx, shards=shards, cpus_per_shard=2 / max(shards, 2)).ready() if shards else None
    running = serve(idx, port=0, sharded=sx)
    try:
        return timed_http(running.url, rounds)
    finally:
        running.close()  # closes the ShardedIndex too


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--serve", action="store_true", help="also time POST /api/search on the server")
    args = ap.parse_args()
    import ray

    from qa.index.shards import ShardedIndex

    with tempfile.TemporaryDirectory() as d:
        idx = Index(Path(d) / "index", embedder=FakeEmbedder(dim=32), max_words=MAX_WORDS)
        arts = synthetic_articles(args.articles, seed=1)
        step = -(-len(arts) // args.segments)
        for lo in range(0, len(arts), step):
            idx.add(arts[lo:lo + step], passage_embedder=random_vectors(32, lo))
        qvs = idx.embedder.query(QUERIES)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        rows = []
        try:
            for n in (1, 2, 4):
                local = timed(idx.search, qvs, args.rounds)
                with ShardedIndex(idx, shards=n, cpus_per_shard=2 / max(n, 2)) as sx:
                    sx.ready()  # else the first searches are answered in this process while the actors start
                    sharded = timed(sx.search, qvs, args.rounds)
                    assert not sx._local, "a shard was answered in this process: the figure is not the actors'"
                rows.append((n, local, sharded))
            http = [(n, served(idx, n or None, args.rounds)) for n in (0, 1, 2, 4)] if args.serve else []
        finally:
            ray.shutdown()
        print(f"{len(idx):,} chunks in {idx.segments} segments; load average {os.getloadavg()[0]:.1f}; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print("| actors | local search p50 | sharded search p50 | ratio |")
        print("|---|---|---|---|")
        for n, local, sharded in rows:
            print(f"| {n} | {local:.1f} ms | {sharded:.1f} ms | {sharded / local:.2f}x |")
        if http:
            print("\n| server | POST /api/search p50 | ratio |\n|---|---|---|")
            for n, ms in http:
                print(f"| {'qa serve' if not n else f'qa serve --ray --ray-shards {n}'} | {ms:.1f} ms | "
                      f"{ms / http[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
