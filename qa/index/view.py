"""The search view of an index: the live rows of its segments (tombstoned rows left out) as one set of
arrays, with BM25 and dense search over them. qa.index.index builds a new view per generation and
searches it; segments that did not change keep their cached pieces.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .bm25 import BM25
from .dense import DenseIndex
from .fusion import in_range
from .store import Segment


class _Piece:
    """The live rows of one segment under one set of tombstones (cached: an add or a remove
    leaves most segments as they were, so a new view only computes pieces for what changed)."""

    def __init__(self, seg: Segment) -> None:
        n = len(seg.ids)
        alive = np.ones(n, bool)
        if seg.entry.removed:
            alive[list(seg.entry.removed)] = False
        rows = np.flatnonzero(alive)
        self.rows = rows
        self.cols = tuple(list(col) if len(rows) == n else [col[r] for r in rows.tolist()]
                          for col in (seg.ids, seg.titles, seg.dates, seg.urls, seg.sources, seg.hashes))
        new_row = np.full(n, -1, np.int64)
        new_row[rows] = np.arange(len(rows))
        c, s = seg.chunks, seg.sentences
        self.chunk_mask = alive[c[:, 0]] if len(c) else np.zeros(0, bool)
        self.sent_mask = alive[s[:, 0]] if len(s) else np.zeros(0, bool)
        self.chunks = c[self.chunk_mask].astype(np.int64)  # article column: live row within the piece
        self.chunks[:, 0] = new_row[self.chunks[:, 0]]
        self.sents = s[self.sent_mask].astype(np.int64)
        self.sents[:, 0] = new_row[self.sents[:, 0]]
        # Sentences of an article are contiguous: its first one, physical (for the vectors) and live.
        self.art_local_sent = np.searchsorted(s[:, 0], rows, side="left") if len(s) else np.zeros(len(rows), np.int64)
        self.sent_lo = np.searchsorted(self.sents[:, 0], np.arange(len(rows)), side="left")
        self.sent_hi = np.searchsorted(self.sents[:, 0], np.arange(len(rows)), side="right")
        self.chunk_count = np.bincount(self.chunks[:, 0], minlength=len(rows)) if len(self.chunks) \
            else np.zeros(len(rows), np.int64)
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(sentence row, chunk row) within the piece, sorted by sentence row (cached with the piece,
        so a new view after an add only computes them for the new segment)."""
        if self._pairs is None:
            c = self.chunks
            n_units = c[:, 5] - c[:, 4]
            crows = np.repeat(np.arange(len(c)), n_units)
            starts = np.repeat(self.sent_lo[c[:, 0]] + c[:, 4], n_units)
            offsets = np.arange(int(n_units.sum())) - np.repeat(np.cumsum(n_units) - n_units, n_units)
            srows = starts + offsets
            order = np.argsort(srows, kind="stable")
            self._pairs = (srows[order], crows[order])
        return self._pairs


