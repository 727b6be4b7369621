"""The "look closer" tab's views (seq2seq_lab/present/closer.py) and pinyin in the figures, without any UI.

Each figure's numbers are read back out of the plotly figure and compared with the core: the coverage bars
with the heatmap's column sums, the attribution heatmap with explain.attribute's rows, the exposure lines with
explain.exposure_bias; pinyin with pypinyin's reading under each source token.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import copy_with_a_broken_file

from seq2seq_lab import explain
from seq2seq_lab.errors import InputError
from seq2seq_lab.present import catalogue, closer, live, views
from seq2seq_lab.settings import Settings
from seq2seq_lab.translator import Translator

SENTENCE = "我爱学习。"


@pytest.fixture(scope="module")
def settings(tmp_path_factory, tiny_models_dir) -> Settings:
    return Settings(models_dir=copy_with_a_broken_file(tiny_models_dir, tmp_path_factory.mktemp("closer_models")),
                    device="cpu")


@pytest.fixture(scope="module")
def model(settings):
    return catalogue.open_model("tiny_zh_en", settings)


@pytest.fixture(scope="module")
def result(model):
    return live.decode(model, SENTENCE, {"beam_size": 3, "n_best": 3, "coverage_penalty": 0.2})


def ticks(figure) -> list[str]:
    return list(figure.layout.xaxis.ticktext)


def test_coverage_view_draws_the_heatmaps_column_sums_and_the_penalty(result):
    shown = closer.coverage_view(result, "en")
    heat, bars = shown.figures
    best = result.final.best
    np.testing.assert_allclose(np.asarray(bars.data[0].y, dtype=float), best.attention.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=float), best.attention, rtol=1e-6)
    cov = explain.coverage(result.final.src_tokens, best.attention, 0.2)
    assert f"{cov.penalty:.3f}" in shown.caption and "0.20" in shown.caption
    colours = list(bars.data[0].marker.color)
    for j in cov.dropped:
        assert colours[j] == "#d62728"
    assert colours[-1] == "#b0b0b0"                                    # </s>: grey, never flagged


def test_coverage_view_names_the_dropped_words():
    """A hand-made result: 北京 gets no attention, and the caption says so."""
    from types import SimpleNamespace

    from seq2seq_lab.search import SearchOptions

    attention = np.array([[0.9, 0.05, 0.0, 0.05], [0.1, 0.9, 0.0, 0.0], [0.0, 0.0, 0.05, 0.95]])
    best = SimpleNamespace(tokens=["tomorrow", "go", "</s>"], attention=attention)
    final = SimpleNamespace(best=best, src_tokens=["明天", "去", "北京", "</s>"], options=SearchOptions(beam_size=1))
    shown = closer.coverage_view(SimpleNamespace(final=final), "zh")
    assert "北京" in shown.caption and shown.kind == "warning"
    assert "几乎没被看过" in shown.caption


def test_attribution_view_draws_integrated_gradients_shares_and_correlation(model, result, settings):
    shown = closer.attribution_view(model, result, "en")
    left, right = shown.figures
    direct = explain.attribute(Translator.load(settings.models_dir / "tiny_zh_en.safetensors", device="cpu"),
                               SENTENCE, result.final.best.tokens)
    z = np.asarray(right.data[0].z, dtype=float)
    np.testing.assert_allclose(z, closer.shares(direct.scores), atol=1e-4)
    np.testing.assert_allclose(np.abs(z).sum(axis=1), 1.0, atol=1e-6)          # each row: shares of its total
    np.testing.assert_allclose(np.asarray(left.data[0].z, dtype=float), direct.attention, atol=1e-5)
    rows = list(right.layout.yaxis.ticktext)
    for row, rho in zip(rows, direct.correlation):
        assert (f"ρ {rho:+.2f}" if np.isfinite(rho) else "ρ –") in row
    assert right.data[0].zmin == -1 and right.data[0].zmax == 1
    assert closer.attribution(model, result) is closer.attribution(model, result)   # computed once, shared


def test_shares_keep_signs_and_leave_zero_rows_alone():
    np.testing.assert_allclose(closer.shares(np.array([[2.0, -2.0, 0.0], [0.0, 0.0, 0.0]])),
                               [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]])


def test_exposure_view_draws_both_lines_and_where_they_part(model, result, settings):
    reference = "I love studying."
    shown = closer.exposure_view(model, result, reference, "en")
    (chart,) = shown.figures
    direct = explain.exposure_bias(Translator.load(settings.models_dir / "tiny_zh_en.safetensors", device="cpu"),
                                   SENTENCE, reference)
    np.testing.assert_allclose(np.asarray(chart.data[0].y, dtype=float), direct.teacher_forced, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(chart.data[1].y, dtype=float), direct.free_running, rtol=1e-5)
    assert list(chart.layout.xaxis.ticktext) == [w.replace("<", "&lt;").replace(">", "&gt;") for w in direct.reference]
    assert f"{direct.teacher_forced_score:.3f}" in shown.caption
    if direct.leaves_at is not None:
        assert f"step {direct.leaves_at + 1}" in shown.caption


def test_exposure_view_asks_for_a_reference_and_refuses_a_huge_one(model, result):
    assert closer.exposure_view(model, result, "  ", "en").figures == []
    with pytest.raises(InputError):
        closer.exposure_view(model, result, "word " * 100, "en")


def test_an_examples_reference_comes_with_it(result):
    from types import SimpleNamespace

    example = next(iter(catalogue.examples_for("everyday").values()))
    assert closer.default_reference(SimpleNamespace(text=example["zh"]), "everyday") == example["en"]
    assert closer.default_reference(SimpleNamespace(text="我自己写的句子"), "everyday") == ""


# --- pinyin -----------------------------------------------------------------------------------------------------

def test_pinyin_goes_under_the_source_words_of_a_heatmap(result):
    src, best = result.final.src_tokens, result.final.best
    plain = views.heatmap(src, best.tokens, best.attention, "en")
    with_pinyin = views.heatmap(src, best.tokens, best.attention, "en", pinyin=True)
    assert all("<br>" not in tick for tick in ticks(plain))
    for token, tick in zip(src, ticks(with_pinyin)):
        reading = explain.pinyin(token)
        assert tick.startswith(token.replace("<", "&lt;").replace(">", "&gt;"))
        assert (reading in tick and "<br>" in tick) if reading else "<br>" not in tick
    assert with_pinyin.layout.margin.t > plain.layout.margin.t          # room for the second line


def test_pinyin_goes_under_the_segmentation_chips(model):
    seg = views.pipeline(model, SENTENCE, "en", pinyin=True)[0]
    assert "xuéxí" in seg.html and "wǒ" in seg.html
    assert "xuéxí" not in views.pipeline(model, SENTENCE, "en")[0].html


def test_a_sentence_without_chinese_tokens_gets_no_pinyin_line():
    assert views.pinyin_notes(["3", "0", "</s>"], True) is None
    assert views.pinyin_notes(["我", "</s>"], False) is None


def test_a_model_without_attention_gets_attribution_alone_and_no_coverage(settings):
    model = catalogue.open_model("tiny_numbers_none", settings)
    result = live.decode(model, "三千零五", {"beam_size": 1, "n_best": 1})
    assert closer.coverage_view(result, "en").figures == []
    shown = closer.attribution_view(model, result, "en")
    (only,) = shown.figures                                           # no attention heatmap to set beside it
    assert np.asarray(only.data[0].z).shape == (len(result.final.best.tokens), len(result.final.src_tokens))
    assert "ρ –" in only.layout.yaxis.ticktext[0] and "ρ –" in shown.caption and "nan" not in shown.caption
