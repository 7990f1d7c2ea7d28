"""Answers with citations: extractive by default, generative with an OpenAI-compatible server.

    from qa import answer
    a = answer("Which countries were involved?")
    print(a.text)                      # quoted article sentences with [1], [2] markers
    for c in a.citations:
        print(c.n, c.title, c.date, c.sentence, c.span)

Extractive answers (no extra model) quote the one or few article sentences that best answer
the question, scored by the cosine of their stored sentence vectors to the question, an
idf-weighted word overlap, and a small bonus for the kind of answer asked for (a list, a
number, a date, a name). When the best evidence is below `FOUND_THRESHOLD` (calibrated on
labelled questions, see docs/answers.md) the answer says the articles do not cover it, in the
question's language (Dutch or English), and still carries the nearest passages.

Follow-up questions ("And who led it?") are searched together with the previous question(s)
of the conversation; the sentences are scored against the follow-up itself.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from . import limits
from .bm25 import stem, tokenize
from .search import Passage

log = logging.getLogger(__name__)

#: Evidence (best sentence: cosine + LEXICAL_WEIGHT * overlap) needed to answer, calibrated in
#: docs/answers.md on XQuAD (questions about held-out articles as unanswerable) and the labelled
#: questions on the shipped article: question and sentence in the same language (Dutch on Dutch) ...
FOUND_THRESHOLD = 0.875
#: ... or in different languages (English on Dutch: e5 cosines run ~0.03 lower across languages) ...
CROSS_LANGUAGE_THRESHOLD = 0.845
#: ... and this much lower for a follow-up ("And who led it?"), whose topic the conversation set.
FOLLOW_UP_DISCOUNT = 0.045
#: Weight of the idf-weighted word overlap (0..1) next to the cosine similarity.
LEXICAL_WEIGHT = 0.08
#: Largest bonus for a sentence that has the kind of answer asked for (list, number, date, name).
TYPE_BONUS = 0.03
#: Sentences scoring within this of the best one are quoted too, up to MAX_SENTENCES.
MARGIN = 0.012
MAX_SENTENCES = 3
#: For a list question, a sentence enumerating 3+ items is added if its cosine is within this of the
#: best one's (twice this for the sentences right before and after the best one).
LIST_WINDOW = 0.05
#: Sentences shorter than this many words (headings such as "Radicalisering") are not quoted.
MIN_WORDS = 4

NOT_COVERED = {"nl": "Dat staat niet in de artikelen.", "en": "The articles do not cover this."}

_NL = frozenset("de het een en van is dat niet wie wat welke welk waar wanneer hoe waarom hoeveel zijn waren "
                "was werd werden bij door voor met op er ook ik je jij wij hij zij ze hun heeft hebben naar "
                "over om uit nog maar deze die dit als dan wordt worden".split())
_EN = frozenset("the a an and of is are was were who what which where when how why many much did does do "
                "with to for from by on at it they he she his her their this that these those has have had "
                "be been will would about there".split())

# Small English -> Dutch glossary of news words, so an English question also gets word-overlap
# evidence in Dutch articles (the embedding model alone blurs "led" / "geleid").
_GLOSS = {
    "countri": "land landen", "country": "land", "nation": "land", "involved": "betrokken",
    "led": "geleid leiding leidde", "lead": "geleid leiding leidde", "leader": "leider leiding",
    "arrested": "aangehouden gearresteerd arrestatie", "arrest": "aangehouden gearresteerd arrestatie",
    "killed": "gedood doden omgekomen", "dead": "doden dood", "died": "overleden stierf",
    "attack": "aanval aanslag", "police": "politie", "government": "regering overheid",
    "prosecutor": "parket aanklager", "court": "rechtbank rechter", "judge": "rechter",
    "investigation": "onderzoek", "people": "mensen personen", "city": "stad", "citi": "steden",
    "year": "jaar", "month": "maand", "week": "week", "day": "dag", "money": "geld",
    "million": "miljoen", "billion": "miljard", "percent": "procent", "election": "verkiezing verkiezingen",
    "party": "partij", "war": "oorlog", "army": "leger", "children": "kinderen", "women": "vrouwen",
    "men": "mannen", "director": "directeur", "company": "bedrijf", "price": "prijs", "school": "school",
    "action": "actie", "operation": "operatie actie", "target": "gericht doelwit", "aimed": "gericht",
    "goal": "doel", "purpose": "bedoeling doel", "seized": "beslag", "website": "websites sites",
    "server": "servers", "channel": "kanalen", "identify": "identificeren", "team": "team",
    "news": "nieuws", "source": "bron bronnen", "confirmed": "bevestigd",
}
_LIST_Q = re.compile(r"\b(which|what)\s+(?!is\b|was\b|does\b|has\b|happens\b|happened\b)\w{2,}s\b|\bwelke\s+\w+"
                     r"|\bcu[aá]les\b|\bqu[eé]\s+\w{2,}s\b|\b(list|name the|noem)\b", re.I)
_NUM_Q = re.compile(r"\b(how (many|much|long|old)|hoeveel|hoe (lang|oud|groot)|cu[aá]nt[oa]s?|c[aâ]t)\b", re.I)
_DATE_Q = re.compile(r"\b(when|what year|wanneer|welk jaar|cu[aá]ndo|en qu[eé] a[nñ]o|c[aâ]nd)\b", re.I)
_WHO_Q = re.compile(r"\b(who|whom|wie|qui[eé]n(es)?|cine)\b", re.I)
_FOLLOW_START = re.compile(r"^\s*(and|but|also|what about|how about|so|en|maar|ook|en wat|dus|y|pero)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her|this|that|these|those|there|"
                      r"hij|hem|zij|ze|hun|haar|dit|dat|die|deze|daar|ervan|erbij|daarbij|daarvan)\b", re.I)
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:de|van|der|den|of|the)?\s*[A-ZÀ-ÖØ-Þ][\w'’-]+)*"
_LIST_ITEM = re.compile(_CAP + r"\s*(?:,|\s(?:en|and|y|și|si|or|of)\s)")
_NUMBER = re.compile(r"\d|\b(een|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|honderd|duizend|miljoen|one|two|"
                     r"three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|dozens?|tientallen)\b", re.I)
_DATE = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b|\b(januari|februari|maart|april|mei|juni|juli|augustus|september|"
                   r"oktober|november|december|january|february|march|may|june|july|august|october|gisteren|"
                   r"eergisteren|vandaag|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|"
                   r"tuesday|wednesday|thursday|friday|saturday|sunday|yesterday)\b", re.I)
_AGENT = re.compile(r"\b(door|by|onder leiding van|led by|por)\s+(het|de|een|the|a|el|la)?\s*\w+", re.I)


@dataclass(frozen=True)
class Citation:
    """The sentence that supports part of an answer: `start:end` indexes the article's text."""

    n: int
    article_id: str
    title: str
    date: str | None
    sentence: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"n": self.n, "article": self.article_id, "title": self.title, "date": self.date,
                "sentence": self.sentence, "span": [self.start, self.end]}


