"""Answers with citations: extractive by default, generative with an OpenAI-compatible server.

    from qa import answer
    a = answer("Which countries were involved?")
    print(a.text, a.confidence, a.score)   # quoted article sentences with [1], [2] markers
    for c in a.citations:
        print(c.n, c.title, c.date, c.sentence, c.span)

The extractive answer quotes the article sentences that a small learned model (qa.answers.reader,
weights in qa/answers/answer_model.json, trained by train/train_answer.py; see docs/answers.md) judges
most likely to hold the answer. A second model gives the probability that the quoted answer is
right: `Answer.score`; below the fitted cut-off the answer says the articles do not cover the
question, and `Answer.confidence` ("high", "medium", "low") is read off the score.

A list question ("Which countries ...?") gathers one sentence per article from every article of
the same story that the model supports; a generic question ("What happened?") is answered from
the best-supported article, named by its title. Follow-up questions ("And who led it?") are
searched together with the previous question(s), but their sentences are judged against the
follow-up alone, so the previous answer does not lead the new one.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, Union

import numpy as np

from .. import limits
from ..index.bm25 import tokenize
from .reader import SENTENCE_FEATURES, Model, QuestionInfo, answer_features, language, lexical_overlap, list_items, \
    load_model, new_names, sentence_features, type_penalty
from ..index.fusion import Passage

if TYPE_CHECKING:  # for the signatures only: the index loads faiss, the LLM client its settings
    from ..index.index import Index
    from ..index.shards import ShardedIndex
    from .llm import LLM

log = logging.getLogger(__name__)

#: A conversation so far, oldest first: questions (str), (question, answer) pairs, or OpenAI-style
#: message dicts {"role": "user"|"assistant", "content": str}; see `user_turns`.
History = Sequence[Union[str, Sequence[str], Mapping[str, Any]]]
#: Where to answer from: an Index, a ShardedIndex (searched on Ray), an index folder, or None for the default index.
IndexLike = Union["Index", "ShardedIndex", str, Path, None]

#: Sentences shorter than this many words (headings such as "Radicalisering") are not quoted.
MIN_WORDS = 4
#: At most this many sentences are quoted for an ordinary question ...
MAX_SENTENCES = 2
#: ... and at most this many (one per article) for a list question drawn from several articles.
MAX_LIST_SENTENCES = 4
#: A list question takes an article of the same story in when its best sentence's cosine to the question
#: is within this of the best sentence's (set by hand on the test stories, not fitted) ...
LIST_COSINE_WINDOW = 0.06
#: ... and the two titles share this share of the lead title's idf-weighted content words.
STORY_OVERLAP = 0.25
#: A follow-up ("And who led it?") names little of its topic itself, so the model's score runs
#: lower; it answers at this share of the usual cut-off (not fitted: there is no labelled
#: follow-up data beyond the seed set, which is not tuned on).
FOLLOW_UP_FACTOR = 0.6

NOT_COVERED = {"nl": "Dat staat niet in de artikelen.", "en": "The articles do not cover this.",
               "de": "Das steht nicht in den Artikeln.", "es": "Los artículos no tratan esto.",
               "fr": "Les articles n'en parlent pas.", "ro": "Articolele nu acoperă acest subiect."}
CONFIDENCE_NOTE = {"high": "High confidence", "medium": "Medium confidence",
                   "low": "Low confidence — check the sources"}

_FOLLOW_START = re.compile(r"^\s*(and|but|also|what about|how about|so|en|maar|ook|en wat|dus|y|pero|und|et)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her|this|that|these|those|there|"
                      r"hij|hem|zij|ze|hun|haar|dit|dat|die|deze|daar|ervan|erbij|daarbij|daarvan)\b", re.I)


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
    was unavailable and the extractive answer is shown instead. `score` (0..1) is the model's
    probability that the answer shown is right (for "not covered": that the articles indeed do
    not answer it); `confidence` is "high", "medium" or "low" by the fitted cut-offs."""

    question: str
    text: str
    found: bool
    passages: tuple[Passage, ...]
    citations: tuple[Citation, ...]
    note: str | None = None
    confidence: str = "low"
    score: float = 0.0

    def to_dict(self) -> dict:
        """The JSON schema of `python -m qa ask --json` ("note" only when there is one)."""
        d = {"question": self.question, "answer": self.text, "found": self.found, "confidence": self.confidence,
             "score": round(self.score, 4), "citations": [c.to_dict() for c in self.citations],
             "passages": [p.to_dict() for p in self.passages]}
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class Candidate:
    """One sentence of the retrieved passages with the sentence model's probability."""

    passage: int  # index into the passages
    article_id: str
    start: int
    end: int
    text: str
    cosine: float
    prob: float


