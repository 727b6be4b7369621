"""The plotly figures draw exactly the values they are given, the textbook way round."""

from __future__ import annotations

import numpy as np
import pytest

from seq2seq_lab import figures
from seq2seq_lab.search import Alternative
from seq2seq_lab.text import SourceToken


def test_heatmap_orientation_scale_and_hover():
    src, out = ["我", "爱", "学习", "</s>"], ["i", "love", "studying", "</s>"]
    attention = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05], [0.0, 0.1, 0.9, 0.0], [0.1, 0.1, 0.1, 0.7]])
    fig = figures.attention_heatmap(src, out, attention)
    trace = fig.data[0]
    assert list(fig.layout.xaxis.ticktext) == ["我", "爱", "学习", "&lt;/s&gt;"]    # reading order, left → right
    assert list(fig.layout.xaxis.tickvals) == [0, 1, 2, 3]
    assert list(fig.layout.yaxis.ticktext) == ["i", "love", "studying", "&lt;/s&gt;"]
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]                 # row 0 (first word) on top
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)
    np.testing.assert_array_equal(np.asarray(trace.z), attention)
    assert list(trace.customdata[1][2]) == ["love", "学习"]                         # output token, source token
    assert "customdata[0]" in trace.hovertemplate and "customdata[1]" in trace.hovertemplate
    assert "%{z" in trace.hovertemplate


def test_repeated_tokens_keep_their_own_columns_and_rows():
    src, out = ["的", "书", "的", "</s>"], ["the", "the", "</s>"]
    attention = np.eye(3, 4)
    fig = figures.attention_heatmap(src, out, attention)
    assert list(fig.layout.xaxis.ticktext) == ["的", "书", "的", "&lt;/s&gt;"]
    assert list(fig.data[0].x) == [0, 1, 2, 3]                                   # integer positions: no merging
    assert list(fig.data[0].y) == [0, 1, 2]
    assert np.asarray(fig.data[0].z).shape == (3, 4)


def test_markup_in_tokens_is_drawn_literally():
    fig = figures.attention_heatmap(["<b>", "&", "<script>"], ["x"], np.array([[0.2, 0.3, 0.5]]))
    assert list(fig.layout.xaxis.ticktext) == ["&lt;b&gt;", "&amp;", "&lt;script&gt;"]


def test_growing_heatmap_and_highlighted_row():
    src, out = ["我", "爱", "</s>"], ["i", "love", "</s>"]
    rows = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]])
    fig = figures.attention_heatmap(src, out, rows, highlight_row=1)
    assert list(fig.layout.yaxis.ticktext) == ["i", "love"]                      # only the rows decoded so far
    (shape,) = fig.layout.shapes
    assert (shape.y0, shape.y1) == (0.5, 1.5)


def test_no_attention_gives_an_empty_heatmap_not_made_up_numbers():
    fig = figures.attention_heatmap(["我", "</s>"], ["i"], None)
    assert np.asarray(fig.data[0].z).size == 0


def test_vector_heatmap_is_centred_on_zero():
    vectors = np.array([[1.0, -3.0], [0.5, 2.0]])
    fig = figures.vector_heatmap(["我", "爱"], vectors)
    trace = fig.data[0]
    assert (trace.zmin, trace.zmid, trace.zmax) == (-3.0, 0.0, 3.0)
    np.testing.assert_array_equal(np.asarray(trace.z), vectors)
    assert list(fig.layout.yaxis.ticktext) == ["我", "爱"]


def test_probability_bars_mark_the_chosen_token():
    alternatives = [Alternative("i", 0.6), Alternative("he", 0.3), Alternative("</s>", 0.1)]
    fig = figures.probability_bars(alternatives, "he")
    colors = list(fig.data[0].marker.color)
    assert colors[1] == figures.COLORS["chosen"] and colors[0] != colors[1]
    assert list(fig.data[0].x) == [0.6, 0.3, 0.1]
    assert list(fig.layout.yaxis.ticktext) == ["i", "he", "&lt;/s&gt;"]


def test_beam_tree_draws_every_node_of_the_search(make_translator):
    tr = make_translator("additive", eos_bias=1.5)
    steps = list(tr.steps("我爱学习中文", beam_size=3, n_best=3))
    final = steps[-1].final
    nodes = [n for s in steps for n in s.nodes]
    fig = figures.beam_tree(steps, best_tokens=final.best.tokens)
    drawn = {trace.name: len(trace.x) for trace in fig.data if trace.mode == "markers+text" and trace.name}
    for status, label in (("alive", "kept"), ("finished", "finished"), ("pruned", "pruned")):
        assert drawn.get(label, 0) == sum(n.status == status for n in nodes)
    position = figures.tree_layout(nodes)
    for node in nodes:
        assert position[node.id][0] == node.step + 1
        assert position[node.parent][0] == node.step
    red = [trace for trace in fig.data if trace.mode == "lines" and trace.line.color == figures.COLORS["best"]]
    assert len([x for x in red[0].x if x is None]) == len(final.best.tokens)    # one red edge per output token


def test_tree_layout_puts_parents_between_their_children(make_translator):
    steps = list(make_translator("dot").steps("我爱学习", beam_size=4, n_best=4))
    nodes = [n for s in steps for n in s.nodes]
    position = figures.tree_layout(nodes)
    for parent in {n.parent for n in nodes}:
        ys = [position[n.id][1] for n in nodes if n.parent == parent]
        assert position[parent][1] == pytest.approx(np.mean(ys))


def test_training_curves_plot_the_history():
    history = [{"epoch": 1, "train_loss": 3.0, "valid_loss": 2.5, "valid_bleu": 1.0},
               {"epoch": 2, "train_loss": 2.0, "valid_loss": 2.2, "valid_bleu": 4.5}]
    fig = figures.training_curves(history)
    assert [list(trace.y) for trace in fig.data] == [[3.0, 2.0], [2.5, 2.2], [1.0, 4.5]]


def test_export_config_is_client_side_png_or_svg():
    config = figures.export_config("attention: 我/../x", fmt="svg")
    assert config["toImageButtonOptions"]["format"] == "svg"
    assert "/" not in config["toImageButtonOptions"]["filename"]
    assert figures.export_config("x", fmt="pdf")["toImageButtonOptions"]["format"] == "png"


def test_token_chips_escape_and_mark_kinds():
    tokens = [SourceToken("<b>", "unk", "<b>"), SourceToken("学", "char", "学霸"), SourceToken("我", "word", "我"),
              SourceToken("</s>", "word", "</s>")]
    chips = figures.token_chips_html(tokens, [1, 7, 4, 3])
    assert "<b>" not in chips and "&lt;unk&gt;" in chips
    assert figures.CHIP_STYLES["char"] in chips and figures.CHIP_STYLES["unk"] in chips
    assert ">7</div>" in chips
