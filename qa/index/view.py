"""The search view of an index: its segments searched as one, in "physical" rows.

Rows are numbered over every row of every segment in manifest order, tombstoned ones included
(article row = the segment's first article row + the row inside the segment; the same for chunks
and sentences). Tombstoned rows are masked out of every search. Live rows keep their relative
order, so ties break as in a fresh build of the live articles and results are identical.

A new generation (an add, a remove) makes a new view, and what that costs is the new segment and
the segments whose tombstones changed, not the index: everything per row is kept per segment
(`_SegInfo`, once per segment; `_SegState`, once per segment and set of tombstones) in a cache that
outlives the view, and the view itself only holds per-segment offsets. No per-article list, id map
or array is rebuilt over the whole index (until 2026-12 one was: at 100k chunks 62 of an add's
82 ms went to rebuilding them).
"""
from __future__ import annotations

import bisect
from typing import Iterable, Iterator, Sequence

import numpy as np

from .bm25 import BM25, live_sums
from .dense import DenseIndex
from .fusion import in_range
from .store import Segment


class _SegInfo:
    """What a view needs of one segment whatever its tombstones (built once per loaded segment)."""

    def __init__(self, seg: Segment) -> None:
        self.row_of = dict(zip(seg.ids, range(len(seg.ids))))  # ids are unique within a segment
        s, c = seg.sentences, seg.chunks
        arts = np.arange(len(seg.ids))
        self.sent_lo = np.searchsorted(s[:, 0], arts, side="left") if len(s) else np.zeros(len(arts), np.int64)
        self.sent_hi = np.searchsorted(s[:, 0], arts, side="right") if len(s) else np.zeros(len(arts), np.int64)
        self.chunk_count = np.bincount(c[:, 0], minlength=len(arts)) if len(c) else np.zeros(len(arts), np.int64)
        self._seg = seg
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None
        #: (body hash, chunks) -> rows, for qa.index.dedupe; filled on first use (reads the texts once)
        self.body: dict[tuple[str, int], list[int]] | None = None

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(sentence row, chunk row) within the segment, sorted by sentence row; a sentence in an
        overlap of two chunks has two pairs."""
        if self._pairs is None:
            c = self._seg.chunks.astype(np.int64)
            n_units = c[:, 5] - c[:, 4]
            crows = np.repeat(np.arange(len(c)), n_units)
            starts = np.repeat(self.sent_lo[c[:, 0]] + c[:, 4], n_units)
            offsets = np.arange(int(n_units.sum())) - np.repeat(np.cumsum(n_units) - n_units, n_units)
            srows = starts + offsets
            order = np.argsort(srows, kind="stable")
            self._pairs = (srows[order], crows[order])
        return self._pairs


class _SegState:
    """One segment under one set of tombstones: which rows are live (None: all of them)."""

    def __init__(self, seg: Segment) -> None:
        n = len(seg.ids)
        self.alive: np.ndarray | None = None
        self.chunk_live: np.ndarray | None = None
        self.sent_live: np.ndarray | None = None
        self.articles = n - len(seg.entry.removed)
        if seg.entry.removed:
            self.alive = np.ones(n, bool)
            self.alive[list(seg.entry.removed)] = False
            self.chunk_live = self.alive[seg.chunks[:, 0]] if len(seg.chunks) else np.zeros(0, bool)
            self.sent_live = self.alive[seg.sentences[:, 0]] if len(seg.sentences) else np.zeros(0, bool)
        self.chunks = len(seg.chunks) if self.chunk_live is None else int(self.chunk_live.sum())
        self.bm25_sums = live_sums(seg.lexical, self.chunk_live)
        self._packed: np.ndarray | None = None

    def packed(self, seg: Segment) -> np.ndarray | None:
        """The sentence live mask as a FAISS bitmap, for compressed segments with tombstones."""
        if self._packed is None and self.sent_live is not None and seg.dense.compressed:
            self._packed = np.packbits(self.sent_live, bitorder="little")
        return self._packed


class _Column:
    """One article field (ids, titles, ...) over physical article rows, read from the segments."""

    def __init__(self, view: "_View", field: str) -> None:
        self._view, self._field = view, field

    def __getitem__(self, row: int):
        s, local = self._view.locate(row)
        return getattr(self._view.segments[s], self._field)[local]

    def __len__(self) -> int:
        return self._view.n_articles

    def __iter__(self) -> Iterator:
        for seg in self._view.segments:
            yield from getattr(seg, self._field)


class _RowOf:
    """Article id -> physical row of its live version (a segment holds each id once; an updated
    article's older versions are tombstoned, so at most one is live)."""

    def __init__(self, view: "_View") -> None:
        self._view = view

    def get(self, article_id: str, default: int | None = None) -> int | None:
        v = self._view
        for s in range(len(v.segments) - 1, -1, -1):
            local = v.infos[s].row_of.get(article_id)
            if local is not None:
                alive = v.states[s].alive
                if alive is None or alive[local]:
                    return int(v.art_base[s]) + local
        return default

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.get(article_id) is not None

    def __getitem__(self, article_id: str) -> int:
        row = self.get(article_id)
        if row is None:
            raise KeyError(article_id)
        return row


def _bases(sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


class _View:
    """Search structures over a list of segments (see the module docstring)."""

    def __init__(self, segments: Sequence[Segment], dim: int, cache: dict | None = None) -> None:
        self.segments = list(segments)
        cache = cache if cache is not None else {}
        self.infos: list[_SegInfo] = []
        self.states: list[_SegState] = []
        for seg in self.segments:
            if seg.name not in cache:
                cache[seg.name] = _SegInfo(seg)
            key = (seg.name, seg.entry.removed)
            if key not in cache:
                cache[key] = _SegState(seg)
            self.infos.append(cache[seg.name])
            self.states.append(cache[key])
        keep = {sg.name for sg in self.segments} | {(sg.name, sg.entry.removed) for sg in self.segments}
        for key in [k for k in cache if k not in keep]:
            del cache[key]  # segments (or tombstone sets) that are gone
        self.art_base = _bases([len(sg.ids) for sg in self.segments])
        self.chunk_base = _bases([len(sg.chunks) for sg in self.segments])
        self.sent_base = _bases([len(sg.sentences) for sg in self.segments])
        self.n_articles = int(self.art_base[-1])
        self._art_base = self.art_base.tolist()
        self._chunk_base = self.chunk_base.tolist()
        self.live_chunks = sum(st.chunks for st in self.states)
        self.dim = dim
        #: Set by qa.index.shards: answers dense_hits and lexical_top from shards (None: here).
        self.remote = None
        self.row_of = _RowOf(self)
        self.ids, self.titles, self.dates, self.urls, self.sources, self.hashes = (
            _Column(self, f) for f in ("ids", "titles", "dates", "urls", "sources", "hashes"))
        self.lexical = BM25(segments=[seg.lexical for seg in self.segments],
                            lives=[st.chunk_live for st in self.states], sums=[st.bm25_sums for st in self.states])
        self.dense = DenseIndex([seg.dense for seg in self.segments], lives=[st.sent_live for st in self.states],
                                packed=[st.packed(seg) for seg, st in zip(self.segments, self.states)]
                                ) if self.segments else None

    def __len__(self) -> int:
        """Live chunks."""
        return self.live_chunks

    # ------------------------------------------------------------ rows
    def locate(self, row: int) -> tuple[int, int]:
        """(segment, row inside it) of physical article `row`."""
        s = bisect.bisect_right(self._art_base, row) - 1
        return s, row - self._art_base[s]

    def live_articles(self) -> Iterator[int]:
        """Physical rows of the live articles, in order."""
        for s, st in enumerate(self.states):
            base = self._art_base[s]
            local = range(len(self.segments[s].ids)) if st.alive is None else np.flatnonzero(st.alive).tolist()
            for r in local:
                yield base + r

    def chunk_count(self, row: int) -> int:
        s, local = self.locate(row)
        return int(self.infos[s].chunk_count[local])

    def chunk(self, row: int) -> tuple[int, int, int, int]:
        """(physical article row, position in the article, start, end) of physical chunk `row`."""
        s = bisect.bisect_right(self._chunk_base, row) - 1
        art, pos, start, end = (int(x) for x in self.segments[s].chunks[row - self._chunk_base[s], :4])
        return self._art_base[s] + art, pos, start, end

    def text(self, row: int) -> str:
        s, local = self.locate(row)
        return self.segments[s].text(local)

    def sentences_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) spans [n, 2] and vectors (memory-mapped) of article `row`'s sentences."""
        s, local = self.locate(row)
        info, seg = self.infos[s], self.segments[s]
        lo, hi = int(info.sent_lo[local]), int(info.sent_hi[local])
        return seg.sentences[lo:hi, 1:3], seg.vectors[lo:hi]

    def masks(self, art_ok: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-segment article masks (bool per article row) as (chunk, sentence) masks over all
        physical rows, tombstoned rows False."""
        chunk_ok, sent_ok = [], []
        for seg, st, ok in zip(self.segments, self.states, art_ok):
            if st.alive is not None:
                ok = ok & st.alive
            chunk_ok.append(ok[seg.chunks[:, 0]] if len(seg.chunks) else np.zeros(0, bool))
            sent_ok.append(ok[seg.sentences[:, 0]] if len(seg.sentences) else np.zeros(0, bool))
        empty = np.zeros(0, bool)
        return (np.concatenate(chunk_ok) if chunk_ok else empty, np.concatenate(sent_ok) if sent_ok else empty)

    def sentence_chunks(self, rows: np.ndarray) -> list[np.ndarray]:
        """For each physical sentence row, the physical rows of the chunks that hold it."""
        rows = np.asarray(rows, np.int64)
        seg_of = np.searchsorted(self.sent_base, rows, side="right") - 1
        out: list[np.ndarray] = [np.zeros(0, np.int64)] * len(rows)
        for s in np.unique(seg_of).tolist():
            sel = np.flatnonzero(seg_of == s)
            srows, crows = self.infos[s].pairs()
            local = rows[sel] - self.sent_base[s]
            los, his = np.searchsorted(srows, local), np.searchsorted(srows, local, side="right")
            for i, lo, hi in zip(sel.tolist(), los.tolist(), his.tolist()):
                out[i] = crows[lo:hi] + self._chunk_base[s]
        return out

    # ------------------------------------------------------------ search
    def bm25(self) -> BM25:
        return self.lexical

    def article_mask(self, date_from: str | None, date_to: str | None,
                     articles: Iterable[str] | None) -> list[np.ndarray] | None:
        """Which articles a search may use, one bool mask per segment (for `masks`): inside the date
        range (undated ones are left out when a range is set) and among `articles` (ids) when given;
        None when nothing is filtered."""
        if not (date_from or date_to) and articles is None:
            return None
        wanted = None if articles is None else set(articles)
        out = []
        for seg in self.segments:
            ok = np.ones(len(seg.ids), bool)
            if date_from or date_to:
                ok &= np.fromiter((in_range(d, date_from, date_to) for d in seg.dates), bool, len(seg.dates))
            if wanted is not None:
                ok &= np.fromiter((i in wanted for i in seg.ids), bool, len(seg.ids))
            out.append(ok)
        return out

    def body_rows(self, body_hash: str, chunks: int, hasher) -> list[int]:
        """Physical rows of live articles with `chunks` chunks whose body hash (`hasher(text)`) is
        `body_hash`. The hashes are computed once per segment (cached), so after that a lookup
        costs a dict access per segment, not a read of the index."""
        out = []
        for s, (seg, info, st) in enumerate(zip(self.segments, self.infos, self.states)):
            if info.body is None:
                info.body = {}
                for r in range(len(seg.ids)):
                    info.body.setdefault((hasher(seg.text(r)), int(info.chunk_count[r])), []).append(r)
            out.extend(self._art_base[s] + r for r in info.body.get((body_hash, chunks), ())
                       if st.alive is None or st.alive[r])
        return out

    def dense_hits(self, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The `n` best live sentences (physical row, cosine), best first; ties by row. `allowed`:
        bool per physical sentence row, or None."""
        if self.dense is None or not self.live_chunks:
            return []
        if self.remote is not None:  # a sharded search (qa.index.shards): scatter, gather, merge
            return self.remote.dense_hits(self, qv, n, allowed)
        hits = self.dense.search(np.asarray(qv, np.float32), n, allowed)
        return list(zip(hits.rows.tolist(), hits.scores.astype(float).tolist()))

    def lexical_top(self, question: str, n: int, allowed: np.ndarray | None) -> tuple[list[int], dict[int, float]]:
        """The `n` best live chunks by BM25 (physical rows, best first) and their scores."""
        if self.remote is not None:
            return self.remote.lexical_top(self, question, n, allowed)
        rows, scores = self.lexical.top(question, n, allowed)
        rows_l = rows.tolist()
        return rows_l, dict(zip(rows_l, scores.astype(float).tolist()))


# ----------------------------------------------------------------------------- the index


def _sentences_in(v: _View, r: int, start: int = 0, end: int | None = None
                  ) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """The (start, end) spans and vectors of article row `r`'s sentences that lie inside [start, end)."""
    spans, vecs = v.sentences_of(r)
    keep = spans[:, 0] >= start
    if end is not None:
        keep &= spans[:, 1] <= end
    rows = np.flatnonzero(keep)
    vectors = np.asarray(vecs[rows], np.float32) if len(rows) else np.zeros((0, v.dim), np.float32)
    return tuple((int(spans[i, 0]), int(spans[i, 1])) for i in rows.tolist()), vectors
