"""The on-disk index: a folder with a FAISS index, vectors, chunk metadata and a manifest.

Layout (format 1; see README "Index format"):

    index/
      manifest.json   format, embedder {name, dim}, chunking, faiss {type, ...}, counts,
                      articles {id: {hash, chunks}}, files {name: {bytes, sha256}}
      articles.jsonl  one article a line: id, title, date, url, source, hash, text
      chunks.jsonl    one chunk a line: id, article, position, start, end, units [lo, hi)
                      (text = article text[start:end]; units index the article's sentences)
      sentences.jsonl one sentence a line: article, start, end
      vectors.npy     float32 [sentences, dim], row i = line i of sentences.jsonl
      dense.faiss     inner-product FAISS index over the same rows (flat, or IVF when large)

Dense vectors are per sentence: a chunk's dense score is its best sentence's. On XQuAD this
ranks paragraphs better than one vector per paragraph (hit@1 0.935 vs 0.909), costs no more
to embed, and gives the answer step sentence vectors for free. BM25 works on whole chunks.

Saving writes a sibling folder and swaps it in with renames, so an interrupted save leaves
the previous index intact. Loading checks every file against the manifest.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import limits
from .bm25 import BM25
from .chunk import MAX_WORDS, OVERLAP_SENTENCES, Chunk, chunk_text
from .embed import Embedder, get_embedder
from .ingest import Article
from .search import DENSE_WEIGHT, LEXICAL_WEIGHT, Passage, fuse, in_range, overlaps, top_k

log = logging.getLogger(__name__)

FORMAT = 1
FILES = ("articles.jsonl", "chunks.jsonl", "sentences.jsonl", "vectors.npy", "dense.faiss")
#: From this many sentence vectors on, dense search uses an IVF index (recall@10 measured in bench/).
APPROX_MIN_VECTORS = 100_000
#: IVF lists probed per query: recall@10 0.990 against exact search at 100k chunks (README).
IVF_NPROBE = 24
#: Scale the lexical weight by how much of the question BM25 matched (see BM25.coverage).
ADAPTIVE_LEXICAL = True
#: How many candidates each ranking contributes to the fusion.
CANDIDATES = 50
REBUILD_HINT = "rebuild it with: python -m qa index --rebuild"


class IndexError_(Exception):
    """The index folder is missing, incomplete, tampered with or built for another model."""


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    date: str | None
    chunks: int
    url: str | None = None


@dataclass
class Update:
    """What an `Index.add` call did, article ids per outcome."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    seconds: float = 0.0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Index:
    """Articles, their chunks, vectors and the dense and lexical search structures."""

    def __init__(self, path: str | Path = "index", model: str | None = None, *, embedder: Embedder | None = None,
                 max_words: int = MAX_WORDS, overlap: int = OVERLAP_SENTENCES) -> None:
        """An empty index that will be saved at `path`. Use `Index.load` to open a saved one."""
        self.path = Path(path)
        self.embedder: Embedder = embedder or get_embedder(model)
        self.max_words, self.overlap = max_words, overlap
        self._articles: dict[str, Article] = {}
        self._chunks: list[Chunk] = []
        self._sents: list[tuple[str, int, int]] = []  # (article id, start, end), row-aligned with _vectors
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None  # (sentence row, chunk row), by sentence row
        self._rows: dict[str, tuple[int, int]] | None = None  # article id -> its sentence rows
        self._vectors = np.zeros((0, self.embedder.dim), np.float32)
        self._bm25 = BM25()
        self._faiss = None
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- loading and saving
    @classmethod
    def load(cls, path: str | Path = "index", model: str | None = None, *, embedder: Embedder | None = None) -> "Index":
        """Open a saved index, verifying it; `model` (if given) must be the one it was built with."""
        path = Path(path)
        _recover(path)
        manifest = _read_manifest(path)
        built_with = manifest["embedder"]["name"]
        wanted = embedder.name if embedder is not None else model
        if wanted and wanted != built_with:
            raise IndexError_(f"index {path} was built with model {built_with!r}, not {wanted!r}; "
                              f"use --model {built_with} or {REBUILD_HINT} --model {wanted}")
        for name in FILES:
            f = path / name
            want = manifest["files"].get(name, {})
            if not f.is_file():
                raise IndexError_(f"index {path} is incomplete: {name} is missing; {REBUILD_HINT}")
            if f.stat().st_size != want.get("bytes") or _sha256(f) != want.get("sha256"):
                raise IndexError_(f"index {path}: {name} does not match manifest.json (truncated or changed); {REBUILD_HINT}")
        emb = embedder or get_embedder(built_with)
        if emb.dim != manifest["embedder"]["dim"]:
            raise IndexError_(f"index {path} has {manifest['embedder']['dim']}-d vectors but model "
                              f"{emb.name!r} makes {emb.dim}-d ones; {REBUILD_HINT}")
        ch = manifest["chunking"]
        idx = cls(path, embedder=emb, max_words=ch["max_words"], overlap=ch["overlap"])
        try:
            idx._read(path, manifest)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise IndexError_(f"index {path} is damaged ({e}); {REBUILD_HINT}") from None
        return idx

    @classmethod
    def open(cls, path: str | Path = "index", model: str | None = None, **kw) -> "Index":
        """Load the index at `path` if there is one, else start an empty one there."""
        path = Path(path)
        _recover(path)
        if (path / "manifest.json").exists():
            return cls.load(path, model, **kw)
        return cls(path, model, **kw)

    def _read(self, path: Path, manifest: dict) -> None:
        import faiss

        arts = [json.loads(line) for line in (path / "articles.jsonl").read_text("utf-8").splitlines()]
        for a in arts:
            art = Article(id=a["id"], title=a["title"], text=a["text"], date=a.get("date"), url=a.get("url"),
                          source=a.get("source", ""))
            if art.hash != a["hash"] or manifest["articles"].get(art.id, {}).get("hash") != art.hash:
                raise ValueError(f"article {art.id!r} does not match its content hash")
            self._articles[art.id] = art
        for line in (path / "chunks.jsonl").read_text("utf-8").splitlines():
            c = json.loads(line)
            text = self._articles[c["article"]].text
            if not 0 <= c["start"] < c["end"] <= len(text):
                raise ValueError(f"chunk {c['id']!r} points outside its article")
            self._chunks.append(Chunk(c["article"], c["position"], c["start"], c["end"], text[c["start"]:c["end"]],
                                      c["units"][0], c["units"][1]))
        for line in (path / "sentences.jsonl").read_text("utf-8").splitlines():
            a, start, end = json.loads(line)
            if not 0 <= start < end <= len(self._articles[a].text):
                raise ValueError(f"a sentence of {a!r} points outside its article")
            self._sents.append((a, start, end))
        self._vectors = np.load(path / "vectors.npy", allow_pickle=False)
        self._faiss = faiss.read_index(str(path / "dense.faiss"))
        counts = manifest["counts"]
        got = (len(self._articles), len(self._chunks), len(self._sents), self._vectors.shape[0], self._faiss.ntotal)
        want = (counts["articles"], counts["chunks"], counts["sentences"], counts["sentences"], counts["sentences"])
        if got != want or self._vectors.shape[1:] != (self.embedder.dim,):
            raise ValueError(f"counts disagree: manifest says {want[0]} articles, {want[1]} chunks, {want[2]} sentences; "
                             f"files hold {got[0]} articles, {got[1]} chunks, {got[2]} sentences, {got[3]} vectors, "
                             f"{got[4]} in FAISS")
        if hasattr(self._faiss, "nprobe"):
            self._faiss.nprobe = manifest["faiss"].get("nprobe", IVF_NPROBE)
        self._bm25.add(c.text for c in self._chunks)

    def save(self) -> None:
        """Write the index atomically: a sibling folder, then a swap by rename."""
        import faiss

        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp = self.path.with_name(f"{self.path.name}.tmp-{tag}")
            old = self.path.with_name(f"{self.path.name}.old-{tag}")
            tmp.mkdir()
            try:
                _write(tmp / "articles.jsonl", "".join(
                    json.dumps({"id": a.id, "title": a.title, "date": a.date, "url": a.url, "source": a.source,
                                "hash": a.hash, "text": a.text}, ensure_ascii=False) + "\n"
                    for a in self._articles.values()).encode("utf-8"))
                _write(tmp / "chunks.jsonl", "".join(
                    json.dumps({"id": c.id, "article": c.article_id, "position": c.position, "start": c.start,
                                "end": c.end, "units": [c.first_unit, c.last_unit]}, ensure_ascii=False) + "\n"
                    for c in self._chunks).encode("utf-8"))
                _write(tmp / "sentences.jsonl", "".join(
                    json.dumps(list(s), ensure_ascii=False) + "\n" for s in self._sents).encode("utf-8"))
                with open(tmp / "vectors.npy", "wb") as f:
                    np.save(f, np.ascontiguousarray(self._vectors, np.float32), allow_pickle=False)
                    f.flush()
                    os.fsync(f.fileno())
                faiss.write_index(self._dense(), str(tmp / "dense.faiss"))
                _write(tmp / "manifest.json", json.dumps(self._manifest(tmp), indent=1, ensure_ascii=False).encode("utf-8"))
                if self.path.exists():
                    os.rename(self.path, old)
                os.rename(tmp, self.path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if old.exists() and not self.path.exists():
                    os.rename(old, self.path)
                raise
            shutil.rmtree(old, ignore_errors=True)

    def _manifest(self, folder: Path) -> dict:
        per_article: dict[str, int] = {}
        for c in self._chunks:
            per_article[c.article_id] = per_article.get(c.article_id, 0) + 1
        dense = self._dense()
        kind = "ivf" if hasattr(dense, "nprobe") else "flat"
        return {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": {"name": self.embedder.name, "dim": self.embedder.dim},
            "chunking": {"max_words": self.max_words, "overlap": self.overlap, "unit": "words, whole sentences"},
            "faiss": {"type": kind, "metric": "inner_product",
                      **({"nlist": dense.nlist, "nprobe": dense.nprobe} if kind == "ivf" else {})},
            "counts": {"articles": len(self._articles), "chunks": len(self._chunks), "sentences": len(self._sents)},
            "articles": {a.id: {"hash": a.hash, "chunks": per_article.get(a.id, 0)} for a in self._articles.values()},
            "files": {n: {"bytes": (folder / n).stat().st_size, "sha256": _sha256(folder / n)} for n in FILES},
        }

    # ---------------------------------------------------------------- changing
    def add(self, articles: Iterable[Article], progress: bool = False, *,
            passage_embedder: Callable[[Sequence[str]], np.ndarray] | None = None) -> Update:
        """Add new articles and re-embed changed ones (by content hash); unchanged ones cost nothing.

        `passage_embedder` (e.g. `qa.distributed.RayEmbedder`) embeds the new sentences instead of
        `self.embedder.passage`; it must return the same model's vectors, one row per text, in order.
        """
        t0 = time.perf_counter()
        upd = Update()
        todo: list[Article] = []
        with self._lock:
            for a in articles:
                old = self._articles.get(a.id)
                if old is not None and old.hash == a.hash:
                    upd.unchanged.append(a.id)
                else:
                    (upd.updated if old is not None else upd.added).append(a.id)
                    todo.append(a)
        sents: list[tuple[str, int, int]] = []
        chunks: list[Chunk] = []
        for a in todo:
            units, cs = chunk_text(a.id, a.text, self.max_words, self.overlap)
            sents.extend((a.id, s, e) for s, e in units)
            chunks.extend(cs)
        # Embed outside the lock: searches go on while new articles are embedded.
        texts = {a.id: a.text for a in todo}
        sent_texts = [texts[a][s:e] for a, s, e in sents]
        if passage_embedder is None or not sent_texts:
            vectors = self._embed_passages(sent_texts, progress)
        else:
            vectors = np.asarray(passage_embedder(sent_texts), np.float32)
            if vectors.shape != (len(sent_texts), self.embedder.dim):
                raise ValueError(f"the passage embedder returned vectors of shape {vectors.shape} for "
                                 f"{len(sent_texts)} sentences; expected ({len(sent_texts)}, {self.embedder.dim})")
        with self._lock:
            self._remove_ids({a.id for a in todo} & set(self._articles))
            for a in todo:
                self._articles[a.id] = a
            self._append(chunks, sents, vectors)
        upd.embedded_chunks = len(chunks)
        upd.embedded_sentences = len(sents)
        upd.seconds = time.perf_counter() - t0
        return upd

    def _embed_passages(self, texts: list[str], progress: bool) -> np.ndarray:
        try:
            return self.embedder.passage(texts, progress=progress)  # type: ignore[call-arg]
        except TypeError:  # an Embedder without a progress option
            return self.embedder.passage(texts)

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove articles by id; returns the ids that were present."""
        with self._lock:
            present = [i for i in dict.fromkeys(ids) if i in self._articles]
            self._remove_ids(set(present))
            return present

    def _append(self, chunks: Sequence[Chunk], sents: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> None:
        if not chunks:
            return
        first_chunk, first_row = len(self._chunks), len(self._sents)
        self._chunks.extend(chunks)
        self._sents.extend(sents)
        # Extend the derived maps rather than rebuild them: new rows all come after the old ones.
        new_rows: dict[str, tuple[int, int]] = {}
        for row, (aid, _, _) in enumerate(sents, first_row):
            new_rows[aid] = (new_rows.get(aid, (row, row))[0], row + 1)
        if self._rows is not None:
            self._rows.update(new_rows)
        if self._pairs is not None:
            srows = [new_rows[c.article_id][0] + u for c in chunks for u in range(c.first_unit, c.last_unit)]
            crows = [first_chunk + i for i, c in enumerate(chunks) for _ in range(c.first_unit, c.last_unit)]
            order = np.argsort(np.asarray(srows, np.int64), kind="stable")
            self._pairs = (np.concatenate([self._pairs[0], np.asarray(srows, np.int64)[order]]),
                           np.concatenate([self._pairs[1], np.asarray(crows, np.int64)[order]]))
        self._vectors = np.concatenate([self._vectors, vectors.astype(np.float32)])
        self._bm25.add(c.text for c in chunks)
        if self._faiss is not None and (hasattr(self._faiss, "nprobe") or len(self._sents) < APPROX_MIN_VECTORS):
            self._faiss.add(np.ascontiguousarray(vectors, np.float32))
        else:
            self._faiss = None  # crossing to the approximate index: rebuilt on next use

    def _remove_ids(self, ids: set[str]) -> None:
        if not ids:
            return
        for i in ids:
            self._articles.pop(i, None)
        mask = np.array([c.article_id not in ids for c in self._chunks], bool)
        self._chunks = [c for c, k in zip(self._chunks, mask) if k]
        self._bm25.keep(mask)
        smask = np.array([s[0] not in ids for s in self._sents], bool)
        self._sents = [s for s, k in zip(self._sents, smask) if k]
        self._vectors = self._vectors[smask] if len(smask) else self._vectors
        self._pairs = self._rows = None
        self._faiss = None

    def _dense(self):
        """The FAISS index over `_vectors`, built when missing (after removals or on crossing the size line)."""
        if self._faiss is None:
            self._faiss = build_faiss(self._vectors)
        return self._faiss

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._chunks)

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles, newest first (undated last)."""
        with self._lock:
            counts: dict[str, int] = {}
            for c in self._chunks:
                counts[c.article_id] = counts.get(c.article_id, 0) + 1
            infos = [ArticleInfo(a.id, a.title, a.date, counts.get(a.id, 0), a.url) for a in self._articles.values()]
        return sorted(infos, key=lambda i: (i.date or "", i.id), reverse=True)

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency of a token from `qa.bm25.tokenize` (0 if unseen)."""
        with self._lock:
            return self._bm25.idf(token) if len(self._bm25) else 0.0

    def article(self, article_id: str) -> Article:
        return self._articles[article_id]

    def _sentence_chunks(self) -> tuple[np.ndarray, np.ndarray]:
        """(sentence row, chunk row) pairs sorted by sentence row; a sentence in an overlap has two."""
        if self._pairs is None:
            first = self._article_rows()
            srows, crows = [], []
            for crow, c in enumerate(self._chunks):
                base = first[c.article_id][0]
                srows.extend(range(base + c.first_unit, base + c.last_unit))
                crows.extend([crow] * (c.last_unit - c.first_unit))
            srows_a, crows_a = np.asarray(srows, np.int64), np.asarray(crows, np.int64)
            order = np.argsort(srows_a, kind="stable")
            self._pairs = (srows_a[order], crows_a[order])
        return self._pairs

    def _article_rows(self) -> dict[str, tuple[int, int]]:
        """Each article's sentence rows [first, last): they are contiguous."""
        if self._rows is None:
            rows: dict[str, tuple[int, int]] = {}
            for row, (aid, _, _) in enumerate(self._sents):
                lo = rows.get(aid, (row, row))[0]
                rows[aid] = (lo, row + 1)
            self._rows = rows
        return self._rows

    def _dense_chunks(self, qv: np.ndarray, want: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Best-sentence cosine of the chunks holding the `want`-ish best sentences."""
        n = len(self._sents)
        if allowed is None:
            scores, ids = self._dense().search(np.ascontiguousarray(qv[None, :], np.float32), min(4 * want, n))
            hits = [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0]) if i >= 0]
        else:
            # A date filter: exact search over the allowed sentences (one matrix-vector product).
            rows = np.flatnonzero(allowed)
            sims = self._vectors[rows] @ qv
            hits = [(int(rows[i]), float(sims[i])) for i in top_k(sims, 4 * want)]
        srows, crows = self._sentence_chunks()
        rows = np.fromiter((r for r, _ in hits), np.int64, len(hits))
        los, his = np.searchsorted(srows, rows), np.searchsorted(srows, rows, side="right")
        best: dict[int, float] = {}
        for (_, score), lo, hi in zip(hits, los.tolist(), his.tolist()):
            for crow in crows[lo:hi].tolist():
                if score > best.get(crow, -2.0):
                    best[crow] = score
        return best

    def sentence_scores(self, query_vector: np.ndarray, article_id: str, start: int = 0,
                        end: int | None = None) -> list[tuple[int, int, float]]:
        """The sentences of an article inside [start, end) as (start, end, cosine to `query_vector`)."""
        with self._lock:
            end = len(self._articles[article_id].text) if end is None else end
            lo, hi = self._article_rows()[article_id]
            rows = [i for i in range(lo, hi) if self._sents[i][1] >= start and self._sents[i][2] <= end]
            if not rows:
                return []
            sims = self._vectors[rows] @ query_vector
            return [(self._sents[r][1], self._sents[r][2], float(x)) for r, x in zip(rows, sims)]

    def search(self, question: str, k: int = 5, date_from: str | None = None, date_to: str | None = None,
               *, dense_weight: float = DENSE_WEIGHT, lexical_weight: float = LEXICAL_WEIGHT,
               query_vector: np.ndarray | None = None) -> list[Passage]:
        """Hybrid search: dense and BM25 rankings fused; overlapping chunks of one article deduplicated.

        A lower-ranked chunk that overlaps a better one of the same article keeps only its new
        sentences, so no text is shown twice. Dates are "YYYY[-MM[-DD]]"; with a range set,
        undated articles are left out.
        """
        question, (date_from, date_to) = limits.check_question(question, limits.MAX_SEARCH_CHARS), limits.check_dates(date_from, date_to)
        if not question or not question.strip():
            raise ValueError("the question is empty; ask something, e.g. 'Which countries were involved?'")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        date_from, date_to = _checked_date(date_from, "date_from"), _checked_date(date_to, "date_to")
        qv = query_vector
        if qv is None and dense_weight:
            qv = self.embedder.query([question])[0]
        with self._lock:
            if not self._chunks:
                return []
            allowed = chunk_ok = None
            if date_from or date_to:
                ok = {a.id for a in self._articles.values() if in_range(a.date, date_from, date_to)}
                chunk_ok = np.array([c.article_id in ok for c in self._chunks], bool)
                if not chunk_ok.any():
                    return []
                allowed = np.array([s[0] in ok for s in self._sents], bool)
            want = max(CANDIDATES, 4 * k)
            dense_of = self._dense_chunks(qv, want, allowed) if dense_weight and qv is not None else {}
            dense_rank = sorted(dense_of, key=lambda r: -dense_of[r])[:want]
            lex = None
            lex_rank: list[int] = []
            if lexical_weight:
                lex = self._bm25.scores(question)
                if chunk_ok is not None:
                    lex = np.where(chunk_ok, lex, 0.0)
                lex_rank = [int(i) for i in top_k(lex, want) if lex[i] > 0]
                if lex_rank and ADAPTIVE_LEXICAL and dense_rank:
                    # Trust the lexical ranking as far as the question's words were matched at all.
                    lexical_weight *= self._bm25.coverage(question, float(lex[lex_rank[0]]))
            fused = fuse([dense_rank, lex_rank], [dense_weight, lexical_weight])
            taken: dict[str, list[tuple[int, int]]] = {}
            out: list[Passage] = []
            for row, score in sorted(fused.items(), key=lambda kv: -kv[1]):
                c = self._chunks[row]
                a = self._articles[c.article_id]
                start, end = c.start, c.end
                for s0, e0 in taken.get(c.article_id, []):
                    if overlaps((start, end), (s0, e0)):
                        if s0 <= start and end <= e0:
                            start = end  # nothing new
                        elif start < s0:
                            end = s0
                        else:
                            start = e0
                    if start >= end:
                        break
                text = a.text[start:end]
                if start >= end or not text.strip():
                    continue
                start += len(text) - len(text.lstrip())
                end -= len(text) - len(text.rstrip())
                taken.setdefault(c.article_id, []).append((start, end))
                dense = dense_of.get(row)
                if dense is None and qv is not None:
                    dense = max(x for _, _, x in self.sentence_scores(qv, c.article_id, c.start, c.end))
                out.append(Passage(text=a.text[start:end], score=float(score), article_id=a.id, title=a.title,
                                   date=a.date, chunk_id=c.id, start=start, end=end, dense=float(dense or 0.0),
                                   lexical=float(lex[row]) if lex is not None else 0.0))
                if len(out) == k:
                    break
            return out


def _checked_date(value: str | None, name: str) -> str | None:
    if value in (None, ""):
        return None
    from .ingest import IngestError, normalize_date

    try:
        return normalize_date(value)
    except IngestError as e:
        raise ValueError(f"{name}: {e}; write it like 2018, 2018-04 or 2018-04-15") from None


def build_faiss(vectors: np.ndarray):
    """Exact inner-product search for small corpora, IVF from `APPROX_MIN_VECTORS` on."""
    import faiss

    n, d = vectors.shape
    x = np.ascontiguousarray(vectors, np.float32)
    if n < APPROX_MIN_VECTORS:
        index = faiss.IndexFlatIP(d)
    else:
        nlist = int(2 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = x[rng.choice(n, min(n, 40 * nlist), replace=False)]
        index.train(sample)
        index.nprobe = IVF_NPROBE
    if n:
        index.add(x)
    return index


def _read_manifest(path: Path) -> dict:
    f = path / "manifest.json"
    if not path.is_dir():
        raise IndexError_(f"no index at {path}; build one with: python -m qa index ARTICLES --index {path}")
    if not f.is_file():
        raise IndexError_(f"{path} is not an index (no manifest.json); build one with: python -m qa index ARTICLES --index {path}")
    try:
        m = json.loads(f.read_text("utf-8"))
        if m.get("format") != FORMAT:
            raise IndexError_(f"index {path} has format {m.get('format')!r}, this version reads format {FORMAT}; {REBUILD_HINT}")
        for key in ("embedder", "chunking", "counts", "articles", "files", "faiss"):
            m[key]  # noqa: B018 - presence check
        return m
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise IndexError_(f"index {path}: manifest.json is damaged ({e}); {REBUILD_HINT}") from None


def _recover(path: Path) -> None:
    """Finish a swap that a crash interrupted between its two renames."""
    if path.exists():
        return
    olds = sorted(path.parent.glob(f"{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and (olds[-1] / "manifest.json").exists():
        log.warning("restoring %s from %s (a save was interrupted)", path, olds[-1])
        os.rename(olds[-1], path)
