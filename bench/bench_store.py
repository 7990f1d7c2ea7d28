"""Index storage figures at 10k / 100k / 1M chunks: cold load, add one article + durable commit,
search given the query vector, RSS; beside a FAISS-only save/load of the same vectors.

    python bench/bench_store.py [--sizes 10000 100000] [--dir /tmp/qa-bench-store]

The index is synthetic (built through qa.index.store like a bulk first `add`): articles of 3 chunks,
~3.5 sentences a chunk, 40-word chunks from a 20k-word vocabulary, random unit vectors (384-d).
Cold load and RSS are measured in a fresh process (`python -c`), page cache warm, as the issue did.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.index.bm25 import LexicalSegment  # noqa: E402
from qa.ingest.article import Article  # noqa: E402
from qa.index.store import Manifest, SegmentData, Store, fingerprint, probe_code  # noqa: E402

DIM = 384


class HashEmbedder:
    """Deterministic 384-d bag-of-words vectors (no model): for storage timings only."""

    name, dim = "bench-hash", DIM

    def query(self, texts):
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % DIM] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    passage = query


def build(path: Path, n_chunks: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20_000)]
    n_art = n_chunks // 3
    arts, chunks, sents, texts = [], [], [], []
    for a in range(n_art):
        pieces, spans, pos = [], [], 0
        for c in range(3):
            ws = [words[j] for j in rng.integers(0, len(words), 40)]
            text = " ".join(ws) + "."
            pieces.append(text)
            spans.append((pos, pos + len(text)))
            pos += len(text) + 1
            texts.append(text)
        body = " ".join(pieces)
        arts.append(Article(id=f"art{a:07d}", title=f"Article {a}", text=body, date=f"20{10 + a % 15}-0{1 + a % 9}"))
        unit = 0
        for c, (s, e) in enumerate(spans):
            k = 3 + (c == 1)  # 10 sentences an article: ~3.5 a chunk with the overlap
            step = (e - s) // k
            for u in range(k):
                sents.append((a, s + u * step, s + (u + 1) * step - 1))
            chunks.append((a, c, s, e, unit, unit + k))
            unit += k
    n_sents = len(sents)

    def vector_parts():  # streamed: 1M chunks are 3.3M vectors, 5 GB
        for lo in range(0, n_sents, 65536):
            v = rng.standard_normal((min(65536, n_sents - lo), DIM)).astype(np.float32)
            yield v / np.linalg.norm(v, axis=1, keepdims=True)

    emb = HashEmbedder()
    store = Store(path)
    with store.locked():
        data = SegmentData(arts, np.asarray(chunks), np.asarray(sents), np.zeros((0, DIM), np.float32),
                           LexicalSegment.build(texts))
        del texts
        entry, _ = store.new_segment(1, data, vector_parts())
        store.commit(Manifest(1, {"name": emb.name, "dim": DIM, "fingerprint": fingerprint(emb), "probe": probe_code(emb)},
                              {"max_words": 120, "overlap": 1}, (entry,)))
    faiss_only(path, np.load(path / entry.name / "vectors.npy", mmap_mode="r"))


def faiss_only(path: Path, vectors: np.ndarray) -> None:
    import faiss

    ix = faiss.IndexFlatIP(DIM)
    for lo in range(0, len(vectors), 65536):
        ix.add(np.ascontiguousarray(vectors[lo:lo + 65536]))
    t0 = time.perf_counter()
    faiss.write_index(ix, str(path.parent / f"{path.name}.faiss"))
    print(f"  FAISS-only save: {time.perf_counter() - t0:.2f} s")


CHILD = """
import sys, time, json
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
t0 = time.perf_counter()
if {faiss!r}:
    import faiss
    ix = faiss.read_index({path!r} + ".faiss")
    n = ix.ntotal
else:
    from bench_store import HashEmbedder
    from qa import Index
    ix = Index.load({path!r}, embedder=HashEmbedder())
    n = len(ix)
load = time.perf_counter() - t0
out = {{"load": load, "rows": n}}
if not {faiss!r}:
    import numpy as np
    qv = HashEmbedder().query(["w17 w4242 w99 w123"])[0]
    t0 = time.perf_counter(); ix.search("w17 w4242 w99 w123", k=5, query_vector=qv); out["first_search"] = time.perf_counter() - t0
    times = []
    for i in range(30):
        q = " ".join(f"w{{j}}" for j in np.random.default_rng(i).integers(0, 20000, 6))
        qv = HashEmbedder().query([q])[0]
        t0 = time.perf_counter(); ix.search(q, k=5, query_vector=qv); times.append(time.perf_counter() - t0)
    out["search_p50"] = float(np.median(times))
    from qa import Article
    a = Article(id="new-article", title="New", text="Een nieuw bericht over de haven. " * 7)
    t0 = time.perf_counter(); ix.add([a]); out["add_commit"] = time.perf_counter() - t0
    t0 = time.perf_counter(); ix.search("haven", k=5, query_vector=qv); out["search_after_add"] = time.perf_counter() - t0
    ix.remove(["new-article"])
# VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over the exec)
out["rss_mb"] = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
print(json.dumps(out))
"""


def child(path: Path, faiss: bool) -> dict:
    code = CHILD.format(root=str(ROOT), bench=str(Path(__file__).parent), path=str(path), faiss=faiss)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-store"))
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        path = args.dir / f"ix{n}"
        if not (path / "manifest.json").exists():
            t0 = time.perf_counter()
            build(path, n)
            print(f"built {n} chunks in {time.perf_counter() - t0:.0f} s")
        q = [child(path, False) for _ in range(2)][-1]
        f = [child(path, True) for _ in range(2)][-1]
        rows.append((n, q, f))
        print(n, q, f, flush=True)
    print("\n| chunks | qa cold load | FAISS-only load | add 1 article + durable commit | first search after add | "
          "search p50 (query vector given) | qa RSS after load+search | FAISS-only RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for n, q, f in rows:
        print(f"| {n:,} | {q['load']:.2f} s | {f['load']:.2f} s | {q['add_commit']:.2f} s | {q['search_after_add'] * 1000:.0f} ms | "
              f"{q['search_p50'] * 1000:.1f} ms | {q['rss_mb']:.0f} MB | {f['rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
