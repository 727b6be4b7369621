"""A Transformer's heads in the presentation layer (present/heads.py, the Transformer's pipeline, cards).

Random-init models (conftest.build_translator): a 2 + 2-layer, 4-head Transformer and an additive RNN. Every
check compares what the view-model draws with the core's own arrays for the same sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import build_translator

from seq2seq_lab.catalog import DEFAULT_MODEL, VARIANT_MODELS, ModelInfo
from seq2seq_lab.figures import label
from seq2seq_lab.i18n import STRINGS, t
from seq2seq_lab.present import catalogue, heads, live, views

SENTENCE = "我爱学习中文"


def open_model(attention: str) -> catalogue.OpenModel:
    tr = build_translator(attention)
    return catalogue.OpenModel(f"random_{attention}", Path(f"random_{attention}.safetensors"), 0.0, tr)


@pytest.fixture(scope="module")
def transformer() -> catalogue.OpenModel:
    return open_model("transformer")


@pytest.fixture(scope="module")
def rnn() -> catalogue.OpenModel:
    return open_model("additive")


def decode(model, beam: int = 3) -> live.Result:
    decoding = live.LiveDecoding(model, SENTENCE, {"beam_size": beam, "n_best": beam, "max_len": 8})
    frames = list(decoding)
    decoding.result.live_frames = frames             # (a test's own attribute: the frames while decoding)
    return decoding.result


def translated(model, result: live.Result):
    """The same request through ``translate`` (its own teacher-forced pass): what the views must show."""
    return model.translator.translate(result.text, **result.options)


def heatmaps(fig, name: str | None = None):
    """The figure's heatmap traces (without the grey "masked" ones unless asked by name)."""
    return [trace for trace in fig.data if trace.type == "heatmap" and (trace.name == name if name
                                                                          else trace.name != "masked")]


# --- frames carry every head ------------------------------------------------------------------------

def test_frames_carry_every_heads_rows_and_the_summary_is_their_last_layers_mean(transformer):
    result = decode(transformer)
    found = heads.shape(transformer)
    S = len(result.final.src_tokens)
    for frame in result.live_frames + result.frames:
        assert frame.heads.shape == (frame.step, found.dec_layers, found.heads, S)
        np.testing.assert_allclose(frame.heads[:, -1].mean(axis=1), frame.attention, atol=1e-5)
        np.testing.assert_allclose(frame.heads.sum(axis=-1), 1.0, atol=1e-5)
    best = translated(transformer, result).best                   # a teacher-forced pass of its own
    assert best.tokens == result.final.best.tokens
    for i, frame in enumerate(result.frames):                     # the final path: the best candidate's rows
        np.testing.assert_allclose(frame.heads, best.attention_heads[:i + 1], atol=1e-5)


def test_an_rnns_frames_have_one_head_equal_to_its_attention(rnn):
    result = decode(rnn)
    for frame in result.live_frames + result.frames:
        assert frame.heads.shape[1:3] == (1, 1)
        np.testing.assert_allclose(frame.heads[:, 0, 0], frame.attention, atol=1e-6)
    assert heads.shape(rnn) is None


# --- the head picker ------------------------------------------------------------------------------------

def test_head_choices_are_the_summary_then_every_layer_and_head(transformer):
    found = heads.shape(transformer)
    assert (found.enc_layers, found.dec_layers, found.heads, found.d_k) == (2, 2, 4, 6) and found.many
    choices = heads.head_choices(found, "en")
    assert list(choices)[0] == heads.SUMMARY and choices[heads.SUMMARY] == t("heads.summary", "en")
    assert len(choices) == 1 + 2 * 4
    assert choices["1.2"] == "layer 2 · head 3" and heads.head_choices(found, "zh")["1.2"] == "第 2 层 · 头 3"
    assert heads.parse_head("1.2", found) == (1, 2)
    for bad in ("2.0", "0.4", "-1.0", "x.y", "1", None, 3, heads.SUMMARY):
        assert heads.parse_head(bad, found) is None
        assert heads.pick(bad, found) == heads.SUMMARY
    assert heads.parse_head("0.0", None) is None                  # an RNN: always the summary


