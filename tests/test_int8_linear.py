"""Decoding from packed int8 rows (``seq2seq_lab/int8_linear.py``) gives the numbers the float32 weights give.

The packed path reads W = diag(s)·Q as float16 integers Q, exact, and scales after the product: only the order of
float32 rounding differs from ``F.linear``, so outputs agree to ~1e-6 relatively, translations are the same, and
scores agree to ~1e-5 nats. It is taken only for inference on the CPU; gradients, training, a changed or converted
weight and copies use W.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import build_translator
from torch import nn
from torch.nn import functional as F

from seq2seq_lab import checkpoint, int8_linear
from seq2seq_lab.corpus import load_everyday
from seq2seq_lab.translator import Translator

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
needs_fbgemm = pytest.mark.skipif(not int8_linear.available(), reason="FBGEMM's fp16 kernel does not run on this CPU")


def int8_layer(rows: int, cols: int, bias: bool = True) -> nn.Linear:
    """A linear layer whose weight is what an int8 file gives back: Q · s, s in float16."""
    layer = nn.Linear(cols, rows, bias=bias)
    q, scale = checkpoint.quantize_rows(layer.weight.detach())
    with torch.no_grad():
        layer.weight.copy_(q.float() * scale.float())
    return layer.eval()                                           # packed for inference only


def test_int8_rows_recovers_the_stored_integers_and_scales_exactly():
    weight = torch.randn(300, 64)
    q, scale = checkpoint.quantize_rows(weight)
    found = int8_linear.int8_rows(q.float() * scale.float())
    assert found is not None
    assert torch.equal(found[0], q.float()) and torch.equal(found[1], scale.float().squeeze(1))


def test_a_float_weight_or_a_zero_row_is_handled():
    assert int8_linear.int8_rows(torch.randn(8, 8)) is None                     # trained in float: not int8 rows
    assert int8_linear.int8_rows(torch.randn(8, 8).half()) is None              # not float32
    zero_row = torch.zeros(3, 4)
    zero_row[1] = torch.tensor([127.0, -3.0, 0.0, 5.0]) * 0.5
    q, scale = int8_linear.int8_rows(zero_row)
    assert torch.equal(q * scale[:, None], zero_row) and scale[0] == 1


@needs_fbgemm
@pytest.mark.parametrize("rows, bias", [(1, True), (5, True), (12, False)])
def test_a_packed_layer_gives_what_the_float_layer_gives(rows, bias):
    layer = int8_layer(500, 256, bias)
    x = torch.randn(rows, 256)
    with torch.no_grad():
        expected = F.linear(x.double(), layer.weight.double(), None if layer.bias is None else layer.bias.double())
        plain = layer(x)
        assert int8_linear.pack(layer) == 1 and isinstance(layer, int8_linear.PackedLinear)
        assert layer.use_packed(x)
        found = layer(x)
    # both float32 sums are within ~1e-5 of the exact (float64) product; the packed one is no worse than
    # 3× the plain one's own error (an unscaled or mis-scaled product is off by orders of magnitude)
    plain_error = (plain.double() - expected).abs().max().item()
    assert (found.double() - expected).abs().max().item() <= max(3 * plain_error, 1e-5)
    assert found.shape == plain.shape


@needs_fbgemm
def test_a_packed_layer_takes_three_dimensional_input():
    layer = int8_layer(64, 32)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        plain = layer(x)
        int8_linear.pack(layer)
        assert torch.allclose(layer(x), plain, atol=1e-5)


@needs_fbgemm
def test_gradients_and_a_changed_weight_use_the_float_weights():
    layer = int8_layer(16, 8)
    int8_linear.pack(layer)
    x = torch.randn(3, 8, requires_grad=True)
    layer(x).sum().backward()                                  # grad enabled: the float path, so gradients flow
    assert layer.weight.grad is not None and x.grad is not None
    with torch.no_grad():
        assert layer.use_packed(x)
        layer.weight.mul_(2.0)                                 # an in-place update: the packed copy is stale
        assert not layer.use_packed(x)
        assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias))

    fresh = int8_layer(16, 8)
    int8_linear.pack(fresh)
    other = torch.randn(16, 8)
    while other._version < fresh.packed.version:               # a new tensor at the very version packed
        other.add_(0.0)
    with torch.no_grad():
        fresh.weight.data = other
        assert fresh.weight._version == fresh.packed.version and not fresh.use_packed(x)
        assert torch.allclose(fresh(x), F.linear(x, fresh.weight, fresh.bias))


@needs_fbgemm
def test_training_unpacks_even_with_an_optimiser_that_does_not_bump_versions():
    layer = int8_layer(16, 8)
    int8_linear.pack(layer)
    assert isinstance(layer, int8_linear.PackedLinear)
    layer.train()                                              # what train.fit does before its steps
    assert type(layer) is nn.Linear and not hasattr(layer, "packed")
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.1, fused=True)   # train.py's: updates in place silently
    layer(torch.randn(4, 8)).pow(2).sum().backward()
    optimiser.step()
    layer.eval()
    x = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@needs_fbgemm
@pytest.mark.parametrize("convert", [lambda m: m.half(), lambda m: m.double(), lambda m: m.to("cpu", torch.float64)])
def test_a_converted_layer_is_a_plain_linear_again(convert):
    layer = int8_layer(16, 8)
    int8_linear.pack(layer)
    convert(layer)
    assert type(layer) is nn.Linear
    x = torch.randn(2, 8, dtype=layer.weight.dtype)
    with torch.no_grad():
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@needs_fbgemm
def test_a_copy_is_a_plain_linear_that_works():
    import copy

    model = nn.Sequential(int8_layer(16, 8), nn.ReLU(), int8_layer(4, 16)).eval()
    assert int8_linear.pack(model) == 2
    x = torch.randn(3, 8)
    with torch.no_grad():
        expected = model(x)
        twin = copy.deepcopy(model)
        assert [type(m) for m in twin] == [nn.Linear, nn.ReLU, nn.Linear]
        assert not hasattr(twin[0], "packed")                      # the handle is not copied
        twin[0].weight.mul_(1.0)                                   # bumps versions: no stale handle is ever read
        twin[0].weight.mul_(1.0)
        assert torch.allclose(twin(x), expected, atol=1e-5)
    assert set(model.state_dict()) == set(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).state_dict())
    assert isinstance(model[0], int8_linear.PackedLinear)         # the original keeps its packing


@needs_fbgemm
def test_one_dimensional_input_and_inference_mode_work_as_for_nn_linear(tmp_path, monkeypatch):
    layer = int8_layer(16, 8)
    int8_linear.pack(layer)
    x = torch.randn(8)
    with torch.no_grad():
        assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias))          # (in,) → (out,)
    monkeypatch.setattr(checkpoint, "INT8_MIN_SIZE", 0)
    tiny = build_translator("transformer")
    path = checkpoint.save(tmp_path / "int8.safetensors",
                           checkpoint.Checkpoint(tiny.model, tiny.src_vocab, tiny.tgt_vocab, {}), int8=True)
    with torch.inference_mode():                               # loads, unpacked (no version to check), translates
        loaded = Translator.load(path, device="cpu")
        assert loaded.translate("我爱学习", beam_size=2).best.tokens
    assert not any(isinstance(m, int8_linear.PackedLinear) for m in loaded.model.modules())


@needs_fbgemm
def test_a_model_trained_in_float_is_not_packed(tmp_path):
    translator = build_translator("transformer")
    path = checkpoint.save(tmp_path / "float.safetensors",
                           checkpoint.Checkpoint(translator.model, translator.src_vocab, translator.tgt_vocab, {}))
    loaded = Translator.load(path, device="cpu")
    assert not any(isinstance(m, int8_linear.PackedLinear) for m in loaded.model.modules())


@needs_fbgemm
@pytest.mark.parametrize("attention", ["transformer", "additive"])
def test_a_model_loaded_from_an_int8_file_decodes_as_its_float_weights_do(tmp_path, monkeypatch, attention):
    monkeypatch.setattr(checkpoint, "INT8_MIN_SIZE", 0)             # the tiny model's matrices stored as int8 too
    tiny = build_translator(attention, src_words=list("我你他爱学习好是"),
                            tgt_words="i you he love study good is".split())
    path = checkpoint.save(tmp_path / "int8.safetensors",
                           checkpoint.Checkpoint(tiny.model, tiny.src_vocab, tiny.tgt_vocab, {}), int8=True)
    fast, plain = Translator.load(path, device="cpu"), Translator(checkpoint.load(path), device="cpu")
    assert sum(isinstance(m, int8_linear.PackedLinear) for m in fast.model.modules()) >= 2
    assert not any(isinstance(m, int8_linear.PackedLinear) for m in plain.model.modules())
    for text in ["我爱学习", "他是好", "你好"]:
        a, b = fast.translate(text, beam_size=3), plain.translate(text, beam_size=3)
        assert [c.tokens for c in a.candidates] == [c.tokens for c in b.candidates]
        assert [c.score for c in a.candidates] == pytest.approx([c.score for c in b.candidates], abs=1e-4)
        assert abs(a.best.attention - b.best.attention).max() < 1e-5


@needs_fbgemm
def test_the_shipped_default_model_translates_the_everyday_set_exactly_as_its_float_weights_do():
    path = MODELS_DIR / "everyday_transformer.safetensors"
    fast, plain = Translator.load(path, device="cpu"), Translator(checkpoint.load(path), device="cpu")
    assert sum(isinstance(m, int8_linear.PackedLinear) for m in fast.model.modules()) == 49   # every weight matrix
    for pair in load_everyday()[:20]:
        a, b = fast.translate(pair.zh, beam_size=5), plain.translate(pair.zh, beam_size=5)
        assert [c.tokens for c in a.candidates] == [c.tokens for c in b.candidates], pair.zh
        assert [c.score for c in a.candidates] == pytest.approx([c.score for c in b.candidates], abs=1e-4)
        assert abs(a.best.attention - b.best.attention).max() < 1e-5
