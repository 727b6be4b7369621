"""The plotly figures draw exactly the values they are given, the textbook way round."""

from __future__ import annotations

import base64
import html
import json
import unicodedata
from collections import defaultdict

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from seq2seq_lab import figures
from seq2seq_lab.i18n import t
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


# The live view's two figures skip graph_objects' validation (it was most of a class's server time): they must be
# exactly what plotly would have validated them to, for every option the apps use.

def validated(fig) -> dict:
    return json.loads(go.Figure(fig.to_dict()).to_json())


@pytest.mark.parametrize("rows", [0, 1, 3])
@pytest.mark.parametrize("options", [{}, {"title": "<b>t</b>", "highlight_row": 1, "src_notes": ["wǒ", "", "xuéxí"]},
                                     {"compact": True}, {"show_values": True, "height": 300},
                                     {"output_title": False, "lang": "zh", "font_size": 20}])
def test_the_live_heatmap_is_valid_plotly_without_validation(rows, options):
    src, out = ["我", "爱", "学习", "</s>"], ["i", "<love>", "studying", "</s>"]
    fig = figures.attention_heatmap(src, out, np.full((rows, 4), 0.25), **options)
    assert json.loads(fig.to_json()) == validated(fig)


@pytest.mark.parametrize("alternatives", [[], [Alternative("a", 0.5), Alternative("<b>", 0.25)]])
def test_the_live_bars_are_valid_plotly_without_validation(alternatives):
    fig = figures.probability_bars(alternatives, "a", title="step 1", lang="zh")
    assert json.loads(fig.to_json()) == validated(fig)


def decoded(value):
    """Plotly JSON with its typed arrays ({"dtype", "bdata", "shape"}: how ``to_json`` writes numpy arrays) as
    the lists they hold (how ``spec_json`` writes them; plotly.js reads both); NaN as null, as plotly writes it."""
    if isinstance(value, dict) and set(value) == {"dtype", "bdata", "shape"}:
        shape = [int(n) for n in str(value["shape"]).split(",")]
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
        return [[None if np.isnan(x) else float(x) for x in row] for row in array.tolist()]
    if isinstance(value, dict):
        return {key: decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decoded(item) for item in value]
    return value


@pytest.mark.parametrize("default", ["plotly", "streamlit"])
@pytest.mark.parametrize("build", [
    lambda **kw: figures.attention_heatmap(["我", "爱", "<b>"], ["i", "love"], np.array([[0.9, 0.1, 0.0],
                                                                                  [0.2, 0.7, 0.1]]), **kw),
    lambda **kw: figures.attention_heatmap(["我", "爱"], ["i"], np.array([[np.nan, 1.0]]), highlight_row=0,
                                           src_notes=["wǒ", "ài"], lang="zh", font_size=20, **kw),
    lambda **kw: figures.probability_bars([Alternative("a", 0.5), Alternative("<b>", 0.25)], "a", title="step 1",
                                          **kw)])
def test_a_spec_is_the_figures_json_form_and_stays_as_it_was(build, default, monkeypatch):
    """The live player sends the figures' specs (``as_spec``) without building a Figure: the JSON and the template
    it sends must be exactly the Figure's, and wrapping or writing a spec (shared by a cache) must not change it."""
    if default == "streamlit":
        import streamlit.elements.plotly_chart  # noqa: F401  (registers the "streamlit" template)
    monkeypatch.setattr(pio.templates, "default", default)
    spec, fig = build(as_spec=True), build()
    before = json.dumps(spec, cls=figures.PlotlyJSONEncoder)
    text, template = figures.spec_json(spec)
    whole = json.loads(fig.to_json())
    assert json.loads(text) == decoded({"data": whole["data"], "layout": {k: v for k, v in whole["layout"].items()
                                                                          if k != "template"}})
    assert json.loads(json.dumps(template)) == whole["layout"]["template"]
    assert json.loads(figures.figure(spec).to_json()) == whole == validated(fig)
    assert json.dumps(spec, cls=figures.PlotlyJSONEncoder) == before and "template" not in spec["layout"]


