"""The Seq2Seq model: every attention × cell × direction builds, runs and decodes; forward == stepwise."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.testing import assert_close

from seq2seq_lab.attention import ATTENTION_TYPES
from seq2seq_lab.data import pad
from seq2seq_lab.model import STEP_ROWS, DecoderState, ModelConfig, Seq2Seq, step_logits

VARIANTS = list(itertools.product(ATTENTION_TYPES, ("gru", "lstm"), (True, False)))
VARIANT_IDS = [f"{a}-{c}-{'bi' if b else 'uni'}" for a, c, b in VARIANTS]

SRC = [[4, 5, 6, 7, 3], [8, 9, 3], [10, 3]]              # three sentences, each ending in </s> (id 3)
TGT_IN = [[2, 4, 5, 6, 7], [2, 8, 9, 0, 0], [2, 10, 0, 0, 0]]   # <s> y_1 …, padded


def _batch():
    src = pad(SRC)
    lengths = torch.tensor([len(s) for s in SRC])
    return src, lengths, torch.tensor(TGT_IN)


def _model(attention="additive", cell="gru", bidirectional=True, **overrides) -> Seq2Seq:
    torch.manual_seed(0)
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11, emb_size=8, hidden_size=12, cell=cell,
                         bidirectional=bidirectional, attention=attention, dropout=0.0, **overrides)
    return Seq2Seq(config).eval()


@pytest.mark.parametrize("attention, cell, bidirectional", VARIANTS, ids=VARIANT_IDS)
def test_forward_shapes_and_attention_rows(attention, cell, bidirectional):
    model = _model(attention, cell, bidirectional)
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        logits, attention_weights = model(src, lengths, tgt_in)
    assert logits.shape == (3, 5, 11)
    assert torch.isfinite(logits).all()
    if attention == "none":
        assert attention_weights is None
        return
    assert attention_weights.shape == (3, 5, 5)                                      # (B, T, S)
    assert_close(attention_weights.sum(-1), torch.ones(3, 5))
    padding = (src == 0).unsqueeze(1).expand(-1, 5, -1)
    assert torch.all(attention_weights[padding] == 0), "padded source positions must get exactly 0"


@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5])
@pytest.mark.parametrize("lexical", [False, True])
def test_positions_gives_the_logits_of_those_positions_only(lexical, teacher_forcing):
    """forward(positions=mask) returns exactly the rows of the full (B, T, V) logits that the mask picks."""
    import random

    model = _model("additive", lexical=lexical)
    src, lengths, tgt_in = _batch()
    real = tgt_in != 0
    with torch.no_grad():
        full, attention = model(src, lengths, tgt_in, teacher_forcing=teacher_forcing, rng=random.Random(1))
        picked, same_attention = model(src, lengths, tgt_in, teacher_forcing=teacher_forcing, rng=random.Random(1),
                                       positions=real)
    assert picked.shape == (int(real.sum()), 11)
    assert_close(picked, full[real])
    assert_close(same_attention, attention)


@pytest.mark.parametrize("attention, cell, bidirectional", VARIANTS, ids=VARIANT_IDS)
def test_step_by_step_equals_teacher_forced_forward(attention, cell, bidirectional):
    """Calling Decoder.step by hand, feeding the reference tokens, reproduces forward() exactly."""
    model = _model(attention, cell, bidirectional)
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        logits, attention_weights = model(src, lengths, tgt_in)
        encoded = model.encode(src, lengths)
        memory = model.decoder.prepare(encoded)
        state = model.decoder.init_state(encoded)
        for t in range(tgt_in.size(1)):
            out = model.decoder.step(tgt_in[:, t], state, memory)
            state = out.state
            assert_close(out.logits, logits[:, t])
            if attention == "none":
                assert out.attention is None
                assert_close(out.context, encoded.summary)                          # c_t = z at every step
            else:
                assert out.attention.shape == (3, 1, 1, 5)
                assert_close(out.attention[:, 0, 0], attention_weights[:, t])


@pytest.mark.parametrize("attention, cell, bidirectional", VARIANTS, ids=VARIANT_IDS)
def test_a_sentence_gets_the_same_output_alone_and_in_a_padded_batch(attention, cell, bidirectional):
    """Packing must hide the padding from both RNN directions, and the mask from attention."""
    model = _model(attention, cell, bidirectional)
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        logits, attention_weights = model(src, lengths, tgt_in)
        for b in range(3):
            n = len(SRC[b])
            alone, alone_attention = model(src[b:b + 1, :n], lengths[b:b + 1], tgt_in[b:b + 1])
            assert_close(alone[0], logits[b], rtol=1e-5, atol=1e-5)
            if attention_weights is not None:
                assert_close(alone_attention[0], attention_weights[b, :, :n], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention, cell, bidirectional", VARIANTS, ids=VARIANT_IDS)
def test_every_variant_decodes(make_translator, attention, cell, bidirectional):
    tr = make_translator(attention, cell=cell, bidirectional=bidirectional, eos_bias=2.0)
    r = tr.translate("我爱学习中文", beam_size=3, n_best=3)
    assert 1 <= len(r.candidates) <= 3
    for candidate in r.candidates:
        assert candidate.tokens and all(t in tr.tgt_vocab for t in candidate.tokens)
        if attention == "none":
            assert candidate.attention is None
        else:
            assert candidate.attention.shape == (len(candidate.tokens), len(r.src_tokens))
    greedy = tr.translate("我爱学习中文", beam_size=1)
    assert greedy.best.tokens


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", ["none", "additive"])
def test_stacked_layers(attention, cell):
    model = _model(attention, cell, True, enc_layers=2, dec_layers=2)
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        encoded = model.encode(src, lengths)
        state = model.decoder.init_state(encoded)
        logits, _ = model(src, lengths, tgt_in)
    assert encoded.states.shape == (3, 5, 24) and encoded.memory.shape == (3, 5, 12)
    assert state.hidden.shape == (2, 3, 12)
    assert (state.cell is not None) == (cell == "lstm")
    assert_close(state.hidden[0], encoded.summary)            # s_0 = z in every decoder layer
    assert_close(state.hidden[1], encoded.summary)
    assert logits.shape == (3, 5, 11)


def test_encoder_output_shapes_and_mask():
    model = _model("general", "gru", True)
    src, lengths, _ = _batch()
    with torch.no_grad():
        encoded = model.encode(src, lengths)
    assert encoded.embedded.shape == (3, 5, 8)
    assert encoded.states.shape == (3, 5, 24)                 # H · 2 directions
    assert encoded.memory.shape == (3, 5, 12)
    assert encoded.summary.shape == (3, 12)
    assert torch.equal(encoded.mask, src != 0)
    assert torch.all(encoded.states[~encoded.mask] == 0)      # pad_packed_sequence zero-fills
    assert encoded.summary.abs().max() <= 1                   # z = tanh(…)


def test_decoder_state_index_select_reorders_beams():
    hidden = torch.arange(2 * 3 * 4, dtype=torch.float).view(2, 3, 4)
    state = DecoderState(hidden, hidden + 100)
    picked = state.index_select(torch.tensor([2, 2, 0]))
    assert torch.equal(picked.hidden[:, 0], hidden[:, 2]) and torch.equal(picked.hidden[:, 2], hidden[:, 0])
    assert torch.equal(picked.cell, picked.hidden + 100)
    assert torch.equal(state.query, hidden[-1])


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11, emb_size=8, hidden_size=12, dropout=0.5)
    model = Seq2Seq(config)
    src, lengths, tgt_in = _batch()
    model.eval()
    with torch.no_grad():
        a, _ = model(src, lengths, tgt_in)
        b, _ = model(src, lengths, tgt_in)
        model.train()
        c, _ = model(src, lengths, tgt_in)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_scheduled_sampling_feeds_predictions_when_teacher_forcing_is_zero():
    model = _model("additive")
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        forced, _ = model(src, lengths, tgt_in, teacher_forcing=1.0)
        free, _ = model(src, lengths, tgt_in, teacher_forcing=0.0)
        # With no teacher forcing, step t is fed the argmax of step t − 1: rebuild that by hand.
        fed = [tgt_in[:, 0]] + [free[:, t].argmax(-1) for t in range(tgt_in.size(1) - 1)]
        replay, _ = model(src, lengths, torch.stack(fed, dim=1))
    assert_close(free[:, 0], forced[:, 0])
    assert_close(replay, free)


@pytest.mark.parametrize("field, value", [("cell", "rnn"), ("attention", "luong"), ("enc_layers", 0),
                                          ("dec_layers", 5), ("src_segmenter", "bpe"), ("tgt_detok", "moses")])
def test_model_config_validation(field, value):
    with pytest.raises(ValueError):
        ModelConfig(src_vocab_size=10, tgt_vocab_size=10, **{field: value})


def test_model_config_dict_round_trip_ignores_unknown_keys():
    config = ModelConfig(src_vocab_size=10, tgt_vocab_size=11, cell="lstm", attention="dot", bidirectional=False)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig.from_dict({**config.to_dict(), "added_in_a_later_version": 1}) == config


def steps_match_forward(model, src, lengths, tgt_in) -> torch.Tensor:
    """Decode step by step on the reference inputs, check each step against forward(); its attention (B, T, S)."""
    logits, weights = model(src, lengths, tgt_in)
    encoded = model.encode(src, lengths)
    memory, state = model.decoder.prepare(encoded), model.decoder.init_state(encoded)
    for t in range(tgt_in.size(1)):
        out = model.decoder.step(tgt_in[:, t], state, memory)
        state = out.state
        assert_close(out.logits, logits[:, t])
        assert_close(out.attention[:, 0, 0], weights[:, t])
    return weights


@pytest.mark.parametrize("attention", [a for a in ATTENTION_TYPES if a != "none"])
def test_without_attend_eos_no_weight_rests_on_the_sources_end(attention):
    """attend_eos=False: α on each sentence's </s> (and on padding) is exactly 0, the rows still sum to 1, and
    decoding step by step gives the teacher-forced pass; the default model does put weight there."""
    src, lengths, tgt_in = _batch()
    eos = lengths - 1                                                           # where each </s> is
    rows = torch.arange(len(SRC))
    model = _model(attention, attend_eos=False)
    with torch.no_grad():
        weights = steps_match_forward(model, src, lengths, tgt_in)              # (B, T, S)
        assert torch.all(weights[rows, :, eos] == 0)
        assert_close(weights.sum(-1), torch.ones(weights.shape[:2]))
        _, default_weights = _model(attention)(src, lengths, tgt_in)
        assert torch.all(default_weights[rows, :, eos] > 0)


def test_a_config_without_attend_eos_is_an_older_model_that_attends_to_eos():
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11).to_dict()
    del config["attend_eos"]
    assert ModelConfig.from_dict(config).attend_eos is True


@pytest.mark.parametrize("attention", ["dot", "general"])
def test_a_tanh_memory_is_bounded_and_keeps_step_equal_to_forward(attention):
    """memory="tanh": k_j = tanh(W_m h_j), every component in (−1, 1) however large W_m grows (so |qᵀk_j| ≤ H
    for dot); the same weights with the linear memory give other keys; decoding step by step = teacher forcing."""
    model = _model(attention, memory="tanh")
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        steps_match_forward(model, src, lengths, tgt_in)
        model.encoder.to_memory.weight.mul_(1000.0)                              # a W_m that ran away
        memory = model.encoder(src, lengths).memory
        assert memory.abs().max() <= 1.0 and memory.abs().max() > 0.99
        linear = _model(attention)
        linear.load_state_dict(model.state_dict())
        assert linear.encoder(src, lengths).memory.abs().max() > 10.0


def test_a_config_without_memory_is_an_older_model_with_a_linear_memory():
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11).to_dict()
    del config["memory"]
    assert ModelConfig.from_dict(config).memory == "linear"
    with pytest.raises(ValueError, match="memory must be one of"):
        ModelConfig(src_vocab_size=12, tgt_vocab_size=11, memory="relu")
    assert ModelConfig.from_dict(config).scaled_scores is False
    with pytest.raises(ValueError, match="scaled_scores is for dot and general"):
        ModelConfig(src_vocab_size=12, tgt_vocab_size=11, attention="additive", scaled_scores=True)


@pytest.mark.parametrize("attention", ["additive", "general", "scaled_dot"])
def test_a_query_that_holds_the_last_word_keeps_step_equal_to_forward(attention):
    """query="state+token": q_t = [s_{t−1}; E'[y_{t−1}]]; decoding step by step still gives the teacher-forced pass,
    and the query really depends on the previous word (another y_{t−1}, other weights)."""
    model = _model(attention, query="state+token")
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        steps_match_forward(model, src, lengths, tgt_in)
        encoded = model.encode(src, lengths)
        memory = model.decoder.prepare(encoded)
        first = model.decoder.step(tgt_in[:, 0], model.decoder.init_state(encoded), memory).attention
        other = model.decoder.step(tgt_in[:, 0] + 3, model.decoder.init_state(encoded), memory).attention
        assert not torch.allclose(first, other)


def test_the_query_option_is_checked_and_older_configs_use_the_state():
    with pytest.raises(ValueError, match="query"):
        ModelConfig(src_vocab_size=12, tgt_vocab_size=11, query="token")
    with pytest.raises(ValueError, match="dot attention"):
        ModelConfig(src_vocab_size=12, tgt_vocab_size=11, attention="dot", query="state+token")
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11).to_dict()
    del config["query"]
    assert ModelConfig.from_dict(config).query == "state"


def test_step_logits_is_the_layers_product_for_a_steps_rows_and_any_shape():
    """The output layer's tall-first layout (#12) gives the layer's numbers, with its bias, for 1 … 16 rows, and
    hands other shapes to the layer itself."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 500)
    for rows in (1, 3, 5, STEP_ROWS, STEP_ROWS + 1):
        x = torch.randn(rows, 32)
        torch.testing.assert_close(step_logits(layer, x), layer(x), rtol=1e-5, atol=1e-5)
    x = torch.randn(2, 7, 32)                                        # training's (B, T, d)
    torch.testing.assert_close(step_logits(layer, x), layer(x))
    with torch.no_grad():
        layer.bias.fill_(3.0)
    x = torch.zeros(2, 32)
    assert torch.equal(step_logits(layer, x), torch.full((2, 500), 3.0))