@dataclass(frozen=True)
class Judgement:
    """Every candidate sentence (best first), the feature rows, and the answer model's score."""

    question: QuestionInfo
    candidates: tuple[Candidate, ...]
    rows: np.ndarray  # sentence features, in the order of `candidates`
    answer_row: np.ndarray  # question-level features ([] when there are no candidates)
    score: float  # probability that the best sentence answers the question


# ------------------------------------------------------------------------- history
def user_turns(history: History | None) -> list[str]:
    """The user's previous questions from `history`, oldest first.

    Accepted forms: a list of questions (str); a list of (user, assistant) pairs; a list of
    message dicts {"role": "user"|"assistant", "content": ...} (OpenAI/Gradio "messages" style).
    """
    out: list[str] = []
    for turn in history or ():
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, Mapping):
            if turn.get("role", "user") == "user" and isinstance(turn.get("content"), str):
                out.append(turn["content"])
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [t.strip() for t in out if t and t.strip()]


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on the conversation: starts with "and"/"en", has a pronoun, or names at most
    one content word ("Why?", "Hoeveel?"). "What is the capital of Japan?" (two) is a question of its own:
    judged as a follow-up it was searched with the previous topic and answered at a lowered cut-off."""
    return bool(_FOLLOW_START.search(question) or _PRONOUN.search(question) or len(tokenize(question)) <= 1)


def search_text(question: str, history: Sequence | None = None) -> str:
    """What to search for: the question, preceded by up to two previous questions if it is a follow-up."""
    prev = user_turns(history)
    if prev and prev[-1] == question.strip():
        prev = prev[:-1]  # a UI may pass the history including the current message
    if not prev or not is_follow_up(question):
        return question
    return " ".join(prev[-2:] + [question])


# ------------------------------------------------------------------------- judging sentences
def sentence_cosines(idx, qv: np.ndarray, passage: Passage) -> list[tuple[int, int, float]]:
    """(start, end, cosine to `qv`) of the passage's sentences: the one place sentence vectors are read.

    Passages from `Index.search` carry their sentence vectors; others are looked up in the index."""
    if passage.vectors is not None:
        sims = passage.vectors @ np.asarray(qv, np.float32)
        return [(a, b, float(x)) for (a, b), x in zip(passage.sentences, sims)]
    return idx.sentence_scores(qv, passage.article_id, passage.start, passage.end)


def sentence_rows(idx, question: str, qv: np.ndarray, passages: Sequence[Passage]
                  ) -> tuple[QuestionInfo, list[tuple[int, str, int, int, str, float]], np.ndarray]:
    """The candidate sentences of `passages` as (passage, article, start, end, text, cosine) and their
    feature rows (qa.answers.reader.SENTENCE_FEATURES): what the model sees, for answering and for training."""
    q = QuestionInfo.of(question, idx.idf)
    seen: set[tuple[str, int, int]] = set()
    raw: list[tuple[int, str, int, int, str, float]] = []
    for i, p in enumerate(passages):
        text = idx.article(p.article_id).text
        for a, b, cos in sentence_cosines(idx, qv, p):
            if (p.article_id, a, b) in seen:
                continue
            seen.add((p.article_id, a, b))
            s = text[a:b]
            if len(s.split()) >= MIN_WORDS:
                raw.append((i, p.article_id, a, b, s, float(cos)))
    if not raw:
        return q, raw, np.zeros((0, len(SENTENCE_FEATURES)))
    cos = np.array([r[5] for r in raw])
    rank = np.empty(len(raw), int)
    rank[np.argsort(-cos, kind="stable")] = np.arange(len(raw))
    lex = [lexical_overlap(q, r[4]) for r in raw]
    best_lex = max(x[0] for x in lex)
    # The sentences next to a candidate (same passage, in order) often carry the question's words.
    neigh = [max((lex[m][0] for m in (j - 1, j + 1) if 0 <= m < len(raw) and raw[m][0] == raw[j][0]), default=0.0)
             for j in range(len(raw))]
    ncos = [max((raw[m][5] for m in (j - 1, j + 1) if 0 <= m < len(raw) and raw[m][0] == raw[j][0]), default=raw[j][5])
            for j in range(len(raw))]
    # The cosine relative to the spread of this question's candidates: absolute cosines shift with the
    # language pair, their order within one question does not.
    z = (cos - cos.mean()) / (cos.std() + 1e-6)
    lrank = np.empty(len(raw), int)
    lrank[np.argsort(-np.array([x[0] for x in lex]), kind="stable")] = np.arange(len(raw))
    ctx = [lexical_overlap(q, p.text)[0] for p in passages]
    rows = np.array([sentence_features(q, r[4], r[5], float(cos.max()), int(rank[j]), lex[j], best_lex, neigh[j],
                                       r[0], passages[r[0]].score, ctx[r[0]], ncos[j], float(z[j]), int(lrank[j]))
                     for j, r in enumerate(raw)])
    return q, raw, rows


def judge(idx, question: str, qv: np.ndarray, passages: Sequence[Passage], model: Model | None = None) -> Judgement:
    """Score every sentence of `passages` against `question` (vector `qv`) with the learned model."""
    model = model or load_model()
    q, raw, rows = sentence_rows(idx, question, qv, passages)
    if not raw:
        return Judgement(q, (), rows, np.zeros(0), 0.0)
    logits = model.sentence.logit(rows) + type_penalty(q, rows)
    order = np.argsort(-logits, kind="stable")
    p0 = passages[raw[order[0]][0]]
    arow = np.array(answer_features(q, rows, logits, order, p0.score, p0.dense))
    pen = type_penalty(q, rows)
    # No candidate holds the kind of answer asked for (a "how many" question, no new number): abstain.
    score = 0.0 if len(pen) and pen.max() < 0 else float(model.answer.proba(arow)[0])
    probs = 1.0 / (1.0 + np.exp(-logits))
    cands = tuple(Candidate(raw[j][0], raw[j][1], raw[j][2], raw[j][3], raw[j][4], raw[j][5], float(probs[j]))
                  for j in order)
    return Judgement(q, cands, rows[order], arow, score)


def confidence(score: float, model: Model | None = None) -> str:
    """"high", "medium" or "low" for a score, by the cut-offs fitted on held-out data."""
    model = model or load_model()
    return "high" if score >= model.high else "medium" if score >= model.medium else "low"


def is_generic(q: QuestionInfo) -> bool:
    """A question that names no topic ("What happened?", "Wat is er gebeurd?")."""
    return len(q.terms) <= 1 and not q.types


def same_story(idx, lead: str, other: str) -> bool:
    """Whether two articles tell the same story: their titles share at least STORY_OVERLAP of the lead
    title's idf weight in content words (names such as "Ilse" or "Europol" carry most of it, in
    any language)."""
    a, b = set(tokenize(idx.article(lead).title)), set(tokenize(idx.article(other).title))
    weight = {t: idx.idf(t) for t in a}
    total = sum(weight.values())
    return total > 0 and sum(w for t, w in weight.items() if t in b) / total >= STORY_OVERLAP


def _adjacent(a: Candidate, b: Candidate) -> bool:
    """Whether two sentences follow each other in one article (only whitespace between them)."""
    return a.article_id == b.article_id and (0 <= a.start - b.end <= 3 or 0 <= b.start - a.end <= 3)


def _select(j: Judgement, model: Model, idx=None) -> list[Candidate]:
    """The sentences to quote, best first.

    The best sentence, and a second one when the model gives it at least `model.second` of the
    best one's probability. For a list question ("Which countries ...?") also, from every other
    retrieved article of the same story (`same_story`) whose best sentence is nearly as similar
    to the question (LIST_COSINE_WINDOW), that sentence when it names something the question
    does not: one per article, each quoted in its own language. Unrelated articles stay out."""
    cands = j.candidates
    best = cands[0]
    cut = model.second * best.prob
    chosen = [best] + [c for c in cands[1:MAX_SENTENCES] if c.prob >= cut]
    if "list" in j.question.types and max(list_items(c.text) for c in chosen) < 3:
        # The list itself often follows the sentence that announces it: add the nearly-as-similar
        # sentence of the same story that enumerates the most items.
        lists = [c for c in cands if c not in chosen and list_items(c.text) >= 3 and
                 c.cosine >= best.cosine - LIST_COSINE_WINDOW * (2 if _adjacent(c, best) else 1) and
                 (c.article_id == best.article_id or idx is not None and same_story(idx, best.article_id, c.article_id))]
        if lists:
            chosen = chosen[:MAX_SENTENCES - 1] + [max(lists, key=lambda c: (list_items(c.text), c.prob))]
    if "list" in j.question.types and idx is not None:
        articles = {c.article_id for c in chosen}
        for c in cands[1:]:  # best first: the first candidate of an article is its best
            if len(chosen) >= MAX_LIST_SENTENCES:
                break
            if c.article_id in articles:
                continue
            articles.add(c.article_id)
            if c.cosine >= best.cosine - LIST_COSINE_WINDOW and same_story(idx, best.article_id, c.article_id):
                # Of the article's sentences that are as close to the question and name something the
                # question does not, the earliest: a news article says what it adds to the story in
                # its first lines ("On Monday storm Ilse reached Italy ..." before "flooding in Liguria").
                fit = [x for x in cands if x.article_id == c.article_id and
                       x.cosine >= best.cosine - LIST_COSINE_WINDOW and
                       (list_items(x.text) >= 2 or new_names(j.question, x.text))]
                if fit:
                    chosen.append(min(fit, key=lambda x: x.start))
    return chosen


# ------------------------------------------------------------------------- answering
def _resolve_index(index):
    from ..index.index import Index

    if isinstance(index, Index) or (index is not None and hasattr(index, "search") and hasattr(index, "article")):
        return index
    from ..index.default import DEFAULT_INDEX, get_index

    return get_index(Path(index) if index is not None else DEFAULT_INDEX)


def _extractive(question: str, passages: tuple[Passage, ...], j: Judgement, note: str | None = None,
                follow_up: bool = False, model: Model | None = None, idx=None) -> Answer:
    model = model or load_model()
    lang = j.question.lang if j.question.lang in NOT_COVERED else "en"
    need = model.found * (FOLLOW_UP_FACTOR if follow_up else 1.0)
    # A question that names no topic ("What happened?") is answered from the best-supported article;
    # a greeting ("hello") names no topic either, but asks nothing.
    generic = bool(j.candidates) and is_generic(j.question) and question.rstrip().endswith("?")
    if not j.candidates or (j.score < need and not generic):
        log.info("abstaining on %r: score %.3f < %.3f", question, j.score, need)
        s = 1.0 - j.score
        return Answer(question, NOT_COVERED[lang], False, passages, (), note, confidence(s, model), s)
    if generic:
        # Answer from the best-supported article: the one whose passages rank highest in total.
        support: dict[str, float] = {}
        for p in passages:
            support[p.article_id] = support.get(p.article_id, 0.0) + p.score
        top = max(support, key=support.get)
        chosen = [next((c for c in j.candidates if c.article_id == top), j.candidates[0])]
    else:
        chosen = _select(j, model, idx)
    cits = tuple(Citation(n, c.article_id, passages[c.passage].title, passages[c.passage].date, c.text, c.start, c.end)
                 for n, c in enumerate(chosen, 1))
    text = " ".join(f"{c.text} [{n}]" for n, c in enumerate(chosen, 1))
    if generic:
        text = f"{cits[0].title}: {text}"
    return Answer(question, text, True, passages, cits, note, confidence(j.score, model), j.score)


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


def _prepare(question: str, history, k: int, index, date_from, date_to, articles=None):
    if not question or not question.strip():
        raise ValueError("the question is empty; ask something, e.g. 'Which countries were involved?'")
    question = question.strip()
    idx = _resolve_index(index)
    query = search_text(question, history)
    if query == question:
        qv_question = idx.embedder.query([question])[0]
        passages = tuple(idx.search(question, k=k, date_from=date_from, date_to=date_to, query_vector=qv_question,
                                    **_within(articles)))
        return question, idx, passages, judge(idx, question, qv_question, passages), False
    # A follow-up: the passages for the question alone lead, those for the conversation fill in,
    # and the sentences are judged against the question alone, so the earlier answer does not lead
    # the new one. (Mixing the conversation's vector into the question's, or demoting the earlier
    # question's best sentence, were tried: the first let the earlier answer lead again, the second
    # refused elliptic follow-ups such as "En welke landen?" when it demoted the right sentence.)
    qv_search, qv_question = idx.embedder.query([query, question])
    passages = idx.search(query, k=k, date_from=date_from, date_to=date_to, query_vector=qv_search,
                          **_within(articles))
    alone = idx.search(question, k=k, date_from=date_from, date_to=date_to, query_vector=qv_question,
                       **_within(articles))
    passages = tuple(_interleave(alone, passages, k))
    log.info("follow-up %r searched as %r", question, query)
    return question, idx, passages, judge(idx, question, qv_question, passages), True


def _within(articles: Sequence[str] | None) -> dict:
    # only when given: an index-like object without the keyword (a test double) still works without it
    return {} if articles is None else {"articles": list(articles)}


def answer(question: str, history: History | None = None, k: int = 5, *, index: IndexLike = None,
           date_from: str | None = None, date_to: str | None = None, llm: LLM | str | None = None,
           articles: Sequence[str] | None = None) -> Answer:
    """Answer `question` from the indexed articles, with citations, a score and a confidence.

    `history`: the conversation so far (see `user_turns` for the accepted forms); a follow-up
    question is searched together with the previous question(s). `index`: an Index, a
    qa.index.shards.ShardedIndex (searched on Ray shards), a folder, or None for the default
    `index/`. `llm`: None for the extractive answer, or a
    `qa.answers.llm.LLM` (or its URL) for a generated one (falls back to extractive, with a note).
    `articles`: answer only from these article ids (None: from all).
    """
    question, history = limits.check_question(question), limits.trim_history(history)  # bounded work
    last = None
    for last in answer_stream(question, history, k, index=index, date_from=date_from, date_to=date_to, llm=llm,
                              articles=articles):
        pass
    assert last is not None
    return last


def answer_stream(question: str, history: History | None = None, k: int = 5, *, index: IndexLike = None,
                  date_from: str | None = None, date_to: str | None = None,
                  llm: LLM | str | None = None, articles: Sequence[str] | None = None) -> Iterator[Answer]:
    """Like `answer`, yielding progressively longer answers (the extractive answer comes in one piece)."""
    question, history = limits.check_question(question), limits.trim_history(history)  # bounded work
    question, idx, passages, j, follow_up = _prepare(question, history, k, index, date_from, date_to, articles)
    if llm is None or not passages:
        yield _extractive(question, passages, j, follow_up=follow_up, idx=idx)
        return
    from .llm import LLM, LLMError, build_messages

    client = llm if isinstance(llm, LLM) else LLM(str(llm))
    best_in: dict[int, Candidate] = {}
    for c in j.candidates:  # best sentence of each passage, for the citations of [n] markers
        best_in.setdefault(c.passage, c)
    lang = language(question)
    lang = lang if lang in ("nl", "en") else "en"
    text = ""
    try:
        for delta in client.stream(build_messages(question, passages, user_turns(history), lang)):
            text += delta
            yield _generated(question, text, passages, best_in, j.score, final=False)
    except LLMError as e:
        note = f"LLM at {client.url} unavailable ({e}); showing the extractive answer."
        log.info("%s", note)
        yield _extractive(question, passages, j, note, follow_up, idx=idx)
        return
    if not text.strip():
        yield _extractive(question, passages, j, f"LLM at {client.url} returned nothing; showing the extractive answer.",
                          follow_up, idx=idx)
        return
    yield _generated(question, text, passages, best_in, j.score, final=True)


def _generated(question, text, passages, best_in, score: float, final: bool) -> Answer:
    """A generated answer; its score is the extractive model's (how well the passages support an answer)."""
    from .llm import is_not_covered

    found = not is_not_covered(text)
    cits = []
    for m in dict.fromkeys(int(x) for x in re.findall(r"\[(\d+)\]", text)):
        s = best_in.get(m - 1)
        if s is not None and 1 <= m <= len(passages):
            p = passages[m - 1]
            cits.append(Citation(m, p.article_id, p.title, p.date, s.text, s.start, s.end))
    sc = score if found else 1.0 - score
    return Answer(question, text.strip() if final else text.lstrip(), found, passages, tuple(cits),
                  confidence=confidence(sc), score=sc)


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
        print(f"({CONFIDENCE_NOTE[final.confidence]}; score {final.score:.2f})", file=out)
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