def test_a_spec_keeps_its_own_weights_and_only_a_spec_is_written_as_one():
    """A cached spec is shared by every visitor: the caller's array changing afterwards must not change it."""
    weights = np.array([[0.9, 0.1], [0.3, 0.7]])
    spec = figures.attention_heatmap(["我", "爱"], ["i", "love"], weights, as_spec=True)
    weights[0, 0] = 0.0
    assert json.loads(figures.spec_json(spec)[0])["data"][0]["z"][0][0] == 0.9
    with pytest.raises(TypeError):
        figures.spec_json(figures.figure(spec))             # a Figure would be sent with its template again


def test_the_attribution_heatmap_is_valid_plotly_and_red_where_a_word_argued_against():
    """Built on the unvalidated live heatmap: a colour scale left as the name "RdBu" reached plotly.js, whose own
    RdBu runs blue → red, the reverse of plotly.py's — the README's screenshots showed "for" in red."""
    fig = figures.attribution_heatmap(["我", "爱", "</s>"], ["i", "love"], np.array([[0.9, -0.1, 0.0],
                                                                                    [0.2, 0.8, 0.0]]), [0.5, 1.0])
    assert json.loads(fig.to_json()) == validated(fig)
    scale = fig.data[0].colorscale
    assert not isinstance(scale, str)
    low, high = scale[0][1], scale[-1][1]                                   # z = −1 and z = +1
    red, blue = ([int(v) for v in colour[4:-1].split(",")] for colour in (low, high))      # "rgb(r,g,b)"
    assert red[0] > red[2] and blue[2] > blue[0]


@pytest.mark.parametrize("default", ["plotly", "streamlit"])      # Streamlit makes its own template the default
def test_the_live_figures_carry_the_default_template_less_what_they_cannot_use(default, monkeypatch):
    if default == "streamlit":
        import streamlit.elements.plotly_chart  # noqa: F401  (registers the "streamlit" template)
    monkeypatch.setattr(pio.templates, "default", default)
    full = json.loads(json.dumps(pio.templates[default].to_plotly_json()))
    heat = figures.attention_heatmap(["我"], ["i"], np.ones((1, 1)))
    bars = figures.probability_bars([Alternative("i", 1.0)], "i")
    for fig, kind in ((heat, "heatmap"), (bars, "bar")):
        template = json.loads(fig.to_json())["layout"]["template"]
        own = {kind: full["data"][kind]} if kind in full.get("data", {}) else {}
        assert template.get("data", {}) == own                              # its own trace type's defaults, whole
        dropped = set(full["layout"]) - set(template["layout"])
        assert dropped <= {"polar", "ternary", "scene", "geo", "mapbox", "map"}   # only other kinds of axes
        assert all(template["layout"][key] == full["layout"][key] for key in template["layout"])
        assert json.loads(fig.to_json()) == validated(fig)
    if default == "plotly":
        assert dropped and own                                             # there was something to leave out


def test_probability_bars_mark_the_chosen_token():
    alternatives = [Alternative("i", 0.6), Alternative("he", 0.3), Alternative("</s>", 0.1)]
    fig = figures.probability_bars(alternatives, "he")
    colors = list(fig.data[0].marker.color)
    assert colors[1] == figures.COLORS["chosen"] and colors[0] != colors[1]
    assert list(fig.data[0].x) == [0.6, 0.3, 0.1]
    assert list(fig.layout.yaxis.ticktext) == ["i", "he", "&lt;/s&gt;"]      # they hold it all: no rest bar


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_probability_bars_show_what_the_other_words_hold_together(lang):
    """Below the top words, grey: 1 − Σ top-k (label smoothing spreads ~8 % over the whole vocabulary, which the
    top five alone leave unexplained); not drawn when it is under half a per cent."""
    fig = figures.probability_bars([Alternative("</s>", 0.92), Alternative("!", 0.0001)], "</s>", lang=lang)
    assert list(fig.layout.yaxis.ticktext) == ["&lt;/s&gt;", "!", t("fig.rest", lang)]
    assert list(fig.data[0].x) == pytest.approx([0.92, 0.0001, 0.0799])
    assert list(fig.data[0].marker.color)[-1] == figures.COLORS["rest"]
    assert list(fig.data[0].text)[-1] == "8.0%"
    almost_all = figures.probability_bars([Alternative("i", 0.7), Alternative("he", 0.297)], "i", lang=lang)
    assert len(almost_all.data[0].x) == 2


