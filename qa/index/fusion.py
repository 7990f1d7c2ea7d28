"""Hybrid retrieval primitives: the `Passage` result, rank fusion, date ranges, merging.

Pure functions over arrays and spans; the `Index` supplies the scores.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: Reciprocal-rank-fusion constant; 60 is the value of Cormack et al. and works well here too.
RRF_K = 60
#: Weights of the dense and the lexical ranking. With the lexical weight scaled by how much of
#: the question BM25 matched (Index.search), 2:1 gave on XQuAD hit@1 es 0.898, ro 0.889 and
#: Spanish questions on Romanian paragraphs 0.797 (plain 1:1: 0.900, 0.877, 0.568); see README.
DENSE_WEIGHT = 2.0
LEXICAL_WEIGHT = 1.0


@dataclass(frozen=True)
class Passage:
    """A retrieved piece of an article. `start:end` indexes the article's text."""

    text: str
    score: float  # fused score in [0, 1]: 1 = ranked first by both dense and lexical search
    article_id: str
    title: str
    date: str | None
    chunk_id: str  # of the best chunk; merged passages keep their best chunk's id
    start: int
    end: int
    dense: float = 0.0  # cosine similarity of the best chunk to the question
    lexical: float = 0.0  # BM25 score of the best chunk
    #: The passage's sentences as (start, end) spans of the article text and their vectors (row i is
    #: sentence i), so the answer step reads them here instead of reaching back into the index.
    #: Empty for passages not made by `Index.search`; not part of the JSON.
    sentences: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    vectors: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def to_dict(self) -> dict:
        """The JSON schema of `python -m qa search --json` (see README)."""
        return {"article": self.article_id, "title": self.title, "date": self.date, "text": self.text,
                "score": round(self.score, 4), "chunk": self.chunk_id, "span": [self.start, self.end]}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = RRF_K) -> dict[int, float]:
    """Weighted reciprocal rank fusion, scaled so that rank 1 in every ranking scores 1.0."""
    total = sum(weights) / (k + 1)
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, doc in enumerate(ranking):
            fused[int(doc)] = fused.get(int(doc), 0.0) + w / (k + rank + 1)
    return {d: s / total for d, s in fused.items()} if total else fused


def _bounds(date: str, high: bool) -> str:
    parts = date.split("-")
    parts += ["99" if high else "00"] * (3 - len(parts))
    return "-".join(parts)


def in_range(date: str | None, date_from: str | None, date_to: str | None) -> bool:
    """Whether a (possibly partial) article date can fall within [date_from, date_to].

    "2018-04" is in range for `date_from="2018-04-15"`: the month overlaps. Articles without
    a date are outside any range.
    """
    if date_from is None and date_to is None:
        return True
    if not date:
        return False
    if date_from and _bounds(date, True) < _bounds(date_from, False):
        return False
    if date_to and _bounds(date, False) > _bounds(date_to, True):
        return False
    return True


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
