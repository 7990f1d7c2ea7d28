"""Index storage: immutable segments, a manifest replaced atomically, one writer at a time.

An index folder (format 2; every file and field is described in docs/index-format.md):

    index/
      manifest.json        format, generation, embedder {name, dim, fingerprint}, chunking,
                           segments [{name, articles, chunks, sentences, removed, files}], counts
      qa.lock              flock(2) target: held by a writer for its read-modify-write
      seg-<gen>-<rand>/    one immutable segment per add (or per compaction)
        articles.json      ids, titles, dates, urls, sources, hashes, text byte offsets/lengths
        text.bin           the articles' UTF-8 texts back to back (read by offset when shown)
        chunks.npy         int32 [chunks, 6]: article row, position, start, end, first unit, last unit
        sentences.npy      int32 [sentences, 3]: article row, start, end
        bm25.*             BM25 statistics of the chunks (qa.index.bm25.LexicalSegment, memory-mapped)
        vectors.npy        float32 [sentences, dim], memory-mapped (qa.index.dense.DenseSegment)
        dense.json         the dense part's kind; dense.faiss: compressed FAISS index of a large segment

Every change is: take the lock, read the manifest, (write a segment), write the new manifest
to a temporary name, fsync, `os.replace`, fsync the folder. A reader therefore sees the old
generation or the new one, never a mix. Removals are tombstones (`removed` rows of a segment).
Anything named `tmp-<pid>-...` whose process is gone, and any `seg-*` the manifest does not
list, is garbage of an interrupted writer and is deleted by the next writer (under the lock),
if it holds nothing but segment files (`is_leftover`). qa deletes nothing else, and refuses to
write into a folder that is not a qa index.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .bm25 import SEGMENT_FILES as LEXICAL_FILES
from .bm25 import LexicalSegment
from .dense import SEGMENT_FILES as DENSE_FILES
from .dense import DenseSegment, fsync_path, vector_dtype
from ..ingest.article import Article

log = logging.getLogger(__name__)

FORMAT = 2
MANIFEST = "manifest.json"
LOCK_FILE = "qa.lock"
#: Files every segment has: ours, then `qa.index.bm25.LexicalSegment`'s and `qa.index.dense.DenseSegment`'s.
SEGMENT_FILES = ("articles.json", "text.bin", "chunks.npy", "sentences.npy", *LEXICAL_FILES, *DENSE_FILES)
#: Files a segment may have: the compressed FAISS index of a large segment.
OPTIONAL_FILES = ("dense.faiss",)
#: The files of a format-1 index (a rebuild over one deletes exactly these).
FORMAT1_FILES = ("articles.jsonl", "chunks.jsonl", "sentences.jsonl", "vectors.npy", "dense.faiss")
_SEGMENT_NAME = re.compile(r"^seg-\d{8}-[0-9a-f]{8}$")
_TMP_NAME = re.compile(r"^tmp-(\d+)-[0-9a-f]{8}(\.json|)$")
#: A fixed text whose vector identifies the embedding model (with its name and dimension).
PROBE_TEXT = "qa index fingerprint: De haven van Antwerpen ontving 12 schepen uit Canada."


def rebuild_hint(path: Path | str) -> str:
    return f"rebuild it with: python -m qa index ARTICLES --rebuild --index {path}"


class QAIndexError(Exception):
    """The index folder is missing, not a qa index, damaged, or built for another model."""


# ------------------------------------------------------------------------------- fingerprint
def probe_vector(embedder: Any) -> np.ndarray:
    """The model's query vector for `PROBE_TEXT` (cached on the embedder object)."""
    cached = getattr(embedder, "_qa_probe", None)
    if isinstance(cached, np.ndarray):
        return cached
    v = np.asarray(embedder.query([PROBE_TEXT])[0], np.float64).reshape(-1)
    try:
        embedder._qa_probe = v
    except AttributeError:  # a slotted or frozen embedder: just recompute next time
        pass
    return v