def test_beam_tree_draws_every_node_of_the_search(make_translator):
    tr = make_translator("additive", eos_bias=1.5)
    steps = list(tr.steps("我爱学习中文", beam_size=3, n_best=3))
    final = steps[-1].final
    nodes = [n for s in steps for n in s.nodes]
    fig = figures.beam_tree(steps, best_tokens=final.best.tokens)
    drawn = {trace.name: len(trace.x) for trace in fig.data if "markers" in trace.mode and trace.name}
    for status, label in (("alive", "kept"), ("finished", "finished"), ("pruned", "pruned")):
        assert drawn.get(label, 0) == sum(n.status == status for n in nodes)
    position = figures.tree_layout(nodes)
    for node in nodes:
        assert position[node.id][0] == node.step + 1
        assert position[node.parent][0] == node.step
    red = [trace for trace in fig.data if trace.mode == "lines" and trace.line.color == figures.COLORS["best"]]
    assert len([x for x in red[0].x if x is None]) == len(final.best.tokens)    # one red edge per output token


def text_px(text: str, size: float) -> float:
    """A conservative width of ``text`` drawn at ``size`` px: 0.6 em a character, CJK (and ↓, （) double."""
    return sum(size * (1.2 if unicodedata.east_asian_width(ch) in "WFA" else 0.6) for ch in html.unescape(text))


# Output tokens the y axis may have to show: short, long English words, Chinese, and a single row.
Y_LABELS = {"short": ["i", "love", "you", "</s>"], "long": ["we", "internationalization", "understanding", "</s>"],
            "chinese": ["我们", "明天见", "</s>"], "one_row": ["hello"]}


@pytest.mark.parametrize("font_size", [14, 20])
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("labels", list(Y_LABELS))
@pytest.mark.parametrize("rows", [1, 2, 3, 10])
def test_heatmap_leaves_room_for_the_y_title_and_labels(labels, lang, font_size, rows):
    """Issue #10: "the heatmap's y-axis title is clipped ("utput")". The rotated title must fit the plot's
    height (or it runs off the figure's bottom edge) and the left margin must hold labels and title."""
    out = (Y_LABELS[labels] * 10)[:rows]
    src = ["我们", "明天", "一起", "去", "图书馆", "</s>"]
    attention = np.full((rows, len(src)), 1 / len(src))
    layout = figures.attention_heatmap(src, out, attention, lang=lang, font_size=font_size).layout
    title_size = layout.yaxis.title.font.size or round(1.2 * font_size)     # plotly's default: 1.2 × the font
    lines = layout.yaxis.title.text.split("<br>")
    assert "".join(lines).replace(" ", "") == t("fig.output_axis", lang).replace(" ", "")   # wrapped, not cut
    plot_height = layout.height - layout.margin.t - layout.margin.b
    assert plot_height >= max(text_px(line, title_size) for line in lines)
    tick_width = max(text_px(tick, font_size) for tick in layout.yaxis.ticktext)
    assert layout.margin.l >= tick_width + len(lines) * 1.2 * title_size
    # the x tick labels and the x title above the plot fit in the top margin, so it does not grow in the
    # browser (which would shorten the plot the title was measured against)
    assert layout.margin.t >= 1.2 * font_size + 1.2 * (layout.xaxis.title.font.size or round(1.2 * font_size))


