"""The index: articles, chunks and sentence vectors, searched by dense and BM25 ranking fused.

Storage (segments, manifest, lock, generations) lives in `qa.index.store`, the search structures
for the current generation in `qa.index.view`; this module keeps that view current and makes
every change durable:

- `add` embeds new and changed articles outside any lock, then, holding the writer lock,
  re-reads the manifest, re-applies its change to whatever generation is on disk now, writes
  one new segment and commits a new manifest. Nothing another writer did is overwritten.
- `remove` tombstones articles the same way.
- `search`, `articles` and friends check the manifest's stamp (one stat call) and switch to
  a newer generation written by another process, so a running server sees CLI changes.

Dense vectors are per sentence: a chunk's dense score is its best sentence's. On XQuAD this
ranks paragraphs better than one vector per paragraph (hit@1 0.935 vs 0.909), costs no more
to embed, and gives the answer step sentence vectors for free. BM25 works on whole chunks.
"""
from __future__ import annotations

import concurrent.futures
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from contextlib import closing, nullcontext
from typing import Callable, ContextManager, Generator, Iterable, Sequence

import numpy as np

from .. import limits
from ..ingest.article import Article
from ..ingest.chunk import MAX_WORDS, OVERLAP_SENTENCES, Chunk, chunk_text
from . import dedupe
from .bm25 import LexicalSegment
from .embed import AddCancelled, Embedder, embed_steps, get_embedder, passage_fn
from .fusion import DENSE_WEIGHT, LEXICAL_WEIGHT, Passage, fuse, other_language, overlaps
from .store import (FORMAT, Manifest, QAIndexError, Segment, SegmentData, SegmentEntry, Store, check_embedder,
                    check_options, check_writable, classify, fingerprint, probe_code, rebuild_hint, same_model)
from .view import _sentences_in, _View

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "AddCancelled", "ArticleInfo", "Index", "QAIndexError", "Update"]

#: Scale the lexical weight by how much of the question BM25 matched (see BM25.coverage).
ADAPTIVE_LEXICAL = True
#: How many candidates each ranking contributes to the fusion.
CANDIDATES = 50
#: In a mixed-language index, judge chunks in another language than the question by the dense
#: ranking alone (see qa.index.fusion.other_language).
PER_LANGUAGE_LEXICAL = True
#: Past this many segments an add also merges the newest `MERGE_WINDOW` into one (see `compact`).
MAX_SEGMENTS = 16
MERGE_WINDOW = 8
#: Runs a search's BM25 half while the calling thread runs its dense half: numpy and FAISS release
#: the GIL, so on 2 cores the two overlap (at 1M chunks they take about the same time).
_LEXICAL_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-bm25")
REBUILD_HINT = "rebuild it with: python -m qa index --rebuild"


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    date: str | None
    chunks: int
    url: str | None = None


