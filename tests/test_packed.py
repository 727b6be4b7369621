"""Decoding from packed int8 rows (``seq2seq_lab/packed.py``) gives the numbers the float32 weights give.

The packed path reads W = diag(s)·Q as float16 integers Q, exact, and scales after the product: only the order of
float32 additions differs from ``F.linear``, so outputs agree to ~1e-6 relatively, translations are the same, and
scores agree to ~1e-5 nats. It is taken only for inference on the CPU; gradients and a changed weight use W.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import build_translator
from torch import nn
from torch.nn import functional as F

from seq2seq_lab import checkpoint, packed
from seq2seq_lab.corpus import load_everyday
from seq2seq_lab.translator import Translator

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
needs_fbgemm = pytest.mark.skipif(not packed.available, reason="FBGEMM's fp16 kernel does not run on this CPU")


def int8_linear(rows: int, cols: int, bias: bool = True) -> nn.Linear:
    """A linear layer whose weight is what an int8 file gives back: Q · s, s in float16."""
    layer = nn.Linear(cols, rows, bias=bias)
    q, scale = checkpoint.quantize_rows(layer.weight.detach())
    with torch.no_grad():
        layer.weight.copy_(q.float() * scale.float())
    return layer


def test_int8_rows_recovers_the_stored_integers_and_scales_exactly():
    weight = torch.randn(300, 64)
    q, scale = checkpoint.quantize_rows(weight)
    found = packed.int8_rows(q.float() * scale.float())
    assert found is not None
    assert torch.equal(found[0], q.float()) and torch.equal(found[1], scale.float().squeeze(1))


def test_a_float_weight_or_a_zero_row_is_handled():
    assert packed.int8_rows(torch.randn(8, 8)) is None                     # trained in float: not int8 rows
    assert packed.int8_rows(torch.randn(8, 8).half()) is None              # not float32
    zero_row = torch.zeros(3, 4)
    zero_row[1] = torch.tensor([127.0, -3.0, 0.0, 5.0]) * 0.5
    q, scale = packed.int8_rows(zero_row)
    assert torch.equal(q * scale[:, None], zero_row) and scale[0] == 1


@needs_fbgemm
@pytest.mark.parametrize("rows, bias", [(1, True), (5, True), (12, False)])
def test_a_packed_layer_gives_what_the_float_layer_gives(rows, bias):
    layer = int8_linear(500, 256, bias)
    x = torch.randn(rows, 256)
    with torch.no_grad():
        expected = F.linear(x.double(), layer.weight.double(), None if layer.bias is None else layer.bias.double())
        plain = layer(x)
        assert packed.pack(layer) == 1 and isinstance(layer, packed.PackedLinear)
        assert layer.use_packed(x)
        found = layer(x)
    # both float32 sums are within ~1e-5 of the exact (float64) product; the packed one is no worse than
    # 3× the plain one's own error (an unscaled or mis-scaled product is off by orders of magnitude)
    plain_error = (plain.double() - expected).abs().max().item()
    assert (found.double() - expected).abs().max().item() <= max(3 * plain_error, 1e-5)
    assert found.shape == plain.shape


@needs_fbgemm
def test_a_packed_layer_takes_three_dimensional_input():
    layer = int8_linear(64, 32)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        plain = layer(x)
        packed.pack(layer)
        assert torch.allclose(layer(x), plain, atol=1e-5)


@needs_fbgemm
def test_gradients_and_a_changed_weight_use_the_float_weights():
    layer = int8_linear(16, 8)
    packed.pack(layer)
    x = torch.randn(3, 8, requires_grad=True)
    layer(x).sum().backward()                                  # grad enabled: the float path, so gradients flow
    assert layer.weight.grad is not None and x.grad is not None
    with torch.no_grad():
        assert layer.use_packed(x)
        layer.weight.mul_(2.0)                                 # an in-place update: the packed copy is stale
        assert not layer.use_packed(x)
        assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias))


@needs_fbgemm
def test_a_model_trained_in_float_is_not_packed(tmp_path):
    translator = build_translator("transformer")
    path = checkpoint.save(tmp_path / "float.safetensors",
                           checkpoint.Checkpoint(translator.model, translator.src_vocab, translator.tgt_vocab, {}))
    loaded = Translator.load(path, device="cpu")
    assert not any(isinstance(m, packed.PackedLinear) for m in loaded.model.modules())


@needs_fbgemm
@pytest.mark.parametrize("attention", ["transformer", "additive"])
def test_a_model_loaded_from_an_int8_file_decodes_as_its_float_weights_do(tmp_path, monkeypatch, attention):
    monkeypatch.setattr(checkpoint, "INT8_MIN_SIZE", 0)             # the tiny model's matrices stored as int8 too
    tiny = build_translator(attention, src_words=list("我你他爱学习好是"), tgt_words="i you he love study good is".split())
    path = checkpoint.save(tmp_path / "int8.safetensors",
                           checkpoint.Checkpoint(tiny.model, tiny.src_vocab, tiny.tgt_vocab, {}), int8=True)
    fast, plain = Translator.load(path, device="cpu"), Translator(checkpoint.load(path), device="cpu")
    assert sum(isinstance(m, packed.PackedLinear) for m in fast.model.modules()) >= 2
    assert not any(isinstance(m, packed.PackedLinear) for m in plain.model.modules())
    for text in ["我爱学习", "他是好", "你好"]:
        a, b = fast.translate(text, beam_size=3), plain.translate(text, beam_size=3)
        assert [c.tokens for c in a.candidates] == [c.tokens for c in b.candidates]
        assert [c.score for c in a.candidates] == pytest.approx([c.score for c in b.candidates], abs=1e-4)
        assert abs(a.best.attention - b.best.attention).max() < 1e-5


@needs_fbgemm
def test_the_shipped_default_model_translates_the_everyday_set_exactly_as_its_float_weights_do():
    path = MODELS_DIR / "everyday_transformer.safetensors"
    fast, plain = Translator.load(path, device="cpu"), Translator(checkpoint.load(path), device="cpu")
    assert sum(isinstance(m, packed.PackedLinear) for m in fast.model.modules()) == 49   # every weight matrix
    for pair in load_everyday()[:20]:
        a, b = fast.translate(pair.zh, beam_size=5), plain.translate(pair.zh, beam_size=5)
        assert [c.tokens for c in a.candidates] == [c.tokens for c in b.candidates], pair.zh
        assert [c.score for c in a.candidates] == pytest.approx([c.score for c in b.candidates], abs=1e-4)
        assert abs(a.best.attention - b.best.attention).max() < 1e-5