@pytest.mark.parametrize("font_size", [14, 20])
def test_a_long_translation_packs_its_rows_so_the_heatmap_stays_on_a_projector(font_size):
    """A 10-word sentence can get a 12-word translation (13 rows with </s>): past FULL_ROWS rows the heatmap keeps
    the plot height of FULL_ROWS rows, each row still at least a line of its tick text."""
    src = ["我", "每天", "早上", "七点", "和", "妈妈", "一起", "去", "公园", "跑步", "。", "</s>"]

    def plot_px(rows: int) -> float:
        layout = figures.attention_heatmap(src, ["word"] * rows, np.full((rows, len(src)), 0.1),
                                           font_size=font_size).layout
        return layout.height - layout.margin.t - layout.margin.b

    full, line = plot_px(figures.FULL_ROWS), figures.LINE * font_size
    assert plot_px(figures.FULL_ROWS - 1) < full                           # up to FULL_ROWS: every row adds a cell
    for rows in (12, 13, 15, 30):            # past it: FULL_ROWS rows' height, shared, but a line of text a row
        assert plot_px(rows) == pytest.approx(max(full, rows * line), abs=1)


def presenter_tree(make_translator, font_size: int = 20, lang: str = "en", beam_size: int = 5, eos_bias: float = 0.0):
    tr = make_translator("additive", eos_bias=eos_bias)
    steps = list(tr.steps("我爱学习中文", beam_size=beam_size, n_best=beam_size))
    nodes = [n for s in steps for n in s.nodes]
    return figures.beam_tree(steps, best_tokens=steps[-1].final.best.tokens, lang=lang, font_size=font_size), nodes


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_beam_tree_legend_is_out_of_the_modebars_corner(make_translator, lang):
    """The modebar shows at the figure's top right on hover: a legend there is hidden (issue #10)."""
    fig, _ = presenter_tree(make_translator, lang=lang)
    legend = fig.layout.legend
    x = 1.02 if legend.x is None else legend.x                   # plotly's default: right of the plot, at the top
    y = 1.0 if legend.y is None else legend.y
    right = x > 0.5 or legend.xanchor == "right"
    assert not (right and y > 0.5)
    if y >= 1:                                                   # above the plot: the top margin holds it
        assert legend.yanchor == "bottom" and fig.layout.margin.t >= 1.5 * fig.layout.font.size


def test_beam_tree_best_path_runs_beneath_the_labels(make_translator):
    """The red best path is drawn first (plotly draws later traces on top) and every label has a halo in the
    background colour, so where the line passes under a word it is interrupted instead of striking it out."""
    fig, _ = presenter_tree(make_translator)
    best = figures.COLORS["best"]
    red = [i for i, trace in enumerate(fig.data) if trace.mode == "lines" and trace.line.color == best]
    nodes = [i for i, trace in enumerate(fig.data) if "markers" in trace.mode]
    assert red and max(red) < min(nodes)
    background = fig.layout.plot_bgcolor
    for trace in fig.data:
        if "text" in trace.mode:
            assert background and background in (trace.textfont.shadow or "")


@pytest.mark.parametrize("font_size", [14, 20])
@pytest.mark.parametrize("search", [(5, 0.0), (3, 3.0)])         # a 20-step search; a short one, every word drawn
def test_beam_tree_labels_do_not_pile_up(make_translator, font_size, search):
    """Issue #10: in presenter mode the labels of pruned branches pile on top of each other (and at the normal
    size a big tree squeezed its rows to fit 1100 px). No two labels in one column may be closer than a line
    of text; pruned nodes stay drawn (and hoverable)."""
    fig, nodes = presenter_tree(make_translator, font_size, beam_size=search[0], eos_bias=search[1])
    layout = fig.layout
    ys = [y for trace in fig.data if "markers" in trace.mode for y in trace.y]
    top, bottom = (layout.yaxis.range or (max(ys), min(ys)))                 # autorange: at least the data
    px_per_row = (layout.height - layout.margin.t - layout.margin.b) / abs(top - bottom)
    columns = defaultdict(list)
    for trace in fig.data:
        if "text" not in trace.mode:
            continue
        for x, y, text in zip(trace.x, trace.y, trace.text):
            if text:
                columns[x].append((y, trace.textfont.size or layout.font.size))
    assert columns
    for labels in columns.values():
        labels.sort()
        for (y0, size0), (y1, size1) in zip(labels, labels[1:]):
            assert (y1 - y0) * px_per_row >= 1.2 * max(size0, size1)
    pruned = [trace for trace in fig.data if trace.name == t("fig.pruned", "en")]
    assert len(pruned[0].x) == sum(n.status == "pruned" for n in nodes)


