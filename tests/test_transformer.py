"""The Transformer family: each formula of transformer.py / MultiHeadAttention checked against a direct
computation, the key/value cache against the full teacher-forced pass, and the attention record the apps draw.

The search invariants (beam 1 = greedy, decoded = teacher-forced, batched = alone, score = decode, the beam
tree, penalties, prefix, no-repeat) run on the Transformer in tests/test_search.py (``MODELS``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import EXAMPLE_SENTENCES, TINY_TRANSFORMER
from numpy.testing import assert_allclose
from torch.testing import assert_close

from seq2seq_lab import checkpoint
from seq2seq_lab.attention import MultiHeadAttention
from seq2seq_lab.data import pad
from seq2seq_lab.model import ModelConfig, Seq2Seq
from seq2seq_lab.models import build_model, config_for, config_from_dict
from seq2seq_lab.train import TrainConfig, fit, scheduled_lr
from seq2seq_lab.transformer import KVCache, Transformer, TransformerConfig, causal_mask, positional_encoding
from seq2seq_lab.vocab import SPECIALS, Vocab

SRC = [[4, 5, 6, 7, 3], [8, 9, 3], [10, 3]]                      # three sentences ending in </s> (id 3)
TGT_IN = [[2, 4, 5, 6, 7], [2, 8, 9, 0, 0], [2, 10, 0, 0, 0]]   # <s> y_1 …, padded


def _model(**overrides) -> Transformer:
    torch.manual_seed(0)
    fields = dict(src_vocab_size=12, tgt_vocab_size=11, d_model=16, heads=4, enc_layers=2, dec_layers=2, ff_size=32,
                  dropout=0.0)
    config = TransformerConfig(**{**fields, **overrides})
    return Transformer(config).eval()


def _batch():
    return pad(SRC), torch.tensor([len(s) for s in SRC]), torch.tensor(TGT_IN)


# --- the formulas ------------------------------------------------------------------------------------------


def test_positional_encoding_is_the_sinusoid_of_the_paper():
    d = 8
    pe = positional_encoding(50, d).numpy()
    for j in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = j / 10000 ** (2 * i / d)
            assert pe[j, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[j, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_causal_mask_allows_only_the_past_and_present():
    mask = causal_mask(4).numpy()
    assert mask.tolist() == [[True, False, False, False], [True, True, False, False],
                             [True, True, True, False], [True, True, True, True]]


def test_multi_head_attention_is_softmax_of_qk_over_sqrt_dk_times_v_head_by_head():
    """The module against a per-head loop written from the formula: Q_i = X W_Q[:, i], …, Concat(…) W_O."""
    torch.manual_seed(1)
    d, h, T, S = 12, 3, 4, 5
    mha = MultiHeadAttention(d, h).eval()
    x, m = torch.randn(1, T, d), torch.randn(1, S, d)
    mask = torch.tensor([True, True, True, False, True])                 # one key forbidden
    keys, values = mha.project_keys(m)
    out, weights = mha(x, keys, values, mask[None, None, None, :])
    d_k = d // h
    Q, K, V = mha.W_q(x)[0], mha.W_k(m)[0], mha.W_v(m)[0]               # (T, d), (S, d), (S, d)
    heads = []
    for i in range(h):
        cols = slice(i * d_k, (i + 1) * d_k)
        e = Q[:, cols] @ K[:, cols].T / math.sqrt(d_k)                  # (T, S)
        e[:, ~mask] = -math.inf
        a = torch.softmax(e, dim=-1)
        assert_close(weights[0, i], a)
        heads.append(a @ V[:, cols])
    assert_close(out[0], mha.W_o(torch.cat(heads, dim=-1)))
    assert torch.all(weights[..., 3] == 0)
    assert_close(weights.sum(-1), torch.ones(1, h, T))


def test_a_head_depends_only_on_its_own_columns_of_w_q():
    """The head split: changing head 1's query columns changes head 1's weights and no other head's."""
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 2).eval()
    x, m = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    keys, values = mha.project_keys(m)
    _, before = mha(x, keys, values, None)
    with torch.no_grad():
        mha.W_q.weight[4:] += 1.0                                        # rows 4–7 of W_q produce head 1's Q
    _, after = mha(x, keys, values, None)
    assert_close(after[:, 0], before[:, 0])
    assert not torch.allclose(after[:, 1], before[:, 1])