def fingerprint(embedder: Any) -> str:
    """A short hash of the model's vector for `PROBE_TEXT`, rounded to one decimal: the same
    model gives the same string; another model of the same dimension does not."""
    v = probe_vector(embedder)
    return "sha256:" + hashlib.sha256(np.round(v * 10).astype(np.int8).tobytes()).hexdigest()[:16]


def probe_code(embedder: Any) -> str:
    """The probe vector quantised to int8, base64: compared by cosine when the hash differs, so
    float noise at a rounding boundary (another CPU, another BLAS) cannot refuse the right model."""
    import base64

    v = probe_vector(embedder)
    q = np.clip(np.round(v / max(float(np.abs(v).max()), 1e-12) * 127), -127, 127).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def same_model(embedder: Any, recorded: dict[str, Any]) -> bool:
    """Whether `embedder` is the model an index recorded (name and dim checked by the caller)."""
    if fingerprint(embedder) == recorded["fingerprint"]:
        return True
    import base64

    try:
        q = np.frombuffer(base64.b64decode(recorded.get("probe", ""), validate=True), np.int8).astype(np.float64)
    except ValueError:
        return False
    v = probe_vector(embedder)
    if q.shape != v.shape or not q.any() or not v.any():
        return False
    return float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v))) >= 0.995


def check_options(path: Path, m: "Manifest", model: str | None, **chunking: int | None) -> None:
    """Refuse (one line) a model name or chunking option that differs from the saved index's."""
    built_with = m.embedder["name"]
    if model and model != built_with:
        raise QAIndexError(f"index {path} was built with model {built_with!r}, not {model!r}; "
                           f"use --model {built_with} or rebuild it with: python -m qa index --rebuild --model {model}")
    for name, given in chunking.items():
        if given is not None and given != m.chunking[name]:
            raise QAIndexError(f"index {path} was built with {name}={m.chunking[name]}, not {given}; open it "
                               f"without {name}, or replace it: Index.create({str(path)!r}, overwrite=True, "
                               f"{name}={given})")


def check_embedder(path: Path, m: "Manifest", emb: Any) -> None:
    """Refuse (one line) an embedder whose dimension or probe vector differs from the saved index's model."""
    if emb.dim != m.embedder["dim"]:
        raise QAIndexError(f"index {path} has {m.embedder['dim']}-d vectors but model "
                           f"{emb.name!r} makes {emb.dim}-d ones; {rebuild_hint(path)}")
    if not same_model(emb, m.embedder):
        raise QAIndexError(f"index {path} was built with a different {m.embedder['name']!r} model "
                           f"(fingerprint {m.embedder['fingerprint']}, this one gives {fingerprint(emb)}); "
                           f"{rebuild_hint(path)}")


# ---------------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class SegmentEntry:
    """One segment as listed in the manifest; `removed` holds tombstoned article rows."""

    name: str
    articles: int
    chunks: int
    sentences: int
    files: dict[str, dict[str, Any]]
    removed: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {"name": self.name, "articles": self.articles, "chunks": self.chunks, "sentences": self.sentences,
                "removed": list(self.removed), "files": self.files}


@dataclass(frozen=True)
class Manifest:
    generation: int
    embedder: dict[str, Any]  # name, dim, fingerprint, probe
    chunking: dict[str, int]  # max_words, overlap
    segments: tuple[SegmentEntry, ...] = ()

    def counts(self) -> dict[str, int]:
        """Live articles and the number of segments (informational, written into manifest.json)."""
        return {"articles": sum(s.articles - len(s.removed) for s in self.segments),
                "segments": len(self.segments)}

    def to_json(self) -> dict:
        return {"format": FORMAT, "generation": self.generation,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "embedder": self.embedder, "chunking": self.chunking,
                "segments": [s.to_json() for s in self.segments], "counts": self.counts()}


def _field(path: Path, obj: Any, key: str, kind: type | tuple[type, ...], what: str, where: str = "") -> Any:
    name = f"{where}{key}"
    if not isinstance(obj, dict) or key not in obj:
        raise QAIndexError(f"index {path}: manifest.json has no field {name!r} ({what} expected); {rebuild_hint(path)}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise QAIndexError(f"index {path}: manifest.json field {name!r} should be {what}, got {_short(value)}; "
                           f"{rebuild_hint(path)}")
    return value


