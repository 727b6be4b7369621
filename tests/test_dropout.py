"""seq2seq_lab.dropout.Dropout: inverted dropout with p rounded to 1/65536, its mask from 16-bit draws."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seq2seq_lab.dropout import LEVELS, Dropout
from seq2seq_lab.models import build_model, config_for


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_each_element_is_dropped_with_probability_p_and_the_rest_scaled_to_keep_the_mean(p):
    torch.manual_seed(0)
    layer = Dropout(p).train()
    y = layer(torch.ones(1_000_003))                          # not a multiple of 4: the last word is cut
    k = round(p * LEVELS)
    dropped = (y == 0).float().mean().item()
    # 1,000,003 draws: the share's standard deviation is below 0.0005, so 0.002 is four of them and more
    assert dropped == pytest.approx(k / LEVELS, abs=0.002)
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, LEVELS / (LEVELS - k)))
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)   # E[y] = x


def test_every_16_bit_lane_of_a_draw_is_dropped_alike():
    """Each 64-bit draw serves four consecutive elements: none of the four may be favoured (a draw in [0, 2⁶³)
    would never drop the fourth)."""
    torch.manual_seed(1)
    y = Dropout(0.5).train()(torch.ones(400_000)).view(-1, 4)
    for lane in range(4):
        assert (y[:, lane] == 0).float().mean().item() == pytest.approx(0.5, abs=0.005)


def test_the_mask_is_repeatable_under_a_seed_and_different_without_it():
    layer = Dropout(0.2).train()
    x = torch.randn(8, 7, 16)
    torch.manual_seed(3)
    a = layer(x)
    torch.manual_seed(3)
    b = layer(x)
    c = layer(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_gradient_is_the_mask_scaled():
    torch.manual_seed(0)
    x = torch.randn(64, 9, 32, requires_grad=True)
    y = Dropout(0.25).train()(x)
    y.sum().backward()
    scale = LEVELS / (LEVELS - round(0.25 * LEVELS))
    assert torch.allclose(x.grad, (y != 0).float() * scale)


def test_evaluation_and_zero_p_pass_the_input_through():
    x = torch.randn(5, 6)
    assert torch.equal(Dropout(0.3).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_bfloat16_inputs_stay_bfloat16():
    torch.manual_seed(0)
    y = Dropout(0.1).train()(torch.ones(10_000, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16 and 0.08 < (y == 0).float().mean().item() < 0.12


@pytest.mark.parametrize("arch", [
    {"family": "transformer", "d_model": 32, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ff_size": 64,
     "dropout": 0.1},
    {"cell": "gru", "emb_size": 16, "hidden_size": 16, "dropout": 0.3},
])
def test_both_families_use_it_for_every_dropout_layer(arch):
    model = build_model(config_for(arch, src_vocab_size=20, tgt_vocab_size=20))
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert layers and all(isinstance(m, Dropout) for m in layers)
    assert {m.p for m in layers} == {arch["dropout"]}