def test_embedding_is_scaled_token_embedding_plus_positional_encoding():
    model = _model()
    src, lengths, _ = _batch()
    encoded = model.encode(src, lengths)
    E = model.encoder.embedding.tokens.weight
    assert_close(encoded.embedded, E[src] * math.sqrt(16))
    assert_close(encoded.positional, positional_encoding(512, 16)[:src.size(1)])


# --- the model ---------------------------------------------------------------------------------------------


def test_forward_shapes_and_masks():
    model = _model()
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        logits, attention = model(src, lengths, tgt_in)
        maps = model.attention_maps(src, lengths, tgt_in)
    assert logits.shape == (3, 5, 11) and attention.shape == (3, 5, 5)
    assert maps.cross.shape == (3, 5, 2, 4, 5)                           # (B, T, L, h, S)
    assert maps.encoder.shape == (3, 2, 4, 5, 5) and maps.decoder.shape == (3, 2, 4, 5, 5)
    assert_close(attention, maps.cross[:, :, -1].mean(2))                # the summary: last layer, mean of heads
    padding = src == 0                                                   # (B, S)
    assert torch.all(maps.cross.permute(0, 2, 3, 1, 4)[padding[:, None, None, None, :].expand(-1, 2, 4, 5, -1)] == 0)
    assert torch.all(maps.encoder[padding[:, None, None, None, :].expand(-1, 2, 4, 5, -1)] == 0)
    above = ~causal_mask(5)
    assert torch.all(maps.decoder[..., above] == 0), "a decoder position attended to a later one"
    for weights in (maps.cross, maps.encoder, maps.decoder):
        assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_step_by_step_with_the_cache_equals_the_teacher_forced_pass():
    """Logits and every head's cross-attention of each cached step equal the one-pass forward."""
    model = _model()
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        logits, _ = model(src, lengths, tgt_in)
        maps = model.attention_maps(src, lengths, tgt_in)
        encoded = model.encode(src, lengths)
        memory, state = model.decoder.prepare(encoded), model.decoder.init_state(encoded)
        for t in range(tgt_in.size(1)):
            assert state.length == t                                     # the cache holds the t positions written
            out = model.decoder.step(tgt_in[:, t], state, memory)
            real = tgt_in[:, t] != 0
            assert_close(out.logits[real], logits[real, t], atol=1e-5, rtol=1e-5)
            assert_close(out.attention[real], maps.cross[real, t], atol=1e-6, rtol=1e-5)
            state = out.state
    assert state.keys.shape == (3, 2, 4, 5, 4)                           # (B, L, h, t, d_k)


def test_a_later_token_does_not_change_earlier_outputs():
    """The causal mask, end to end: change y_3 and the logits of positions 0–2 stay the same."""
    model = _model()
    src, lengths, tgt_in = _batch()
    changed = tgt_in.clone()
    changed[0, 3] = 9
    with torch.no_grad():
        a, _ = model(src, lengths, tgt_in)
        b, _ = model(src, lengths, changed)
    assert_close(a[0, :3], b[0, :3])
    assert not torch.allclose(a[0, 3:], b[0, 3:])


def test_a_sentence_gets_the_same_output_alone_and_in_a_padded_batch():
    model = _model()
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        batched, _ = model(src, lengths, tgt_in)
        for b in range(3):
            n = int(lengths[b])
            alone, _ = model(src[b:b + 1, :n], lengths[b:b + 1], tgt_in[b:b + 1])
            assert_close(alone[0], batched[b], atol=1e-5, rtol=1e-5)


def test_positions_gives_the_logits_of_those_positions_only():
    model = _model()
    src, lengths, tgt_in = _batch()
    real = tgt_in != 0
    with torch.no_grad():
        full, _ = model(src, lengths, tgt_in)
        picked, _ = model(src, lengths, tgt_in, positions=real)
    assert_close(picked, full[real])


def test_cache_index_select_reorders_beams():
    keys = torch.arange(2 * 1 * 1 * 3 * 2, dtype=torch.float32).view(2, 1, 1, 3, 2)
    cache = KVCache(keys, -keys).index_select(torch.tensor([1, 1, 0]))
    assert_close(cache.keys[0], keys[1]) and assert_close(cache.keys[2], keys[0])
    assert_close(cache.values, -cache.keys)
    assert cache.length == 3