def _short(value: Any) -> str:
    s = json.dumps(value, ensure_ascii=True)
    return s if len(s) <= 40 else s[:37] + "..."


def parse_manifest(path: Path, data: Any) -> Manifest:
    """Check a decoded manifest.json field by field; any problem is one line naming the field."""
    away = f"move {path} away and rebuild: python -m qa index ARTICLES --index {path}"
    if not isinstance(data, dict):
        raise QAIndexError(f"index {path}: manifest.json should hold a JSON object, got {_short(data)}; {away}")
    fmt = data.get("format")
    if fmt == 1:
        raise QAIndexError(f"index {path} has the old format 1 (this version reads format {FORMAT}); "
                           f"{rebuild_hint(path)}")
    if fmt != FORMAT:
        raise QAIndexError(f"index {path}: manifest.json field 'format' should be {FORMAT}, got {_short(fmt)}; {away}")
    gen = _field(path, data, "generation", int, "a whole number")
    emb = _field(path, data, "embedder", dict, "an object {name, dim, fingerprint}")
    name = _field(path, emb, "name", str, "a model name", "embedder.")
    dim = _field(path, emb, "dim", int, "a whole number", "embedder.")
    fp = _field(path, emb, "fingerprint", str, "a string", "embedder.")
    probe = emb.get("probe", "")
    if not isinstance(probe, str):
        raise QAIndexError(f"index {path}: manifest.json field 'embedder.probe' should be a string, "
                           f"got {_short(probe)}; {rebuild_hint(path)}")
    ch = _field(path, data, "chunking", dict, "an object {max_words, overlap}")
    max_words = _field(path, ch, "max_words", int, "a whole number", "chunking.")
    overlap = _field(path, ch, "overlap", int, "a whole number", "chunking.")
    if gen < 0 or dim < 1 or max_words < 1 or overlap < 0:
        raise QAIndexError(f"index {path}: manifest.json has an impossible generation, dim, max_words or overlap; "
                           f"{rebuild_hint(path)}")
    segs = []
    for i, s in enumerate(_field(path, data, "segments", list, "a list")):
        at = f"segments[{i}]."
        sname = _field(path, s, "name", str, "a segment folder name", at)
        if not _SEGMENT_NAME.match(sname):
            raise QAIndexError(f"index {path}: manifest.json field {at}name is not a segment name: {_short(sname)}; "
                               f"{rebuild_hint(path)}")
        nums = [_field(path, s, k, int, "a whole number", at) for k in ("articles", "chunks", "sentences")]
        removed = _field(path, s, "removed", list, "a list of article rows", at)
        if any(not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < nums[0] for r in removed):
            raise QAIndexError(f"index {path}: manifest.json field {at}removed holds a row outside 0..{nums[0] - 1}; "
                               f"{rebuild_hint(path)}")
        files = _field(path, s, "files", dict, "an object {file: {bytes, sha256}}", at)
        for fname in SEGMENT_FILES + tuple(k for k in OPTIONAL_FILES if k in files):
            f = _field(path, files, fname, dict, "an object {bytes, sha256}", f"{at}files.")
            _field(path, f, "bytes", int, "a whole number", f"{at}files.{fname}.")
            _field(path, f, "sha256", str, "a hex string", f"{at}files.{fname}.")
        unknown = sorted(set(files) - set(SEGMENT_FILES) - set(OPTIONAL_FILES))
        if unknown:
            raise QAIndexError(f"index {path}: manifest.json field {at}files lists an unknown file {unknown[0]!r}; "
                               f"{rebuild_hint(path)}")
        segs.append(SegmentEntry(sname, *nums, files={k: dict(v) for k, v in files.items()},
                                 removed=tuple(sorted(set(removed)))))
    if len({s.name for s in segs}) != len(segs):
        raise QAIndexError(f"index {path}: manifest.json lists a segment twice; {rebuild_hint(path)}")
    return Manifest(gen, {"name": name, "dim": dim, "fingerprint": fp, "probe": probe},
                    {"max_words": max_words, "overlap": overlap}, tuple(segs))


