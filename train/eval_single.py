"""eval/crossling questions asked of their article alone: one index per article (a folder holding one story).

    python train/eval_single.py [test|dev|train] [--model qa/answers/answer_model.json] [--cache /tmp/qa-eval-single]

Prints the `qa eval` answer figures (answers right, "not covered" precision / recall, answers by
confidence). In an index of one article every sentence is on topic, so its written unanswerables are
near-topic misses of the hardest kind; this is the condition of the shipped seed article.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from train_answer import CROSSLING, build_index  # also puts the repository on sys.path

from qa.answers.answer import answer
from qa.evaluate import Answered, _pct, answer_metrics, parse_questions
from qa.answers.reader import MODEL_FILE, load_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", nargs="?", default="test", choices=("train", "dev", "test"))
    ap.add_argument("--model", type=Path, default=MODEL_FILE, help="answer model JSON (default: the shipped one)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa-eval-single"), help="the one-article indexes")
    args = ap.parse_args()
    model = load_model(args.model)
    # answer() reads the shipped model; this script may be asked about another one.
    sys.modules["qa.answers.answer"].load_model = lambda *_: model
    arts = {a["id"]: a for a in map(json.loads, (CROSSLING / "articles.jsonl").read_text("utf-8").splitlines())}
    questions = parse_questions((CROSSLING / f"{args.part}.jsonl").read_text("utf-8"), f"{args.part}.jsonl")
    by_article: dict[str, list] = {}
    for q in questions:
        by_article.setdefault(q.id.rsplit("-", 1)[0], []).append(q)  # eval/crossling ids are <article>-<n>
    answered = []
    for aid, qs in by_article.items():
        idx = build_index(aid, [arts[aid]], args.cache)  # cached as <cache>/ix_<article>
        for q in qs:
            a = answer(q.question, index=idx)
            answered.append(Answered(q.id, a.text, a.found, "", 0.0, a.confidence))
    m = answer_metrics(questions, answered)
    print(f"eval/crossling {args.part}, each article alone in its index ({len(questions)} questions, model {args.model})")
    print(f"answers: {m.correct}/{m.answerable} answerable right ({_pct(m.accuracy)}); abstention on {m.unanswerable} "
          f"unanswerable: precision {_pct(m.abstain_precision)} ({m.abstained_right}/{m.abstained}), "
          f"recall {_pct(m.abstain_recall)}")
    print("answers by confidence (right / found): " + ", ".join(f"{k} {r}/{n}" for k, (n, r) in m.by_confidence.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
