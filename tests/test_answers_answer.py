"""Answers with citations, with the real default embedder on the shipped article."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qa.answers.answer import NOT_COVERED, Answer, Citation, answer, answer_stream, language, search_text, user_turns

from conftest import COUNTRIES, ROOT


def _check_citations(a: Answer, idx) -> None:
    assert a.citations
    for c in a.citations:
        text = idx.article(c.article_id).text
        assert text[c.start:c.end] == c.sentence
        assert c.sentence in a.text  # quoted verbatim
        assert f"[{c.n}]" in a.text
        assert c.title == idx.article(c.article_id).title and c.date == "2018-04"


@pytest.mark.parametrize("q", ["Which countries were involved?", "Welke landen waren betrokken bij de actie?"])
def test_list_question_names_all_countries(seed_index, q):
    a = answer(q, index=seed_index)
    assert a.found, a.text
    for country in COUNTRIES:
        assert country in a.text, (country, a.text)
    _check_citations(a, seed_index)
    assert a.passages and a.passages[0].article_id == a.citations[0].article_id


def test_off_topic_english_abstains(seed_index):
    a = answer("What is the capital of Japan?", index=seed_index)
    assert not a.found and a.text == NOT_COVERED["en"] and a.citations == ()
    assert a.passages  # the nearest passages are still listed


def test_off_topic_dutch_abstains_in_dutch(seed_index):
    a = answer("Wat is de hoofdstad van Japan?", index=seed_index)
    assert not a.found and a.text == NOT_COVERED["nl"]


@pytest.mark.parametrize("history", [
    ["Which countries were involved?"],
    [("Which countries were involved?", "De actie werd gehouden in ... [1]")],
    [{"role": "user", "content": "Which countries were involved?"}, {"role": "assistant", "content": "..."}],
])
def test_follow_up_uses_the_conversation(seed_index, history):
    assert search_text("And who led it?", history) == "Which countries were involved? And who led it?"
    # The example: the earlier answer (the countries) must not lead the new one.
    a = answer("Wie leidde de actie?", history, index=seed_index)
    assert a.found and "federaal parket" in a.citations[0].sentence, a.text
    _check_citations(a, seed_index)


def test_follow_up_dutch(seed_index):
    a = answer("Wie leidde de actie?", ["Welke landen waren betrokken bij de actie?"], index=seed_index)
    assert a.found and "federaal parket" in a.text


def test_standalone_question_ignores_history(seed_index):
    assert search_text("What is the capital city of Japan?", ["Which countries were involved?"]) == \
        "What is the capital city of Japan?"
    # A short question is searched with the conversation too, but scored on its own.
    a = answer("What is the capital of Japan?", ["Which countries were involved?"], index=seed_index)
    assert not a.found
    assert user_turns(["a", ("b", "x"), {"role": "assistant", "content": "y"}, {"role": "user", "content": "c"}]) == \
        ["a", "b", "c"]


def test_language():
    assert language("Welke landen waren betrokken bij de actie?") == "nl"
    assert language("Wat is de hoofdstad van Japan?") == "nl"
    assert language("Which countries were involved?") == "en"


def test_schema_and_stream(seed_index):
    steps = list(answer_stream("Which countries were involved?", index=seed_index))
    assert len(steps) == 1  # extractive: one piece
    d = steps[0].to_dict()
    assert list(d) == ["question", "answer", "found", "confidence", "score", "citations", "passages"]
    assert d["confidence"] in ("high", "medium", "low") and 0.0 <= d["score"] <= 1.0
    assert set(d["citations"][0]) == {"n", "article", "title", "date", "sentence", "span"}
    json.dumps(d)
    assert isinstance(steps[0].citations[0], Citation)


def test_empty_question(seed_index):
    with pytest.raises(ValueError):
        answer("  ", index=seed_index)


def test_index_as_path_and_lazy_export(seed_index_dir):
    import qa

    a = qa.answer("Which countries were involved?", index=seed_index_dir)
    assert a.found and isinstance(a, qa.Answer)


def test_cli_ask_json(seed_index_dir):
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "-", "--json", "--index", str(seed_index_dir)],
                          input="Which countries were involved?\nWhat is the capital of Japan?\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [x["found"] for x in lines] == [True, False]
    assert "Bulgarije" in lines[0]["answer"] and lines[0]["citations"][0]["span"]
    assert lines[1]["answer"] == NOT_COVERED["en"] and lines[1]["passages"]


def test_cli_ask_text(seed_index_dir, capsys):
    from qa.cli import main

    assert main(["ask", "Welke landen waren betrokken bij de actie?", "--index", str(seed_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "Bulgarije" in out and "[1] " in out and "2018-04" in out


def test_a_new_question_of_two_content_words_is_not_a_follow_up():
    """"What is the capital of Japan?" after a question about the action is a question of its own: it is
    searched alone (it does not inherit the previous topic); elliptic questions still lean on it."""
    from qa.answers.answer import is_follow_up, search_text

    assert not is_follow_up("What is the capital of Japan?")
    assert search_text("What is the capital of Japan?", ["Which countries were involved?"]) == \
        "What is the capital of Japan?"
    assert is_follow_up("And in the Netherlands?") and is_follow_up("Hoeveel?") and is_follow_up("Who led it?")