def test_dropout_only_in_training_mode():
    model = _model(dropout=0.5)
    src, lengths, tgt_in = _batch()
    model.eval()
    with torch.no_grad():
        assert_close(model(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0])
        model.train()
        assert not torch.allclose(model(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0])


def test_teacher_forcing_below_one_is_refused():
    src, lengths, tgt_in = _batch()
    with pytest.raises(ValueError, match="teacher forcing"):
        _model()(src, lengths, tgt_in, teacher_forcing=0.5)


@pytest.mark.parametrize("field, value", [("heads", 5), ("d_model", 30), ("enc_layers", 0), ("family", "rnn"),
                                          ("src_segmenter", "bpe"), ("attention", "additive"), ("heads", 0),
                                          ("max_positions", 5), ("max_positions", 300_000), ("max_positions", 1.5e3),
                                          ("dropout", 1.0), ("ff_size", 0), ("tie_output", "yes")])
def test_config_validation(field, value):
    with pytest.raises(ValueError):
        TransformerConfig(src_vocab_size=10, tgt_vocab_size=10, **{field: value})


def test_build_model_picks_the_family_from_the_config():
    t = config_from_dict({"family": "transformer", "src_vocab_size": 9, "tgt_vocab_size": 8, "d_model": 16,
                          "heads": 2, "unknown": 1})
    assert isinstance(t, TransformerConfig) and t.d_model == 16
    assert isinstance(build_model(t), Transformer)
    old = config_from_dict({"src_vocab_size": 9, "tgt_vocab_size": 8, "attention": "dot"})   # a file from before
    assert isinstance(old, ModelConfig) and isinstance(build_model(old), Seq2Seq) and old.family == "rnn"
    assert isinstance(config_for({"attention": "dot"}, src_vocab_size=9, tgt_vocab_size=8), ModelConfig)
    with pytest.raises(ValueError, match="unknown model family"):
        config_from_dict({"family": "lstm-crf", "src_vocab_size": 9, "tgt_vocab_size": 8})


# --- through the Translator --------------------------------------------------------------------------------


