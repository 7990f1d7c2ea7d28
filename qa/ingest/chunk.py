"""Sentence-aware chunking for Dutch and English news text.

Sentences are found by rule (terminal punctuation followed by a capital, digit or opening
quote) with exceptions for abbreviations, initials and numbers; paragraph breaks always end a
sentence. Chunks are runs of whole sentences up to `max_words`, overlapping by `overlap`
sentences, and keep the character span of their text in the article. Overlong sentences and
unbroken text are cut into units of at most MAX_UNIT_CHARS characters, so the work per unit
is bounded and the work per article linear in its length.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..limits import MAX_EMBED_CHARS

#: Defaults chosen on XQuAD and the shipped questions (see README, "Choosing the chunk size").
MAX_WORDS = 120
OVERLAP_SENTENCES = 1
#: A sentence unit is embedded as one item: keep it within one embedding piece.
MAX_UNIT_CHARS = MAX_EMBED_CHARS
#: Packing counts a unit as at least len/CHARS_PER_WORD words. Prose averages 5-7 characters per
#: word with its space, so it is unaffected; 1000 characters without spaces count as 100 words.
CHARS_PER_WORD = 10

# Lower-cased abbreviations (without the final dot) after which a dot does not end a sentence.
_ABBREV = {
    # English
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "inc", "ltd", "co", "corp", "vs", "etc",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "no", "gen", "gov", "sen", "rep", "col", "lt",
    "sgt", "capt", "rev", "fig", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "ca",
    # Dutch
    "dhr", "mevr", "mw", "drs", "ir", "ing", "mr", "bijv", "bv", "b.v", "o.a", "a.s", "m.b.t",
    "t.a.v", "d.w.z", "i.p.v", "i.v.m", "m.a.w", "n.a.v", "z.g", "zgn", "resp", "enz", "e.d",
    "e.a", "nl", "jl", "vlg", "blz", "nr", "tel", "mln", "mld", "mrd", "ong", "evt", "incl",
    "excl", "ca", "max", "min", "febr", "aug", "okt", "art", "prov", "gem",
}

# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
# What may start the next sentence: capital, digit, or an opening quote/bracket.
_START = re.compile(r"\s+[\"'“‘«(\[]?[A-ZÀ-ÖØ-Þ0-9]")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article; `start:end` indexes the article text."""

    article_id: str
    position: int  # 0-based order of the chunk in its article
    start: int
    end: int
    text: str
    first_unit: int = 0  # the sentence units [first_unit, last_unit) of the article it holds
    last_unit: int = 0

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.position}"


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the dot at `dot` belongs to an abbreviation, an initial or a number."""
    # Look back a bounded stretch only: searching from 0 made every sentence end cost the whole
    # paragraph so far (quadratic in paragraph length). No abbreviation is 64 characters long.
    m = _WORD_BEFORE.search(text, max(0, dot - 64), dot)
    if not m:
        return False
    word = m.group(1)
    lw = word.lower().strip(".")
    if lw in _ABBREV:
        return True
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. Smith"
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):
        return True  # "U.S", "o.a": dotted abbreviation
    return False


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans `(start, end)` of the sentences of `text`, in order, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        p0, block = para.start(), para.group(0)
        start = 0
        for m in _END.finditer(block):
            end = m.end()
            nxt = _START.match(block, end)
            if not nxt:
                continue
            punct = m.group(0)
            if punct.startswith(".") and len(punct.rstrip("\"'”’»)]")) == 1 and _is_abbreviation(block, m.start()):
                continue
            spans.append((p0 + start, p0 + end))
            start = nxt.start() + len(nxt.group(0)) - len(nxt.group(0).lstrip())
        spans.append((p0 + start, p0 + len(block)))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b - (len(text[a:b]) - len(text[a:b].rstrip())))
            for a, b in spans if text[a:b].strip()]


def count_words(text: str) -> int:
    return len(text.split())


def _words(text: str, a: int, b: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Spans of the words in text[a:b]; a "word" longer than `max_chars` (unbroken text: base64,
    a URL list, a language without spaces) is cut into pieces of `max_chars`."""
    for m in _WORD.finditer(text, a, b):
        s, e = m.span()
        while e - s > max_chars:
            yield s, s + max_chars
            s += max_chars
        yield s, e


def sentence_units(text: str, max_words: int = MAX_WORDS,
                   max_chars: int = MAX_UNIT_CHARS) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence longer than `max_words` words or `max_chars` characters
    cut at word boundaries (unbroken text at `max_chars`), so every unit is cheap to embed."""
    units: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        if b - a <= max_chars and len(text[a:b].split()) <= max_words:
            units.append((a, b))
            continue
        start = end = -1
        n = 0
        for s, e in _words(text, a, b, max_chars):
            if start >= 0 and (n == max_words or e - start > max_chars):
                units.append((start, end))
                start, n = -1, 0
            if start < 0:
                start = s
            end, n = e, n + 1
        if start >= 0:
            units.append((start, end))
    return units


def unit_size(text: str) -> int:
    """A unit's size for packing, in words: its word count, but at least one word per
    CHARS_PER_WORD characters, so a chunk of unbroken text stays as short as one of prose."""
    return max(count_words(text), len(text) // CHARS_PER_WORD)


def pack(sizes: list[int], max_words: int = MAX_WORDS, overlap: int = OVERLAP_SENTENCES) -> list[tuple[int, int]]:
    """Group consecutive units of the given word counts into ranges `[lo, hi)` of at most
    `max_words` words (a single larger unit stands alone), each overlapping the previous by
    `overlap` units."""
    if max_words < 1 or overlap < 0:
        raise ValueError(f"max_words must be >= 1 and overlap >= 0, got {max_words} and {overlap}")
    ranges: list[tuple[int, int]] = []
    i = 0
    while i < len(sizes):
        j, words = i, 0
        while j < len(sizes) and (j == i or words + sizes[j] <= max_words):
            words += sizes[j]
            j += 1
        ranges.append((i, j))
        if j >= len(sizes):
            break
        i = max(j - overlap, i + 1)  # step back `overlap` units, but always make progress
    return ranges


def chunk_text(article_id: str, text: str, max_words: int = MAX_WORDS,
               overlap: int = OVERLAP_SENTENCES) -> tuple[list[tuple[int, int]], list[Chunk]]:
    """The sentence units of `text` and the chunks packed from them.

    Chunks are whole sentences up to `max_words`, overlapping by `overlap` sentences; a
    sentence longer than `max_words` is cut into pieces (the only mid-sentence cut).
    """
    units = sentence_units(text, max_words)
    chunks = []
    for pos, (lo, hi) in enumerate(pack([unit_size(text[a:b]) for a, b in units], max_words, overlap)):
        start, end = units[lo][0], units[hi - 1][1]
        chunks.append(Chunk(article_id, pos, start, end, text[start:end], lo, hi))
    return units, chunks
