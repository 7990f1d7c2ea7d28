"""Write the held-out evaluation sets (XQuAD test split: answerable, near-topic, off-topic; SQuAD 2.0).

    python train/make_eval.py [--shared ../shared/eval] [--out eval/xquad]

The test titles are the ones the shipped model was not trained or tuned on (qa/answers/answer_model.json,
"about.test_titles"). Run them with `qa eval`, e.g.

    python -m qa eval eval/xquad/es.neartopic.jsonl --articles eval/xquad/es.neartopic.articles.jsonl --mode fused
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import xquad_sets  # noqa: E402
from qa.answers.reader import MODEL_FILE  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "xquad")
    args = ap.parse_args()
    if not (args.shared / "xquad.es.json").exists() and Path("/work/shared/eval/xquad.es.json").exists():
        args.shared = Path("/work/shared/eval")
    titles = json.loads(MODEL_FILE.read_text("utf-8"))["about"]["test_titles"]
    for name, n in xquad_sets(args.shared, args.out, titles).items():
        print(f"{args.out / name}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