def _load_json(path: Path, f: Path) -> Any:
    try:
        return json.loads(f.read_bytes().decode("utf-8"))
    except RecursionError:
        raise QAIndexError(f"index {path}: {f.name} is nested too deeply; {rebuild_hint(path)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise QAIndexError(f"index {path}: {f.name} is damaged ({str(e).splitlines()[0]}); {rebuild_hint(path)}") from None


# -------------------------------------------------------------------------- the folder check
def is_leftover(p: Path) -> bool:
    """Whether `p` is what an interrupted qa writer leaves: a `tmp-<pid>-<hex>.json` file, or a
    `tmp-<pid>-<hex>` / `seg-<gen>-<hex>` folder holding only segment files (possibly not all).

    A folder of that name holding anything else (a user's `seg-00000001-deadbeef/precious.txt`)
    is not ours: it is never deleted, and a folder holding it is not taken for an empty index."""
    name = p.name
    tmp = _TMP_NAME.match(name)
    if not tmp and not _SEGMENT_NAME.match(name):
        return False
    if p.is_symlink():
        return False
    if tmp and tmp.group(2) == ".json":
        return p.is_file()
    if not p.is_dir():
        return False
    known = set(SEGMENT_FILES) | set(OPTIONAL_FILES)
    try:
        with os.scandir(p) as it:
            return all(e.name in known and e.is_file(follow_symlinks=False) for e in it)
    except OSError:
        return False


def classify(path: Path) -> str:
    """"absent", "empty", "index" (a qa manifest, format 1 or 2), "file" or "foreign" (anything else)."""
    if not os.path.lexists(path):
        return "absent"
    if not path.is_dir() or path.is_symlink():
        return "file"
    names = os.listdir(path)
    if all(n == LOCK_FILE or is_leftover(path / n) for n in names) and not os.path.lexists(path / MANIFEST):
        return "empty"  # nothing, or only what a writer killed before its first commit left
    m = path / MANIFEST
    if m.is_file() and not m.is_symlink():
        try:
            data = json.loads(m.read_bytes()[:1 << 20].decode("utf-8"))
        except (ValueError, RecursionError):
            return "foreign"
        if isinstance(data, dict) and data.get("format") in (1, FORMAT):
            return "index"
    return "foreign"


def check_writable(path: Path) -> str:
    """Refuse (one line) to write an index at `path` unless it is absent, empty, or a qa index."""
    kind = classify(path)
    if kind == "file":
        raise QAIndexError(f"--index {path} is a file, not an index folder; nothing was changed. "
                           f"Give a new or empty folder, or an existing qa index")
    if kind == "foreign":
        some = sorted(os.listdir(path))[:3]
        raise QAIndexError(f"--index {path} is a folder that is not a qa index (it holds {', '.join(some)}"
                           f"{', ...' if len(os.listdir(path)) > 3 else ''}); nothing was changed. "
                           f"Give a new or empty folder, or an existing qa index")
    return kind


# ------------------------------------------------------------------------------- a segment
@dataclass
class Segment:
    """A loaded segment: small arrays in memory, vectors memory-mapped, text read by offset."""

    entry: SegmentEntry
    path: Path
    ids: list[str]
    titles: list[str]
    dates: list[str | None]
    urls: list[str | None]
    sources: list[str]
    hashes: list[str]
    text_at: np.ndarray  # int64 [articles, 2]: byte offset, byte length in text.bin
    chunks: np.ndarray  # int32 [chunks, 6]
    sentences: np.ndarray  # int32 [sentences, 3]
    lexical: LexicalSegment  # BM25 statistics of the chunks, memory-mapped
    dense: DenseSegment  # the sentence vectors (memory-mapped) and, when large, a compressed FAISS index
    _fd: int = -1
    _closed: bool = field(default=False, repr=False)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def vectors(self) -> np.ndarray:
        return self.dense.vectors

    def text(self, row: int) -> str:
        """The text of article `row`, read from text.bin (the descriptor stays valid after a compaction unlinks it)."""
        off, n = (int(x) for x in self.text_at[row])
        return os.pread(self._fd, n, off).decode("utf-8")

    def close(self) -> None:
        if not self._closed and self._fd >= 0:
            os.close(self._fd)
        self._closed = True

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


@dataclass(frozen=True)
class SegmentData:
    """What a new segment holds, before it is written. Rows of `chunks`/`sentences` point at `articles`."""

    articles: Sequence[Article]
    chunks: np.ndarray  # int [chunks, 6]: article row, position, start, end, first unit, last unit
    sentences: np.ndarray  # int [sentences, 3]: article row, start, end
    vectors: np.ndarray  # float32 [sentences, dim] (ignored when the vectors come in parts)
    lexical: LexicalSegment  # BM25 statistics of `chunks`, in order


def _sha256(f: Path) -> str:
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()



def _save_npy(f: Path, a: np.ndarray) -> None:
    with open(f, "wb") as fh:
        np.save(fh, a, allow_pickle=False)


def write_segment_files(folder: Path, data: SegmentData, vector_parts: Iterable[np.ndarray] | None = None,
                        dense_merge: tuple[Sequence[DenseSegment], Sequence[np.ndarray]] | None = None) -> None:
    """Write a segment's files into `folder` (fsynced by `Store.new_segment`).

    The vectors come from `data.vectors`, or streamed from `vector_parts`, or (compaction) from
    the live rows of other segments, `dense_merge = (segments, live masks)`; the last two never
    hold all vectors in memory at once.
    """
    texts = [a.text.encode("utf-8") for a in data.articles]
    at = np.zeros((len(texts), 2), np.int64)
    pos = 0
    with open(folder / "text.bin", "wb") as fh:
        for i, t in enumerate(texts):
            fh.write(t)
            at[i] = (pos, len(t))
            pos += len(t)
    meta = {"ids": [a.id for a in data.articles], "titles": [a.title for a in data.articles],
            "dates": [a.date for a in data.articles], "urls": [a.url for a in data.articles],
            "sources": [a.source for a in data.articles], "hashes": [a.hash for a in data.articles],
            "text_at": at.tolist()}
    (folder / "articles.json").write_bytes(json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    _save_npy(folder / "chunks.npy", np.ascontiguousarray(data.chunks, np.int32).reshape(-1, 6))
    _save_npy(folder / "sentences.npy", np.ascontiguousarray(data.sentences, np.int32).reshape(-1, 3))
    data.lexical.save(folder)
    if dense_merge is not None:
        DenseSegment.merge(dense_merge[0], dense_merge[1], folder).save(folder)
        return
    if vector_parts is None:
        _save_npy(folder / "vectors.npy", np.ascontiguousarray(data.vectors, np.float32))
    else:
        n, dim = len(data.sentences), data.vectors.shape[1]
        out = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=vector_dtype(n), shape=(n, dim))
        row = 0
        for p in vector_parts:
            out[row:row + len(p)] = p
            row += len(p)
        if row != n:
            raise ValueError(f"segment vectors: {row} rows written, {n} expected")
        out.flush()
        del out
    # Large segments (a compaction, a big first build) get a compressed FAISS part; the float
    # vectors are used from the file just written, memory-mapped, so they are not read in whole.
    DenseSegment.build(np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)).save(folder)