@pytest.mark.parametrize("beam_size", [1, 4])
def test_attention_record_of_every_candidate(make_translator, beam_size):
    tr = make_translator("transformer", eos_bias=2.0)
    L, h = tr.config.dec_layers, tr.config.heads
    for text in EXAMPLE_SENTENCES[:3]:
        r = tr.translate(text, beam_size=beam_size, n_best=beam_size)
        S = len(r.src_tokens)
        assert r.encoder_attention.shape == (tr.config.enc_layers, h, S, S)
        assert_allclose(r.encoder_attention.sum(-1), 1.0, atol=1e-5)
        for c in r.candidates:
            T = len(c.tokens)
            assert c.attention_heads.shape == (T, L, h, S)
            assert_allclose(c.attention_heads.sum(-1), 1.0, atol=1e-5)
            assert_allclose(c.attention_heads[:, -1].mean(1), c.attention, atol=1e-5)   # the heatmap's summary
            assert c.self_attention.shape == (L, h, T, T)
            assert np.all(c.self_attention[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0)
            assert_allclose(c.self_attention.sum(-1), 1.0, atol=1e-5)


def test_a_batch_gets_the_same_heads_as_each_sentence_alone(make_translator):
    """translate_batch(attention_maps=True) runs one teacher-forced pass over every candidate of every sentence
    (sources and outputs of other lengths padded): each gets exactly what it gets alone, cut to its own length."""
    tr = make_translator("transformer", eos_bias=2.0)
    texts = EXAMPLE_SENTENCES[:4]
    batch = tr.translate_batch(texts, beam_size=3, n_best=3, attention_maps=True)
    assert len({len(r.src_tokens) for r in batch}) > 1                      # the sources need padding together
    # … and in passes of 4 candidates, where a sentence's candidates fall into two passes
    split = tr._add_attention_maps(tr.translate_batch(texts, beam_size=3, n_best=3), rows=4)
    for text, together in [*zip(texts, batch), *zip(texts, split)]:
        alone = tr.translate(text, beam_size=3, n_best=3)
        assert_allclose(together.encoder_attention, alone.encoder_attention, atol=1e-5)
        for a, b in zip(together.candidates, alone.candidates):
            assert a.tokens == b.tokens
            assert_allclose(a.attention_heads, b.attention_heads, atol=1e-5)
            assert_allclose(a.self_attention, b.self_attention, atol=1e-5)


def test_live_steps_carry_every_head_and_end_with_the_full_record(make_translator):
    tr = make_translator("transformer", eos_bias=2.0)
    steps = list(tr.steps("我爱学习中文", beam_size=3))
    final = steps[-1].final
    assert final.encoder_attention is not None and final.best.self_attention is not None
    best = final.best
    # The best output's per-step heads, read off the search tree, equal the teacher-forced record.
    by_id = {n.id: n for s in steps for n in s.nodes}
    end = next(n for s in reversed(steps) for n in s.nodes if n.tokens == best.tokens and n.status == "finished")
    path = []
    while end is not None:
        path.append(end)
        end = by_id.get(end.parent)
    heads = np.stack([n.attention_heads for n in reversed(path)])                    # (T, L, h, S)
    assert_allclose(heads, best.attention_heads, atol=1e-5)


def test_an_rnn_has_one_layer_one_head_and_no_self_attention(make_translator):
    r = make_translator("additive").translate("我爱学习", beam_size=3, n_best=2)
    for c in r.candidates:
        assert c.attention_heads.shape == (len(c.tokens), 1, 1, len(r.src_tokens))
        assert_allclose(c.attention_heads[:, 0, 0], c.attention)
        assert c.self_attention is None
    assert r.encoder_attention is None
    assert make_translator("none").translate("我爱学习").best.attention_heads is None


def test_trace_of_one_head_is_its_query_key_scores_and_softmax(make_translator):
    tr = make_translator("transformer", eos_bias=2.0)
    r = tr.translate("我爱学习中文", beam_size=1)
    d_k = tr.config.d_model // tr.config.heads
    for layer in range(tr.config.dec_layers):
        for head in (0, tr.config.heads - 1):
            trace = tr.trace_cross_attention("我爱学习中文", r.best.tokens, layer=layer, head=head)
            T, S = len(r.best.tokens), len(r.src_tokens)
            assert trace["q"].shape == (T, d_k) and trace["k"].shape == (S, d_k) and trace["v"].shape == (S, d_k)
            assert_allclose(trace["scores"], trace["q"] @ trace["k"].T / math.sqrt(d_k), atol=1e-5)
            softmax = np.exp(trace["scores"] - trace["scores"].max(-1, keepdims=True))
            assert_allclose(trace["weights"], softmax / softmax.sum(-1, keepdims=True), atol=1e-6)
            assert_allclose(trace["weights"], r.best.attention_heads[:, layer, head], atol=1e-5)
    with pytest.raises(Exception, match="layer"):
        tr.trace_cross_attention("我爱学习中文", r.best.tokens, layer=9, head=0)


def test_encode_returns_the_transformer_pipeline(make_translator):
    tr = make_translator("transformer")
    e = tr.encode("我爱学习")
    S, d = len(e.source.tokens), tr.config.d_model
    assert e.summary is None and e.embeddings.shape == (S, d) and e.states.shape == (S, d)
    assert_allclose(e.positional, positional_encoding(S, d).numpy(), atol=1e-6)
    assert e.self_attention.shape == (tr.config.enc_layers, tr.config.heads, S, S)


@pytest.mark.parametrize("int8", [False, True])
def test_checkpoint_round_trip(tmp_path, make_translator, int8):
    tr = make_translator("transformer", eos_bias=2.0)
    path = checkpoint.save(tmp_path / "t.safetensors", checkpoint.Checkpoint(tr.model, tr.src_vocab, tr.tgt_vocab,
                                                                             {"corpus": "random"}), int8=int8)
    loaded = checkpoint.load(path)
    assert isinstance(loaded.model, Transformer) and loaded.config == tr.config
    src, lengths = torch.tensor([[4, 5, 3]]), torch.tensor([3])
    tgt_in = torch.tensor([[2, 4, 5]])
    with torch.no_grad():
        a, _ = tr.model(src, lengths, tgt_in)
        b, _ = loaded.model(src, lengths, tgt_in)
    assert_close(a, b, atol=0.05 if int8 else 0.0, rtol=0.05 if int8 else 0.0)


def test_a_tied_output_layer_scores_each_word_by_its_own_embedding_row():
    model = _model(tie_output=True)
    E = model.decoder.embedding.tokens.weight
    assert model.decoder.generator.weight is E                        # one table, W_out = E
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in _model().parameters()) - E.numel()     # the output layer adds only its bias
    src, lengths, tgt_in = _batch()
    logits, _ = model(src, lengths, tgt_in)
    with torch.no_grad():
        top, _ = model.decoder.run(tgt_in, None, model.decoder.prepare(model.encode(src, lengths)))
        assert_close(logits, top @ E.T + model.decoder.generator.bias)   # softmax(LN(y_t) Eᵀ + b)
    logits[0, 0, 3].backward()         # the score of </s> (3), which no decoder input holds, trains its row of E
    assert E.grad[3].abs().sum() > 0