def _cat(parts: Sequence[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else empty


class _View:
    """Search structures over the live rows of a list of segments (tombstoned rows left out),
    in segment order: the same rows, in the same order, as a fresh build of the live articles."""

    def __init__(self, segments: Sequence[Segment], dim: int, pieces: dict | None = None) -> None:
        self.segments = list(segments)
        cache = pieces if pieces is not None else {}
        ps = []
        for seg in self.segments:
            key = (seg.name, seg.entry.removed)
            if key not in cache:
                cache[key] = _Piece(seg)
            ps.append(cache[key])
        for key in [k for k in cache if k not in {(sg.name, sg.entry.removed) for sg in self.segments}]:
            del cache[key]  # pieces of segments (or tombstone sets) that are gone
        self.pieces = cache
        cols: list[list] = [[] for _ in range(6)]
        for p in ps:
            for out, col in zip(cols, p.cols):
                out.extend(col)
        self.ids, self.titles, self.dates, self.urls, self.sources, self.hashes = cols
        self.row_of = dict(zip(self.ids, range(len(self.ids))))
        n_art = np.array([len(p.rows) for p in ps], np.int64)
        art_base = np.concatenate([[0], np.cumsum(n_art)])[:-1].astype(np.int64)
        n_sent = np.array([len(p.sents) for p in ps], np.int64)
        sent_base = np.concatenate([[0], np.cumsum(n_sent)])[:-1].astype(np.int64)
        i64 = np.zeros(0, np.int64)
        self.art_seg = np.repeat(np.arange(len(ps), dtype=np.int64), n_art)
        self.art_local = _cat([p.rows for p in ps], i64)
        self.art_local_sent = _cat([p.art_local_sent for p in ps], i64)
        self.chunks = _cat([p.chunks for p in ps], np.zeros((0, 6), np.int64))  # art, pos, start, end, fu, lu
        self.chunks[:, 0] += np.repeat(art_base, [len(p.chunks) for p in ps]) if ps else i64
        self.sents = _cat([p.sents for p in ps], np.zeros((0, 3), np.int64))  # art, start, end
        self.sents[:, 0] += np.repeat(art_base, n_sent) if ps else i64
        self.sent_lo = _cat([p.sent_lo + b for p, b in zip(ps, sent_base)], i64)
        self.sent_hi = _cat([p.sent_hi + b for p, b in zip(ps, sent_base)], i64)
        self.chunk_count = _cat([p.chunk_count for p in ps], i64)
        self.dim = dim
        self._ps = ps
        self._sent_base = sent_base
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None
        # BM25 and dense search work on physical rows (every row of every segment, tombstoned
        # ones masked out); these map them to and from the live rows used here.
        live_c = _cat([p.chunk_mask for p in ps], np.zeros(0, bool))
        live_s = _cat([p.sent_mask for p in ps], np.zeros(0, bool))
        self.chunk_phys = np.flatnonzero(live_c)
        self.chunk_live = np.full(len(live_c), -1, np.int64)
        self.chunk_live[self.chunk_phys] = np.arange(len(self.chunk_phys))
        self.sent_phys = np.flatnonzero(live_s)
        self.sent_live = np.full(len(live_s), -1, np.int64)
        self.sent_live[self.sent_phys] = np.arange(len(self.sent_phys))
        self.lexical = BM25(segments=[seg.lexical for seg in self.segments], live=live_c)
        self.dense = DenseIndex([seg.dense for seg in self.segments], live=live_s) if self.segments else None

    def __len__(self) -> int:
        return len(self.chunks)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(sentence row, chunk row) sorted by sentence row; a sentence in an overlap has two."""
        if self._pairs is None:
            # Pieces hold consecutive blocks of sentence and chunk rows, so their sorted pairs,
            # shifted by each block's first row, concatenate into the sorted whole.
            i64 = np.zeros(0, np.int64)
            chunk_base = np.cumsum([0] + [len(p.chunks) for p in self._ps])[:-1]
            parts = [p.pairs() for p in self._ps]
            self._pairs = (_cat([s + b for (s, _), b in zip(parts, self._sent_base)], i64),
                           _cat([c + b for (_, c), b in zip(parts, chunk_base)], i64))
        return self._pairs

    def bm25(self) -> BM25:
        return self.lexical

    def article_mask(self, date_from: str | None, date_to: str | None,
                     articles: Iterable[str] | None) -> np.ndarray | None:
        """Which articles (rows) a search may use: inside the date range (undated ones are left out
        when a range is set) and among `articles` (ids) when given; None when nothing is filtered."""
        if not (date_from or date_to) and articles is None:
            return None
        ok = np.ones(len(self.ids), bool)
        if date_from or date_to:
            ok &= np.fromiter((in_range(d, date_from, date_to) for d in self.dates), bool, len(self.dates))
        if articles is not None:
            wanted = set(articles)
            ok &= np.fromiter((i in wanted for i in self.ids), bool, len(self.ids))
        return ok

    def text(self, row: int) -> str:
        return self.segments[int(self.art_seg[row])].text(int(self.art_local[row]))

    def vectors_of(self, row: int) -> np.ndarray:
        """The sentence vectors of live article `row` (a view into the memory-mapped file)."""
        seg = self.segments[int(self.art_seg[row])]
        lo = int(self.art_local_sent[row])
        return seg.vectors[lo:lo + int(self.sent_hi[row] - self.sent_lo[row])]

    def dense_hits(self, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The `n` best live sentences (live row, cosine), best first; ties by row."""
        if self.dense is None or not len(self.sent_phys):
            return []
        phys_allowed = None
        if allowed is not None:
            phys_allowed = np.zeros(len(self.sent_live), bool)
            phys_allowed[self.sent_phys] = allowed
        hits = self.dense.search(np.asarray(qv, np.float32), n, phys_allowed)
        rows = self.sent_live[hits.rows]
        return list(zip(rows.tolist(), hits.scores.astype(float).tolist()))

    def lexical_top(self, question: str, n: int, allowed: np.ndarray | None) -> tuple[list[int], dict[int, float]]:
        """The `n` best live chunks by BM25 (live rows, best first) and their scores."""
        phys_allowed = None
        if allowed is not None:
            phys_allowed = np.zeros(len(self.chunk_live), bool)
            phys_allowed[self.chunk_phys] = allowed
        rows, scores = self.lexical.top(question, n, phys_allowed)
        live = self.chunk_live[rows].tolist()
        return live, dict(zip(live, scores.astype(float).tolist()))


# ----------------------------------------------------------------------------- the index


def _sentences_in(v: _View, r: int, start: int = 0, end: int | None = None
                  ) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """The (start, end) spans and vectors of article row `r`'s sentences that lie inside [start, end)."""
    lo, hi = int(v.sent_lo[r]), int(v.sent_hi[r])
    spans = v.sents[lo:hi, 1:3]
    keep = spans[:, 0] >= start
    if end is not None:
        keep &= spans[:, 1] <= end
    rows = np.flatnonzero(keep)
    vectors = np.asarray(v.vectors_of(r)[rows], np.float32) if len(rows) else np.zeros((0, v.dim), np.float32)
    return tuple((int(spans[i, 0]), int(spans[i, 1])) for i in rows.tolist()), vectors
