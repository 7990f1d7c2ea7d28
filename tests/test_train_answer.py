"""train/train_answer.py: the network fitting, the folds and the cut-off, on small synthetic data
(the full run needs XQuAD and ~3 minutes; see docs/answers.md)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "train"))
import train_answer as T  # noqa: E402

from qa.answers.reader import SENTENCE_FEATURES, QuestionInfo, scorer_from_dict  # noqa: E402


def _items(n: int, seed: int) -> list[dict]:
    """Questions with 6-12 candidates; the right one has a higher 'cosine' and 'lexical' (noisy)."""
    rng = np.random.default_rng(seed)
    qi = QuestionInfo.of("What was decided?", lambda t: 1.0)
    out = []
    for i in range(n):
        m = int(rng.integers(6, 13))
        rows = rng.normal(size=(m, len(SENTENCE_FEATURES)))
        right = int(rng.integers(m))
        rows[right, SENTENCE_FEATURES.index("cosine")] += 2.0
        rows[right, SENTENCE_FEATURES.index("lexical")] += 1.0
        labels = np.zeros(m)
        labels[right] = 1.0
        out.append({"q": {"title": f"t{i % 13}", "split": "train"}, "setting": "es>es", "kind": "answerable",
                    "rows": rows, "labels": labels, "qi": qi})
    return out


def test_sentence_network_learns_and_round_trips():
    train, held = _items(300, 0), _items(100, 1)
    model = T.fit_sentence_mlp(train, SENTENCE_FEATURES, cross=1.0, hidden=8, members=2)
    top1 = np.mean([it["labels"][int(np.argmax(model.logit(it["rows"])))] for it in held])
    assert top1 > 0.6  # chance is ~1/9
    back = scorer_from_dict(model.to_dict(), SENTENCE_FEATURES)
    assert np.allclose(back.logit(held[0]["rows"]), model.logit(held[0]["rows"]), atol=1e-3)


def test_answer_network_separates():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(float)
    model = T.fit_answer_mlp(X[:400], y[:400], np.ones(400), ("a", "b", "c"), hidden=4, members=2)
    p = model.proba(X[400:])
    assert np.mean((p > 0.5) == (y[400:] > 0)) > 0.85
    assert ((p > 0) & (p < 1)).all()


def test_folds_keep_an_article_together_and_cut_off_meets_its_recall():
    items = _items(130, 3)
    fold = T.fold_of(items)
    by_title: dict[str, set[int]] = {}
    for it, f in zip(items, fold):
        by_title.setdefault(it["q"]["title"], set()).add(f)
    assert all(len(fs) == 1 for fs in by_title.values()) and set(fold) == set(range(T.FOLDS))
    score = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9])
    kinds = np.array(["near", "near", "near", "answerable", "near", "answerable", "answerable"])
    t = T.cut_off(score, kinds, 0.75)
    assert np.mean(score[kinds == "near"] < t) >= 0.75 and t == pytest.approx(0.30, abs=0.011)  # 3 of 4 refused


def test_crossling_weight_is_shared_between_the_two_indexes():
    # The en<->nl questions are asked twice (index of all articles, and each article alone): together
    # they weigh CROSS_WEIGHT, as one setting did before; XQuAD items weigh 1.
    many, alone, xquad = ({"setting": s} for s in ("en<>nl", "en<>nl 1", "es>ro"))
    assert T.weight(many, 8.0) + T.weight(alone, 8.0) == pytest.approx(8.0)
    assert T.weight(alone, 8.0) == pytest.approx(8.0 * T.SINGLE_SHARE) and T.weight(xquad, 8.0) == 1.0


def test_answerable_and_unanswerable_count_alike_in_every_setting():
    # XQuAD-like: two unanswerable variants per answerable question; one article alone: fewer
    # unanswerables than answerables. Each setting's two sides weigh the same.
    items = ([{"kind": "answerable", "setting": "es>es"}] * 4 + [{"kind": "near", "setting": "es>es"}] * 4
             + [{"kind": "off", "setting": "es>es"}] * 4
             + [{"kind": "answerable", "setting": "en<>nl 1"}] * 6 + [{"kind": "near", "setting": "en<>nl 1"}] * 2)
    w = T.balanced(items)
    kinds = np.array([it["kind"] for it in items])
    settings = np.array([it["setting"] for it in items])
    for st in ("es>es", "en<>nl 1"):
        yes, no = (settings == st) & (kinds == "answerable"), (settings == st) & (kinds != "answerable")
        assert w[yes].sum() == pytest.approx(w[no].sum())
    assert w[(settings == "es>es") & (kinds == "near")][0] == pytest.approx(0.5)