@pytest.mark.parametrize("pruned_gap", [1.0, 0.5])
def test_tree_layout_puts_parents_between_their_children(make_translator, pruned_gap):
    steps = list(make_translator("dot").steps("我爱学习", beam_size=4, n_best=4))
    nodes = [n for s in steps for n in s.nodes]
    position = figures.tree_layout(nodes, pruned_gap=pruned_gap)
    for parent in {n.parent for n in nodes}:
        ys = [position[n.id][1] for n in nodes if n.parent == parent]
        assert position[parent][1] == pytest.approx(np.mean(ys))
    columns = defaultdict(list)                                  # pruned rows closer, the others a row apart
    for node in nodes:
        if node.status != "pruned":
            columns[node.step].append(position[node.id][1])
    for ys in columns.values():
        assert all(b - a >= 1 - 1e-9 for a, b in zip(sorted(ys), sorted(ys)[1:]))


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


# --- a Transformer's heads ---------------------------------------------------------------------------------

def grid_maps(rng, R: int, C: int, rows: int, cols: int) -> np.ndarray:
    maps = rng.random((R, C, rows, cols))
    return maps / maps.sum(axis=-1, keepdims=True)


def test_head_grid_draws_layers_by_heads_panels_each_with_its_own_map():
    maps = grid_maps(np.random.default_rng(0), 2, 3, 4, 5)                  # 2 layers × 3 heads
    titles = [f"L{r} H{c}" for r in range(2) for c in range(3)]
    fig = figures.head_grid(maps, ["我", "爱", "<b>", "中文", "</s>"], ["i", "love", "it", "</s>"], titles=titles)
    panels = [trace for trace in fig.data if trace.type == "heatmap"]
    assert [p.name for p in panels] == titles and len(panels) == 6
    for index, panel in enumerate(panels):
        np.testing.assert_allclose(np.asarray(panel.z, dtype=float), maps[index // 3, index % 3])
        assert panel.coloraxis == "coloraxis"                               # one colour scale for every head
        assert panel.xaxis == ("x" if index == 0 else f"x{index + 1}")      # a panel of its own
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert [a.text for a in fig.layout.annotations] == titles
    assert list(fig.layout.xaxis.ticktext) == ["我", "爱", "&lt;b&gt;", "中文", "&lt;/s&gt;"]
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]             # first output word on top
    taller = figures.head_grid(grid_maps(np.random.default_rng(1), 3, 3, 4, 5), ["a"] * 5, ["b"] * 4,
                               titles=titles + ["x", "y", "z"])
    assert taller.layout.height > fig.layout.height                          # a row of panels more, more room


def test_head_grid_leaves_the_masked_cells_out_and_draws_them_grey():
    T = 4
    maps = np.tril(np.ones((T, T)))[None, None] / np.arange(1, T + 1)[:, None]   # causal: rows sum to 1
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    fig = figures.head_grid(np.repeat(maps, 2, axis=1), ["<s>", "i", "love", "it"], ["i", "love", "it", "</s>"],
                            titles=["head 1", "head 2"], masked=future, hover=("fig.query", "fig.key"))
    weights = [trace for trace in fig.data if trace.name != "masked"]
    grey = [trace for trace in fig.data if trace.name == "masked"]
    assert len(weights) == len(grey) == 2
    for trace in weights:
        z = np.asarray(trace.z, dtype=float)
        assert np.isnan(z[future]).all() and not np.isnan(z[~future]).any()
        np.testing.assert_allclose(z[~future], maps[0, 0][~future])
        assert t("fig.query", "en") in trace.hovertemplate
    for trace in grey:
        assert (~np.isnan(np.asarray(trace.z, dtype=float)) == future).all()
        assert {color for _, color in trace.colorscale} == {figures.MASKED_COLOR} and trace.showscale is False
        assert t("fig.masked", "en") in trace.hovertemplate
    unmasked = figures.head_grid(maps, ["a"] * T, ["b"] * T, titles=["h"])
    assert [trace.name for trace in unmasked.data] == ["h"]                 # nothing grey without a mask


def test_qkv_heatmap_puts_the_query_above_the_keys_and_the_values_beside_them():
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    fig = figures.qkv_heatmap(["我", "爱", "</s>"], "love", q, k, v, lang="zh")
    left, right = fig.data
    np.testing.assert_allclose(np.asarray(left.z), np.vstack([q, k]))
    assert np.isnan(np.asarray(right.z, dtype=float)[0]).all()
    np.testing.assert_allclose(np.asarray(right.z, dtype=float)[1:], v)
    assert list(fig.layout.yaxis.ticktext) == ["q · love", "k · 我", "k · 爱", "k · &lt;/s&gt;"]
    bound = float(max(np.abs(q).max(), np.abs(k).max(), np.abs(v).max()))
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmid, fig.layout.coloraxis.cmax) == (-bound, 0.0, bound)
    assert fig.layout.annotations[0].text == t("fig.qk", "zh")


