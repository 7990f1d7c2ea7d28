"""`qa.evaluate`: question-file parsing, metrics, the SQuAD converter and the `eval` command."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from qa.evaluate import (Answered, Question, Retrieved, answer_metrics, convert_squad, failures, missing_groups,
                         parse_mode, parse_question, parse_questions, passage_rank, percentile,
                         retrieval_metrics, run, sentence_around, write_squad)
from qa.index.fusion import Passage


def _line(**kw) -> str:
    base = {"id": "q", "question": "Who led it?", "expected": [["federaal parket"]], "passage": None,
            "unanswerable": False}
    base.update(kw)
    return json.dumps(base, ensure_ascii=False)


# ------------------------------------------------------------------------------ parsing

def test_parse_questions_reads_fields_defaults_history_and_skips_blank_and_comment_lines():
    text = "\n".join([
        "# a comment",
        _line(id="a", passage="geleid door"),
        "",
        json.dumps({"id": "b", "question": "What is the capital of Japan?", "unanswerable": True}),
        json.dumps({"question": " And who led it? ", "expected": [["parket", "speurteam"]],
                    "history": ["Which countries were involved?"]}),
    ])
    qs = parse_questions(text, "q.jsonl")
    assert [q.id for q in qs] == ["a", "b", "line5"]
    assert qs[0] == Question("a", "Who led it?", (("federaal parket",),), "geleid door", False, ())
    assert qs[1].unanswerable and qs[1].expected == () and qs[1].passage is None
    assert qs[2].question == "And who led it?" and qs[2].expected == (("parket", "speurteam"),)
    assert qs[2].query() == "Which countries were involved? And who led it?"


def test_malformed_json_line_is_reported_with_its_line_number():
    text = _line(id="a") + "\n\n" + '{"id": "b", "question": "x",' + "\n"
    with pytest.raises(ValueError, match=r"^q\.jsonl:3: invalid JSON"):
        parse_questions(text, "q.jsonl")


@pytest.mark.parametrize("obj, message", [
    ([1, 2], "expected a JSON object"),
    ({"id": "x"}, "'question' must be a non-empty string"),
    ({"question": "q", "expected": ["federaal parket"]}, "'expected' must be a list of non-empty lists"),
    ({"question": "q", "expected": [[]]}, "'expected' must be a list of non-empty lists"),
    ({"question": "q", "passage": ""}, "'passage' must be"),
    ({"question": "q", "unanswerable": "yes"}, "'unanswerable' must be true or false"),
    ({"question": "q", "unanswerable": True, "expected": [["a"]]}, "unanswerable question cannot"),
    ({"question": "q", "history": "earlier"}, "'history' must be a list of strings"),
    ({"question": "q", "answer": "a"}, "unknown field"),
])
def test_invalid_records_name_file_line_and_problem(obj, message):
    with pytest.raises(ValueError, match=r"^f\.jsonl:7: .*" + message.replace("[", r"\[")):
        parse_question(obj, "f.jsonl", 7)


def test_duplicate_ids_and_empty_files_are_errors():
    with pytest.raises(ValueError, match=r"f:2: duplicate id 'a' \(first on line 1\)"):
        parse_questions(_line(id="a") + "\n" + _line(id="a"), "f")
    with pytest.raises(ValueError, match="no questions"):
        parse_questions("\n# nothing\n", "f")


# ------------------------------------------------------------------------------ metrics

def test_passage_rank_and_missing_groups_ignore_case_and_whitespace():
    texts = ["Iets anders.", "De actie werd  geleid\ndoor het Belgische Federaal Parket."]
    assert passage_rank("geleid door het belgische federaal parket", texts) == 2
    assert passage_rank("Europol", texts) is None
    answer = "Servers in Bulgarije, Frankrijk en de  Verenigde\nStaten."
    assert missing_groups([["bulgarije"], ["Roemenië"], ["VS", "verenigde staten"]], answer) == [["Roemenië"]]


def test_retrieval_metrics_on_a_hand_made_case():
    qs = [Question("a", "?", passage="alpha"), Question("b", "?", passage="beta"),
          Question("c", "?", passage="gamma"), Question("d", "?", passage="delta"),
          Question("e", "?"),  # no passage: not counted
          Question("f", "?", passage="zeta")]  # rank 3: outside k=2
    rs = [Retrieved("a", ("alpha one", "x")), Retrieved("b", ("x", "the beta")), Retrieved("c", ("x", "y")),
          Retrieved("d", ("Delta",)), Retrieved("e", ("x",)), Retrieved("f", ("x", "y", "zeta"))]
    m = retrieval_metrics("fused", 2, qs, rs)
    assert (m.n, m.hit_at_1, m.hit_at_k) == (5, 2 / 5, 3 / 5)
    assert m.mrr == pytest.approx((1 + 0.5 + 0 + 1 + 0) / 5)


def test_answer_metrics_accuracy_and_abstention_precision_recall():
    qs = [Question("a1", "?", (("parket",),)),
          Question("a2", "?", (("Canada",), ("Verenigde Staten",))),
          Question("a3", "?", (("Canada",), ("Verenigde Staten",))),
          Question("a4", "?", (("Amaq",),)),
          Question("u1", "?", unanswerable=True),
          Question("u2", "?", unanswerable=True)]
    ans = [Answered("a1", "Het federaal parket.", True),
           Answered("a2", "In Canada en de Verenigde Staten.", True),
           Answered("a3", "In Canada.", True),  # one group missing: wrong
           Answered("a4", "Amaq is not covered", False),  # abstained on an answerable one: wrong
           Answered("u1", "The articles do not cover this.", False),  # right
           Answered("u2", "Tokyo.", True)]  # answered an unanswerable one
    m = answer_metrics(qs, ans)
    assert (m.answerable, m.correct, m.accuracy) == (4, 2, 0.5)
    assert (m.unanswerable, m.abstained, m.abstained_right) == (2, 2, 1)
    assert m.abstain_precision == 0.5 and m.abstain_recall == 0.5
    kinds = {f.question_id: f.kind for f in failures(qs, ans, [], 5)}
    assert kinds == {"a3": "wrong answer", "a4": "abstained", "u2": "answered unanswerable"}


def test_metrics_without_questions_of_a_kind_are_none_not_errors():
    m = answer_metrics([Question("a", "?", (("x",),))], [Answered("a", "x", True)])
    assert m.accuracy == 1.0 and m.abstain_precision is None and m.abstain_recall is None
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0 and percentile([1.0, 2.0, 3.0], 95) == 3.0


def test_parse_mode():
    assert (parse_mode("dense").dense_weight, parse_mode("dense").lexical_weight) == (1.0, 0.0)
    assert (parse_mode("bm25").dense_weight, parse_mode("bm25").lexical_weight) == (0.0, 1.0)
    assert parse_mode("2:1").name == "fused 2:1" and parse_mode("2:1").dense_weight == 2.0
    for bad in ("sparse", "0:0", "1-2"):
        with pytest.raises(ValueError, match="--mode"):
            parse_mode(bad)


# ------------------------------------------------------------------------------ run() with stand-ins

@dataclass(frozen=True)
class _Answer:  # the shape of qa.answers.answer.Answer that evaluate relies on
    text: str
    found: bool
    passages: list = field(default_factory=list)
    citations: list = field(default_factory=list)


class _StandInIndex:
    def __init__(self):
        self.calls = []

    def search(self, question, k=5, date_from=None, date_to=None, dense_weight=1.0, lexical_weight=1.0):
        self.calls.append((question, dense_weight, lexical_weight))
        texts = ["De actie werd geleid door het Belgische federaal parket.", "Servers in Canada."]
        return [Passage(text=t, score=1.0, article_id="a", title="t", date=None, chunk_id="a#0", start=0,
                        end=len(t)) for t in texts[:k]]


def test_run_searches_every_mode_and_passes_history_to_the_answer_function():
    idx = _StandInIndex()
    seen = []

    def stand_in(question, history=None, k=5, index=None, date_from=None, date_to=None):
        seen.append((question, history, k, index))
        ps = index.search(question, k=k)
        return _Answer("Het federaal parket. [1]", True, ps) if "led" in question else _Answer("Not covered.", False, ps)

    qs = [Question("a", "And who led it?", (("parket",),), "federaal parket", history=("Which countries?",)),
          Question("u", "Capital of Japan?", unanswerable=True)]
    retrieved, answered = run(qs, idx, 2, [parse_mode("dense"), parse_mode("bm25")], stand_in)
    assert set(retrieved) == {"dense", "bm25"}
    assert ("Which countries? And who led it?", 1.0, 0.0) in idx.calls
    assert ("Which countries? And who led it?", 0.0, 1.0) in idx.calls
    assert seen[0][:3] == ("And who led it?", ["Which countries?"], 2) and seen[1][1] is None
    m = answer_metrics(qs, answered)
    assert (m.accuracy, m.abstain_precision, m.abstain_recall) == (1.0, 1.0, 1.0)
    assert answered[0].top_passage.startswith("De actie")
    assert retrieval_metrics("dense", 2, qs, retrieved["dense"]).hit_at_1 == 1.0


# ------------------------------------------------------------------------------ SQuAD

def _squad(context: str, question: str, answer: str, title: str = "Super_Bowl_50") -> dict:
    return {"version": "1.1", "data": [{"title": title, "paragraphs": [
        {"context": "Eerste alinea zonder vragen.", "qas": []},
        {"context": context, "qas": [{"id": "q1", "question": question,
                                      "answers": [{"text": answer, "answer_start": context.index(answer)}]}]},
    ]}]}


def test_sentence_around_finds_the_sentence_holding_the_answer():
    ctx = "Eerst dit. Het parket leidde de actie in 2018. Daarna dat."
    st = ctx.index("2018")
    assert sentence_around(ctx, st, st + 4) == "Het parket leidde de actie in 2018."
    assert sentence_around(ctx, 0, 5) == "Eerst dit."


def test_convert_squad_one_article_per_paragraph_and_sentence_as_passage():
    ctx = "Los Broncos ganaron. Los Panthers cedieron solo 308 puntos. Fin del partido."
    arts, qs = convert_squad(_squad(ctx, "¿Cuántos puntos?", "308"))
    assert [a["id"] for a in arts] == ["Super_Bowl_50-0", "Super_Bowl_50-1"]
    assert arts[1] == {"id": "Super_Bowl_50-1", "title": "Super Bowl 50", "text": ctx}
    assert qs == [{"id": "q1", "question": "¿Cuántos puntos?", "expected": [["308"]],
                   "passage": "Los Panthers cedieron solo 308 puntos.", "unanswerable": False}]
    parse_question(qs[0])  # the output is valid input


def test_convert_squad_cross_lingual_takes_contexts_and_answers_from_the_other_file():
    es = _squad("Los Panthers cedieron solo 308 puntos. Fin.", "¿Cuántos puntos?", "308")
    ro = _squad("Început. Apărarea Panthers a cedat doar 308 puncte.", "Câte puncte?", "308 puncte")
    arts, qs = convert_squad(es, ro)
    assert arts[1]["text"].startswith("Început.")
    assert qs[0]["question"] == "¿Cuántos puntos?"
    assert qs[0]["expected"] == [["308 puncte"]] and qs[0]["passage"] == "Apărarea Panthers a cedat doar 308 puncte."
    ro["data"][0]["paragraphs"].pop()
    with pytest.raises(ValueError, match="not parallel"):
        convert_squad(es, ro)
    with pytest.raises(ValueError, match="not SQuAD format"):
        convert_squad({"articles": []})


def test_write_squad_writes_articles_questions_and_attribution(tmp_path):
    src = tmp_path / "squad.json"
    src.write_text(json.dumps(_squad("Uno. Dos tres.", "¿Qué?", "tres")), "utf-8")
    assert write_squad(src, tmp_path / "out") == (2, 1)
    lines = (tmp_path / "out" / "articles.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["text"] == "Uno. Dos tres."
    assert parse_questions((tmp_path / "out" / "questions.jsonl").read_text("utf-8"))[0].passage == "Dos tres."
    note = (tmp_path / "out" / "README.md").read_text("utf-8")
    assert "CC BY-SA 4.0" in note and "XQuAD" in note


# ------------------------------------------------------------------------------ the command

def test_eval_command_bad_input_exits_2_with_the_line_number(tmp_path, capsys):
    from qa.cli import main

    f = tmp_path / "q.jsonl"
    f.write_text(_line(id="a") + "\nnot json\n", "utf-8")
    assert main(["eval", str(f), "--articles", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and f"{f}:2: invalid JSON" in err and "\n" not in err
    assert main(["eval"]) == 2
    assert main(["eval", "--from-squad", str(f)]) == 2  # no --out
    assert main(["eval", str(f), "--mode", "sparse"]) == 2
    assert main(["eval", "--from-squad", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2


def test_eval_command_end_to_end_on_a_tiny_temporary_index(tmp_path, capsys):
    """Real default embedder, two one-sentence articles: retrieval table, JSON report, exit 0."""
    from qa.cli import main

    arts = tmp_path / "arts.jsonl"
    arts.write_text(json.dumps({"id": "a", "text": "Het federaal parket leidde de actie."}) + "\n"
                    + json.dumps({"id": "b", "text": "Tokio is de hoofdstad van Japan."}) + "\n", "utf-8")
    qs = tmp_path / "q.jsonl"
    qs.write_text(_line(id="led", question="Wie leidde de actie?", passage="federaal parket") + "\n"
                  + _line(id="jp", question="Wat is de hoofdstad van Japan?", expected=[["Tokio"]],
                          passage="Tokio") + "\n", "utf-8")
    out = tmp_path / "report.json"
    index_dir = tmp_path / "index"
    assert main(["eval", str(qs), "--articles", str(arts), "--retrieval-only", "-k", "1",
                 "--json", str(out), "--index", str(index_dir)]) == 0
    text = capsys.readouterr().out
    assert "hit@1" in text and "dense" in text and "bm25" in text and "fused" in text
    report = json.loads(out.read_text("utf-8"))
    fused = next(m for m in report["retrieval"] if m["mode"] == "fused")
    assert fused["n"] == 2 and fused["hit_at_1"] == 1.0 and fused["mrr"] == 1.0
    assert report["answers"] is None and len(report["per_question"]) == 2
    assert not index_dir.exists()  # --articles never touches the real index
