"""The held-out unanswerable sets (qa.evaluate.xquad_sets) and the confidence figures of `qa eval`."""
from __future__ import annotations

import json

from qa.evaluate import Answered, Question, answer_metrics, format_report, parse_questions, Report, xquad_sets


def _squad(title_texts: dict[str, list[str]], impossible: bool = False) -> dict:
    data = []
    for title, paras in title_texts.items():
        ps = []
        for pi, ctx in enumerate(paras):
            ans = ctx.split()[-1].strip(".")
            ps.append({"context": ctx, "qas": [
                {"id": f"{title}-{pi}-q", "question": f"What about {title} {pi}?",
                 "answers": [] if impossible else [{"text": ans, "answer_start": ctx.index(ans)}],
                 **({"is_impossible": True} if impossible else {})}]})
        data.append({"title": title, "paragraphs": ps})
    return {"version": "1.1", "data": data}


def test_xquad_sets_hold_out_paragraphs_of_test_articles(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    texts = {t: [f"Paragraph {i} of {t} says word{i}." for i in range(4)] for t in ("Alpha", "Beta", "Gamma")}
    for lang in ("es", "ro"):
        (shared / f"xquad.{lang}.json").write_text(json.dumps(_squad(texts)), "utf-8")
    (shared / "squad2.dev.computational-complexity.json").write_text(json.dumps(_squad({"C": ["x y."]}, True)))
    out = tmp_path / "sets"
    written = xquad_sets(shared, out, ["Beta"])
    assert written["es.articles.jsonl"] == 12 and written["es.test.jsonl"] == 4
    near_arts = {json.loads(x)["id"] for x in (out / "es.neartopic.articles.jsonl").read_text().splitlines()}
    assert "Beta-0" not in near_arts and "Beta-2" not in near_arts and {"Beta-1", "Beta-3", "Alpha-0"} <= near_arts
    near = parse_questions((out / "es-ro.neartopic.jsonl").read_text(), "near")
    assert [q.unanswerable for q in near] == [True, False, True, False]
    assert all(q.id.startswith("near-") for q in near if q.unanswerable)
    off = parse_questions((out / "ro.offtopic.jsonl").read_text(), "off")
    assert all(q.unanswerable for q in off) and len(off) == 4
    off_arts = (out / "ro.offtopic.articles.jsonl").read_text()
    assert "Beta-" not in off_arts and "Alpha-0" in off_arts
    assert parse_questions((out / "squad2.jsonl").read_text())[0].unanswerable
    assert "CC BY-SA" in (out / "README.md").read_text()


def test_answers_by_confidence():
    qs = [Question("a", "q?", (("x",),)), Question("b", "q?", (("y",),)), Question("c", "q?", unanswerable=True)]
    ans = [Answered("a", "x", True, confidence="high"), Answered("b", "z", True, confidence="high"),
           Answered("c", "z", True, confidence="low")]
    m = answer_metrics(qs, ans)
    assert m.by_confidence == {"high": (2, 1), "low": (1, 0)}
    r = Report(file="f", k=5, questions=3, index="i", model="m", max_words=None, answers=m)
    assert "high 1/2 (50.0%)" in format_report(r)