def test_frame_rows_draw_the_chosen_head_or_the_summary(transformer, rnn):
    found = heads.shape(transformer)
    frame = decode(transformer).frames[-1]
    np.testing.assert_array_equal(heads.frame_rows(frame, heads.SUMMARY, found), frame.attention)
    for layer in range(2):
        for head in range(4):
            np.testing.assert_array_equal(heads.frame_rows(frame, heads.head_key(layer, head), found),
                                          frame.heads[:, layer, head])
    assert not np.allclose(heads.frame_rows(frame, "0.0", found), heads.frame_rows(frame, "0.1", found))
    rnn_frame = decode(rnn).frames[-1]                            # a Transformer's choice on an RNN's result
    np.testing.assert_array_equal(heads.frame_rows(rnn_frame, "1.3", found), rnn_frame.attention)


# --- every head side by side ---------------------------------------------------------------------------

def test_cross_grid_draws_one_panel_per_head_of_the_layer_picked(transformer):
    result = decode(transformer)
    frame = result.frames[2]
    src = result.final.src_tokens
    fig, caption = heads.cross_grid(frame, src, "1", "en")
    panels = heatmaps(fig)
    assert [p.name for p in panels] == [f"head {h}" for h in range(1, 5)]
    for h, panel in enumerate(panels):
        np.testing.assert_allclose(np.asarray(panel.z, dtype=float), frame.heads[:, 0, h], atol=1e-6)
    assert "layer 1" in caption and "step 3" in caption
    assert list(fig.layout.xaxis.ticktext) == [label(x) for x in src]
    assert list(fig.layout.yaxis.ticktext) == [label(x) for x in frame.tokens]
    fig, caption = heads.cross_grid(frame, src, heads.ALL_LAYERS, "en")        # the model view: layers × heads
    panels = heatmaps(fig)
    assert len(panels) == 2 * 4 and panels[5].name == "layer 2 · head 2"
    np.testing.assert_allclose(np.asarray(panels[5].z, dtype=float), frame.heads[:, 1, 1], atol=1e-6)
    assert "1–2" in caption
    fig, _ = heads.cross_grid(frame, src, "not a layer", "en")                  # falls back to the last layer
    np.testing.assert_allclose(np.asarray(heatmaps(fig)[0].z, dtype=float), frame.heads[:, 1, 0], atol=1e-6)


def test_layer_and_step_pickers_parse_forgivingly():
    assert heads.layer_choices(3, "en") == {"1": "layer 1", "2": "layer 2", "3": "layer 3"}
    assert list(heads.layer_choices(2, "zh", every=True)) == ["1", "2", heads.ALL_LAYERS]
    assert heads.parse_layer("2", 3) == 1 and heads.parse_layer("9", 3) == 2 and heads.parse_layer(None, 3) == 2
    assert heads.parse_layer(heads.ALL_LAYERS, 3, every=True) is None and heads.parse_layer(heads.ALL_LAYERS, 3) == 2
    assert heads.parse_head_number("4", 4) == 3 and heads.parse_head_number("5", 4) == 0
    assert heads.parse_step("3", 5) == 3 and heads.parse_step("0", 5) == 1 and heads.parse_step("x", 5) == 1


# --- self-attention ---------------------------------------------------------------------------------