def read_segment(path: Path, entry: SegmentEntry, dim: int) -> Segment:
    """Open a segment: sizes and shapes checked against the manifest entry (checksums: `Store.check`)."""
    folder = path / entry.name
    for fname in entry.files:
        f = folder / fname
        try:
            size = f.stat().st_size
        except FileNotFoundError:
            raise FileNotFoundError(f"{entry.name}/{fname}") from None
        if size != entry.files[fname]["bytes"]:
            raise QAIndexError(f"index {path}: {entry.name}/{fname} has {size} bytes, manifest.json says "
                               f"{entry.files[fname]['bytes']} (truncated or changed); {rebuild_hint(path)}")
    try:
        meta = json.loads((folder / "articles.json").read_bytes().decode("utf-8"))
        chunks = np.load(folder / "chunks.npy", allow_pickle=False)
        sentences = np.load(folder / "sentences.npy", allow_pickle=False)
        lexical = LexicalSegment.load(folder)
        dense = DenseSegment.load(folder)
        vectors = dense.vectors
        ids = meta["ids"]
        cols = [meta[k] for k in ("titles", "dates", "urls", "sources", "hashes")]
        text_at = np.asarray(meta["text_at"], np.int64).reshape(-1, 2)
    except (ValueError, KeyError, TypeError, OSError, EOFError) as e:
        gone = [f for f in entry.files if not (folder / f).exists()]
        if gone:  # deleted under us (a compaction committed meanwhile): the caller re-reads the manifest
            raise FileNotFoundError(f"{entry.name}/{gone[0]}") from None
        raise QAIndexError(f"index {path}: segment {entry.name} is damaged ({str(e).splitlines()[0][:160]}); "
                           f"{rebuild_hint(path)}") from None
    n = entry.articles
    problems = []
    if len(ids) != n or any(len(c) != n for c in cols) or len(text_at) != n:
        problems.append(f"articles.json holds {len(ids)} articles, manifest.json says {n}")
    if chunks.shape != (entry.chunks, 6) or chunks.dtype != np.int32:
        problems.append(f"chunks.npy has shape {chunks.shape}, manifest.json says ({entry.chunks}, 6)")
    if sentences.shape != (entry.sentences, 3) or sentences.dtype != np.int32:
        problems.append(f"sentences.npy has shape {sentences.shape}, manifest.json says ({entry.sentences}, 3)")
    if vectors.shape != (entry.sentences, dim) or vectors.dtype not in (np.float32, np.float16):
        problems.append(f"vectors.npy has shape {vectors.shape} {vectors.dtype}, expected ({entry.sentences}, {dim}) "
                        "float32 (float16 in large segments)")
    if len(lexical) != entry.chunks:
        problems.append(f"the BM25 statistics hold {len(lexical)} chunks, manifest.json says {entry.chunks}")
    if not problems and entry.chunks and (chunks[:, 0].min() < 0 or chunks[:, 0].max() >= n):
        problems.append("chunks.npy points at articles it does not hold")
    if not problems and entry.sentences and (sentences[:, 0].min() < 0 or sentences[:, 0].max() >= n):
        problems.append("sentences.npy points at articles it does not hold")
    if not problems and n and int((text_at[:, 0] + text_at[:, 1]).max()) > entry.files["text.bin"]["bytes"]:
        problems.append("articles.json points outside text.bin")
    if problems:
        raise QAIndexError(f"index {path}: segment {entry.name}: {problems[0]}; {rebuild_hint(path)}")
    fd = os.open(folder / "text.bin", os.O_RDONLY)
    return Segment(entry, folder, ids, *cols, text_at=text_at, chunks=chunks, sentences=sentences, lexical=lexical,
                   dense=dense, _fd=fd)