@dataclass(frozen=True)
class Answer:
    """An answer to one question. `found` is False when the articles do not cover it;
    `passages` are the retrieved (nearest) passages either way; `note` says e.g. that the LLM
    was unavailable and the extractive answer is shown instead."""

    question: str
    text: str
    found: bool
    passages: tuple[Passage, ...]
    citations: tuple[Citation, ...]
    note: str | None = None

    def to_dict(self) -> dict:
        """The JSON schema of `python -m qa ask --json` ("note" only when there is one)."""
        d = {"question": self.question, "answer": self.text, "found": self.found,
             "citations": [c.to_dict() for c in self.citations], "passages": [p.to_dict() for p in self.passages]}
        if self.note:
            d["note"] = self.note
        return d


@dataclass
class _Sentence:
    passage: int  # index into the passages
    article_id: str
    start: int
    end: int
    text: str
    cosine: float
    lexical: float = 0.0
    bonus: float = 0.0

    @property
    def evidence(self) -> float:
        return self.cosine + LEXICAL_WEIGHT * self.lexical

    @property
    def score(self) -> float:
        return self.evidence + self.bonus


# ------------------------------------------------------------------------- language, history
def language(text: str) -> str:
    """"nl" or "en" by counting common function words (English when unsure)."""
    words = re.findall(r"\w+", text.lower())
    nl = sum(w in _NL for w in words)
    en = sum(w in _EN for w in words)
    return "nl" if nl > en else "en"