def test_score_bars_show_the_scores_and_their_softmax():
    scores = np.array([2.0, -1.0, 0.5])
    weights = np.exp(scores) / np.exp(scores).sum()
    fig = figures.score_bars(["我", "爱", "</s>"], scores, weights)
    before, after = fig.data
    np.testing.assert_allclose(np.asarray(before.y), scores)
    np.testing.assert_allclose(np.asarray(after.y), weights)
    assert before.marker.color[0] != before.marker.color[1]                  # positive and negative apart
    assert list(fig.layout.xaxis2.ticktext) == ["我", "爱", "&lt;/s&gt;"]
    assert [a.text for a in fig.layout.annotations] == [t("fig.before_softmax", "en"), t("fig.after_softmax", "en")]


def test_columns_width_is_what_the_widest_neighbours_need_in_every_column():
    """Equal columns, labels centred: two neighbours of w₁ and w₂ px need a column of (w₁ + w₂)/2 and half an em."""
    w = figures.text_width
    short = ["我", "爱", "学习", "。", "</s>"]
    assert figures.columns_width(short, 14) == pytest.approx(5 * ((w("学习", 14) + w("。", 14)) / 2 + 7))
    assert figures.columns_width(short, 14) == pytest.approx(5 * ((w("。", 14) + w("</s>", 14)) / 2 + 7))
    ten = "我 每天 早上 七点 和 妈妈 一起 去 公园 跑步 。 </s>".split()
    assert figures.columns_width(ten, 14) == pytest.approx(12 * (w("每天", 14) + 7))
    assert figures.columns_width(ten, 20) > figures.columns_width(ten, 14)             # presenter mode's font
    # a note under a word (pinyin, in 11-px type) that is wider than the word decides for its two columns
    notes = ["", "", "zaoshang" * 3, "", "", "", "", "", "", "", "", ""]
    widest = (w("zaoshang" * 3, 11) + w("七点", 14)) / 2
    assert figures.columns_width(ten, 14, notes) == pytest.approx(12 * (widest + 7))
    assert figures.columns_width(["我"], 14) == pytest.approx(w("我", 14) + 7)