# ------------------------------------------------------------------------------- the store
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """The folder of one index: manifest, segments, the writer lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._thread_lock = threading.Lock()  # flock is per open file; threads of one process queue here first

    # -- reading
    def stamp(self) -> tuple[int, int, int] | None:
        """A cheap token that changes whenever manifest.json is replaced (one stat call)."""
        try:
            st = os.stat(self.path / MANIFEST)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read_manifest(self) -> Manifest | None:
        """The current manifest, None if the folder has none; a damaged one is a one-line QAIndexError."""
        f = self.path / MANIFEST
        if not self.path.is_dir():
            if self.path.exists():
                raise QAIndexError(f"{self.path} is a file, not an index folder")
            return None
        if not f.is_file():
            return None
        return parse_manifest(self.path, _load_json(self.path, f))

    def segment(self, entry: SegmentEntry, dim: int) -> Segment:
        return read_segment(self.path, entry, dim)

    # -- writing
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writer lock (the folder is created if absent; a foreign folder is refused)."""
        kind = check_writable(self.path)
        if kind == "absent":
            self.path.mkdir(parents=True, exist_ok=True)
        with self._thread_lock:
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # The folder may have changed while we waited: check again under the lock.
                check_writable(self.path)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _tmp(self, suffix: str = "") -> Path:
        return self.path / f"tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"

    def new_segment(self, generation: int, data: SegmentData, vector_parts: Iterable[np.ndarray] | None = None,
                    *, dense_merge: tuple[Sequence[DenseSegment], Sequence[np.ndarray]] | None = None,
                    publish: bool = True) -> tuple[SegmentEntry, Path]:
        """Write a segment under a temporary name, fsync it and record its sizes and checksums.

        With `publish` it is renamed to its final `seg-*` name at once (the caller holds the lock);
        otherwise the caller renames the returned folder later (compaction, outside the lock).
        """
        tmp = self._tmp()
        tmp.mkdir()
        try:
            write_segment_files(tmp, data, vector_parts, dense_merge)
            files = {}
            for fname in SEGMENT_FILES + tuple(k for k in OPTIONAL_FILES if (tmp / k).exists()):
                fsync_path(tmp / fname)
                # Checksums are taken from the file as written, so what is recorded is what is on disk.
                files[fname] = {"bytes": (tmp / fname).stat().st_size, "sha256": _sha256(tmp / fname)}
            fsync_path(tmp)
            entry = SegmentEntry(f"seg-{generation:08d}-{uuid.uuid4().hex[:8]}", len(data.articles),
                                 int(len(data.chunks)), int(len(data.sentences)), files)
            if publish:
                os.rename(tmp, self.path / entry.name)
                return entry, self.path / entry.name
            return entry, tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def publish(self, tmp: Path, entry: SegmentEntry) -> None:
        os.rename(tmp, self.path / entry.name)

    def commit(self, manifest: Manifest, *, drop_format1: bool = False) -> None:
        """Replace manifest.json atomically (temporary file, fsync, rename, fsync of the folder)."""
        tmp = self._tmp(".json")
        try:
            with open(tmp, "wb") as fh:
                fh.write(json.dumps(manifest.to_json(), indent=1, ensure_ascii=False).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / MANIFEST)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        fsync_path(self.path)
        if drop_format1:
            for name in FORMAT1_FILES:
                f = self.path / name
                if f.is_file() and not f.is_symlink():
                    f.unlink()

    def collect_garbage(self, manifest: Manifest | None) -> list[str]:
        """Delete what interrupted writers left (caller holds the lock): `tmp-<pid>-*` of dead
        processes and `seg-*` folders the manifest does not list. Returns the names deleted."""
        live = {s.name for s in manifest.segments} if manifest else set()
        gone = []
        for name in os.listdir(self.path):
            p = self.path / name
            m = _TMP_NAME.match(name)
            if m:
                pid = int(m.group(1))
                if pid == os.getpid() or _pid_alive(pid):
                    continue  # a live writer's (e.g. a compaction outside the lock)
            elif not _SEGMENT_NAME.match(name) or manifest is None or name in live:
                continue
            if not is_leftover(p):  # e.g. a user's file inside a seg-* folder: not ours to delete
                log.warning("%s: %s is not a qa leftover (it holds other files); left as it is", self.path, name)
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except FileNotFoundError:
                    continue
            gone.append(name)
        if gone:
            log.info("removed leftovers of interrupted writes in %s: %s", self.path, ", ".join(gone))
        return gone

    # -- checking
    def check(self, manifest: Manifest) -> list[str]:
        """Every problem found by re-hashing every file of every segment (empty: all is well)."""
        problems = []
        for s in manifest.segments:
            for fname in s.files:
                f = self.path / s.name / fname
                want = s.files[fname]
                if not f.is_file():
                    problems.append(f"{s.name}/{fname} is missing")
                elif f.stat().st_size != want["bytes"]:
                    problems.append(f"{s.name}/{fname} has {f.stat().st_size} bytes, manifest.json says {want['bytes']}")
                elif _sha256(f) != want["sha256"]:
                    problems.append(f"{s.name}/{fname} does not match its SHA-256 in manifest.json")
        return problems
