"""Before/after figures for bounded work: run it with the qa to measure first on PYTHONPATH.

    PYTHONPATH=/path/to/checkout python bench/bounds_before_after.py

answer() with a 30 KB history entry; 20 KB of random letters uploaded in a thread and a question
asked 0.5 s later (how long it waited). Uses the seed article next to this script.
"""
from __future__ import annotations

import random
import string
import tempfile
import threading
import time
from pathlib import Path

import qa
from qa import Index, answer, load_articles
from qa.ingest.article import Article

Q = "Which countries were involved?"


def main() -> None:
    print("qa from", Path(qa.__file__).parent.parent)
    idx = Index(Path(tempfile.mkdtemp()) / "ix")
    idx.add(load_articles([str(Path(__file__).resolve().parent.parent / "seeds")])[0])
    answer(Q, index=idx)
    hist = ["Welke landen " + "waren betrokken " * (30_000 // 16)]
    t0 = time.perf_counter()
    answer("En welke nog meer?", history=hist, index=idx)
    print(f"answer() with a 30 KB history entry: {time.perf_counter() - t0:.1f} s")
    rng = random.Random(0)
    art = Article(id="junk", title="junk", text="".join(rng.choices(string.ascii_letters + string.digits, k=20_000)))
    t = threading.Thread(target=idx.add, args=([art],))
    t0 = time.perf_counter()
    t.start()
    time.sleep(0.5)
    t1 = time.perf_counter()
    answer(Q, index=idx)
    waited = time.perf_counter() - t1
    t.join()
    print(f"20 KB unbroken upload: add {time.perf_counter() - t0:.1f} s; a question asked 0.5 s in waited {waited:.1f} s")


if __name__ == "__main__":
    main()
