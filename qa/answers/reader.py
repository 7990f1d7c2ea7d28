"""Features of candidate answer sentences and the small learned model that scores them.

Two small models (`Mlp`: ensembles of one-hidden-layer networks; `Logistic` for a linear model),
fitted by `train/train_answer.py` and shipped as readable JSON (`qa/answers/answer_model.json`), run here in
numpy:

- the *sentence* model: how likely a sentence of the retrieved passages holds the answer;
- the *answer* model: how likely the best sentence(s) answer the question at all, i.e. the
  probability that the quoted answer is right. It decides abstention and confidence.

Only language-neutral rules live here (and in `qa.ingest.lang`): function words to tell nl/en/de/es/fr/ro
apart, Dutch/German "ge-" participles for word overlap, and question words of those languages for the kind of answer asked for (number, date, person,
place, list). Nothing is tuned to particular articles.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..index.bm25 import fold, tokenize
from ..ingest.lang import LANGUAGES, language  # noqa: F401  (re-exported: qa.answers.reader.language)

MODEL_FILE = Path(__file__).with_name("answer_model.json")

# ------------------------------------------------------------------------- question types
_QTYPES = {
    "num": r"how (many|much|long|old|far|big|large)|what (number|percentage|proportion|amount)|hoeveel|hoe (lang|oud|"
           r"groot|ver|veel)|welk percentage|wie (viele?|lange|alt|hoch|gro(ß|ss))|cu[aá]nt[oa]s?|qu[eé] (porcentaje|"
           r"cantidad|n[uú]mero)|combien|quel (pourcentage|nombre)|c[aâ](t|ți|ţi|te)\b|ce (procent|num[aă]r)",
    "date": r"when|what (year|century|decade|date|day|month|time)|in which year|wanneer|(in )?welk(e)? (jaar|eeuw|"
            r"datum|dag|maand)|wann|in welchem jahr|cu[aá]ndo|(en )?qu[eé] (a[nñ]o|siglo|fecha|d[ií]a|mes)|quand|"
            r"(en )?quel(le)? (ann[ée]e|si[èe]cle|date|jour|mois)|c[aâ]nd|([îi]n )?ce (an|secol|dat[aă]|zi|lun[aă])",
    "who": r"who|whom|whose|wie|wer|wem|wessen|qui[eé]n(es)?|qui|cine|c[aă]rui|c[aă]rei",
    "where": r"where|waar|wo(her|hin)?|d[oó]nde|o[uù]|unde",
    "list": r"(which|what) (?!(is|was|does|has|happens|causes)\b)\w{3,}s\b|welke \w+|welche \w+|cu[aá]les|"
            r"qu[eé] (?!(es|fue|son|era|hace|hizo)\b)\w{3,}s\b|quel(le)?s \w+|ce \w{3,}(ii|ele)\b|care (sunt|au fost)|"
            r"list|name (the|all)|noem",
}
_QTYPE_RX = {t: re.compile(r"(?<!\w)(" + rx + r")(?!\w)", re.I) for t, rx in _QTYPES.items()}


@lru_cache(maxsize=4096)
def question_types(question: str) -> frozenset[str]:
    """The kinds of answer a question asks for: num, date, who, where, list (any number of them)."""
    q = question.lower()
    out = {t for t, rx in _QTYPE_RX.items() if rx.search(q)}
    if "who" in out and language(question) == "de" and re.search(r"(?<!\w)wie(?!\w)", q) and \
            not re.search(r"(?<!\w)(wer|wem|wessen)(?!\w)", q):
        out.discard("who")  # German "wie" is "how"
    return frozenset(out)


# ------------------------------------------------------------------------- sentence evidence
_MONTHS = ("jan(uary|uari|uar|vier|uarie)?|feb(ruary|ruari|ruar|rero|rier|ruarie)?|m(arch|aart|ärz|arzo|ars|artie)|"
           "apr(il|ile|ilie)|ma(y|i|yo|i)|jun(e|i|io|ie)|jul(y|i|io|illet|ie)|aug(ust|ustus|usto|ust)|ao[uû]t|"
           "sep(tember|tiembre|tembre|tembrie)|o(ctober|ktober|ctubre|ctobre|ctombrie)|nov(ember|iembre|embre|embrie)|"
           "d(ecember|ezember|iciembre|écembre|ecembrie)")
#: Days and relative days of nl/en/de/es/fr/ro: news answers "when" with them as often as with dates.
_DAYS = ("monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|tonight|"
         "maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|gisteren|eergisteren|vandaag|morgen|vannacht|"
         "montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|gestern|heute|"
         "lunes|martes|miércoles|jueves|viernes|sábado|domingo|ayer|hoy|mañana|"
         "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|aujourd'hui|demain|"
         "luni|marți|marţi|miercuri|joi|vineri|sâmbătă|duminică|ieri|azi|astăzi|mâine")
_DATE = re.compile(r"(?<!\d)(1\d\d\d|20\d\d)(?!\d)|(?<!\w)(" + _MONTHS + r")(?!\w)|(?<!\w)(1[0-9]|20|21)(th|e|de|º|st)?"
                   r" (century|eeuw|jahrhundert|siglo|si[eè]cle|secol)|(?<!\w)(" + _DAYS + r")\w*(?!\w)|"
                   r"(?<![\d.,:])([01]?\d|2[0-3])([.:h][0-5]\d)?\s?(uur|u|h|uhr|am|pm|a\.m\.|p\.m\.)(?!\w)|"
                   r"(?<![\d.,:])([01]?\d|2[0-3]):[0-5]\d(?![\d:])", re.I)
_NUMBER = re.compile(r"\d|(?<!\w)(two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|"
                     r"million|billion|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|honderd|duizend|miljoen|"
                     r"miljard|zwei|drei|fünf|sechs|sieben|neun|zehn|hundert|tausend|dos|tres|cuatro|cinco|"
                     r"seis|siete|ocho|nueve|diez|cien|mil|millones|deux|trois|quatre|cinq|sept|huit|neuf|dix|cent|"
                     r"mille|doi|trei|patru|cinci|șase|șapte|opt|nouă|zece|sută|mii|milioane)(?!\w)", re.I)
_CAP = re.compile(r"(?<![.!?]\s)(?<!^)(?<!\w)[A-ZÀ-ÖØ-ÞĂÂÎȘȚŞŢ][\w'’-]+")
_ITEM = re.compile(r"[A-ZÀ-ÖØ-ÞĂÂÎȘȚŞŢ][\w'’-]+(?:\s+[A-ZÀ-ÖØ-ÞĂÂÎȘȚŞŢ][\w'’-]+)*\s*(?:,|\s(?:en|and|und|y|et|și|"
                   r"si|or|of|o|ou|sau)\s)")


def new_names(q: "QuestionInfo", sentence: str) -> int:
    """Capitalised words inside `sentence` (not its first word) that the question does not contain."""
    return sum(1 for c in _CAP.findall(sentence) if fold(c) not in q.caps)


def list_items(sentence: str) -> int:
    """How many capitalised items a sentence enumerates ("A, B, C en D" -> 4)."""
    return len(_ITEM.findall(sentence)) + 1


#: Letters two words must share at the start to count as the same word (see _matches).
PREFIX = 6
#: The shortest stem _matches compares by prefix ("leid" of "geleid", "acti" of "actief").
SHORT_STEM = 4


@lru_cache(maxsize=65536)
def _tokens(text: str) -> frozenset[str]:
    toks = tokenize(text)
    # Dutch and German past participles carry a "ge-" prefix ("geleid", "gewonnen"): also keep the
    # form without it, so "leidde" finds "geleid" (see _matches).
    return frozenset(toks + [t[2:] for t in toks if t.startswith("ge") and len(t) >= 6])


def _matches(term: str, tokens: frozenset[str]) -> bool:
    """Exact, the same first PREFIX letters, or one a prefix of the other that is at most 2 letters
    longer (stems of 4+ letters): a crude stemmer that works across the inflections of Romance and
    Germanic languages alike ("publicaron" ~ "publicaciones", "geleid" ~ "geleide", "leidd" ~ "leid")."""
    if term in tokens:
        return True
    if len(term) < SHORT_STEM:
        return False
    head = term[:PREFIX]
    for u in tokens:
        if len(term) >= PREFIX and u[:PREFIX] == head:
            return True
        short, long_ = (term, u) if len(term) <= len(u) else (u, term)
        if len(short) >= SHORT_STEM and len(long_) - len(short) <= 2 and long_.startswith(short):
            return True
    return False


@dataclass(frozen=True)
class QuestionInfo:
    """What the features need to know about a question, computed once."""

    text: str
    lang: str
    types: frozenset[str]
    terms: tuple[tuple[str, float], ...]  # content tokens with idf weights
    numbers: frozenset[str]
    caps: frozenset[str]
    unseen: float  # share of the content tokens that no indexed article contains

    @classmethod
    def of(cls, question: str, idf) -> "QuestionInfo":
        toks = list(dict.fromkeys(tokenize(question)))
        known = {t: float(idf(t)) for t in toks}
        # A word no article contains is as rare as it gets: it weighs like the rarest known one.
        rare = max(known.values(), default=0.0) or 1.0
        unseen = sum(1 for w in known.values() if w <= 0) / len(toks) if toks else 0.0
        return cls(question, language(question), question_types(question),
                   tuple((t, w if w > 0 else rare) for t, w in known.items()),
                   frozenset(re.findall(r"\d+", question)),
                   frozenset(fold(c) for c in re.findall(r"[A-ZÀ-ÖØ-Þ][\w'’-]+", question)), unseen)


def lexical_overlap(q: "QuestionInfo", text: str) -> tuple[float, float]:
    """(idf-weighted share of the question's content words in `text`, largest matched idf / 10)."""
    toks = _tokens(text)
    total = sum(w for _, w in q.terms) or 1.0
    matched = [w for t, w in q.terms if _matches(t, toks)]
    return sum(matched) / total, max(matched, default=0.0) / 10.0


SENTENCE_FEATURES = (
    "cosine", "cosine_gap", "cosine_rank", "lexical", "lexical_gap", "lexical_max_idf", "neighbour_lexical",
    "cosine_x_lexical", "novelty", "passage_rank", "passage_score", "cross_language", "cross_x_cosine", "words",
    "num_q", "num_new", "date_q", "date_in", "who_q", "caps_new", "where_q", "list_q", "list_items",
    "context_lexical", "neighbour_cosine", "cosine_z", "lexical_rank",
)


def sentence_features(q: QuestionInfo, text: str, cosine: float, best_cosine: float, cosine_rank: int,
                      lexical: tuple[float, float], best_lexical: float, neighbour_lexical: float,
                      passage_rank: int, passage_score: float, context_lexical: float,
                      neighbour_cosine: float, cosine_z: float, lexical_rank: int) -> list[float]:
    """One candidate sentence's feature row, in SENTENCE_FEATURES order."""
    toks = _tokens(text)
    qtoks = {t for t, _ in q.terms}
    novelty = (sum(1 for t in toks if t not in qtoks) / len(toks)) if toks else 0.0
    cross = float(language(text) != q.lang)
    nums = set(re.findall(r"\d+", text)) - q.numbers
    num_new = float(bool(nums) or bool(_NUMBER.search(re.sub(r"\d", "", text))))
    caps_new = new_names(q, text)
    t = q.types
    lex, lex_max = lexical
    return [cosine, cosine - best_cosine, math.log1p(cosine_rank), lex, lex - best_lexical, lex_max,
            neighbour_lexical, cosine * lex, novelty, math.log1p(passage_rank), passage_score, cross, cross * cosine,
            math.log1p(len(text.split())), float("num" in t), float("num" in t) * num_new, float("date" in t),
            float("date" in t) * float(bool(_DATE.search(text))), float("who" in t),
            float(bool(t & {"who", "where", "list"})) * min(caps_new, 4) / 4, float("where" in t), float("list" in t),
            float("list" in t) * min(list_items(text), 6) / 6, context_lexical,
            # A sentence right after (or before) one that matches the question often holds its answer
            # ("It is also known as the plastome." after the sentence about chloroplast DNA).
            neighbour_cosine - cosine, cosine_z, math.log1p(lexical_rank)]


ANSWER_FEATURES = (
    "p1_logit", "p2_logit", "margin", "cosine1", "contrast", "lexical1", "lexical_best", "passage_score1",
    "passage_dense1", "cross_language1", "typed", "n_terms", "num_missing", "date_missing", "cross_x_lexical_best",
    "coverage",
)


def answer_features(q: QuestionInfo, rows: np.ndarray, logits: np.ndarray, order: np.ndarray,
                    passage_score: float, passage_dense: float) -> list[float]:
    """The question-level feature row: is the best sentence an answer at all?"""
    f = {n: i for i, n in enumerate(SENTENCE_FEATURES)}
    b = order[0]
    l1 = float(logits[b])
    l2 = float(logits[order[1]]) if len(order) > 1 else l1 - 5.0
    cos = rows[:, f["cosine"]]
    top = np.sort(cos)[::-1][:10]
    typed = max(rows[b, f["num_new"]], rows[b, f["date_in"]], rows[b, f["caps_new"]], rows[b, f["list_items"]])
    return [l1, l2, l1 - l2, float(cos[b]), float(cos[b] - top.mean()), float(rows[b, f["lexical"]]),
            float(rows[:, f["lexical"]].max()), passage_score, passage_dense, float(rows[b, f["cross_language"]]),
            float(typed), math.log1p(len(q.terms)), float(rows[b, f["num_q"]] > 0 and rows[b, f["num_new"]] == 0),
            float(rows[b, f["date_q"]] > 0 and rows[b, f["date_in"]] == 0),
            # A cross-language question whose words still occur in the passages (Spanish on Romanian)
            # is judged like a same-language one; one with no shared words (English on Dutch) is not.
            float(rows[b, f["cross_language"]]) * float(rows[:, f["lexical"]].max()),
            # A near-topic question asks for something the passages never name ("Which company built
            # it?" of a story that names no company): some of its words are missing from every passage
            # although the topic's words are there.
            float(rows[:, f["context_lexical"]].max())]


def type_penalty(q: QuestionInfo, rows: np.ndarray) -> np.ndarray:
    """Added to the sentence logits: a "how many" question is answered by a sentence holding a number
    that the question does not (the rest drop behind); with none among the candidates, all drop."""
    if "num" not in q.types:
        return np.zeros(len(rows))
    return np.where(rows[:, SENTENCE_FEATURES.index("num_new")] > 0, 0.0, -TYPE_PENALTY)


#: How far (in logits) a sentence without the asked-for number falls behind.
TYPE_PENALTY = 8.0


# ------------------------------------------------------------------------- the model
def _check_features(d: dict, expected: Sequence[str]) -> None:
    if tuple(d["features"]) != tuple(expected):
        raise ValueError(f"{MODEL_FILE}: model features {d['features']} do not match the code's {list(expected)}; "
                         "retrain with: python train/train_answer.py")


@dataclass(frozen=True)
class Logistic:
    """A standardised logistic regression: p = sigmoid(((x - mean) / scale) . coef + intercept)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def to_dict(self) -> dict:
        return {"kind": "logistic", "features": list(self.features), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
                "intercept": round(float(self.intercept), 6)}

    @classmethod
    def from_dict(cls, d: dict, expected: Sequence[str]) -> "Logistic":
        _check_features(d, expected)
        return cls(tuple(d["features"]), np.asarray(d["mean"], float), np.asarray(d["scale"], float),
                   np.asarray(d["coef"], float), float(d["intercept"]))


@dataclass(frozen=True)
class Mlp:
    """A small ensemble of one-hidden-layer networks on standardised features; the logit is the members'
    mean: logit = mean_m(relu(z @ W1_m + b1_m) @ w2_m + b2_m), z = (x - mean) / scale.

    Why a network and not a linear model: the signals interact (a high cosine means less across languages;
    word overlap matters less when the best sentence is found by meaning). Why an ensemble: members
    trained from different seeds disagree by 1-2 points on dev; their mean does not."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    members: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, float], ...]  # (W1 [f, h], b1 [h], w2 [h], b2)

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(np.asarray(x, float)) - self.mean) / self.scale
        return np.mean([np.maximum(z @ w1 + b1, 0.0) @ w2 + b2 for w1, b1, w2, b2 in self.members], axis=0)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def to_dict(self) -> dict:
        r = lambda a: np.round(np.asarray(a, float), 5).tolist()  # noqa: E731
        return {"kind": "mlp", "features": list(self.features), "mean": r(self.mean), "scale": r(self.scale),
                "members": [{"W1": r(w1), "b1": r(b1), "w2": r(w2), "b2": round(float(b2), 5)}
                            for w1, b1, w2, b2 in self.members]}

    @classmethod
    def from_dict(cls, d: dict, expected: Sequence[str]) -> "Mlp":
        _check_features(d, expected)
        members = tuple((np.asarray(m["W1"], float), np.asarray(m["b1"], float), np.asarray(m["w2"], float),
                         float(m["b2"])) for m in d["members"])
        return cls(tuple(d["features"]), np.asarray(d["mean"], float), np.asarray(d["scale"], float), members)


