"""`python -m qa eval`: retrieval and answer quality on labelled questions, plus a SQuAD converter.

Question file: one JSON object per line (blank lines and lines starting with `#` are ignored):

    {"id": "q1", "question": "Who led the action?", "expected": [["federaal parket"]],
     "passage": "geleid door het Belgische federaal parket", "unanswerable": false,
     "history": ["Which countries were involved?"]}

- `expected`: groups of alternatives; the answer is right when every group has at least one
  alternative in the answer text (case-insensitive substring). `[]` checks nothing.
- `passage`: a substring one retrieved passage must contain (case and whitespace insensitive);
  null: retrieval is not measured for this question.
- `unanswerable`: true when the articles do not hold the answer; right behaviour is found=false.
- `history` (optional): earlier user questions of the conversation, oldest first. They are passed
  to `answer(..., history=...)`; for retrieval-only measurement the search query is the history
  and the question joined with spaces.

Parsing and metrics are pure functions over frozen dataclasses; `main_eval` does the I/O.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

# ------------------------------------------------------------------------------------- format


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expected: tuple[tuple[str, ...], ...] = ()
    passage: str | None = None
    unanswerable: bool = False
    history: tuple[str, ...] = ()

    def query(self) -> str:
        """The search query for retrieval-only measurement: history and question joined."""
        return " ".join([*self.history, self.question])


def _fail(source: str, line: int, msg: str) -> ValueError:
    return ValueError(f"{source}:{line}: {msg}")


def parse_question(obj: Any, source: str = "<questions>", line: int = 1) -> Question:
    """One decoded JSON object to a `Question`; ValueError "SOURCE:LINE: ..." when malformed."""
    if not isinstance(obj, dict):
        raise _fail(source, line, f"expected a JSON object, got {type(obj).__name__}")
    unknown = set(obj) - {"id", "question", "expected", "passage", "unanswerable", "history"}
    if unknown:
        raise _fail(source, line, f"unknown field(s) {', '.join(sorted(unknown))}")
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise _fail(source, line, "'question' must be a non-empty string")
    qid = obj.get("id", f"line{line}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise _fail(source, line, "'id' must be a string")
    expected = obj.get("expected", [])
    if not isinstance(expected, list) or not all(
            isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g) for g in expected):
        raise _fail(source, line, "'expected' must be a list of non-empty lists of non-empty strings, "
                                  "e.g. [[\"federaal parket\"], [\"Europol\"]]")
    passage = obj.get("passage")
    if passage is not None and (not isinstance(passage, str) or not passage.strip()):
        raise _fail(source, line, "'passage' must be a non-empty string or null")
    unanswerable = obj.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise _fail(source, line, "'unanswerable' must be true or false")
    if unanswerable and (expected or passage):
        raise _fail(source, line, "an unanswerable question cannot have 'expected' or 'passage'")
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise _fail(source, line, "'history' must be a list of strings")
    return Question(id=str(qid), question=q.strip(), expected=tuple(tuple(g) for g in expected),
                    passage=passage, unanswerable=unanswerable, history=tuple(history))


def parse_questions(text: str, source: str = "<questions>") -> list[Question]:
    """A whole question file; ids must be unique."""
    out: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise _fail(source, n, f"invalid JSON: {e.msg} (column {e.colno})") from None
        q = parse_question(obj, source, n)
        if q.id in seen:
            raise _fail(source, n, f"duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = n
        out.append(q)
    if not out:
        raise ValueError(f"{source}: no questions in the file")
    return out


# ------------------------------------------------------------------------------------- metrics

def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def passage_rank(passage: str, texts: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved text that contains `passage`, or None."""
    want = _norm(passage)
    for i, t in enumerate(texts, 1):
        if want in _norm(t):
            return i
    return None