@pytest.mark.parametrize("half, int8", [(False, False), (True, False), (False, True)])
def test_a_tied_model_saves_and_loads_tied(tmp_path, half, int8):
    model = _model(tie_output=True)
    vocabs = [Vocab(f"w{i}" for i in range(size - len(SPECIALS))) for size in (12, 11)]
    path = checkpoint.save(tmp_path / "tied.safetensors", checkpoint.Checkpoint(model, *vocabs, {}),
                           half=half, int8=int8)
    loaded = checkpoint.load(path).model
    assert loaded.config.tie_output and loaded.decoder.generator.weight is loaded.decoder.embedding.tokens.weight
    src, lengths, tgt_in = _batch()
    with torch.no_grad():
        assert_close(loaded(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0],
                     atol=0.02 if half or int8 else 0.0, rtol=0.02 if half or int8 else 0.0)


# --- training ----------------------------------------------------------------------------------------------


def test_a_run_shorter_than_its_warm_up_still_reaches_its_learning_rate_and_decays():
    config = TrainConfig(lr=1e-3, warmup_steps=100, schedule="linear")
    assert scheduled_lr(config, 2, 10) == pytest.approx(1e-3)                 # warm-up capped at a fifth: 2 steps
    assert scheduled_lr(config, 10, 10) == pytest.approx(1e-4)


def test_score_refuses_more_tokens_than_any_output_once_tokenised(make_translator):
    """A few "words" that tokenise into hundreds of tokens are refused, not run past the positional encodings."""
    from seq2seq_lab.errors import InputError

    tr = make_translator("transformer")
    with pytest.raises(InputError) as refused:
        tr.score("我爱学习", ",".join(["i"] * 600))
    assert refused.value.code == "bad_tokens"
    assert math.isfinite(tr.score("我爱学习", ["i"] * 200))                   # the longest output the apps allow


def test_scheduled_lr_warms_up_then_decays_linearly():
    config = TrainConfig(lr=1e-3, warmup_steps=10, schedule="linear")
    assert scheduled_lr(config, 1, 110) == pytest.approx(1e-4)
    assert scheduled_lr(config, 10, 110) == pytest.approx(1e-3)
    assert scheduled_lr(config, 60, 110) == pytest.approx(1e-3 * (1 - 0.9 * 0.5))
    assert scheduled_lr(config, 110, 110) == pytest.approx(1e-4)
    assert scheduled_lr(TrainConfig(lr=1e-3, warmup_steps=10), 50, 110) == pytest.approx(1e-3)   # plateau


def test_fit_trains_a_transformer_that_learns_the_numbers_task(toy_training):
    """A few seconds of training: the loss falls, the file's config is a Transformer's and it translates."""
    splits = toy_training.splits
    arch = {**TINY_TRANSFORMER, "src_segmenter": "char", "tgt_detok": "concat"}
    config = TrainConfig(epochs=4, batch_size=32, lr=3e-3, warmup_steps=20, schedule="linear", label_smoothing=0.0,
                         char_split_prob=0.0, seed=0, device="cpu", max_valid=40)
    result = fit(splits["train"], splits["valid"], arch, config, record={"corpus": "toy:numbers"})
    losses = [e["train_loss"] for e in result.history]
    assert losses[-1] < losses[0] * 0.6, losses
    assert result.history[-1]["lr"] == pytest.approx(3e-4, rel=0.2)          # decayed to about lr/10
    assert isinstance(result.checkpoint.model, Transformer)
    assert result.history[-1]["valid_chrf"] > result.history[0]["valid_chrf"]