def user_turns(history: Sequence | None) -> list[str]:
    """The user's previous questions from `history`, oldest first.

    Accepted forms: a list of questions (str); a list of (user, assistant) pairs; a list of
    message dicts {"role": "user"|"assistant", "content": ...} (OpenAI/Gradio "messages" style).
    """
    out: list[str] = []
    for turn in history or ():
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict):
            if turn.get("role", "user") == "user" and isinstance(turn.get("content"), str):
                out.append(turn["content"])
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [t.strip() for t in out if t and t.strip()]


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on the conversation: starts with "and"/"en", has a pronoun, or is short."""
    return bool(_FOLLOW_START.search(question) or _PRONOUN.search(question) or len(tokenize(question)) <= 2)


def search_text(question: str, history: Sequence | None = None) -> str:
    """What to search for: the question, preceded by up to two previous questions if it is a follow-up."""
    prev = user_turns(history)
    if prev and prev[-1] == question.strip():
        prev = prev[:-1]  # a UI may pass the history including the current message
    if not prev or not is_follow_up(question):
        return question
    return " ".join(prev[-2:] + [question])


# ------------------------------------------------------------------------- sentence scoring
def _root(token: str) -> str:
    """Drop the Dutch participle prefix: "geleid" -> "leid" (to meet "leidde", "leiding")."""
    return token[2:] if token.startswith("ge") and len(token) >= 6 else token


@lru_cache(maxsize=65536)
def _tokens(sentence: str) -> frozenset[str]:
    return frozenset(_root(t) for t in tokenize(sentence))


def _matches(term: str, tokens: frozenset[str]) -> bool:
    """Exact, or one a prefix of the other when both have 4+ letters ("leid" ~ "leidd", "land" ~ "landen")."""
    t = _root(term)
    if t in tokens:
        return True
    return len(t) >= 4 and any(len(u) >= 4 and (u.startswith(t) or t.startswith(u)) for u in tokens)


def _query_terms(question: str, idf) -> dict[str, float]:
    """Question content terms with their idf weights; English news words also in Dutch (glossary)."""
    terms: dict[str, float] = {}
    for t in tokenize(question):
        w = idf(t)
        terms[t] = max(terms.get(t, 0.0), w)
        gloss = _GLOSS.get(t) or _GLOSS.get(stem(t))
        if gloss:
            for g in tokenize(gloss):
                terms[g] = max(terms.get(g, 0.0), idf(g))
    return {t: w for t, w in terms.items() if w > 0}


def _type_bonus(question: str, sentence: str) -> float:
    b = 0.0
    if _LIST_Q.search(question):
        items = len(_LIST_ITEM.findall(sentence)) + 1
        if items >= 3:
            b = max(b, TYPE_BONUS * min(items, 6) / 6)
    if _NUM_Q.search(question) and _NUMBER.search(sentence):
        b = max(b, TYPE_BONUS * 0.6)
    if _DATE_Q.search(question) and _DATE.search(sentence):
        b = max(b, TYPE_BONUS * 0.6)
    if _WHO_Q.search(question):
        names = re.findall(r"(?<!^)(?<![.!?]\s)\b" + _CAP, sentence)
        if _AGENT.search(sentence) or names:
            b = max(b, TYPE_BONUS * (0.6 if _AGENT.search(sentence) else 0.3))
    return b


def score_sentences(idx, question: str, qv: np.ndarray, passages: Sequence[Passage]) -> list[_Sentence]:
    """Every sentence of the passages, scored against `question`, best first."""
    terms = _query_terms(question, idx.idf)
    total = sum(terms.values())
    seen: set[tuple[str, int, int]] = set()
    out: list[_Sentence] = []
    for i, p in enumerate(passages):
        text = idx.article(p.article_id).text
        for a, b, cos in idx.sentence_scores(qv, p.article_id, p.start, p.end):
            key = (p.article_id, a, b)
            if key in seen:
                continue
            seen.add(key)
            s = text[a:b]
            if len(s.split()) < MIN_WORDS:
                continue
            toks = _tokens(s)
            lex = sum(w for t, w in terms.items() if _matches(t, toks)) / total if total else 0.0
            out.append(_Sentence(i, p.article_id, a, b, s, float(cos), lex, _type_bonus(question, s)))
    out.sort(key=lambda s: -s.score)
    return out


def _items(text: str) -> int:
    """How many capitalised items a sentence enumerates ("A, B, C en D" -> 4)."""
    return len(_LIST_ITEM.findall(text)) + 1


def _select(question: str, sents: list[_Sentence]) -> list[_Sentence]:
    """The best sentence, those scoring nearly as well, and for a list question the sentence
    that enumerates the most items among the nearly-as-similar ones."""
    if not sents:
        return []
    best = sents[0]
    chosen = [s for s in sents[:MAX_SENTENCES] if s.score >= best.score - MARGIN]
    if _LIST_Q.search(question) and max(_items(s.text) for s in chosen) < 3:
        same = sorted((s for s in sents if s.article_id == best.article_id), key=lambda s: s.start)
        at = same.index(best)
        neighbours = same[max(at - 1, 0):at + 2]  # a list often continues in the next sentence
        lists = [s for s in sents if s not in chosen and _items(s.text) >= 3 and
                 (s.cosine >= best.cosine - LIST_WINDOW or (s in neighbours and s.cosine >= best.cosine - 2 * LIST_WINDOW))]
        if lists:
            chosen = chosen[:MAX_SENTENCES - 1] + [max(lists, key=lambda s: (_items(s.text), s.score))]
    return chosen


# ------------------------------------------------------------------------- answering
def _resolve_index(index):
    from .index import Index

    if isinstance(index, Index) or (index is not None and hasattr(index, "search") and hasattr(index, "article")):
        return index
    from .api import DEFAULT_INDEX, get_index

    return get_index(Path(index) if index is not None else DEFAULT_INDEX)


def _citations(passages: Sequence[Passage], chosen: Sequence[_Sentence]) -> tuple[Citation, ...]:
    return tuple(Citation(n, s.article_id, passages[s.passage].title, passages[s.passage].date, s.text, s.start, s.end)
                 for n, s in enumerate(chosen, 1))


def threshold(question: str, sentence: str, follow_up: bool = False) -> float:
    """The evidence an answer needs (see FOUND_THRESHOLD)."""
    t = FOUND_THRESHOLD if language(question) == language(sentence) else CROSS_LANGUAGE_THRESHOLD
    return t - FOLLOW_UP_DISCOUNT if follow_up else t


def _extractive(question: str, passages: tuple[Passage, ...], sents: list[_Sentence],
                note: str | None = None, follow_up: bool = False) -> Answer:
    lang = language(question)
    need = threshold(question, sents[0].text, follow_up) if sents else 0.0
    if not sents or sents[0].evidence < need:
        log.info("abstaining on %r: best evidence %.3f < %.3f", question,
                 sents[0].evidence if sents else float("nan"), need)
        return Answer(question, NOT_COVERED[lang], False, passages, (), note)
    chosen = _select(question, sents)
    # Quote in article order within an article, best article first.
    chosen.sort(key=lambda s: (s.passage, s.start))
    text = " ".join(f"{s.text} [{n}]" for n, s in enumerate(chosen, 1))
    return Answer(question, text, True, passages, _citations(passages, chosen), note)


def _interleave(a: Sequence[Passage], b: Sequence[Passage], k: int) -> list[Passage]:
    out: list[Passage] = []
    for pair in zip(a, b):
        for p in pair:
            if len(out) < k and not any(q.article_id == p.article_id and q.start < p.end and p.start < q.end for q in out):
                out.append(p)
    for p in list(a[len(b):]) + list(b[len(a):]):
        if len(out) < k and not any(q.article_id == p.article_id and q.start < p.end and p.start < q.end for q in out):
            out.append(p)
    return out


def _prepare(question: str, history, k: int, index, date_from, date_to):
    if not question or not question.strip():
        raise ValueError("the question is empty; ask something, e.g. 'Which countries were involved?'")
    question = question.strip()
    idx = _resolve_index(index)
    query = search_text(question, history)
    vecs = idx.embedder.query([question] if query == question else [query, question])
    qv_search, qv_question = vecs[0], vecs[-1]
    passages = idx.search(query, k=k, date_from=date_from, date_to=date_to, query_vector=qv_search)
    if query != question:
        # A follow-up: passages for the conversation and for the question alone, interleaved.
        alone = idx.search(question, k=k, date_from=date_from, date_to=date_to, query_vector=qv_question)
        passages = _interleave(passages, alone, k)
    passages = tuple(passages)
    sents = score_sentences(idx, question, qv_question, passages)
    if query != question:
        log.info("follow-up %r searched as %r", question, query)
    return question, idx, passages, sents, query != question


def answer(question: str, history: Sequence | None = None, k: int = 5, *, index=None,
           date_from: str | None = None, date_to: str | None = None, llm=None) -> Answer:
    """Answer `question` from the indexed articles, with citations.

    `history`: the conversation so far (see `user_turns` for the accepted forms); a follow-up
    question is searched together with the previous question(s). `index`: an Index, a folder,
    or None for the default `index/`. `llm`: None for the extractive answer, or a
    `qa.llm.LLM` (or its URL) for a generated one (falls back to extractive, with a note).
    """
    question, history = limits.check_question(question), limits.trim_history(history)  # bounded work
    last = None
    for last in answer_stream(question, history, k, index=index, date_from=date_from, date_to=date_to, llm=llm):
        pass
    assert last is not None
    return last


def answer_stream(question: str, history: Sequence | None = None, k: int = 5, *, index=None,
                  date_from: str | None = None, date_to: str | None = None, llm=None) -> Iterator[Answer]:
    """Like `answer`, yielding progressively longer answers (the extractive answer comes in one piece)."""
    question, history = limits.check_question(question), limits.trim_history(history)  # bounded work
    question, idx, passages, sents, follow_up = _prepare(question, history, k, index, date_from, date_to)
    if llm is None or not passages:
        yield _extractive(question, passages, sents, follow_up=follow_up)
        return
    from .llm import LLM, LLMError, build_messages

    client = llm if isinstance(llm, LLM) else LLM(str(llm))
    best_in: dict[int, _Sentence] = {}
    for s in sents:  # best sentence of each passage, for the citations of [n] markers
        best_in.setdefault(s.passage, s)
    lang = language(question)
    text = ""
    try:
        for delta in client.stream(build_messages(question, passages, user_turns(history), lang)):
            text += delta
            yield _generated(question, text, passages, best_in, lang, final=False)
    except LLMError as e:
        note = f"LLM at {client.url} unavailable ({e}); showing the extractive answer."
        log.info("%s", note)
        yield _extractive(question, passages, sents, note, follow_up)
        return
    if not text.strip():
        yield _extractive(question, passages, sents, f"LLM at {client.url} returned nothing; showing the extractive answer.",
                          follow_up)
        return
    yield _generated(question, text, passages, best_in, lang, final=True)


def _generated(question, text, passages, best_in, lang, final) -> Answer:
    from .llm import is_not_covered

    found = not is_not_covered(text)
    cits = []
    for m in dict.fromkeys(int(x) for x in re.findall(r"\[(\d+)\]", text)):
        s = best_in.get(m - 1)
        if s is not None and 1 <= m <= len(passages):
            p = passages[m - 1]
            cits.append(Citation(m, p.article_id, p.title, p.date, s.text, s.start, s.end))
    return Answer(question, text.strip() if final else text.lstrip(), found, passages, tuple(cits))


# ------------------------------------------------------------------------- command line
def main_ask(args, index, questions: Sequence[str]) -> int:
    """`python -m qa ask`: print each answer and its citations, or one JSON object per line."""
    from .llm import from_settings

    llm = from_settings(getattr(args, "llm_url", None), getattr(args, "llm_model", None))
    out = sys.stdout
    for qi, q in enumerate(questions):
        if args.json:
            a = answer(q, k=args.k, index=index, date_from=args.date_from, date_to=args.date_to, llm=llm)
            print(json.dumps(a.to_dict(), ensure_ascii=False), flush=True)
            continue
        if len(questions) > 1:
            print(f"{'' if qi == 0 else chr(10)}? {q}", file=out)
        printed = ""
        final = None
        for a in answer_stream(q, k=args.k, index=index, date_from=args.date_from, date_to=args.date_to, llm=llm):
            final = a
            if a.text.startswith(printed):
                print(a.text[len(printed):], end="", file=out, flush=True)
            else:  # fell back to the extractive answer after part of a generated one was shown
                print("\n" + a.text, end="", file=out, flush=True)
            printed = a.text
        if final is not None and final.note:
            print(f"\nnote: {final.note}", end="", file=sys.stderr)
        print(file=out)
        assert final is not None
        if final.citations:
            print(file=out)
            for c in final.citations:
                print(f"[{c.n}] {c.title} ({c.date or 'undated'}) — {c.article_id} {c.start}:{c.end}", file=out)
                print(f"    {' '.join(c.sentence.split())}", file=out)
        elif not final.found and final.passages:
            print("\nNearest passages:", file=out)
            for i, p in enumerate(final.passages, 1):
                snippet = " ".join(p.text.split())
                print(f"[{i}] {p.title} ({p.date or 'undated'}) — {snippet[:100]}{'…' if len(snippet) > 100 else ''}",
                      file=out)
        out.flush()
    return 0
