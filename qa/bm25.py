"""Lexical search: a tokenizer for Dutch and English and an incremental BM25 index.

BM25 finds names ("Amaq", "Wainwright") and rare words that a small embedding model blurs.
Term counts live in a sparse matrix whose rows are appended as articles arrive, so adding
one article costs time proportional to that article; statistics (idf, average length) are
derived at query time.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

import numpy as np

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


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Roemenië" matches "roemenie"."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def stem(token: str) -> str:
    """A deliberately light suffix stripper that works for both Dutch and English plurals."""
    if token.isdigit() or len(token) <= 4:
        return token
    for suffix in ("ingen", "ing", "en", "es", "s", "e"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def tokenize(text: str) -> list[str]:
    """Content-word stems of `text`: folded, stop words dropped."""
    return [stem(t) for t in _TOKEN.findall(fold(text)) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


class BM25:
    """Okapi BM25 over a growing list of documents (k1=1.2, b=0.75)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self._rows: list[np.ndarray] = []  # per document: term ids
        self._counts: list[np.ndarray] = []  # per document: term counts
        self._lengths: list[int] = []
        self._matrix = None  # CSC matrix (docs x terms), rebuilt lazily after changes

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, texts: Iterable[str]) -> None:
        for text in texts:
            ids: dict[int, int] = {}
            toks = tokenize(text)
            for t in toks:
                tid = self.vocab.setdefault(t, len(self.vocab))
                ids[tid] = ids.get(tid, 0) + 1
            self._rows.append(np.fromiter(ids.keys(), np.int64, len(ids)))
            self._counts.append(np.fromiter(ids.values(), np.float32, len(ids)))
            self._lengths.append(len(toks))
        self._matrix = None

    def keep(self, mask: Sequence[bool]) -> None:
        """Drop the documents whose mask entry is False (removal of articles)."""
        self._rows = [r for r, k in zip(self._rows, mask) if k]
        self._counts = [c for c, k in zip(self._counts, mask) if k]
        self._lengths = [n for n, k in zip(self._lengths, mask) if k]
        self._matrix = None

    def _build(self):
        from scipy.sparse import csc_matrix

        n = len(self._lengths)
        if n == 0:
            rows = np.zeros(0, np.int64)
            cols = np.zeros(0, np.int64)
            data = np.zeros(0, np.float32)
        else:
            sizes = np.fromiter((len(r) for r in self._rows), np.int64, n)
            rows = np.repeat(np.arange(n), sizes)
            cols = np.concatenate(self._rows)
            data = np.concatenate(self._counts)
        m = csc_matrix((data, (rows, cols)), shape=(n, max(len(self.vocab), 1)), dtype=np.float32)
        lengths = np.asarray(self._lengths, np.float32)
        df = np.diff(m.indptr).astype(np.float32)
        self._idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self._norm = (self.k1 * (1 - self.b + self.b * lengths / max(float(lengths.mean()) if n else 1.0, 1e-9))).astype(np.float32)
        self._matrix = m
        return m

    def _ensure(self):
        return self._matrix if self._matrix is not None else self._build()

    def idf(self, token: str) -> float:
        """Inverse document frequency of an already-tokenized term (0 when unknown)."""
        self._ensure()
        tid = self.vocab.get(token)
        return float(self._idf[tid]) if tid is not None else 0.0

    def coverage(self, query: str, best: float) -> float:
        """How much of `query` a document scoring `best` matched: `best` over the score of a
        document holding every query term (terms not in the index count at the highest idf).
        Near 0 when only an incidental word matched, e.g. for a question in another language."""
        self._ensure()
        if not len(self._idf):
            return 0.0
        top = float(self._idf.max())
        ceiling = sum(float(self._idf[self.vocab[t]]) if t in self.vocab else top for t in set(tokenize(query)))
        return min(1.0, best / ((self.k1 + 1) * ceiling)) if ceiling > 0 else 0.0

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros where no term matches)."""
        m = self._ensure()
        out = np.zeros(m.shape[0], np.float32)
        for tok in set(tokenize(query)):
            tid = self.vocab.get(tok)
            if tid is None:
                continue
            lo, hi = m.indptr[tid], m.indptr[tid + 1]
            docs, tf = m.indices[lo:hi], m.data[lo:hi]
            out[docs] += self._idf[tid] * tf * (self.k1 + 1) / (tf + self._norm[docs])
        return out
