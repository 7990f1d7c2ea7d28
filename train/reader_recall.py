"""How many of today's sentence-model candidates must the reader score? Recall of the gold sentence in
the top N, on held-out (dev) questions.

    python train/reader_recall.py [--cache /tmp/qa-train-answer] [--sample 150]

For every dev question (XQuAD es/ro dev titles in the four language settings, eval/crossling dev
articles in the index of all train+dev articles and alone in an index), retrieval at k=5 as in the
product, the candidate sentences and feature rows of qa's answer step (train_answer's code paths),
and the sentence logits of two models:

- "shipped": the shipped qa/answer_model.json (fitted on train AND dev titles: in-sample here);
- "train-only": the same sentence network fitted here on the train titles only (held-out here).

Printed: per set, the share of answerable questions whose gold sentence is among the candidates at
all ("pool"), and within the top N by each model's logit, for N in NS.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "train"))

import train_answer as TA  # noqa: E402
from qa.ingest.chunk import sentence_units  # noqa: E402

NS = (1, 3, 5, 8, 12)


def rows_of(idx, qs: list[dict], qvs: np.ndarray, setting: str) -> list[dict]:
    """The answerable variant of train_answer.collect: retrieval at k=K, candidates, rows and labels."""
    out = []
    for q, qv in zip(qs, qvs):
        ps = idx.search(q["question"], k=TA.K, query_vector=qv)
        if not ps:
            continue
        qi, raw, rows = TA.sentence_rows(idx, q["question"], qv, ps)
        if not raw:
            continue
        golds = [TA._norm(g) for g in q["gold"]]
        labels = np.array([any(g in TA._norm(r[4]) for g in golds) for r in raw], float)
        out.append({"q": q, "setting": setting, "kind": "answerable", "rows": rows, "labels": labels, "qi": qi,
                    "cands": [context_of(idx, r[1], r[2], r[4]) for r in raw]})
    return out


def context_of(idx, article_id: str, start: int, sentence: str) -> tuple[str, str, str]:
    """(title, previous sentence, sentence) of a candidate, as the reader reads it (qa's sentence units)."""
    art = idx.article(article_id)
    prev = ""
    for a, b in sentence_units(art.text):
        if b <= start:
            prev = art.text[a:b]
        else:
            break
    return art.title, prev, sentence


def export(items: list[dict], models: dict, path: Path, top: int = 12) -> None:
    """The dev questions' top candidates by the first model, with every model's logit and the label, as
    JSON lines: what the reader would rerank at run time (train_reader.py scores them)."""
    first = next(iter(models))
    with path.open("w", encoding="utf-8") as f:
        for it in items:
            lg = {name: TA.logits_of(it, m) for name, m in models.items()}
            order = np.argsort(-lg[first], kind="stable")[:top]
            f.write(json.dumps({"id": it["q"]["id"], "setting": it["setting"], "question": it["q"]["question"],
                                "cands": [{"title": it["cands"][j][0], "prev": it["cands"][j][1],
                                           "sentence": it["cands"][j][2], "label": int(it["labels"][j]),
                                           **{name: round(float(lg[name][j]), 4) for name in models}}
                                          for j in order]}, ensure_ascii=False) + "\n")


def gather(cache: Path, sample: int, log) -> list[dict]:
    """Items of the train and dev questions (answerable only); dev sampled to `sample` per setting."""
    data = {lang: TA.xquad(lang) for lang in ("es", "ro")}
    split = TA.split_titles([q["title"] for q in data["es"][1]])
    idx = {lang: TA.build_index(lang, data[lang][0], cache) for lang in data}
    qv = {lang: TA.query_vectors(idx[lang], lang, data[lang][1], cache) for lang in data}
    items: list[dict] = []
    rng = random.Random(TA.SEED)
    for ql, il in (("es", "es"), ("ro", "ro"), ("es", "ro"), ("ro", "es")):
        qs = [dict(q, gold=g["gold"], split=split[q["title"]]) for q, g in zip(data[ql][1], data[il][1])]
        for part in ("train", "dev"):
            keep = [i for i, q in enumerate(qs) if q["split"] == part]
            if part == "dev" and sample and len(keep) > sample:
                keep = sorted(rng.sample(keep, sample))
            t0 = time.time()
            items += rows_of(idx[il], [qs[i] for i in keep], qv[ql][keep], f"{ql}>{il}")
            log(f"{ql}>{il} {part}: {len(keep)} questions in {time.time() - t0:.0f} s")
    c_arts, c_qs = TA.crossling()
    c_qs = [q for q in c_qs if not q["impossible"]]
    digest = hashlib.sha256(json.dumps(c_arts, sort_keys=True).encode()).hexdigest()[:12]
    c_idx = TA.build_index(f"crossling-{digest}", c_arts, cache)
    c_qv = np.asarray(c_idx.embedder.query([q["question"] for q in c_qs]), np.float32)
    items += rows_of(c_idx, c_qs, c_qv, "en<>nl")
    by_art = {a["id"]: a for a in c_arts}
    for aid in sorted(by_art):
        one = TA.build_index(f"single-{digest}/{aid}", [by_art[aid]], cache)
        mine = [i for i, q in enumerate(c_qs) if q["article"] == aid]
        items += rows_of(one, [c_qs[i] for i in mine], c_qv[mine], "en<>nl 1")
    log(f"{len(items)} items")
    return items


def recall_table(items: list[dict], models: dict) -> str:
    """Per setting: pool recall and top-N recall per model."""
    settings = ["es>es", "ro>ro", "es>ro", "ro>es", "en<>nl", "en<>nl 1"]
    head = f"{'set':9} {'n':>4} {'cands':>5} {'pool':>5} | " + " | ".join(
        f"{name}: " + " ".join(f"@{n:<2d}" for n in NS) for name in models)
    lines = [head]
    for st in settings:
        its = [it for it in items if it["setting"] == st]
        if not its:
            continue
        pool = np.mean([it["labels"].max() > 0 for it in its])
        cells = []
        for sent in models.values():
            hit = {n: [] for n in NS}
            for it in its:
                order = np.argsort(-TA.logits_of(it, sent), kind="stable")
                for n in NS:
                    hit[n].append(it["labels"][order[:n]].max() > 0)
            cells.append(" ".join(f"{np.mean(hit[n]) * 100:3.0f}" for n in NS))
        lines.append(f"{st:9} {len(its):4d} {np.median([len(it['labels']) for it in its]):5.0f} {pool * 100:5.1f} | "
                     + " | ".join(" " * (len(name) + 2) + c for name, c in zip(models, cells)))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa-train-answer"))
    ap.add_argument("--sample", type=int, default=0, help="dev questions per XQuAD setting (0: all)")
    ap.add_argument("--export", type=Path, help="write the dev questions' top-12 candidates here (JSON lines)")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    from qa.answers.reader import load_model

    items = gather(args.cache, args.sample, log)
    train = [it for it in items if it["q"]["split"] == "train"]
    dev = [it for it in items if it["q"]["split"] == "dev"]
    t0 = time.time()
    own = TA.fit_sentence_mlp(train, TA.SENTENCE_FEATURES, TA.CROSS_WEIGHT)
    log(f"train-only sentence model fitted on {len(train)} items in {time.time() - t0:.0f} s")
    print(f"recall of the gold sentence in the top N candidates (%), dev questions, k={TA.K} passages")
    models = {"train-only": own, "shipped": load_model().sentence}
    print(recall_table(dev, models))
    if args.export:
        export(dev, models, args.export)
        print(f"wrote {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
