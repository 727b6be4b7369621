"""Attention modules: each score is the formula in its docstring; weights are a masked softmax."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from seq2seq_lab.attention import (
    ATTENTION_TYPES,
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    ScaledDotAttention,
    build_attention,
)

H = 8
LENGTHS = [5, 3, 1]        # three sentences, padded to S = 5
SCORED = [name for name in ATTENTION_TYPES if name != "none"]


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, S = len(LENGTHS), max(LENGTHS)
    query = torch.randn(B, H, generator=g)
    memory = torch.randn(B, S, H, generator=g)
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)     # (B, S)
    return query, memory, mask


def _module(name: str):
    torch.manual_seed(1)
    return build_attention(name, query_size=H, key_size=H, attention_size=H)


def _expected_scores(name: str, module, query, memory) -> torch.Tensor:
    """e_j written out one (q, k_j) pair at a time, straight from the formulas."""
    B, S, _ = memory.shape
    scores = torch.empty(B, S)
    for b in range(B):
        q = query[b]
        for j in range(S):
            k = memory[b, j]
            if name == "dot":
                scores[b, j] = q @ k
            elif name == "general":
                scores[b, j] = q @ (module.W.weight @ k)
            elif name == "additive":
                scores[b, j] = module.v.weight[0] @ torch.tanh(module.W1.weight @ q + module.W2.weight @ k)
            else:
                d = module.W_k.weight.shape[0]
                scores[b, j] = (module.W_q.weight @ q) @ (module.W_k.weight @ k) / math.sqrt(d)
    return scores


@pytest.mark.parametrize("name", SCORED)
def test_scores_follow_the_documented_formula(name):
    module = _module(name)
    query, memory, mask = _inputs()
    keys, _ = module.prepare(memory)
    with torch.no_grad():
        assert_close(module.score(query, keys), _expected_scores(name, module, query, memory), rtol=1e-5,
                     atol=1e-5)


@pytest.mark.parametrize("name", SCORED)
def test_weights_are_a_masked_softmax_and_context_their_average(name):
    module = _module(name)
    query, memory, mask = _inputs()
    with torch.no_grad():
        keys, values = module.prepare(memory)
        context, weights = module(query, keys, values, mask)
        scores = _expected_scores(name, module, query, memory)
    assert weights.shape == mask.shape
    assert_close(weights.sum(-1), torch.ones(len(LENGTHS)))
    assert torch.all(weights[~mask] == 0), "padding must get exactly zero weight"
    assert torch.all(weights[mask] > 0)
    for b, length in enumerate(LENGTHS):
        assert_close(weights[b, :length], torch.softmax(scores[b, :length], dim=0), rtol=1e-5, atol=1e-6)
        assert_close(context[b], weights[b] @ values[b], rtol=1e-5, atol=1e-6)
    assert_close(weights[2], torch.tensor([1.0, 0, 0, 0, 0]))          # one real token takes all the weight


@pytest.mark.parametrize("name", SCORED)
def test_padding_does_not_change_a_sentences_attention(name):
    """Sentence 1 (3 tokens) alone, unpadded, gets the same weights and context as in the padded batch."""
    module = _module(name)
    query, memory, mask = _inputs()
    with torch.no_grad():
        keys, values = module.prepare(memory)
        context, weights = module(query, keys, values, mask)
        keys1, values1 = module.prepare(memory[1:2, :3])
        context1, weights1 = module(query[1:2], keys1, values1, mask[1:2, :3])
    assert_close(weights1[0], weights[1, :3])
    assert_close(context1[0], context[1])


@pytest.mark.parametrize("name", SCORED)
def test_padding_values_do_not_leak_into_the_context(name):
    module = _module(name)
    query, memory, mask = _inputs()
    poisoned = memory.clone()
    poisoned[~mask] = 1e4
    with torch.no_grad():
        context, weights = module(query, *module.prepare(memory), mask)
        context_p, weights_p = module(query, *module.prepare(poisoned), mask)
    assert_close(weights_p, weights)
    assert_close(context_p, context)


def test_scaled_dot_projects_values_and_scales_by_sqrt_d():
    module = ScaledDotAttention(query_size=H, key_size=H, attention_size=16)
    assert module.scale == pytest.approx(1 / 4)
    _, memory, _ = _inputs()
    with torch.no_grad():
        keys, values = module.prepare(memory)
    assert keys.shape == (3, 5, 16)
    assert_close(values, memory @ module.W_v.weight.T)


@pytest.mark.parametrize("name", ["dot", "general"])
def test_scaled_dot_and_general_divide_the_documented_score_by_sqrt_h(name):
    """scaled=True: e_j = qᵀk_j/√H (dot) and qᵀWk_j/√H (general), the same module otherwise."""
    query, memory, _ = _inputs()
    torch.manual_seed(1)
    scaled = build_attention(name, query_size=H, key_size=H, scaled=True)
    keys, _ = scaled.prepare(memory)
    with torch.no_grad():
        assert_close(scaled.score(query, keys), _expected_scores(name, scaled, query, memory) / math.sqrt(H),
                     rtol=1e-5, atol=1e-5)


def test_dot_and_general_keys():
    _, memory, _ = _inputs()
    dot = DotAttention()
    keys, values = dot.prepare(memory)
    assert keys is memory and values is memory
    general = GeneralAttention(query_size=H, key_size=6)
    with torch.no_grad():
        keys, values = general.prepare(memory[..., :6])
    assert keys.shape == (3, 5, H) and values.shape == (3, 5, 6)


def test_additive_attention_sizes():
    module = AdditiveAttention(query_size=H, key_size=6, attention_size=10)
    query, memory, mask = _inputs()
    with torch.no_grad():
        context, weights = module(query, *module.prepare(memory[..., :6]), mask)
    assert context.shape == (3, 6) and weights.shape == (3, 5)


def test_build_attention_by_name():
    assert build_attention("none", query_size=H, key_size=H) is None
    assert isinstance(build_attention("dot", query_size=H, key_size=H), DotAttention)
    assert isinstance(build_attention("general", query_size=H, key_size=H), GeneralAttention)
    assert isinstance(build_attention("additive", query_size=H, key_size=H), AdditiveAttention)
    assert isinstance(build_attention("scaled_dot", query_size=H, key_size=H), ScaledDotAttention)
    additive = build_attention("additive", query_size=H, key_size=H)
    assert additive.W1.out_features == H               # attention_size defaults to the query size


@pytest.mark.parametrize("name", ["bahdanau", "Dot", "", "multihead"])
def test_unknown_attention_names_are_rejected(name):
    with pytest.raises(ValueError, match="unknown attention") as caught:
        build_attention(name, query_size=H, key_size=H)
    assert "additive" in str(caught.value)             # the message lists the valid choices


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ValueError, match="query size == key size"):
        build_attention("dot", query_size=8, key_size=6)


@pytest.mark.parametrize("name", SCORED)
def test_gradients_reach_query_and_memory(name):
    module = _module(name)
    query, memory, mask = _inputs()
    query.requires_grad_(True)
    memory.requires_grad_(True)
    context, _ = module(query, *module.prepare(memory), mask)
    context.sum().backward()
    assert query.grad.abs().sum() > 0
    assert torch.all(memory.grad[~mask] == 0), "padding must get no gradient"
    assert memory.grad[mask].abs().sum() > 0
