"""BM25: tokens identical to the original implementation, persisted and segmented scoring exact."""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qa.index.bm25 import BM25, SEGMENT_FILES, STOPWORDS, LexicalSegment, fold, stem, tokenize

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_DIRS = [ROOT.parent / "shared" / "eval", ROOT.parent.parent / "shared" / "eval", Path("/work/shared/eval")]


# ---- the original tokenizer (qa/index/bm25.py at 904cd21), kept verbatim as the reference
def old_fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def old_stem(token: str) -> str:
    if token.isdigit() or len(token) <= 4:
        return token
    for suffix in ("ingen", "ing", "en", "es", "s", "e"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def old_tokenize(text: str) -> list[str]:
    return [old_stem(t) for t in re.findall(r"\w+", old_fold(text), re.UNICODE)
            if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def old_scores(texts: list[str], query: str, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """The original single-matrix BM25 score formula."""
    docs = [old_tokenize(t) for t in texts]
    n = len(docs)
    lengths = np.array([len(d) for d in docs], np.float32)
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    out = np.zeros(n, np.float32)
    for term in set(old_tokenize(query)):
        tf = np.array([d.count(term) for d in docs], np.float32)
        df = int((tf > 0).sum())
        if df:
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
            out += np.where(tf > 0, idf * tf * (k1 + 1) / (tf + norm), 0)
    return out


def real_texts() -> list[str]:
    texts = [p.read_text("utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for d in EVAL_DIRS:
        for lang in ("es", "ro"):
            f = d / f"xquad.{lang}.json"
            if f.exists():
                for a in json.loads(f.read_text("utf-8"))["data"][:12]:
                    texts += [p["context"] for p in a["paragraphs"]]
                    texts += [q["question"] for p in a["paragraphs"] for q in p["qas"][:2]]
        if len(texts) > 1:
            break
    return texts


TRICKY = ["Roemenië, Ærø, ﬁnancieel, Ⅻ, x², ½, İstanbul, ǅemal, Å, Zürich, naïve café — São Paulo 2018-04",
          "a b 7 ik ben de 1 2 van ʼt, koningingen, wandelingen, houses, horses, ŞİŞLİ, Ελληνικά, 東京 ١٢٣",
          "x\u0483y \u05b0a\u0301b \u0301 - \u0301x ठि मराठी שָׁלוֹם"]  # marks outside U+0300-036F


def test_tokens_identical_to_original():
    texts = real_texts() + TRICKY
    assert len(texts) > 100, "XQuAD text not found: the comparison needs real multilingual text"
    for t in texts:
        assert fold(t) == old_fold(t)
        assert tokenize(t) == old_tokenize(t), t[:80]
    assert [stem(w) for w in ("koningingen", "wandeling", "huizes", "data")] == \
        [old_stem(w) for w in ("koningingen", "wandeling", "huizes", "data")]


def test_scores_match_original_formula():
    texts = real_texts()[:80]
    bm = BM25()
    bm.add(texts[:30])
    bm.add(texts[30:])
    for q in ("Which countries were involved?", "Wie leidde de actie in Roemenië?", texts[40][:60]):
        np.testing.assert_allclose(bm.scores(q), old_scores(texts, q), rtol=1e-5, atol=1e-6)


def test_saved_and_loaded_scores_equal(tmp_path):
    texts = real_texts()[:60]
    seg = LexicalSegment.build(texts)
    assert sorted(seg.save(tmp_path)) == sorted(SEGMENT_FILES)
    loaded = LexicalSegment.load(tmp_path)
    assert isinstance(loaded.docs, np.memmap)
    mem, disk = BM25(segments=[seg]), BM25(segments=[loaded])
    for q in ("Wie leidde de actie?", texts[7][:80], "niets dat matcht xyzzy"):
        np.testing.assert_array_equal(mem.scores(q), disk.scores(q))
        assert mem.coverage(q, 3.0) == disk.coverage(q, 3.0)
    assert mem.idf(tokenize(texts[3])[0]) == disk.idf(tokenize(texts[3])[0]) > 0


def test_segments_with_deletions_equal_fresh_build(tmp_path):
    texts = real_texts()[:90]
    parts = [texts[:40], texts[40:41], texts[41:]]
    for i, p in enumerate(parts):
        LexicalSegment.build(p).save(tmp_path / str(i))
    rng = np.random.default_rng(3)
    live = rng.random(len(texts)) > 0.3
    multi = BM25(segments=[LexicalSegment.load(tmp_path / str(i)) for i in range(3)], live=live)
    survivors = [t for t, k in zip(texts, live) if k]
    fresh = BM25(segments=[LexicalSegment.build(survivors)])
    merged = BM25(segments=[LexicalSegment.merge(multi.segments, [live[:40], live[40:41], live[41:]])])
    assert len(multi) == len(fresh) == len(merged) == len(survivors)
    queries = ["Wie leidde de actie?", "Which countries were involved?"] + [t[:70] for t in texts[::9]]
    for q in queries:
        got = multi.scores(q)
        assert not got[~live].any()
        np.testing.assert_array_equal(got[live], fresh.scores(q))
        np.testing.assert_array_equal(merged.scores(q), fresh.scores(q))
        rows, sc = multi.top(q, 7)
        frows, fsc = fresh.top(q, 7)
        np.testing.assert_array_equal(np.flatnonzero(live)[frows], rows)
        np.testing.assert_array_equal(fsc, sc)
        assert multi.coverage(q, 2.5) == fresh.coverage(q, 2.5)
    for t in tokenize(" ".join(texts[:5]))[:30]:
        assert multi.idf(t) == fresh.idf(t)


def test_legacy_add_keep_and_top(tmp_path):
    texts = real_texts()[:50]
    bm = BM25()
    for t in texts:  # one document at a time: segments are merged, never a full rebuild
        bm.add([t])
    assert len(bm) == 50 and len(bm.segments) < 10
    mask = np.arange(50) % 3 != 0
    bm.keep(mask)
    fresh = BM25()
    fresh.add([t for t, k in zip(texts, mask) if k])
    q = texts[4][:90]
    np.testing.assert_array_equal(bm.scores(q), fresh.scores(q))
    rows, sc = bm.top(q, 5)
    full = bm.scores(q)
    assert list(sc) == sorted(full, reverse=True)[:5] and (full[rows] == sc).all()
    allowed = np.zeros(bm.n_rows, bool)
    allowed[::2] = True
    rows, _ = bm.top(q, 50, allowed=allowed)
    assert set(rows.tolist()) == set(np.flatnonzero(allowed & (full > 0)).tolist())


def test_top_with_pruning_equals_exhaustive_ranking():
    texts = real_texts()
    bm = BM25(segments=[LexicalSegment.build(texts[:150]), LexicalSegment.build(texts[150:])])
    bm.delete(range(0, len(texts), 7))
    allowed = np.arange(bm.n_rows) % 3 != 1
    queries = [t[:n] for t in texts[::13] for n in (25, 120)] + ["de la que el en los", "Wie leidde de actie?"]
    pruned = 0
    for q in queries:
        full = bm.scores(q)
        for n, mask in ((1, None), (5, None), (20, None), (10, allowed)):
            sc_all = full if mask is None else np.where(mask, full, 0)
            want = [r for r in np.lexsort((np.arange(len(sc_all)), -sc_all)) if sc_all[r] > 0][:n]
            rows, sc = bm.top(q, n, allowed=mask)
            assert rows.tolist() == want, q
            np.testing.assert_array_equal(sc, full[rows])
        pruned += len(bm.top(q, 5)[0]) == 5
    assert pruned > len(queries) // 2


def test_damaged_segment_is_reported(tmp_path):
    LexicalSegment.build(["een twee drie vier", "vijf zes zeven"]).save(tmp_path)
    data = (tmp_path / "bm25.docs.npy").read_bytes()
    (tmp_path / "bm25.docs.npy").write_bytes(data[:-4])
    with pytest.raises(ValueError, match="BM25 segment"):
        LexicalSegment.load(tmp_path)
