"""Lexical search: a tokenizer for Dutch and English and a segmented BM25 index.

BM25 finds names ("Amaq", "Wainwright") and rare words that a small embedding model blurs.

Storage is LSM-style so that a large index loads without re-tokenising its text:

- A `LexicalSegment` holds the term statistics of a fixed list of documents (chunks): a sorted
  vocabulary, postings per term in CSC form (document ids and term frequencies) and document
  lengths. It is built once from texts, written as plain `.npy` files plus a text vocabulary
  (no pickle), and loaded memory-mapped: loading costs the vocabulary read, not the postings.
- `BM25` scores over several segments at once. Collection statistics (document count, average
  length, document frequency) are global and computed over the live documents only, so a set of
  segments with a deletion mask scores exactly like one fresh build over the surviving texts.

Rows: a segment's documents are numbered from 0; `BM25` numbers all documents of its segments
consecutively ("physical rows", deleted ones included). `add`/`keep`/`scores` keep the behaviour
of the original single-matrix class (`keep` compacts, so rows stay dense for the in-memory index).
"""
from __future__ import annotations

import bisect
import json
import logging
import math
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom whose why will with would you
your yours yourself
aan af al alle alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door dus
een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hoeveel hun iemand
iets ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar niet niets nog nu of
om omdat onder ons ook op over reeds te tegen toch toen tot u uit uw van veel voor waar waarom
wanneer want waren was wat welk welke werd wezen wie wil worden wordt zal ze zelf zich zij zijn zo
zonder zou
""".split())

#: Segment file names (inside the folder given to `LexicalSegment.save`).
SEGMENT_FILES = ("bm25.json", "bm25.terms.txt", "bm25.indptr.npy", "bm25.docs.npy", "bm25.tf.npy",
                 "bm25.lengths.npy")
SEGMENT_FORMAT = 1
#: Term frequencies are stored as uint16; a term repeated more often in one chunk is clipped
#: (BM25 saturates long before that, so the score does not change measurably).
_TF_MAX = np.iinfo(np.uint16).max
#: `BM25.add` merges its newest in-memory segments while the one before is less than this many
#: times bigger, so repeated small adds keep a logarithmic number of segments.
_MERGE_RATIO = 4

# Combining marks (nonzero canonical combining class). Almost all in European text are in
# U+0300-U+036F; the others are looked up in a set first, so the common case runs small regexes.
_COMMON_MARKS = re.compile("[\u0300-\u036f]+")
_COMMON_WORD = re.compile("[\\w\u0300-\u036f]+")
_RARE_MARKS: frozenset[str] | None = None
_ALL_MARKS: re.Pattern[str] | None = None
_ALL_WORD: re.Pattern[str] | None = None
# tokenize(): raw word -> its term ("" when dropped as a stop word or single letter). The cache
# makes accent stripping and stemming a one-time cost per distinct word.
_TERMS: dict[str, str] = {}
_TERMS_MAX = 2_000_000


def _patterns(text: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(marks, word) regexes for NFKD `text`. A word is a maximal run of \\w or marks, so stripping
    its marks gives the same words as `\\w+` on the stripped text."""
    global _RARE_MARKS, _ALL_MARKS, _ALL_WORD
    if _RARE_MARKS is None:
        _RARE_MARKS = frozenset(chr(cp) for cp in range(0x110000)
                                if unicodedata.combining(chr(cp)) and not 0x300 <= cp <= 0x36F)
    if _RARE_MARKS.isdisjoint(text):
        return _COMMON_MARKS, _COMMON_WORD
    if _ALL_MARKS is None or _ALL_WORD is None:
        runs: list[list[int]] = []
        for cp in sorted(map(ord, _RARE_MARKS | {chr(c) for c in range(0x300, 0x370)})):
            if runs and runs[-1][1] == cp - 1:
                runs[-1][1] = cp
            else:
                runs.append([cp, cp])
        cls = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs)
        _ALL_MARKS, _ALL_WORD = re.compile(f"[{cls}]+"), re.compile(rf"[\w{cls}]+")
    return _ALL_MARKS, _ALL_WORD


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Roemenië" matches "roemenie"."""
    text = text.lower()
    if text.isascii():  # NFKD leaves ASCII unchanged
        return text
    text = unicodedata.normalize("NFKD", text)
    return _patterns(text)[0].sub("", text)