def test_decoder_self_attention_masks_the_future(transformer):
    result = decode(transformer)
    best = translated(transformer, result).best
    assert best.tokens == result.final.best.tokens
    T = 3
    fig, caption = heads.self_attention(transformer, result, "decoder", "2", "en", step=T)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    panels = heatmaps(fig)
    assert len(panels) == 4
    for h, panel in enumerate(panels):
        z = np.asarray(panel.z, dtype=float)
        assert np.isnan(z[future]).all()                                     # the future is not a weight
        np.testing.assert_allclose(z[~future], best.self_attention[1, h, :T, :T][~future], atol=1e-6)
    for masked in heatmaps(fig, "masked"):                                   # drawn grey, exactly there
        assert (~np.isnan(np.asarray(masked.z, dtype=float)) == future).all()
        assert masked.colorscale[0][1] == masked.colorscale[-1][1] != "white"
    assert len(heatmaps(fig, "masked")) == 4
    assert list(fig.layout.xaxis.ticktext) == ["&lt;s&gt;", *[label(x) for x in best.tokens[:T - 1]]]
    assert list(fig.layout.yaxis.ticktext) == [label(x) for x in best.tokens[:T]]
    assert "layer 2" in caption and "Grey" in caption


def test_encoder_self_attention_shows_every_head_of_the_layer(transformer, rnn):
    result = decode(transformer)
    expected = translated(transformer, result).encoder_attention
    fig, caption = heads.self_attention(transformer, result, "encoder", "1", "zh")
    panels = heatmaps(fig)
    assert len(panels) == 4
    for h, panel in enumerate(panels):
        np.testing.assert_allclose(np.asarray(panel.z, dtype=float), expected[0, h], atol=1e-6)
    assert not heatmaps(fig, "masked") and "第 1 层" in caption
    figure, _ = heads.self_attention(rnn, decode(rnn), "encoder", "1", "en")
    assert figure is None                                                   # an RNN has no self-attention


def test_the_maps_pass_runs_when_a_view_asks_once_and_for_the_results_own_model(transformer, rnn, monkeypatch):
    """A live decoding leaves the teacher-forced maps pass out (a fifth of a Transformer's search, #12); the
    self-attention views compute it on first use, once, and never with another model's weights."""
    live.MAPS.clear()
    live.RESULTS.clear()
    passes = []
    original = type(transformer.translator)._add_attention_maps
    monkeypatch.setattr(type(transformer.translator), "_add_attention_maps",
                        lambda self, translations, *a, **k: passes.append(1) or original(self, translations, *a, **k))
    result = decode(transformer)
    assert passes == [] and result.final.best.self_attention is None and result.final.encoder_attention is None
    assert result.frames[-1].heads is not None                             # every head's rows, from the search
    for side in ("encoder", "decoder", "encoder"):
        figure, _ = heads.self_attention(transformer, result, side, "1", "en")
        assert figure is not None
    assert passes == [1]                                                   # computed once, then cached
    assert result.final.best.self_attention is None                        # the shared result is not changed
    maps = live.attention_maps(transformer, result)
    assert maps.best.self_attention is not None and maps.encoder_attention is not None
    assert maps.best.tokens == result.final.best.tokens and len(maps.candidates) == len(result.final.candidates) > 1
    assert all(a is b for a, b in zip(maps.candidates[1:], result.final.candidates[1:]))   # the best one's alone
    assert live.attention_maps(rnn, result) is None                        # not this result's model
    figure, _ = heads.self_attention(rnn, result, "encoder", "1", "en")
    assert figure is None


# --- the pipeline ------------------------------------------------------------------------------------

def test_a_transformers_pipeline_shows_its_positional_encodings_and_no_summary(transformer, rnn):
    panels = {p.key: p for p in views.pipeline(transformer, SENTENCE, "en")}
    assert list(panels) == ["seg", "ids", "emb", "pos", "enc"]
    encoding = transformer.translator.encode(SENTENCE)
    np.testing.assert_allclose(np.asarray(panels["pos"].figure.data[0].z), encoding.positional, atol=1e-6)
    np.testing.assert_allclose(np.asarray(panels["emb"].figure.data[0].z), encoding.embeddings, atol=1e-6)
    assert "√d" in panels["emb"].caption and "sin" in panels["pos"].caption
    assert views.pipeline_intro(transformer, "en") == t("pipe.intro_tf", "en")
    assert [p.key for p in views.pipeline(rnn, SENTENCE, "en")] == ["seg", "ids", "emb", "enc", "ctx"]
    assert views.pipeline_intro(rnn, "zh") == t("pipe.intro", "zh")


