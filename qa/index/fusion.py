"""Hybrid retrieval primitives: the `Passage` result, rank fusion, date ranges, merging.

Pure functions over arrays and spans; the `Index` supplies the scores (and its view, for the
language check of `other_language`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..ingest.lang import language

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

    def __repr__(self) -> str:
        # Short: the id, where it is, how well it matched and how it starts (the full text is .text).
        words = " ".join(self.text.split())
        prefix = words if len(words) <= 60 else words[:59] + "…"
        return (f"Passage(article_id={self.article_id!r}, span={self.span}, score={self.score:.3f}, "
                f"text={prefix!r})")

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


def other_language(v: Any, question: str, dense_rank: list[int], lex_rank: list[int],
                    texts: dict[int, str]) -> dict[int, float]:
    """Fused scores (`v`: the index's view) from the dense ranking alone for the chunks in another language than the question,
    when the candidates mix the question's language with others; empty otherwise. `texts` caches the
    article texts it reads (by row) for the caller, which quotes the passages from them.

    BM25 only matches words: in a mixed index an English question's words ("cost", "power") match the
    English articles, and the Dutch article that answers it, found first by the dense ranking, fell
    behind them (English questions on eval/crossling's Dutch articles: hit@1 45% fused against 58% dense).
    A chunk that cannot share the question's words is judged by meaning alone, at full weight; a
    one-language index is fused as before (unless the guess by function words differs between its
    chunks: some short Romanian chunks read as Spanish, which made Spanish questions on Romanian
    paragraphs "mixed"; measured, that helped: XQuAD es -> ro hit@1 79.7 -> 82.6%)."""
    qlang = language(question)
    rows = set(dense_rank) | set(lex_rank)
    lang = {}
    for r in rows:
        art, _, start, end = v.chunk(r)
        if art not in texts:
            texts[art] = v.text(art)
        lang[r] = language(texts[art][start:end])
    if qlang not in lang.values() or len(set(lang.values())) < 2:
        return {}
    return {r: (RRF_K + 1) / (RRF_K + n + 1) for n, r in enumerate(dense_rank) if lang[r] != qlang}