@pytest.mark.parametrize("seed", range(4))
def test_the_cache_follows_the_beam(make_translator, seed):
    """With flat next-token distributions the beams swap parents often; every n-best output's per-token
    log-probabilities must still be the teacher-forced ones, which holds only if the cache moves with its beam."""
    tr = make_translator("transformer", seed=seed, sharpen=1.0, eos_bias=1.0)
    checked = 0
    for text in EXAMPLE_SENTENCES:
        for candidate in tr.translate(text, beam_size=5, n_best=5, max_len=8).candidates:
            ids = tr.tgt_vocab.encode(candidate.tokens)
            analysis = tr.analyze(text)
            with torch.no_grad():
                logits, _ = tr.model(torch.tensor([analysis.ids]), torch.tensor([len(analysis.ids)]),
                                     torch.tensor([[tr.tgt_vocab.bos_id] + ids[:-1]]))
            expected = torch.log_softmax(logits[0], -1)[torch.arange(len(ids)), torch.tensor(ids)].numpy()
            assert_allclose(candidate.token_log_probs, expected, atol=1e-4)
            checked += 1
    assert checked >= 5 * len(EXAMPLE_SENTENCES) - 5


def test_the_api_returns_every_head_and_both_self_attentions(tmp_path, make_translator):
    """/translate's JSON (what the Gradio API sends): the summary, and for the best candidate every head and the
    self-attention."""
    from seq2seq_lab.present import api
    from seq2seq_lab.settings import Settings

    tr = make_translator("transformer", eos_bias=2.0)
    checkpoint.save(tmp_path / "tiny_transformer.safetensors",
                    checkpoint.Checkpoint(tr.model, tr.src_vocab, tr.tgt_vocab, {"corpus": "random"}))
    settings = Settings(models_dir=tmp_path, device="cpu")
    answer = api.translate(settings, "我爱学习中文", "tiny_transformer", beam_size=3, n_best=2)
    expected = tr.translate("我爱学习中文", beam_size=3, n_best=2)
    S, (L, h) = len(answer["src_tokens"]), (tr.config.dec_layers, tr.config.heads)
    assert np.asarray(answer["encoder_attention"]).shape == (tr.config.enc_layers, h, S, S)
    for rank, (got, want) in enumerate(zip(answer["candidates"], expected.candidates, strict=True)):
        T = len(got["tokens"])
        assert_allclose(np.asarray(got["attention"]), want.attention, atol=6e-6)               # rounded: 5 decimals
        if rank > 0:                                        # every head for the best candidate only
            assert got["attention_heads"] is None and got["self_attention"] is None
            continue
        assert_allclose(np.asarray(got["attention_heads"]), want.attention_heads, atol=6e-6)
        assert np.asarray(got["self_attention"]).shape == (L, h, T, T)
    listed = {m["name"]: m for m in api.models(settings)}["tiny_transformer"]
    assert listed["family"] == "transformer" and listed["attention"] == "multi_head"
    assert listed["architecture"]["heads"] == h and listed["architecture"]["d_model"] == tr.config.d_model


def test_the_sidebar_form_trains_a_transformer_when_multi_head_is_picked(toy_training):
    from seq2seq_lab.errors import InputError
    from seq2seq_lab.present import training

    request = training.request("toy:numbers", "my_t", {"hidden": 64, "layers": 2, "tf": 0.5, "epochs": 1},
                               attention="multi_head", probe=None)
    assert request.arch == {"family": "transformer", "d_model": 64, "heads": 4, "enc_layers": 2, "dec_layers": 2,
                            "ff_size": 128, "dropout": 0.1}
    assert request.config.teacher_forcing == 1.0 and request.config.schedule == "linear"
    assert request.config.warmup_steps == training.TRANSFORMER_WARMUP
    rnn = training.request("toy:numbers", "my_r", {"tf": 0.5}, attention="dot", probe=None)
    assert rnn.arch["attention"] == "dot" and rnn.config.teacher_forcing == 0.5 and rnn.config.warmup_steps == 0
    with pytest.raises(InputError):
        training.request("toy:numbers", "x", {}, attention="transformer-xl", probe=None)
    splits = toy_training.splits
    result = fit(splits["train"][:200], splits["valid"][:20], {**request.arch, "src_segmenter": "char",
                                                               "tgt_detok": "concat"}, request.config)
    assert isinstance(result.checkpoint.model, Transformer)