def stem(token: str) -> str:
    """A deliberately light suffix stripper that works for both Dutch and English plurals."""
    if token.isdigit() or len(token) <= 4:
        return token
    for suffix in ("ingen", "ing", "en", "es", "s", "e"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def _learn(word: str) -> str:
    w = word if word.isascii() else _patterns(word)[0].sub("", word)
    term = stem(w) if w and w not in STOPWORDS and (len(w) > 1 or w.isdigit()) else ""
    if len(_TERMS) < _TERMS_MAX:
        _TERMS[word] = term
    return term


def tokenize(text: str) -> list[str]:
    """Content-word stems of `text`: folded, stop words dropped."""
    text = text.lower()
    if text.isascii():
        words = _TOKEN.findall(text)
    else:
        text = unicodedata.normalize("NFKD", text)
        words = _patterns(text)[1].findall(text)
    terms = _TERMS
    out = [terms[w] if w in terms else _learn(w) for w in words]
    return [t for t in out if t]


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2.3+'s hash-based unique is many times slower on large int arrays)."""
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if len(a) else a


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


@dataclass(frozen=True, eq=False)
class LexicalSegment:
    """Term statistics of a fixed list of documents, in CSC form (terms x documents).

    `terms` is sorted; the postings of `terms[i]` are `docs[indptr[i]:indptr[i+1]]` (ascending
    document numbers within the segment) with term frequencies `tf[...]`; `lengths[d]` is the
    token count of document d. Arrays may be read-only memory maps.
    """

    terms: list[str]
    indptr: np.ndarray  # int64 [terms + 1]
    docs: np.ndarray  # int32 [postings]
    tf: np.ndarray  # uint16 [postings]
    lengths: np.ndarray  # int32 [documents]

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def postings(self) -> int:
        return len(self.docs)

    @classmethod
    def build(cls, texts: Iterable[str]) -> "LexicalSegment":
        """Tokenize `texts` (one document each) into a new segment."""
        vocab: dict[str, int] = {}
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            toks = tokenize(text)
            lengths.append(len(toks))
            for t in toks:
                i = vocab.get(t)
                if i is None:
                    i = vocab[t] = len(vocab)
                ids.append(i)
        terms = sorted(vocab)
        rank = np.empty(len(vocab), np.int64)
        rank[np.fromiter((vocab[t] for t in terms), np.int64, len(terms))] = np.arange(len(terms))
        n = len(lengths)
        tids = rank[np.asarray(ids, np.int64)]
        doc = np.repeat(np.arange(n, dtype=np.int64), np.asarray(lengths, np.int64))
        return cls._from_pairs(terms, tids, doc, None, np.asarray(lengths, np.int32))

    @classmethod
    def _from_pairs(cls, terms: list[str], tids: np.ndarray, doc: np.ndarray, tf: np.ndarray | None,
                    lengths: np.ndarray) -> "LexicalSegment":
        """A segment from (term, doc[, tf]) pairs; without `tf`, repeated pairs are counted."""
        n = max(len(lengths), 1)
        key = tids * n + doc
        if tf is None:
            key, counts = np.unique(key, return_counts=True)
        else:
            order = np.argsort(key, kind="stable")
            key, counts = key[order], tf[order]
        t = key // n
        indptr = np.zeros(len(terms) + 1, np.int64)
        np.cumsum(np.bincount(t, minlength=len(terms)), out=indptr[1:])
        return cls(terms, indptr, (key % n).astype(np.int32),
                   np.minimum(counts, _TF_MAX).astype(np.uint16), np.asarray(lengths, np.int32))

    @classmethod
    def merge(cls, segments: Sequence["LexicalSegment"],
              live: Sequence[np.ndarray | None] | None = None) -> "LexicalSegment":
        """One segment holding the documents of `segments` in order, without re-tokenising.

        `live[i]` (bool per document of segment i, or None for all) drops deleted documents, so
        compaction is a merge with the tombstones applied.
        """
        if not segments:
            return cls.build([])
        lives: list[np.ndarray | None] = []
        for i, seg in enumerate(segments):
            keep = None if live is None or live[i] is None else np.asarray(live[i], bool)
            if keep is not None and len(keep) != len(seg):
                raise ValueError(f"live mask {i} has {len(keep)} entries for a segment of {len(seg)} documents")
            lives.append(None if keep is None or keep.all() else keep)
        log.debug("merging %d BM25 segments (%d postings)", len(segments), sum(seg.postings for seg in segments))
        union = sorted(set().union(*(seg.terms for seg in segments)))
        pos = {t: i for i, t in enumerate(union)}
        gids = [np.fromiter((pos[t] for t in seg.terms), np.int64, len(seg.terms)) for seg in segments]
        # Postings of one term stay in segment order (documents ascending), so every surviving
        # posting has a computable destination: no global sort, and memory stays near the output.
        kept: list[np.ndarray | None] = []  # per segment: cumulative count of kept postings
        counts: list[np.ndarray] = []  # per segment: kept postings of each of its terms
        df = np.zeros(len(union), np.int64)
        for i, seg in enumerate(segments):
            indptr = np.asarray(seg.indptr)
            if lives[i] is None:
                kept.append(None)
                counts.append(np.diff(indptr))
            else:
                ck = np.cumsum(lives[i][np.asarray(seg.docs)], dtype=np.int64 if seg.postings >= 2**31 else np.int32)
                kept.append(ck)
                counts.append(np.diff(np.concatenate([[0], ck])[indptr]))
            df[gids[i]] += counts[-1]  # a segment's terms are distinct
        indptr_out = np.zeros(len(union) + 1, np.int64)
        np.cumsum(df, out=indptr_out[1:])
        filled = np.zeros(len(union), np.int64)
        starts = []  # per segment: first output slot of each of its terms
        for i in range(len(segments)):
            starts.append(indptr_out[gids[i]] + filled[gids[i]])
            filled[gids[i]] += counts[i]
        docs_out = np.empty(int(indptr_out[-1]), np.int32)
        tf_out = np.empty(int(indptr_out[-1]), np.uint16)
        lengths, base = [], 0
        block = 1 << 23
        for i, seg in enumerate(segments):
            indptr = np.asarray(seg.indptr)
            keep, ck = lives[i], kept[i]
            renum = None if keep is None else np.cumsum(keep, dtype=np.int64) - 1
            before = None if ck is None else np.concatenate([[0], ck])[indptr[:-1]]
            for p0 in range(0, seg.postings, block):
                p = np.arange(p0, min(p0 + block, seg.postings), dtype=np.int64)
                term = np.searchsorted(indptr, p, side="right") - 1  # local term of each posting
                d = np.asarray(seg.docs[p0:p0 + len(p)], np.int64)
                f = np.asarray(seg.tf[p0:p0 + len(p)])
                if keep is None:
                    rank = p - indptr[term]
                else:
                    sel = keep[d]
                    term, d, f = term[sel], renum[d[sel]], f[sel]
                    rank = ck[p[sel]].astype(np.int64) - 1 - before[term]
                dest = starts[i][term] + rank
                docs_out[dest] = d + base
                tf_out[dest] = f
            lengths.append(np.asarray(seg.lengths) if keep is None else np.asarray(seg.lengths)[keep])
            base += len(lengths[-1])
        # Terms whose every posting was deleted are dropped, as a fresh build would not have them.
        terms = union
        if (df == 0).any():
            keep_t = np.flatnonzero(df)
            indptr_out = np.concatenate([[0], np.cumsum(df[keep_t])]).astype(np.int64)
            terms = [union[i] for i in keep_t.tolist()]
        return cls(terms, indptr_out, docs_out, tf_out, np.concatenate(lengths).astype(np.int32))

    def lookup(self, term: str) -> int:
        """The position of `term` in `terms`, or -1."""
        i = bisect.bisect_left(self.terms, term)
        return i if i < len(self.terms) and self.terms[i] == term else -1

    def save(self, folder: str | Path) -> list[str]:
        """Write the segment's files into `folder` (fsynced); returns their names (`SEGMENT_FILES`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_write(folder / "bm25.terms.txt", "\n".join(self.terms).encode("utf-8"))
        _save_npy(folder / "bm25.indptr.npy", np.asarray(self.indptr, np.int64))
        _save_npy(folder / "bm25.docs.npy", np.asarray(self.docs, np.int32))
        _save_npy(folder / "bm25.tf.npy", np.asarray(self.tf, np.uint16))
        _save_npy(folder / "bm25.lengths.npy", np.asarray(self.lengths, np.int32))
        meta = {"format": SEGMENT_FORMAT, "documents": len(self), "terms": len(self.terms), "postings": self.postings}
        _fsync_write(folder / "bm25.json", json.dumps(meta).encode("utf-8"))
        return list(SEGMENT_FILES)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "LexicalSegment":
        """Open a saved segment (arrays memory-mapped unless `mmap=False`); checks sizes, not content."""
        folder = Path(folder)
        mode = "r" if mmap else None
        try:
            meta = json.loads((folder / "bm25.json").read_text("utf-8"))
            if meta.get("format") != SEGMENT_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this version reads {SEGMENT_FORMAT}")
            raw = (folder / "bm25.terms.txt").read_text("utf-8")
            terms = raw.split("\n") if raw else []
            arrays = {n: np.load(folder / f"bm25.{n}.npy", mmap_mode=mode, allow_pickle=False)
                      for n in ("indptr", "docs", "tf", "lengths")}
        except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"BM25 segment {folder} is unreadable ({e}); rebuild the index") from None
        indptr, docs, tf, lengths = arrays["indptr"], arrays["docs"], arrays["tf"], arrays["lengths"]
        ok = (len(terms) == meta["terms"] and indptr.shape == (len(terms) + 1,) and len(lengths) == meta["documents"]
              and docs.shape == tf.shape == (meta["postings"],) and int(indptr[-1]) == meta["postings"]
              and indptr.dtype == np.int64 and docs.dtype == np.int32 and tf.dtype == np.uint16
              and lengths.dtype == np.int32)
        if not ok:
            raise ValueError(f"BM25 segment {folder}: file sizes disagree with bm25.json (truncated or changed); "
                             "rebuild the index")
        return cls(terms, indptr, docs, tf, lengths)


def live_sums(seg: LexicalSegment, live: np.ndarray | None) -> tuple[int, int]:
    """(live documents, summed length of the live documents) of one segment."""
    lengths = np.asarray(seg.lengths)
    if live is not None:
        lengths = lengths[live]
    return len(lengths), int(lengths.sum(dtype=np.int64))


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75) over one or more `LexicalSegment`s with an optional deletion mask."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, segments: Sequence[LexicalSegment] = (),
                 live: np.ndarray | None = None, *, lives: Sequence[np.ndarray | None] | None = None,
                 sums: Sequence[tuple[int, int] | None] | None = None) -> None:
        """`live` (bool per physical row, None = all live) marks the rows that are not deleted.

        `lives` gives the same per segment instead (None: all of that segment live), and `sums`
        optionally each segment's (live documents, summed live length) when the caller has them
        cached: then making a searcher costs nothing per row, so a new searcher after an add
        costs the new segment, not the whole index (qa.index.view)."""
        self.k1, self.b = k1, b
        self._segs: list[LexicalSegment] = list(segments)
        self._offsets = np.zeros(1, np.int64)
        self._lives: list[np.ndarray | None] = [None] * len(self._segs)
        self._sums: list[tuple[int, int] | None] = [None] * len(self._segs)
        self._stats: tuple[int, float] | None = None  # (live documents, average length)
        self._dfs: dict[str, int] = {}  # term -> live document frequency, cleared on any change
        self._scratch: np.ndarray | None = None  # zeroed buffer for top(); see _take_scratch
        self._scratch_lock = threading.Lock()
        self._reindex()
        if lives is not None:
            if live is not None or len(lives) != len(self._segs):
                raise ValueError(f"give either live or one mask per segment ({len(self._segs)}), not both")
            for s, m in enumerate(lives):
                if m is not None and len(m) != len(self._segs[s]):
                    raise ValueError(f"live mask {s} has {len(m)} entries, its segment {len(self._segs[s])} rows")
            self._lives = [None if m is None else np.asarray(m, bool) for m in lives]
            if sums is not None:
                self._sums = list(sums)
        else:
            self.set_live(live)

    # ---------------------------------------------------------------- segments and deletions
    @property
    def segments(self) -> tuple[LexicalSegment, ...]:
        return tuple(self._segs)

    @property
    def n_rows(self) -> int:
        """Physical rows: every document of every segment, deleted ones included."""
        return int(self._offsets[-1])

    def __len__(self) -> int:
        """Live (not deleted) documents."""
        return self._collection()[0]

    def _reindex(self) -> None:
        self._offsets = np.concatenate([[0], np.cumsum([len(s) for s in self._segs], dtype=np.int64)]).astype(np.int64)
        self._stats = None
        self._dfs = {}

    def _live_all(self) -> np.ndarray | None:
        """The deletion mask over all physical rows (None: nothing deleted)."""
        if all(m is None for m in self._lives):
            return None
        return np.concatenate([np.ones(len(seg), bool) if m is None else m for seg, m in zip(self._segs, self._lives)])

    def add_segment(self, segment: LexicalSegment, live: np.ndarray | None = None) -> None:
        """Append a segment; its rows follow the existing ones. `live` masks its own documents."""
        self._segs.append(segment)
        self._lives.append(None if live is None else np.asarray(live, bool))
        self._sums.append(None)
        self._reindex()

    def set_live(self, live: np.ndarray | None) -> None:
        """Replace the deletion mask: `live[row]` False marks a deleted row; None = all live."""
        if live is not None:
            live = np.asarray(live, bool)
            if live.shape != (self.n_rows,):
                raise ValueError(f"live mask has {live.shape[0]} entries, the BM25 index has {self.n_rows} rows")
        self._lives = [None if live is None or live[lo:hi].all() else live[lo:hi].copy()
                       for lo, hi in zip(self._offsets[:-1].tolist(), self._offsets[1:].tolist())]
        self._sums = [None] * len(self._segs)
        self._stats = None
        self._dfs = {}

    def delete(self, rows: Sequence[int] | np.ndarray) -> None:
        """Mark physical `rows` deleted (tombstones; the segments stay as they are)."""
        live = self._live_all()
        live = np.ones(self.n_rows, bool) if live is None else live
        live[np.asarray(rows, np.int64)] = False
        self.set_live(live)

    def add(self, texts: Iterable[str]) -> None:
        """Tokenize and append documents as a new in-memory segment (existing ones are kept)."""
        seg = LexicalSegment.build(texts)
        if not len(seg):
            return
        self.add_segment(seg)
        if all(m is None for m in self._lives):
            # Merge small trailing segments so that many one-article adds do not pile up segments.
            while len(self._segs) >= 2 and len(self._segs[-2]) < _MERGE_RATIO * len(self._segs[-1]):
                self._segs[-2:] = [LexicalSegment.merge(self._segs[-2:])]
            self._reindex()

    def keep(self, mask: Sequence[bool]) -> None:
        """Drop the live documents whose mask entry is False and renumber the rest (compaction)."""
        mask = np.asarray(mask, bool)
        if mask.shape != (len(self),):
            raise ValueError(f"keep mask has {mask.shape[0]} entries for {len(self)} documents")
        full = np.zeros(self.n_rows, bool)
        live = self._live_all()
        full[np.flatnonzero(live) if live is not None else np.arange(self.n_rows)] = mask
        lives = [full[self._offsets[i]:self._offsets[i + 1]] for i in range(len(self._segs))]
        self._segs = [LexicalSegment.merge(self._segs, lives)] if self._segs else []
        self._lives, self._sums = [None], [None]
        self._reindex()

    # ---------------------------------------------------------------- statistics
    def _collection(self) -> tuple[int, float]:
        """(live documents, average live document length); float64 so every layout agrees exactly."""
        if self._stats is None:
            n = total = 0
            for s, seg in enumerate(self._segs):
                if self._sums[s] is None:
                    self._sums[s] = live_sums(seg, self._lives[s])
                n += self._sums[s][0]
                total += self._sums[s][1]
            self._stats = (n, float(total) / n if n else 1.0)
        return self._stats

    def use_global(self, stats: tuple[int, float], dfs: dict[str, int]) -> None:
        """Score with collection statistics of a larger index this one is a part of (a shard):
        live documents, average length and the document frequencies of the query's terms. With
        them a shard's scores are bit-identical to the whole index's (qa.index.shards)."""
        self._stats = (int(stats[0]), float(stats[1]))
        self._dfs = dict(dfs)

    def global_stats(self, query: str) -> tuple[tuple[int, float], dict[str, int]]:
        """(live documents, average length) and the live document frequency of each term of `query`."""
        return self._collection(), {t: self._df(t, self._locate(t)) for t in set(tokenize(query))}

    def _locate(self, term: str) -> list[tuple[int, int, int]]:
        """(segment, lo, hi) of each segment's postings of `term`."""
        out = []
        for s, seg in enumerate(self._segs):
            i = seg.lookup(term)
            if i >= 0:
                out.append((s, int(seg.indptr[i]), int(seg.indptr[i + 1])))
        return out

    def _rows_tf(self, s: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Physical rows, float32 term frequencies and length norms of live postings [lo, hi) of segment `s`."""
        seg = self._segs[s]
        docs = np.asarray(seg.docs[lo:hi], np.int64)
        tf = np.asarray(seg.tf[lo:hi], np.float32)
        if self._lives[s] is not None:
            keep = self._lives[s][docs]
            docs, tf = docs[keep], tf[keep]
        return docs + int(self._offsets[s]), tf, self._norm_of(s, docs)

    def _norm_of(self, s: int, docs: np.ndarray) -> np.ndarray:
        """k1 * (1 - b + b * length / avgdl) of segment `s`'s documents `docs`, float32. Computed per
        posting read rather than cached per row: the average length changes with every add, and a
        per-row cache would cost the whole index again after each one."""
        _, avgdl = self._collection()
        k1, b = np.float32(self.k1), np.float32(self.b)
        lengths = np.asarray(self._segs[s].lengths[docs], np.float32)
        return k1 * (np.float32(1) - b + b * (lengths / np.float32(avgdl)))

    def _df(self, term: str, locs: list[tuple[int, int, int]]) -> int:
        """Live documents holding `term` (cached until the rows or the mask change)."""
        df = self._dfs.get(term)
        if df is None:
            df = sum(hi - lo if self._lives[s] is None else
                     int(self._lives[s][np.asarray(self._segs[s].docs[lo:hi], np.int64)].sum()) for s, lo, hi in locs)
            if len(self._dfs) > 100_000:
                self._dfs.clear()
            self._dfs[term] = df
        return df

    def _idf_of(self, df: int) -> float:
        n, _ = self._collection()
        return float(np.float32(math.log1p((n - df + 0.5) / (df + 0.5))))

    def idf(self, token: str) -> float:
        """Inverse document frequency of an already-tokenized term over live documents (0 when unseen)."""
        df = self._df(token, self._locate(token))
        return self._idf_of(df) if df else 0.0

    def coverage(self, query: str, best: float) -> float:
        """How much of `query` a document scoring `best` matched: `best` over the score of a
        document holding every query term (terms not in the index count at the highest idf,
        that of a term in one document). Near 0 when only an incidental word matched, e.g. for
        a question in another language."""
        if not len(self):
            return 0.0
        top = self._idf_of(1)
        ceiling = sum(self.idf(t) or top for t in set(tokenize(query)))
        return min(1.0, best / ((self.k1 + 1) * ceiling)) if ceiling > 0 else 0.0

    # ---------------------------------------------------------------- scoring
    def _query_terms(self, query: str) -> list[tuple[list[tuple[int, int, int]], np.float32]]:
        """(postings locations, idf) of the query's terms present in live documents, sorted by term:
        every code path sums a document's term scores in this order, so scores agree bit for bit."""
        out = []
        for term in sorted(set(tokenize(query))):
            locs = self._locate(term)
            df = self._df(term, locs) if locs else 0
            if df:
                out.append((locs, np.float32(self._idf_of(df))))
        return out

    def _term_scores(self, norm: np.ndarray, tf: np.ndarray, idf: np.float32) -> np.ndarray:
        """BM25 term scores (float32) of postings with length norms `norm` and frequencies `tf`."""
        k1 = np.float32(self.k1)
        return idf * tf * (k1 + np.float32(1)) / (tf + norm)

    def _accumulate(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(physical rows, BM25 scores) of every live document matching a term of `query`."""
        parts_r, parts_s = [], []
        for locs, idf in self._query_terms(query):
            for s, lo, hi in locs:
                rows, tf, norm = self._rows_tf(s, lo, hi)
                parts_r.append(rows)
                parts_s.append(self._term_scores(norm, tf, idf))
        if not parts_r:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = np.concatenate(parts_r)
        contrib = np.concatenate(parts_s)
        if len(rows) > self.n_rows // 16:
            dense = np.bincount(rows, contrib, minlength=self.n_rows)
            hit = np.flatnonzero(dense)
            return hit, dense[hit].astype(np.float32)
        uniq, inverse = np.unique(rows, return_inverse=True)
        return uniq, np.bincount(inverse, contrib, minlength=len(uniq)).astype(np.float32)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every physical row for `query` (zeros where no term matches or deleted)."""
        out = np.zeros(self.n_rows, np.float32)
        rows, sc = self._accumulate(query)
        out[rows] = sc
        return out

    def _lookup(self, s: int, lo: int, hi: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of the sorted physical `rows` hold postings [lo, hi) of segment `s`: (mask, tf)."""
        off, seg = int(self._offsets[s]), self._segs[s]
        docs = seg.docs[lo:hi]
        inside = (rows >= off) & (rows < off + len(seg))
        local = np.where(inside, rows - off, 0).astype(np.int32)
        pos = np.minimum(np.searchsorted(docs, local), max(hi - lo - 1, 0))
        found = inside & (np.asarray(docs[pos]) == local) if hi > lo else np.zeros(len(rows), bool)
        tf = np.zeros(len(rows), np.float32)
        tf[found] = np.asarray(seg.tf[lo:hi][pos[found]], np.float32)
        return found, tf

    def _select(self, rows: np.ndarray, sc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best of (rows, scores), best first, ties by row."""
        if n < len(rows):
            cut = np.partition(sc, len(sc) - n)[len(sc) - n]  # the n-th best score
            keep = sc >= cut
            rows, sc = rows[keep], sc[keep]
        best = np.lexsort((rows, -sc))[:n]
        return rows[best], sc[best]

    def top(self, query: str, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best-scoring live rows for `query`, best first (ties by row), and their scores.

        Only rows matching some query term are returned (so possibly fewer than `n`); `allowed`
        (bool per physical row) restricts the search, e.g. to a date range. Exact, with MaxScore
        pruning when the query's postings are long: terms are read in order of their highest
        possible score, (k1+1)*idf; once the n-th best partial score beats what the unread terms
        could add, those are only looked up for the remaining candidates. Frequent terms (long
        postings, low idf) thus cost little. Scores are bit-identical to `scores`.
        """
        terms = self._query_terms(query)
        if n <= 0 or not terms:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        allowed = None if allowed is None else np.asarray(allowed, bool)

        def postings(j: int) -> tuple[np.ndarray, np.ndarray]:
            locs, idf = terms[j]
            parts = [self._rows_tf(s, lo, hi) for s, lo, hi in locs]
            rows = np.concatenate([r for r, _, _ in parts])  # ascending: segments in row order
            tf = np.concatenate([t for _, t, _ in parts])
            norm = np.concatenate([m for _, _, m in parts])
            if allowed is not None:
                keep = allowed[rows]
                rows, tf, norm = rows[keep], tf[keep], norm[keep]
            return rows, self._term_scores(norm, tf, idf)

        total = sum(hi - lo for locs, _ in terms for _, lo, hi in locs)
        if total <= max(8192, self.n_rows // 64):  # short postings: score them all
            read = [postings(j) for j in range(len(terms))]
            cands, inverse = np.unique(np.concatenate([r for r, _ in read]), return_inverse=True)
            sc = np.bincount(inverse, np.concatenate([v for _, v in read]), minlength=len(cands))
            return self._select(cands, sc.astype(np.float32), n)
        k1 = np.float32(self.k1)
        bound = [float((k1 + 1) * idf) for _, idf in terms]
        order = sorted(range(len(terms)), key=lambda j: (-bound[j], j))
        got: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # term -> (rows, term scores), read fully
        partial = self._take_scratch()  # summed term scores per row of the terms read so far
        try:
            sample: np.ndarray | None = None  # rows of the first term read with >= n postings
            cands: np.ndarray | None = None
            for rank, j in enumerate(order):
                rows, v = got[j] = postings(j)
                partial[rows] += v  # rows are unique within a term
                if sample is None and len(rows) >= n:
                    sample = rows
                rest = sum(bound[i] for i in order[rank + 1:])
                if rest <= 0 or sample is None or sum(bound[i] for i in order[:rank + 1]) <= rest:
                    continue  # nothing can be pruned yet
                ps = partial[sample]  # a subset: its n-th best is a lower bound of the true one
                theta = np.partition(ps, len(ps) - n)[len(ps) - n]
                slack = 1e-6 * theta  # float rounding: prune only when clearly safe
                if theta > rest + slack:  # no unread document can reach the top n any more
                    # Filter each term's rows before the union: sorting every row read costs seconds at 10M.
                    cands = _sorted_unique(np.concatenate([r[partial[r] + (rest + slack) >= theta] for r, _ in got.values()]))
                    break
            if cands is None:  # every term was read: sum again in sorted-term order, as _accumulate
                for r, _ in got.values():
                    partial[r] = 0.0
                for j in sorted(got):
                    partial[got[j][0]] += got[j][1]
                cands = np.flatnonzero(partial)
                return self._select(cands, partial[cands].astype(np.float32), n)
            # Exact scores of the candidates, summed term by term in sorted-term order (as
            # _accumulate); `partial` serves as a scatter buffer for the long postings lists.
            for r, _ in got.values():
                partial[r] = 0.0
            acc = np.zeros(len(cands), np.float64)
            for j, (locs, idf) in enumerate(terms):
                long = j in got or len(cands) * 8 > sum(hi - lo for _, lo, hi in locs)
                if long:
                    rows, v = got[j] if j in got else postings(j)
                    partial[rows] = v
                    acc += partial[cands]
                    partial[rows] = 0.0
                    continue
                add = np.zeros(len(cands), np.float64)
                for s, lo, hi in locs:
                    found, tf = self._lookup(s, lo, hi, cands)
                    if found.any():
                        norm = self._norm_of(s, cands[found] - int(self._offsets[s]))
                        add[found] = self._term_scores(norm, tf[found], idf)
                acc += add
            return self._select(cands, acc.astype(np.float32), n)
        finally:
            for r, _ in got.values():
                partial[r] = 0.0
            self._give_scratch(partial)

    def _take_scratch(self) -> np.ndarray:
        """A zeroed float64 array over all rows, reused between queries (a new one if busy)."""
        with self._scratch_lock:
            buf, self._scratch = self._scratch, None
        return buf if buf is not None and len(buf) == self.n_rows else np.zeros(self.n_rows, np.float64)

    def _give_scratch(self, buf: np.ndarray) -> None:
        with self._scratch_lock:
            self._scratch = buf