def missing_groups(expected: Sequence[Sequence[str]], answer: str) -> list[list[str]]:
    """The expected groups of which no alternative occurs in the answer."""
    a = _norm(answer)
    return [list(g) for g in expected if not any(_norm(alt) in a for alt in g)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


@dataclass(frozen=True)
class Retrieved:
    """One question's retrieval result in one mode."""

    question_id: str
    texts: tuple[str, ...]
    seconds: float = 0.0


@dataclass(frozen=True)
class RetrievalMetrics:
    mode: str
    k: int
    n: int  # questions with a `passage`
    hit_at_1: float
    hit_at_k: float
    mrr: float
    p50_ms: float | None = None
    p95_ms: float | None = None


def retrieval_metrics(mode: str, k: int, questions: Sequence[Question], results: Sequence[Retrieved]) -> RetrievalMetrics:
    by_id = {r.question_id: r for r in results}
    ranks: list[int | None] = []
    for q in questions:
        if q.passage is None or q.id not in by_id:
            continue
        ranks.append(passage_rank(q.passage, by_id[q.id].texts[:k]))
    n = len(ranks)
    secs = [r.seconds * 1000 for r in results]
    if not n:
        return RetrievalMetrics(mode, k, 0, 0.0, 0.0, 0.0, percentile(secs, 50), percentile(secs, 95))
    return RetrievalMetrics(mode, k, n,
                            hit_at_1=sum(r == 1 for r in ranks) / n,
                            hit_at_k=sum(r is not None for r in ranks) / n,
                            mrr=sum(1 / r for r in ranks if r) / n,
                            p50_ms=percentile(secs, 50), p95_ms=percentile(secs, 95))


@dataclass(frozen=True)
class Answered:
    """One question's answer: the text, whether the assistant found an answer, the top passage."""

    question_id: str
    text: str
    found: bool
    top_passage: str = ""
    seconds: float = 0.0
    confidence: str = ""  # "high" | "medium" | "low" when the answer step gives one


@dataclass(frozen=True)
class AnswerMetrics:
    answerable: int
    correct: int
    accuracy: float | None  # share of answerable questions whose answer holds every expected fact
    unanswerable: int
    abstained: int  # found=false, over all questions
    abstained_right: int  # found=false on unanswerable questions
    abstain_precision: float | None
    abstain_recall: float | None
    p50_ms: float | None
    p95_ms: float | None
    #: confidence level -> (answers found at that level, of which right), answerable questions only
    by_confidence: dict[str, tuple[int, int]] = field(default_factory=dict)


def is_correct(q: Question, a: Answered) -> bool:
    if q.unanswerable:
        return not a.found
    return a.found and not missing_groups(q.expected, a.text)


def answer_metrics(questions: Sequence[Question], answers: Sequence[Answered]) -> AnswerMetrics:
    by_id = {a.question_id: a for a in answers}
    pairs = [(q, by_id[q.id]) for q in questions if q.id in by_id]
    ans = [(q, a) for q, a in pairs if not q.unanswerable]
    una = [(q, a) for q, a in pairs if q.unanswerable]
    correct = sum(is_correct(q, a) for q, a in ans)
    abstained = sum(not a.found for _, a in pairs)
    right = sum(not a.found for _, a in una)
    secs = [a.seconds * 1000 for _, a in pairs]
    levels: dict[str, tuple[int, int]] = {}
    for q, a in pairs:
        if a.found and a.confidence:
            n, r = levels.get(a.confidence, (0, 0))
            levels[a.confidence] = (n + 1, r + (not q.unanswerable and is_correct(q, a)))
    return AnswerMetrics(answerable=len(ans), correct=correct, accuracy=correct / len(ans) if ans else None,
                         unanswerable=len(una), abstained=abstained, abstained_right=right,
                         abstain_precision=right / abstained if abstained else None,
                         abstain_recall=right / len(una) if una else None,
                         p50_ms=percentile(secs, 50), p95_ms=percentile(secs, 95),
                         by_confidence={k: levels[k] for k in ("high", "medium", "low") if k in levels})


@dataclass(frozen=True)
class Failure:
    question_id: str
    question: str
    kind: str  # "wrong answer", "answered unanswerable", "abstained", "passage not retrieved"
    answer: str
    top_passage: str
    detail: str = ""


def failures(questions: Sequence[Question], answers: Sequence[Answered],
             retrieved: Sequence[Retrieved], k: int) -> list[Failure]:
    """Wrong answers (when answers were measured), then passages missing from the top k."""
    out: list[Failure] = []
    by_a = {a.question_id: a for a in answers}
    by_r = {r.question_id: r for r in retrieved}
    for q in questions:
        a = by_a.get(q.id)
        r = by_r.get(q.id)
        top = a.top_passage if a else (r.texts[0] if r and r.texts else "")
        if a is not None and not is_correct(q, a):
            if q.unanswerable:
                kind, detail = "answered unanswerable", ""
            elif not a.found:
                kind, detail = "abstained", ""
            else:
                kind, detail = "wrong answer", "missing " + json.dumps(missing_groups(q.expected, a.text), ensure_ascii=False)
            out.append(Failure(q.id, q.question, kind, a.text, top, detail))
        elif r is not None and q.passage is not None and passage_rank(q.passage, r.texts[:k]) is None:
            out.append(Failure(q.id, q.question, "passage not retrieved", a.text if a else "", top,
                               f"want {q.passage!r}"))
    return out


# ------------------------------------------------------------------------------------- modes

@dataclass(frozen=True)
class Mode:
    name: str
    dense_weight: float
    lexical_weight: float


def parse_mode(spec: str) -> Mode:
    """`dense`, `bm25`, `fused` (the index defaults) or `D:L` weights, e.g. `2:1`."""
    from .index.fusion import DENSE_WEIGHT, LEXICAL_WEIGHT

    named = {"dense": (1.0, 0.0), "bm25": (0.0, 1.0), "fused": (DENSE_WEIGHT, LEXICAL_WEIGHT)}
    if spec in named:
        return Mode(spec, *named[spec])
    m = re.fullmatch(r"(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)", spec)
    if not m or not (float(m.group(1)) or float(m.group(2))):
        raise ValueError(f"--mode {spec!r}: use dense, bm25, fused or weights DENSE:LEXICAL like 2:1")
    return Mode(f"fused {spec}", float(m.group(1)), float(m.group(2)))


# ------------------------------------------------------------------------------------- SQuAD

_SENT_END = re.compile(r"[.!?]['\"”»)]*\s+")


def sentence_around(context: str, start: int, end: int) -> str:
    """The sentence(s) of `context` that contain context[start:end] (rule-based, good enough)."""
    s = 0
    for m in _SENT_END.finditer(context):
        if m.end() <= start:
            s = m.end()
        elif m.start() >= end - 1:
            return context[s:m.start() + 1].strip()
    return context[s:].strip()


def _slug(s: str) -> str:
    return re.sub(r"[^\w]+", "_", s, flags=re.UNICODE).strip("_") or "article"


def convert_squad(data: dict, contexts: dict | None = None, source: str = "squad") -> tuple[list[dict], list[dict]]:
    """SQuAD v1.1 JSON to (article records, question records).

    One article per paragraph, id `<title>-<n>` (n counts paragraphs within the title from 0).
    `expected` = [[every distinct answer text]]; `passage` = the sentence of the context holding the
    first answer (falls back to the answer text when its offset does not match).
    With `contexts` (a parallel translation, same article/paragraph/question order, e.g. XQuAD
    es and ro): questions come from `data`, paragraphs, answers and passages from `contexts`.
    """
    def docs(d: Any, name: str) -> list:
        if not isinstance(d, dict) or not isinstance(d.get("data"), list):
            raise ValueError(f"{name}: not SQuAD format (no top-level 'data' list)")
        return d["data"]

    qdocs = docs(data, source)
    cdocs = docs(contexts, "contexts") if contexts is not None else qdocs
    if len(cdocs) != len(qdocs):
        raise ValueError(f"{source}: {len(qdocs)} articles but the contexts file has {len(cdocs)}; not parallel")
    articles: list[dict] = []
    questions: list[dict] = []
    for di, (qd, cd) in enumerate(zip(qdocs, cdocs)):
        title = str(cd.get("title") or qd.get("title") or f"article{di}")
        qps, cps = qd.get("paragraphs", []), cd.get("paragraphs", [])
        if len(qps) != len(cps):
            raise ValueError(f"{source}: article {title!r} has {len(qps)} paragraphs, contexts {len(cps)}; not parallel")
        for pi, (qp, cp) in enumerate(zip(qps, cps)):
            aid = f"{_slug(title)}-{pi}"
            ctx = cp["context"]
            articles.append({"id": aid, "title": title.replace("_", " "), "text": ctx})
            qqs, cqs = qp.get("qas", []), cp.get("qas", [])
            if len(qqs) != len(cqs):
                raise ValueError(f"{source}: paragraph {aid} has {len(qqs)} questions, contexts {len(cqs)}; not parallel")
            for qq, cq in zip(qqs, cqs):
                answers = [a for a in cq.get("answers", []) if a.get("text", "").strip()]
                if not answers:  # SQuAD 2.0 impossible question
                    questions.append({"id": str(qq["id"]), "question": qq["question"], "expected": [],
                                      "passage": None, "unanswerable": True})
                    continue
                texts = list(dict.fromkeys(a["text"].strip() for a in answers))
                a0 = answers[0]
                st = a0.get("answer_start", -1)
                if isinstance(st, int) and ctx[st:st + len(a0["text"])] == a0["text"]:
                    passage = sentence_around(ctx, st, st + len(a0["text"]))
                else:
                    passage = a0["text"].strip()
                questions.append({"id": str(qq["id"]), "question": qq["question"], "expected": [texts],
                                  "passage": passage, "unanswerable": False})
    return articles, questions


SQUAD_NOTE = """Converted by `python -m qa eval --from-squad {squad}{ctx}`.

Source: XQuAD (Artetxe, Ruder and Yogatama, 2019, "On the Cross-lingual Transferability of
Monolingual Representations"), translations of SQuAD v1.1 (Rajpurkar et al., 2016) paragraphs.
License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); these derived files are
under the same license. Changes: one article per paragraph (articles.jsonl); questions in the
`qa eval` format (questions.jsonl) with `passage` = the context sentence holding the answer.
"""


def write_squad(squad: Path, out: Path, contexts: Path | None = None) -> tuple[int, int]:
    def load(p: Path) -> dict:
        try:
            return json.loads(p.read_text("utf-8"))
        except OSError as e:
            raise ValueError(f"{p}: cannot read: {e.strerror or e}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{e.lineno}: invalid JSON: {e.msg}") from None

    arts, qs = convert_squad(load(squad), load(contexts) if contexts else None, str(squad))
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "articles.jsonl", "w", encoding="utf-8") as f:
        for a in arts:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    with open(out / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in qs:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    (out / "README.md").write_text(SQUAD_NOTE.format(squad=squad, ctx=f" --contexts-from {contexts}" if contexts else ""),
                                   "utf-8")
    return len(arts), len(qs)


# ------------------------------------------------------------------------------------- unanswerable sets

#: Paragraphs (by number within their article) left out of the index for the near-topic sets.
NEAR_TOPIC_HELD_OUT = (0, 2)


def xquad_sets(shared: Path, out: Path, test_titles: Sequence[str]) -> dict[str, int]:
    """Write the held-out XQuAD evaluation sets into `out`: per language (es, ro, and es questions on ro
    paragraphs) the test split's questions over all 240 paragraphs (`*.test.jsonl` + `*.articles.jsonl`),
    the near-topic set (`*.neartopic.jsonl` + `*.neartopic.articles.jsonl`: paragraphs
    NEAR_TOPIC_HELD_OUT of every test article left out; their questions are unanswerable while the
    sibling paragraphs stay; the siblings' questions stay answerable), and the off-topic set
    (`*.offtopic.*`: every test article left out). Also the SQuAD 2.0 article as `squad2.*`.
    Returns file name -> records written."""
    def load(name: str) -> dict:
        p = shared / name
        try:
            return json.loads(p.read_text("utf-8"))
        except OSError as e:
            raise ValueError(f"{p}: cannot read: {e.strerror or e}; give the folder holding the XQuAD files") from None

    test = {_slug(t) for t in test_titles}
    if not test:
        raise ValueError("no test titles: the answer model names them (qa/answers/answer_model.json 'about.test_titles')")
    written: dict[str, int] = {}
    out.mkdir(parents=True, exist_ok=True)

    def put(name: str, records: list[dict]) -> None:
        with open(out / name, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        written[name] = len(records)

    es, ro = load("xquad.es.json"), load("xquad.ro.json")
    for name, data, ctx in (("es", es, None), ("ro", ro, None), ("es-ro", es, ro)):
        arts, qs = convert_squad(data, ctx, name)
        art_of = _question_articles(ctx or data)
        in_test = [q for q in qs if art_of[q["id"]].rsplit("-", 1)[0] in test]
        if name != "es-ro":
            put(f"{name}.articles.jsonl", arts)
        put(f"{name}.test.jsonl", in_test)
        held = {a["id"] for a in arts if a["id"].rsplit("-", 1)[0] in test and
                int(a["id"].rsplit("-", 1)[1]) in NEAR_TOPIC_HELD_OUT}
        lang = name.split("-")[-1]
        put(f"{lang}.neartopic.articles.jsonl", [a for a in arts if a["id"] not in held])
        put(f"{name}.neartopic.jsonl", [dict(q, id=f"near-{q['id']}", expected=[], passage=None, unanswerable=True)
                                        if art_of[q["id"]] in held else q for q in in_test])
        put(f"{lang}.offtopic.articles.jsonl", [a for a in arts if a["id"].rsplit("-", 1)[0] not in test])
        put(f"{name}.offtopic.jsonl", [dict(q, id=f"off-{q['id']}", expected=[], passage=None, unanswerable=True)
                                       for q in in_test])
    arts, qs = convert_squad(load("squad2.dev.computational-complexity.json"), None, "squad2")
    put("squad2.articles.jsonl", arts)
    put("squad2.jsonl", qs)
    (out / "README.md").write_text(XQUAD_SETS_NOTE, "utf-8")
    return written


def _question_articles(data: dict) -> dict[str, str]:
    """question id -> the id `convert_squad` gives its paragraph's article."""
    out = {}
    for di, d in enumerate(data["data"]):
        title = str(d.get("title") or f"article{di}")
        for pi, p in enumerate(d.get("paragraphs", [])):
            for q in p.get("qas", []):
                out[str(q["id"])] = f"{_slug(title)}-{pi}"
    return out


XQUAD_SETS_NOTE = """Written by `python train/make_eval.py` (qa.evaluate.xquad_sets) from ../shared/eval.

XQuAD (Artetxe, Ruder and Yogatama, 2019) and one SQuAD 2.0 dev article (Rajpurkar, Jia and Liang,
2018), CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); these derived files are under
the same license. Only the test split's articles (qa/answers/answer_model.json "about.test_titles") are asked
about; see docs/answers.md for the sets and how to run them.
"""


# ------------------------------------------------------------------------------------- running

AnswerFn = Callable[..., Any]


@dataclass
class Report:
    file: str
    k: int
    questions: int
    index: str
    model: str
    max_words: int | None
    retrieval: list[RetrievalMetrics] = field(default_factory=list)
    answers: AnswerMetrics | None = None
    answers_note: str = ""
    failures: list[Failure] = field(default_factory=list)
    per_question: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        return d


def _query_vectors(questions: Sequence[Question], index: Any, modes: Sequence[Mode],
                   progress: Callable[[str], None] | None) -> tuple[Any, float]:
    """Embed all queries in one batch when the index takes precomputed vectors (much faster than one
    by one); returns (vectors or None, embedding seconds per question)."""
    import inspect

    if not any(m.dense_weight for m in modes) or not hasattr(index, "embedder"):
        return None, 0.0
    try:
        if "query_vector" not in inspect.signature(index.search).parameters:
            return None, 0.0
    except (TypeError, ValueError):
        return None, 0.0
    t0 = time.perf_counter()
    vecs = index.embedder.query([q.query() for q in questions])
    dt = time.perf_counter() - t0
    if progress:
        progress(f"embedded {len(questions)} queries in {dt:.0f} s")
    return vecs, dt / max(1, len(questions))


def run(questions: Sequence[Question], index: Any, k: int, modes: Sequence[Mode],
        answer_fn: AnswerFn | None, progress: Callable[[str], None] | None = None
        ) -> tuple[dict[str, list[Retrieved]], list[Answered]]:
    """Search every question in every mode, and answer it with `answer_fn` (if given)."""
    retrieved: dict[str, list[Retrieved]] = {}
    qvs, embed_share = _query_vectors(questions, index, modes, progress)
    for m in modes:
        rs = []
        for i, q in enumerate(questions, 1):
            kw = {"query_vector": qvs[i - 1]} if qvs is not None and m.dense_weight else {}
            t0 = time.perf_counter()
            ps = index.search(q.query(), k=k, dense_weight=m.dense_weight, lexical_weight=m.lexical_weight, **kw)
            dt = time.perf_counter() - t0 + (embed_share if kw else 0.0)
            rs.append(Retrieved(q.id, tuple(p.text for p in ps), dt))
            if progress and i % 200 == 0:
                progress(f"{m.name}: {i}/{len(questions)} questions searched")
        retrieved[m.name] = rs
    answered: list[Answered] = []
    if answer_fn is not None:
        for i, q in enumerate(questions, 1):
            t0 = time.perf_counter()
            a = answer_fn(q.question, history=list(q.history) or None, k=k, index=index)
            dt = time.perf_counter() - t0
            top = a.passages[0].text if getattr(a, "passages", None) else ""
            answered.append(Answered(q.id, a.text, bool(a.found), top, dt, str(getattr(a, "confidence", "") or "")))
            if progress and i % 100 == 0:
                progress(f"answered {i}/{len(questions)} questions")
    return retrieved, answered


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} ms"


def _short(s: str, n: int = 160) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def format_report(r: Report, max_failures: int = 30) -> str:
    lines = [f"{r.file}: {r.questions} questions, index {r.index} (model {r.model}"
             + (f", max_words {r.max_words}" if r.max_words else "") + f"), k={r.k}, {r.seconds:.0f} s", ""]
    lines.append(f"{'retrieval':<14} {'n':>5} {'hit@1':>7} {'hit@' + str(r.k):>7} {'MRR':>6} {'p50':>7} {'p95':>7}")
    for m in r.retrieval:
        lines.append(f"{m.mode:<14} {m.n:>5} {_pct(m.hit_at_1):>7} {_pct(m.hit_at_k):>7} {m.mrr:>6.3f} "
                     f"{_ms(m.p50_ms):>7} {_ms(m.p95_ms):>7}")
    lines.append("")
    a = r.answers
    if a is None:
        lines.append(f"answers: not measured ({r.answers_note})")
    else:
        lines.append(f"answers: {a.correct}/{a.answerable} answerable right ({_pct(a.accuracy)}); "
                     f"abstention on {a.unanswerable} unanswerable: precision {_pct(a.abstain_precision)} "
                     f"({a.abstained_right}/{a.abstained}), recall {_pct(a.abstain_recall)}; "
                     f"latency p50 {_ms(a.p50_ms)}, p95 {_ms(a.p95_ms)}")
        if a.by_confidence:
            lines.append("answers by confidence (right / found; unanswerable ones count as wrong): " + ", ".join(
                f"{k} {r}/{n} ({_pct(r / n if n else None)})" for k, (n, r) in a.by_confidence.items()))
    if r.failures:
        lines += ["", f"failures ({len(r.failures)}" + (f", first {max_failures}" if len(r.failures) > max_failures else "") + "):"]
        for f in r.failures[:max_failures]:
            lines.append(f"- [{f.question_id}] {f.kind}: {_short(f.question, 100)}")
            if f.answer:
                lines.append(f"    answer: {_short(f.answer)}")
            lines.append(f"    top passage: {_short(f.top_passage) or '(none)'}")
            if f.detail:
                lines.append(f"    {_short(f.detail)}")
    return "\n".join(lines)


def _answer_fn() -> tuple[AnswerFn | None, str]:
    try:
        from .answers.answer import answer
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith("answer"):
            return None, "qa.answer is not available"
        raise
    return answer, ""


def main_eval(args: argparse.Namespace) -> int:
    say = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if getattr(args, "from_squad", None):
        if not args.out:
            raise ValueError("--from-squad needs --out DIR (where to write articles.jsonl and questions.jsonl)")
        if args.file:
            raise ValueError("give either FILE (to evaluate) or --from-squad (to convert), not both")
        na, nq = write_squad(args.from_squad, args.out, getattr(args, "contexts_from", None))
        print(f"wrote {na} articles to {args.out / 'articles.jsonl'} and {nq} questions to "
              f"{args.out / 'questions.jsonl'}; evaluate with: python -m qa eval {args.out / 'questions.jsonl'} "
              f"--articles {args.out / 'articles.jsonl'}")
        return 0
    if getattr(args, "from_feedback", None):
        from .web.feedback import convert

        if not args.out:
            raise ValueError("--from-feedback needs --out DIR (where to write questions.jsonl and to-label.jsonl)")
        nq, nl = convert(args.from_feedback, args.out)
        print(f"wrote {nq} questions to {args.out / 'questions.jsonl'} and {nl} answers to label by hand to "
              f"{args.out / 'to-label.jsonl'}; evaluate with: python -m qa eval {args.out / 'questions.jsonl'}")
        return 0
    if getattr(args, "contexts_from", None):
        raise ValueError("--contexts-from only goes with --from-squad")
    if not args.file:
        raise ValueError("give a question FILE to evaluate, or --from-squad SQUAD --out DIR to convert")
    if args.k < 1:
        raise ValueError(f"-k must be at least 1, got {args.k}")
    try:
        text = args.file.read_text("utf-8")
    except OSError as e:
        raise ValueError(f"{args.file}: cannot read: {e.strerror or e}") from None
    questions = parse_questions(text, str(args.file))
    modes = [parse_mode(s) for s in (getattr(args, "mode", None) or ["dense", "bm25", "fused"])]
    answer_fn, note = (None, "--retrieval-only") if getattr(args, "retrieval_only", False) else _answer_fn()
    max_words = getattr(args, "max_words", None)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        if args.articles:
            from .index.index import Index
            from .ingest.read import load_articles

            for p in args.articles:
                if not p.exists():
                    raise ValueError(f"{p}: no such file or folder")
            arts, skipped = load_articles(args.articles)
            for s in skipped:
                say(f"skipped {s.source}: {s.reason}")
            if not arts:
                raise ValueError("no articles to index in " + ", ".join(map(str, args.articles)))
            kw = {"max_words": max_words} if max_words else {}
            idx = Index(Path(tmp) / "index", args.model, **kw)
            say(f"indexing {len(arts)} articles into a temporary index ...")
            upd = idx.add(arts)
            say(f"embedded {upd.embedded_sentences} sentences of {upd.embedded_chunks} chunks in {upd.seconds:.0f} s")
            where = "temporary from " + ", ".join(map(str, args.articles))
        else:
            if max_words or args.model:
                raise ValueError("--max-words and --model only apply with --articles (a temporary index)")
            from .index.default import get_index

            idx = get_index(args.index)
            where = str(args.index)
        retrieved, answered = run(questions, idx, args.k, modes, answer_fn, say)

    report = Report(file=str(args.file), k=args.k, questions=len(questions), index=where,
                    model=getattr(idx.embedder, "name", str(args.model)), max_words=getattr(idx, "max_words", None),
                    answers_note=note)
    report.retrieval = [retrieval_metrics(m.name, args.k, questions, retrieved[m.name]) for m in modes]
    if answer_fn is not None:
        report.answers = answer_metrics(questions, answered)
    main_mode = "fused" if "fused" in retrieved else modes[-1].name
    report.failures = failures(questions, answered, retrieved[main_mode], args.k)
    by_a = {a.question_id: a for a in answered}
    rmap = {name: {x.question_id: x for x in rs} for name, rs in retrieved.items()}
    for q in questions:
        row: dict[str, Any] = {"id": q.id, "question": q.question, "history": list(q.history),
                               "unanswerable": q.unanswerable, "passage": q.passage}
        for m in modes:
            r = rmap[m.name][q.id]
            row[f"rank[{m.name}]"] = passage_rank(q.passage, r.texts) if q.passage else None
        if q.id in by_a:
            a = by_a[q.id]
            row.update(answer=a.text, found=a.found, correct=is_correct(q, a), confidence=a.confidence,
                       ms=round(a.seconds * 1000, 1))
        report.per_question.append(row)
    report.seconds = time.perf_counter() - t0
    print(format_report(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n", "utf-8")
        print(f"\nfull report: {args.json_out}")
    return 0