Scorer = Union[Logistic, Mlp]


def scorer_from_dict(d: dict, expected: Sequence[str]) -> Scorer:
    """A Logistic or an Mlp, by the "kind" the file records."""
    return Mlp.from_dict(d, expected) if d.get("kind") == "mlp" else Logistic.from_dict(d, expected)


@dataclass(frozen=True)
class Model:
    """Both regressions and the score cut-offs: answer when score >= found; "high" >= high; "medium" >= medium."""

    sentence: Scorer
    answer: Scorer
    found: float
    high: float
    medium: float
    second: float  # a second sentence is quoted when its probability is at least this share of the best one's

    def to_dict(self) -> dict:
        return {"sentence": self.sentence.to_dict(), "answer": self.answer.to_dict(),
                "thresholds": {"found": self.found, "high": self.high, "medium": self.medium, "second": self.second}}


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> Model:
    """The shipped model (qa/answers/answer_model.json)."""
    try:
        d = json.loads(Path(path).read_text("utf-8"))
    except OSError as e:
        raise ValueError(f"{path}: cannot read the answer model ({e.strerror or e}); "
                         "reinstall qa or retrain with: python train/train_answer.py") from None
    t = d["thresholds"]
    return Model(scorer_from_dict(d["sentence"], SENTENCE_FEATURES), scorer_from_dict(d["answer"], ANSWER_FEATURES),
                 float(t["found"]), float(t["high"]), float(t["medium"]), float(t["second"]))