@dataclass
class Update:
    """What an `Index.add` call did, article ids per outcome; `duplicates`: new id -> the id it repeats."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    seconds: float = 0.0


class Index:
    """Articles, their chunks, vectors and the dense and lexical search structures, kept on disk."""

    def __init__(self, path: str | Path = "index", model: str | None = None, *, embedder: Embedder | None = None,
                 max_words: int | None = None, overlap: int | None = None) -> None:
        """The index at `path`: a saved one is opened as it is (its model and chunking checked
        against `model`/`embedder`, `max_words`, `overlap` when given); an absent or empty folder
        starts a new one, written at the first `add`. A folder that is not a qa index is refused
        and left as it is. Nothing on disk is ever replaced: that is `Index.create(path, overwrite=True)`."""
        self._init(Path(path), model, embedder, max_words, overlap, replace=False)

    def _init(self, path: Path, model: str | None, embedder: Embedder | None, max_words: int | None,
              overlap: int | None, *, replace: bool) -> None:
        self._path = path
        self._store = Store(path)
        kind = check_writable(path)  # a file or a foreign folder: one line, nothing touched
        saved: Manifest | None = None
        #: For `create(overwrite=True)`: the segments of the generation being replaced (its first
        #: commit drops these and keeps whatever other writers committed since); None: no replacing.
        self._replace: frozenset[str] | None = None
        if replace:
            try:
                start = self._store.read_manifest() if kind == "index" else None
            except QAIndexError:
                start = None  # damaged or format 1: replaced whole
            self._replace = frozenset(e.name for e in start.segments) if start else frozenset()
        elif kind == "index":
            saved = self._store.read_manifest()  # damaged or format 1: one line naming --rebuild
        if saved is not None:
            check_options(path, saved, embedder.name if embedder is not None else model, max_words=max_words,
                          overlap=overlap)
            self.embedder: Embedder = embedder or get_embedder(saved.embedder["name"])
            check_embedder(path, saved, self.embedder)
            max_words, overlap = saved.chunking["max_words"], saved.chunking["overlap"]
        else:
            self.embedder = embedder or get_embedder(model)
        self.max_words = MAX_WORDS if max_words is None else max_words
        self.overlap = OVERLAP_SENTENCES if overlap is None else overlap
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None  # None: new, nothing written yet
        self._stamp: tuple[int, int, int] | None = None
        self._segments: dict[str, Segment] = {}
        self._pieces: dict = {}  # per-segment search pieces, reused across generations (qa.index.view)
        self._view = _View([], self.embedder.dim, self._pieces)
        self._old_view = self._view
        if saved is not None:
            with self._lock:
                self._reload()

    # ------------------------------------------------------------ loading
    @classmethod
    def create(cls, path: str | Path = "index", model: str | None = None, *, overwrite: bool = False,
               embedder: Embedder | None = None, max_words: int | None = None,
               overlap: int | None = None) -> "Index":
        """A new, empty index at `path`. A qa index already there is refused unless `overwrite`: then
        the first write (`add`, or `save` with nothing added) replaces the generation that was there
        now (articles other writers commit in between are kept). A folder that is not a qa index is
        always refused and left as it is."""
        path = Path(path)
        if not overwrite and classify(path) == "index":
            raise QAIndexError(f"{path} already holds a qa index; open it with Index({str(path)!r}) to add to it, "
                               f"or replace it with Index.create({str(path)!r}, overwrite=True) "
                               f"(python -m qa index ARTICLES --rebuild --index {path})")
        idx = cls.__new__(cls)
        idx._init(path, model, embedder, max_words, overlap, replace=True)
        return idx

    @classmethod
    def load(cls, path: str | Path = "index", model: str | None = None, *, embedder: Embedder | None = None) -> "Index":
        """Open a saved index; `model` (if given) must be the one it was built with. An absent
        folder, or one without a manifest, is an error (`Index(path)` would start a new one)."""
        path = Path(path)
        if not path.exists():
            raise QAIndexError(f"no index at {path}; build one with: python -m qa index ARTICLES --index {path}")
        if Store(path).read_manifest() is None:
            raise QAIndexError(f"{path} is not an index (no manifest.json); "
                               f"build one with: python -m qa index ARTICLES --index {path}")
        return cls(path, model, embedder=embedder)

    @classmethod
    def open(cls, path: str | Path = "index", model: str | None = None, **kw) -> "Index":
        """The same as `Index(path, model, ...)`: the saved index, or a new one for an absent or empty
        folder (a folder that is neither is refused, and left as it is)."""
        return cls(path, model, **kw)

    def _reload(self, manifest: Manifest | None = None, stamp: tuple[int, int, int] | None = None) -> None:
        """Switch to the generation on disk (or `manifest`, with the `stamp` taken before it was
        read); retried if a compaction deletes a segment between reading the manifest and opening it.

        The stamp must be taken before the manifest it labels is read: taken after, it may belong
        to a newer manifest another process wrote in between, and this object would then take its
        old view for the newest one (and a write based on it would drop the other's change)."""
        for attempt in range(20):
            given = manifest is not None and attempt == 0
            if not given or stamp is None:  # a given manifest without its stamp: under the writer lock only
                stamp = self._store.stamp()
            m = manifest if given else self._store.read_manifest()
            if m is None:
                raise QAIndexError(f"index {self.path} disappeared; build one with: "
                                   f"python -m qa index ARTICLES --index {self.path}")
            if m.embedder["name"] != self.embedder.name or m.embedder["dim"] != self.embedder.dim:
                raise QAIndexError(f"index {self.path} was rebuilt with model {m.embedder['name']!r}; "
                                   f"load it again (restart)")
            try:
                segs = {}
                for e in m.segments:
                    old = self._segments.get(e.name)
                    segs[e.name] = _with_entry(old, e) if old is not None else self._store.segment(e, self.embedder.dim)
            except FileNotFoundError as e:
                if self._store.stamp() == stamp:  # not a compaction racing us: the file is really gone
                    raise QAIndexError(f"index {self.path} is incomplete: {e} is missing; "
                                       f"{rebuild_hint(self.path)}") from None
                time.sleep(0.01 * (attempt + 1))
                continue
            self._segments = segs
            self._manifest = m
            self._stamp = stamp
            # Kept one generation: an answer being built from passages of the previous view can
            # still read their article and sentence vectors after another process removed it.
            self._old_view = self._view
            self._view = _View([segs[e.name] for e in m.segments], self.embedder.dim, self._pieces)
            return
        raise QAIndexError(f"index {self.path} keeps changing while being loaded; try again")

    def _refresh(self) -> None:
        """Pick up a newer generation written by another process or another Index object (for a
        new Index, the first one another writer commits)."""
        if self._manifest is None:
            stamp = self._store.stamp()
            if stamp is not None and self._replace is None:
                m = self._store.read_manifest()
                if m is not None:
                    check_embedder(self.path, m, self.embedder)
                    self._reload(m, stamp)
            return
        stamp = self._store.stamp()
        if stamp != self._stamp and stamp is not None:
            m = self._store.read_manifest()
            if m is not None and m.generation != self._manifest.generation:
                log.info("index %s changed on disk (generation %d -> %d): reloading", self.path,
                         self._manifest.generation, m.generation)
                self._reload(m, stamp)
            else:
                self._stamp = stamp

    @property
    def path(self) -> Path:
        """The index folder. Read-only: every change is written there at once (to write an index
        elsewhere, copy the folder and load the copy)."""
        return self._path

    @property
    def segments(self) -> int:
        """How many segments the shown generation has (0 for a new index)."""
        return len(self._manifest.segments) if self._manifest else 0

    @property
    def generation(self) -> int | None:
        """The generation this object shows (None: new, not written yet)."""
        return self._manifest.generation if self._manifest else None

    # ------------------------------------------------------------ writing
    def _new_manifest(self, generation: int, segments: Sequence[SegmentEntry]) -> Manifest:
        return Manifest(generation, {"name": self.embedder.name, "dim": self.embedder.dim,
                                     "fingerprint": fingerprint(self.embedder), "probe": probe_code(self.embedder)},
                        {"max_words": self.max_words, "overlap": self.overlap}, tuple(segments))

    def _begin_write(self) -> tuple[Manifest, bool]:
        """Under the writer lock: the manifest to change, after switching to the newest generation.

        For a new Index (nothing written or read yet) a generation another writer committed since
        is taken as the base, like any newer generation: two first writers into an absent folder
        both keep their articles. Only `create(overwrite=True)` starts from an empty manifest, and
        it drops only the segments of the generation it was asked to replace."""
        if self._manifest is None and self._replace is None:
            disk = self._store.read_manifest()  # damaged: one line, nothing replaced
            if disk is None:
                return self._new_manifest(0, []), False
            check_embedder(self.path, disk, self.embedder)
            self._reload(disk)
            self._store.collect_garbage(self._manifest)
            return self._manifest, False
        if self._replace is not None:
            try:
                disk = self._store.read_manifest()
            except QAIndexError:
                disk = None  # a damaged or format-1 qa index that --rebuild replaces
            drop_format1 = classify(self.path) == "index" and disk is None
            keep = [e for e in disk.segments if e.name not in self._replace] if disk else []
            if keep and (disk.embedder["name"] != self.embedder.name or not same_model(self.embedder, disk.embedder)
                         or disk.chunking != {"max_words": self.max_words, "overlap": self.overlap}):
                raise QAIndexError(f"index {self.path} was changed by another writer (model "
                                   f"{disk.embedder['name']!r}) while it was being replaced; nothing was replaced, "
                                   f"run the rebuild again")
            # The view the add decides against: what other writers committed since, nothing older.
            self._reload(self._new_manifest(disk.generation if disk else 0, keep))
            return self._manifest, drop_format1
        # Decide by the manifest itself, not only by the stamp: this is where a stale view would
        # turn into a lost write. (Under the lock the manifest cannot change while we read it.)
        disk = self._store.read_manifest()
        if disk is None or disk.generation != self._manifest.generation or self._store.stamp() != self._stamp:
            self._reload(disk)
        self._store.collect_garbage(self._manifest)  # what crashed writers left (we hold the lock)
        return self._manifest, False

    def _commit(self, m: Manifest, drop_format1: bool = False) -> None:
        self._store.commit(m, drop_format1=drop_format1)
        self._replace = None  # replaced: from now on this is an ordinary writer
        self._reload(m)
        self._store.collect_garbage(m)

    def add(self, articles: Iterable[Article], progress: bool = False, *,
            passage_embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
            cancel: Callable[[], bool] | None = None, commit_lock: ContextManager | None = None) -> Update:
        """Add new articles and re-embed changed ones (by content hash); unchanged ones cost nothing.

        Durable on return: one new segment and a new manifest are committed under the writer
        lock. Embedding happens before the lock is taken; `passage_embedder` (texts -> unit
        vectors) replaces `self.embedder.passage`, e.g. to embed on a cluster. `cancel` is asked
        between embedding steps (qa.limits.ADD_STEP_CHARS of text each): once it answers True,
        AddCancelled is raised and nothing of this call is written. `commit_lock` (e.g. a server's
        own write lock) is held, with the index's locks, only while committing.
        """
        steps = self._adding(articles, progress, passage_embedder, commit_lock, stepwise=cancel is not None)
        with closing(steps):
            while True:
                try:
                    done, total = next(steps)
                except StopIteration as stop:
                    return stop.value
                if cancel is not None and cancel():
                    raise AddCancelled(f"adding to {self.path} was cancelled after embedding {done} of {total} "
                                       "sentences; nothing of it was written")

    def add_steps(self, articles: Iterable[Article], *,
                  passage_embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
                  commit_lock: ContextManager | None = None) -> Generator[tuple[int, int], None, Update]:
        """`add`, one embedding step at a time: yields (sentences embedded, sentences to embed) before
        the first step and after each, and returns the Update. No lock is held at a yield: closing the
        generator before it returns stops the embedding and writes nothing."""
        return self._adding(articles, False, passage_embedder, commit_lock, stepwise=True)

    def _adding(self, articles: Iterable[Article], progress: bool, passage_embedder, commit_lock: ContextManager | None,
                stepwise: bool) -> Generator[tuple[int, int], None, Update]:
        t0 = time.perf_counter()
        batch: dict[str, Article] = {}
        for a in articles:
            batch[a.id] = a  # the last version of an id in one batch wins
        with self._lock:
            self._refresh()
            v = self._view
            todo = [a for a in batch.values() if a.id not in v.row_of or v.hashes[v.row_of[a.id]] != a.hash]
        units_of: dict[str, list[tuple[int, int]]] = {}
        chunks_of: dict[str, list[Chunk]] = {}
        for a in todo:
            units_of[a.id], chunks_of[a.id] = chunk_text(a.id, a.text, self.max_words, self.overlap)
        duplicates = dedupe.duplicates(v, [a for a in todo if a.id not in v.row_of], chunks_of)  # kept once
        batch = {i: a for i, a in batch.items() if i not in duplicates}
        todo = [a for a in todo if a.id in batch]
        sents = [(a.id, s, e) for a in todo for s, e in units_of[a.id]]
        texts = {a.id: a.text for a in todo}
        vectors = yield from embed_steps(passage_embedder or passage_fn(self.embedder, progress and not stepwise),
                                         [texts[a][s:e] for a, s, e in sents], self.embedder.dim,
                                         limits.ADD_STEP_CHARS if stepwise else None)
        vec_of: dict[str, np.ndarray] = {}
        row = 0
        for a in todo:
            vec_of[a.id] = vectors[row:row + len(units_of[a.id])]
            row += len(units_of[a.id])

        upd = Update(duplicates=duplicates)
        with commit_lock or nullcontext(), self._store.locked(), self._lock:
            m, drop1 = self._begin_write()
            v = self._view
            # Decide against the generation on disk now: another writer may have added or changed these.
            write: list[Article] = []
            for a in batch.values():
                r = v.row_of.get(a.id)
                if r is not None and v.hashes[r] == a.hash:
                    upd.unchanged.append(a.id)
                else:
                    (upd.updated if r is not None else upd.added).append(a.id)
                    write.append(a)
            missing = [a for a in write if a.id not in vec_of]
            if missing:  # changed on disk since we looked (rare): embed them now, under the lock
                self._embed_into(missing, units_of, chunks_of, vec_of, passage_embedder or passage_fn(self.embedder, progress))
            entries = list(m.segments)
            if write:
                entries = _tombstone(entries, v, [a.id for a in write if a.id in v.row_of])
                data = self._segment_data(write, units_of, chunks_of, vec_of)
                entry, _ = self._store.new_segment(m.generation + 1, data)
                entries.append(entry)
            if write or self._replace is not None:
                self._commit(replace(m, generation=m.generation + 1, segments=tuple(entries)), drop1)
            upd.embedded_chunks = sum(len(chunks_of[a.id]) for a in write)
            upd.embedded_sentences = sum(len(units_of[a.id]) for a in write)
        if len(self._manifest.segments) > MAX_SEGMENTS:
            self.compact(auto=True)
        upd.seconds = time.perf_counter() - t0
        return upd

    def _embed_into(self, arts: Sequence[Article], units_of, chunks_of, vec_of, embed) -> None:
        texts = []
        for a in arts:
            units, cs = chunk_text(a.id, a.text, self.max_words, self.overlap)
            units_of[a.id], chunks_of[a.id] = units, cs
            texts.extend(a.text[s:e] for s, e in units)
        vecs = np.asarray(embed(texts), np.float32) if texts else np.zeros((0, self.embedder.dim), np.float32)
        row = 0
        for a in arts:
            vec_of[a.id] = vecs[row:row + len(units_of[a.id])]
            row += len(units_of[a.id])

    def _segment_data(self, arts: Sequence[Article], units_of, chunks_of, vec_of) -> SegmentData:
        ch, se, vecs, texts = [], [], [], []
        for i, a in enumerate(arts):
            ch.extend((i, c.position, c.start, c.end, c.first_unit, c.last_unit) for c in chunks_of[a.id])
            texts.extend(c.text for c in chunks_of[a.id])
            se.extend((i, s, e) for s, e in units_of[a.id])
            vecs.append(vec_of[a.id])
        dim = self.embedder.dim
        vectors = np.concatenate(vecs).astype(np.float32) if vecs else np.zeros((0, dim), np.float32)
        if vectors.shape[1:] != (dim,) or len(vectors) != len(se):
            raise ValueError(f"the embedder returned vectors of shape {vectors.shape}, expected ({len(se)}, {dim})")
        return SegmentData(list(arts), np.asarray(ch, np.int64).reshape(-1, 6), np.asarray(se, np.int64).reshape(-1, 3),
                           vectors, LexicalSegment.build(texts))

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove articles by id (durable on return); returns the ids that were present."""
        ids = list(dict.fromkeys(ids))
        with self._lock:
            self._refresh()
            if self._manifest is None:
                return []
        with self._store.locked(), self._lock:
            m, _ = self._begin_write()
            present = [i for i in ids if i in self._view.row_of]
            if present:
                entries = _tombstone(list(m.segments), self._view, present)
                self._commit(replace(m, generation=m.generation + 1, segments=tuple(entries)))
            return present

    def save(self) -> None:
        """Make sure the index is on disk. `add` and `remove` already commit; for a new index
        with nothing added this writes an empty one (unless another writer made one meanwhile),
        and for `create(overwrite=True)` it replaces the index that was there."""
        if self._manifest is not None and self._replace is None:
            return
        with self._store.locked(), self._lock:
            if self._manifest is None or self._replace is not None:
                m, drop1 = self._begin_write()
                if self._manifest is None or self._replace is not None:  # not another writer's index
                    self._commit(replace(m, generation=m.generation + 1), drop1)

    def compact(self, *, auto: bool = False) -> int:
        """Merge segments into one, dropping tombstoned rows; returns how many were merged.

        The merged segment is written without the lock (readers and writers go on); the lock is
        taken only to commit, after tombstones added in the meantime are carried over. With
        `auto`, only the newest `MERGE_WINDOW` segments are merged (the policy after an add).
        """
        with self._lock:
            self._refresh()
            if self._manifest is None:
                return 0
            m = self._manifest
            window = list(m.segments[-MERGE_WINDOW:] if auto else m.segments)
            if len(window) < 2 and not any(e.removed for e in window):
                return 0
            segs = [self._segments[e.name] for e in window]
        arts: list[Article] = []
        where: dict[tuple[str, int], int] = {}
        ch, se, parts, lex, lex_live = [], [], [], [], []
        for seg in segs:
            alive = np.ones(len(seg.ids), bool)
            if seg.entry.removed:
                alive[list(seg.entry.removed)] = False
            new_row = np.full(len(seg.ids), -1, np.int64)
            for r in np.flatnonzero(alive).tolist():
                new_row[r] = len(arts)
                where[(seg.name, r)] = len(arts)
                arts.append(Article(seg.ids[r], seg.titles[r], seg.text(r), seg.dates[r], seg.urls[r], seg.sources[r]))
            cm = alive[seg.chunks[:, 0]] if len(seg.chunks) else np.zeros(0, bool)
            c = seg.chunks[cm].astype(np.int64)
            c[:, 0] = new_row[c[:, 0]]
            ch.append(c)
            sm = alive[seg.sentences[:, 0]] if len(seg.sentences) else np.zeros(0, bool)
            s = seg.sentences[sm].astype(np.int64)
            s[:, 0] = new_row[s[:, 0]]
            se.append(s)
            parts.append((seg, sm))
            lex.append(seg.lexical)
            lex_live.append(cm)
        data = SegmentData(arts, np.concatenate(ch), np.concatenate(se), np.zeros((0, self.embedder.dim), np.float32),
                           LexicalSegment.merge(lex, lex_live))

        # Vectors are streamed from the memory maps by DenseSegment.merge (bounded memory).
        entry, tmp = self._store.new_segment(m.generation + 1, data, publish=False,
                                             dense_merge=([seg.dense for seg, _ in parts], [sm for _, sm in parts]))
        try:
            with self._store.locked(), self._lock:
                now = self._store.read_manifest()
                names = [e.name for e in window]
                if now is None or not set(names) <= {e.name for e in now.segments}:
                    log.info("compaction of %s skipped: its segments were merged by another writer", self.path)
                    return 0
                # Tombstones set since the snapshot, on the merged articles, carry over.
                extra = sorted(where[(e.name, r)] for e in now.segments if e.name in names
                               for r in e.removed if (e.name, r) in where)
                merged = replace(entry, removed=tuple(extra))
                out: list[SegmentEntry] = []
                for e in now.segments:
                    if e.name == names[0]:
                        out.append(merged)
                    elif e.name not in names:
                        out.append(e)
                self._store.publish(tmp, entry)
                tmp = None
                self._commit(replace(now, generation=now.generation + 1, segments=tuple(out)))
                return len(window)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def check(self) -> list[str]:
        """Re-hash every file and re-check every article's content hash (slow; `qa check`)."""
        with self._lock:
            self._refresh()
            if self._manifest is None:
                return []
            problems = self._store.check(self._manifest)
            if problems:
                return problems
            for seg in self._segments.values():
                for r in range(len(seg.ids)):
                    try:
                        text = seg.text(r)
                    except UnicodeDecodeError:
                        problems.append(f"{seg.name}: the text of {seg.ids[r]!r} is not UTF-8")
                        continue
                    a = Article(seg.ids[r], seg.titles[r], text, seg.dates[r], seg.urls[r], seg.sources[r])
                    if a.hash != seg.hashes[r]:
                        problems.append(f"{seg.name}: article {seg.ids[r]!r} does not match its content hash")
                if len(seg.chunks) and (seg.chunks[:, 2] >= seg.chunks[:, 3]).any():
                    problems.append(f"{seg.name}: a chunk has an empty or reversed span")
            return problems

    # ------------------------------------------------------------ reading
    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._view)

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles, newest first (undated last)."""
        with self._lock:
            self._refresh()
            v = self._view
            infos = [ArticleInfo(v.ids[i], v.titles[i], v.dates[i], v.chunk_count(i), v.urls[i])
                     for i in v.live_articles()]
        return sorted(infos, key=lambda i: (i.date or "", i.id), reverse=True)

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency of a token from `qa.index.bm25.tokenize` (0 if unseen)."""
        with self._lock:
            bm = self._view.bm25()
            return bm.idf(token) if len(bm) else 0.0

    def article(self, article_id: str) -> Article:
        """One article, its text read from disk. KeyError if it is not in the index."""
        with self._lock:
            v = self._view_of(article_id)
            r = v.row_of[article_id]
            return Article(v.ids[r], v.titles[r], v.text(r), v.dates[r], v.urls[r], v.sources[r])

    def _view_of(self, article_id: str) -> _View:
        """The current view, or the previous one if the article was removed in between."""
        if article_id in self._view.row_of or article_id not in self._old_view.row_of:
            return self._view
        return self._old_view

    def sentence_scores(self, query_vector: np.ndarray, article_id: str, start: int = 0,
                        end: int | None = None) -> list[tuple[int, int, float]]:
        """The sentences of an article inside [start, end) as (start, end, cosine to `query_vector`)."""
        with self._lock:
            v = self._view_of(article_id)
            spans, vectors = _sentences_in(v, v.row_of[article_id], start, end)
        sims = vectors @ np.asarray(query_vector, np.float32)
        return [(a, b, float(x)) for (a, b), x in zip(spans, sims)]

    def _dense_chunks(self, v: _View, qv: np.ndarray, want: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Best-sentence cosine of the chunks holding the `want`-ish best sentences."""
        hits = v.dense_hits(qv, 4 * want, allowed)
        rows = np.fromiter((r for r, _ in hits), np.int64, len(hits))
        best: dict[int, float] = {}
        for (_, score), crows in zip(hits, v.sentence_chunks(rows)):
            for crow in crows.tolist():
                if score > best.get(crow, -2.0):
                    best[crow] = score
        return best

    def search(self, question: str, k: int = 5, date_from: str | None = None, date_to: str | None = None,
               *, dense_weight: float = DENSE_WEIGHT, lexical_weight: float = LEXICAL_WEIGHT,
               query_vector: np.ndarray | None = None, articles: Iterable[str] | None = None) -> list[Passage]:
        """Hybrid search: dense and BM25 rankings fused; overlapping chunks of one article deduplicated.

        A lower-ranked chunk that overlaps a better one of the same article keeps only its new
        sentences, so no text is shown twice. Dates are "YYYY[-MM[-DD]]"; with a range set,
        undated articles are left out. `articles`: search only these ids (None: all).
        """
        question = limits.check_question(question, limits.MAX_SEARCH_CHARS)
        date_from, date_to = limits.check_dates(date_from, date_to)
        if not question or not question.strip():
            raise ValueError("the question is empty; ask something, e.g. 'Which countries were involved?'")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        qv = query_vector
        if qv is None and dense_weight:
            qv = self.embedder.query([question])[0]
        with self._lock:
            self._refresh()
            v = self._view
            if not len(v):
                return []
            allowed = chunk_ok = None
            art_ok = v.article_mask(date_from, date_to, articles)
            if art_ok is not None:
                chunk_ok, allowed = v.masks(art_ok)
                if not chunk_ok.any():
                    return []
            want = max(CANDIDATES, 4 * k)
            lex_job = _LEXICAL_POOL.submit(v.lexical_top, question, want, chunk_ok) \
                if lexical_weight and v.remote is None else None  # shards: their own scatter-gather
            dense_of = self._dense_chunks(v, qv, want, allowed) if dense_weight and qv is not None else {}
            dense_rank = sorted(dense_of, key=lambda r: (-dense_of[r], r))[:want]
            lex: dict[int, float] | None = None
            lex_rank: list[int] = []
            if lexical_weight:
                lex_rank, lex = lex_job.result() if lex_job is not None else v.lexical_top(question, want, chunk_ok)
                lex_rank = [r for r in lex_rank if lex[r] > 0]
                if lex_rank and ADAPTIVE_LEXICAL and dense_rank:
                    # Trust the lexical ranking as far as the question's words were matched at all.
                    lexical_weight *= v.lexical.coverage(question, float(lex[lex_rank[0]]))
            texts: dict[int, str] = {}  # article texts read so far (the language check and the passages share them)
            fused = fuse([dense_rank, lex_rank[:want]], [dense_weight, lexical_weight])
            if lex_rank and dense_rank and PER_LANGUAGE_LEXICAL:
                fused.update(other_language(v, question, dense_rank, lex_rank[:want], texts))
            taken: dict[int, list[tuple[int, int]]] = {}
            out: list[Passage] = []
            for row, score in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0])):
                art, pos, start, end = v.chunk(row)
                c_start, c_end = start, end
                for s0, e0 in taken.get(art, []):
                    if overlaps((start, end), (s0, e0)):
                        if s0 <= start and end <= e0:
                            start = end  # nothing new
                        elif start < s0:
                            end = s0
                        else:
                            start = e0
                    if start >= end:
                        break
                if start >= end:
                    continue
                if art not in texts:
                    texts[art] = v.text(art)
                full = texts[art]
                text = full[start:end]
                if not text.strip():
                    continue
                start += len(text) - len(text.lstrip())
                end -= len(text) - len(text.rstrip())
                taken.setdefault(art, []).append((start, end))
                dense = dense_of.get(row)
                if dense is None and qv is not None:
                    _, chunk_vectors = _sentences_in(v, art, c_start, c_end)
                    dense = float(np.max(chunk_vectors @ qv)) if len(chunk_vectors) else 0.0
                spans, vectors = _sentences_in(v, art, start, end)
                out.append(Passage(text=full[start:end], score=float(score), article_id=v.ids[art],
                                   title=v.titles[art], date=v.dates[art], chunk_id=f"{v.ids[art]}#{pos}",
                                   start=start, end=end, dense=float(dense or 0.0),
                                   lexical=float(lex.get(row, 0.0)) if lex is not None else 0.0,
                                   sentences=spans, vectors=vectors))
                if len(out) == k:
                    break
            return out


def _with_entry(seg: Segment, entry: SegmentEntry) -> Segment:
    """The same loaded segment under a newer manifest entry (new tombstones)."""
    if seg.entry == entry:
        return seg
    seg.entry = entry  # segments are immutable on disk; only the tombstones in the entry change
    return seg


def _tombstone(entries: list[SegmentEntry], v: _View, ids: Sequence[str]) -> list[SegmentEntry]:
    """Entries with the given live articles marked removed."""
    add: dict[str, list[int]] = {}
    for a in ids:
        s, local = v.locate(v.row_of[a])
        add.setdefault(v.segments[s].name, []).append(local)
    return [replace(e, removed=tuple(sorted(set(e.removed) | set(add[e.name])))) if e.name in add else e
            for e in entries]