def test_trace_panels_are_the_heads_query_keys_values_and_scores(transformer, rnn):
    result = decode(transformer, beam=1)
    best = result.final.best
    panels = {p.key: p for p in heads.trace_panels(transformer, result, "2", "3", "2", "en")}
    assert list(panels) == ["qkv", "scores"]
    traced = transformer.translator.trace_cross_attention(SENTENCE, best.tokens, layer=1, head=2)
    left, right = panels["qkv"].figure.data
    np.testing.assert_allclose(np.asarray(left.z)[0], traced["q"][1], atol=1e-6)        # step 2's query
    np.testing.assert_allclose(np.asarray(left.z)[1:], traced["k"], atol=1e-6)
    np.testing.assert_allclose(np.asarray(right.z, dtype=float)[1:], traced["v"], atol=1e-6)
    before, after = panels["scores"].figure.data
    np.testing.assert_allclose(np.asarray(before.y), traced["scores"][1], atol=1e-6)
    np.testing.assert_allclose(np.asarray(after.y), result.frames[-1].heads[1, 1, 2], atol=1e-5)  # what decoding drew
    assert abs(float(np.sum(after.y)) - 1) < 1e-5
    assert f"“{best.tokens[1]}”" in panels["qkv"].caption and "d_k = 6" in panels["qkv"].caption
    assert heads.step_choices(result) == {str(i): f"{i} · {tok}" for i, tok in enumerate(best.tokens, start=1)}
    assert heads.trace_panels(rnn, decode(rnn), "1", "1", "1", "en") == []


# --- the model card and the variants ----------------------------------------------------------------------

TRANSFORMER_CONFIG = {"family": "transformer", "attention": "multi_head", "d_model": 256, "heads": 4,
                      "enc_layers": 3, "dec_layers": 3, "ff_size": 512}


def test_a_transformers_card_and_label_describe_its_layers_and_heads():
    info = ModelInfo("everyday_transformer", Path("everyday_transformer.safetensors"), TRANSFORMER_CONFIG,
                     {"corpus": "everyday", "test": {"greedy": {"bleu": 20.5}}})
    assert catalogue.architecture(TRANSFORMER_CONFIG) == "Transformer · 3+3 layers · 4 heads · d 256 · FFN 512"
    assert catalogue.architecture(TRANSFORMER_CONFIG, "zh") == "Transformer · 3+3 层 · 4 个头 · d 256 · FFN 512"
    assert catalogue.model_label("everyday_transformer", info, "en") == \
        "everyday_transformer · Transformer (4 heads) · everyday · BLEU 20.5"
    card = catalogue.model_card("everyday_transformer", info, "en")
    assert "Transformer · 3+3 layers · 4 heads · d 256 · FFN 512" in card and "?" not in card
    rnn = {"attention": "dot", "cell": "gru", "enc_layers": 2, "bidirectional": True, "emb_size": 32,
           "hidden_size": 64}
    assert catalogue.architecture(rnn) == "GRU ×2 bi · emb 32 · hidden 64"


def test_the_variants_include_the_transformer_with_its_formula():
    assert VARIANT_MODELS["multi_head"] == DEFAULT_MODEL == "everyday_transformer"
    for attention in VARIANT_MODELS:
        assert set(STRINGS[f"var.formula.{attention}"]) == {"en", "zh"}
    assert "QKᵀ/√d_k" in t("var.formula.multi_head", "en") and "QKᵀ/√d_k" in t("var.formula.multi_head", "zh")
