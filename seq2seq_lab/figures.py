"""Plotly figures of what the model did: attention heatmaps, vectors, beam tree, curves.

Every function takes the model's own values (attention rows, embeddings, search
steps, training history) and returns a ``plotly.graph_objects.Figure`` (the live
view's two, with ``as_spec=True``, plotly's JSON form of one); nothing here knows
about Streamlit or Gradio, and nothing is invented: a figure only draws what it is
given.

Conventions shared by the attention heatmaps (what the textbooks draw):

* x axis: source tokens left → right in reading order;
* y axis: output tokens top → bottom in the order they were produced;
* colour scale fixed at 0–1, so two heatmaps can be compared by eye;
* cells sit at integer positions and the tokens are tick labels, so a token that
  occurs twice ("的 … 的") keeps two columns instead of being merged;
* hovering a cell shows the output token, the source token and the weight.

Labels are escaped (``<script>`` is drawn as text; plotly would otherwise read
``<b>`` and friends as markup).
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots
from plotly.utils import PlotlyJSONEncoder

from .i18n import t

FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, Helvetica, Arial, sans-serif"
ATTENTION_SCALE = "Blues"
VECTOR_SCALE = "RdBu"
COLORS = {"alive": "#1f77b4", "finished": "#2ca02c", "pruned": "#b0b0b0", "best": "#d62728",
          "chosen": "#d62728", "other": "#9ecae1", "rest": "#d9d9d9", "train": "#1f77b4", "valid": "#ff7f0e",
          "bleu": "#2ca02c"}


def label(token: str) -> str:
    """A token as plotly should display it: literally (``<`` → ``&lt;``)."""
    return html.escape(str(token), quote=False)


def export_config(filename: str, *, fmt: str = "png", scale: int = 2) -> dict:
    """The chart's modebar config: the camera button downloads ``filename.png`` (or ``.svg``).

    The image is drawn by plotly.js in the browser; nothing is sent anywhere.
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in filename) or "figure"
    return {"displaylogo": False, "toImageButtonOptions": {"format": fmt if fmt in ("png", "svg") else "png",
                                                           "filename": safe, "scale": scale},
            "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def _layout_spec(*, title: str | None, height: int, font_size: int, margin: dict | None = None) -> dict:
    """What every figure's layout shares: a left-aligned title, the height, the margins, the CJK-capable font."""
    return dict(title=dict(text=label(title) if title else None, x=0, xanchor="left"),
                height=height, margin=margin or dict(l=10, r=10, t=50 if title else 20, b=10),
                font=dict(family=FONT, size=font_size), hoverlabel=dict(font=dict(family=FONT)))


def _layout(fig: go.Figure, *, title: str | None, height: int, font_size: int,
            margin: dict | None = None) -> go.Figure:
    fig.update_layout(**_layout_spec(title=title, height=height, font_size=font_size, margin=margin))
    return fig


# The two figures the live view redraws at every decoding step (the heatmap, the next-word bars) are written in
# plotly's JSON form (a "spec": the dict ``fig.to_plotly_json()`` gives, less the template) and wrapped without
# graph_objects' validation: validating costs 20–30 ms a figure, which was most of the server's time when a class
# translated at once (bench/README.md, "A class at once"). The tests check that each one validates to exactly the
# same JSON (tests/test_figures.py), so skipping the check changes nothing. The live player sends the specs
# themselves (``as_spec=True``, ``spec_json``): even unvalidated, a Figure copies its spec and template (~0.4 ms a
# heatmap, ~1 ms a frame of heatmap and bars).

def figure(spec: dict) -> go.Figure:
    """A Figure of ``spec`` (as the ``as_spec=True`` figures give it), with the default template less what its
    trace types cannot use (:func:`_template_for`); ``spec`` is left as it is (a cached spec is shared)."""
    spec = _without_none(spec)
    spec["layout"]["template"] = _template_for(_trace_types(spec), pio.templates.default)
    return go.Figure(spec, _validate=False)


def spec_json(spec: dict) -> tuple[str, dict]:
    """A spec as plotly JSON text, and the template :func:`figure` would give it, apart (a player's frames share
    one: sent once): the same figure as ``figure(spec)``'s JSON, without building the Figure (numpy arrays as
    plain lists where ``to_json`` writes typed arrays). The template is shared by every figure of these trace
    types: read it, never change it."""
    if not isinstance(spec, dict):
        raise TypeError(f"spec_json takes a figure's spec (a dict: as_spec=True), not {type(spec).__name__}")
    return json.dumps(spec, cls=PlotlyJSONEncoder), _template_for(_trace_types(spec), pio.templates.default)


def _trace_types(spec: dict) -> tuple[str, ...]:
    return tuple(sorted({trace["type"] for trace in spec["data"]}))


# Layout parts of the default template that only other kinds of plot read (polar, ternary, 3-D, map axes).
_OTHER_AXES = ("polar", "ternary", "scene", "geo", "mapbox", "map")


@lru_cache(maxsize=8)
def _template_for(trace_types: tuple[str, ...], name: str) -> dict:
    """Template ``name`` (plotly's default one: "plotly", or "streamlit" once Streamlit has set it) with only
    what a figure of these trace types can use: its layout (less the non-cartesian axes) and these types' trace
    defaults. It draws the same figure, in a third of the bytes that every frame of the live view would
    otherwise copy, serialise and send (plotly's: 7 kB → about 2)."""
    full = pio.templates[name].to_plotly_json()
    template = {"layout": {key: value for key, value in full.get("layout", {}).items() if key not in _OTHER_AXES}}
    data = {kind: full["data"][kind] for kind in trace_types if kind in full.get("data", {})}
    return {"data": data, **template} if data else template


def _without_none(spec):
    """A spec without its ``None`` entries (validation drops them: "not set")."""
    if isinstance(spec, dict):
        return {key: _without_none(value) for key, value in spec.items() if value is not None}
    if isinstance(spec, list):
        return [_without_none(value) for value in spec]
    return spec


def _named_scale(name: str) -> list:
    """A named colour scale as plotly.py resolves it (plotly.js has its own scales of the same names)."""
    return [list(stop) for stop in go.Heatmap(colorscale=name).colorscale]


_ATTENTION_COLORS = _named_scale(ATTENTION_SCALE)


# --- measuring text before the browser does --------------------------------------------------------
# The apps hand plotly a figure of a fixed height; where a label or a title does not fit, plotly.js
# cuts it off at the figure's edge (a rotated title longer than the plot loses its first letters:
# "utput"). So the figures that place text near an edge reserve its room from an estimate that
# errs on the wide side: 0.6 em for a Latin character (real ones average about 0.5), twice that for
# a CJK one and for the "ambiguous" symbols the CJK fonts draw full-width (↓, （, …).

LINE = 1.3           # a line of text is about 1.3 × the font size tall
FULL_ROWS = 10       # a heatmap's rows get the full cell height up to this many; more share that height (the
#                      Gradio page, whose heatmap starts lowest, then keeps 25 px free under a 13-row one at 1366×768)


def text_width(text: str, size: float) -> float:
    """The width in px of ``text`` (plain or escaped for plotly) at ``size`` px, estimated generously."""
    return sum(size * (1.2 if unicodedata.east_asian_width(ch) in "WFA" else 0.6) for ch in html.unescape(text))


def columns_width(labels: Sequence[str], font_size: float, notes: Sequence[str] | None = None) -> float:
    """The plot width in px at which a heatmap's upright column labels stand apart. Its S columns are equal and
    each label is centred on its own, so labels i and i + 1 (w_i, w_{i+1} px wide, or their notes in small type
    under them, if wider) keep half an em of air between them when a column is at least (w_i + w_{i+1}) / 2 + em/2
    wide: the plot needs S times the largest such column."""
    note_size = max(9, round(0.8 * font_size))
    notes = [*(notes or ())[:len(labels)], *[""] * (len(labels) - len(notes or ()))]
    widths = [max(text_width(label(tok), font_size), text_width(note, note_size)) for tok, note in zip(labels, notes)]
    column = max((a + b) / 2 for a, b in zip(widths, widths[1:])) if len(widths) > 1 else sum(widths)
    return len(labels) * (column + font_size / 2)


def title_size(font_size: int) -> int:
    """plotly's size for axis titles: 1.2 × the figure's font (set explicitly, so the estimate uses it)."""
    return round(1.2 * font_size)


def title_lines(text: str, size: float, room: float) -> list[str]:
    """An axis title on one line if it is at most ``room`` px long, else broken before its bracket:
    "output" / "(↓ order written)", "输出词" / "（↓ 生成顺序）". Two lines of a rotated title still read
    as one label; more would not, so a title that is still too long needs a taller plot."""
    if text_width(text, size) <= room:
        return [text]
    bracket = re.search(r"\s*[(（]", text)
    if bracket is None or bracket.start() == 0:
        return [text]
    return [text[:bracket.start()], text[bracket.end() - 1:]]


def noted(labels: Sequence[str], notes: Sequence[str] | None, size: float) -> list[str]:
    """Tick labels with a small second line under each (pinyin under a Chinese word); unchanged without notes."""
    if not notes or not any(notes):
        return list(labels)
    notes = [*notes[:len(labels)], *[""] * (len(labels) - len(notes))]          # one per label, "" for none
    return [f"{text}<br><span style='font-size:{round(size)}px'>{label(note)}</span>" if note else text
            for text, note in zip(labels, notes)]


def attention_heatmap(src_tokens: Sequence[str], out_tokens: Sequence[str], attention: np.ndarray | None, *,
                      title: str | None = None, lang: str = "en", highlight_row: int | None = None,
                      show_values: bool | None = None, font_size: int = 14, height: int | None = None,
                      compact: bool = False, src_notes: Sequence[str] | None = None,
                      output_title: bool = True, as_spec: bool = False) -> go.Figure | dict:
    """The attention matrix (T, S): one row per output token, one column per source token.

    ``attention`` may have fewer rows than ``out_tokens`` while the decoding is still
    running (the heatmap grows row by row). ``highlight_row`` outlines one row
    (the step being inspected, or where two decodings part ways). ``compact`` drops
    the axis titles, colour bar and cell values, for small multiples side by side.
    ``src_notes`` (one per source token, "" for none) go in small type under the tokens: pinyin.
    ``output_title=False`` leaves out the y axis title (a second heatmap beside one that has it).
    ``as_spec``: the figure's JSON form (a dict, for :func:`spec_json`) rather than a Figure.
    """
    src_tokens, out_tokens = list(src_tokens), list(out_tokens)
    S, T = len(src_tokens), len(out_tokens)
    # A copy, not a view of the caller's array: a spec keeps it, and a cached spec is shared by every visitor.
    weights = np.zeros((0, S)) if attention is None else np.array(attention, dtype=float)[:T, :S]
    rows = weights.shape[0]
    out_labels = [label(tok) for tok in out_tokens[:rows]]
    src_labels = [label(tok) for tok in src_tokens]
    note_size = max(9, round(0.8 * font_size))
    src_ticks = noted(src_labels, src_notes, note_size)
    custom = np.array([[[out_labels[i], src_labels[j]] for j in range(S)] for i in range(rows)], dtype=object)
    if show_values is None:
        show_values = rows * S <= 160 and not compact
    trace = dict(
        type="heatmap", z=weights, x=list(range(S)), y=list(range(rows)), zmin=0.0, zmax=1.0,
        colorscale=_ATTENTION_COLORS, xgap=1, ygap=1,
        colorbar=dict(title=dict(text=t("fig.weight", lang)), thickness=12, len=0.9), showscale=not compact,
        hovertemplate=(f"{t('fig.output', lang)}: %{{customdata[0]}}<br>{t('fig.source', lang)}: "
                       f"%{{customdata[1]}}<br>{t('fig.weight', lang)}: %{{z:.3f}}<extra></extra>"),
        textfont=dict(size=max(9, font_size - 4)))
    if rows:
        trace["customdata"] = custom
    if show_values:
        trace["texttemplate"] = "%{z:.2f}"
    # Room for the text around the cells, reserved here rather than left to plotly's automargin (which
    # stays on and can only add more): the x title and the source tokens above the plot, the output
    # tokens and the rotated y title to its left. The y title takes two lines where the plot is too
    # short for one, and a short heatmap (a row or two written so far) grows to fit its longest line
    # (unless the caller fixed the height).
    axis_font, fixed_height = title_size(font_size), height is not None
    x_title = None if compact else t("fig.source_axis", lang)
    top = 8 + LINE * font_size + 6 + (LINE * axis_font + 8 if x_title else 0)
    if src_ticks != src_labels:                                # a second line of ticks: the notes
        top += LINE * note_size
    if title:                                                  # plotly's figure title: 1.4 × the font
        top += LINE * round(1.4 * font_size) + 10
    bottom = 10
    if height is None:
        # A row is a line of tick text plus a little air; past FULL_ROWS rows the air goes (down to the line of
        # text itself), so the plot stays as tall as FULL_ROWS rows: a 10-word sentence's heatmap (11–14 rows, its
        # translation and </s>) then fits a 1366×768 projector below the app's controls, in presenter mode too.
        cell = max(22 if compact else 24, round(1.45 * font_size))
        if rows > FULL_ROWS:
            cell = max(cell * FULL_ROWS / rows, LINE * font_size)
        height = math.ceil(top + bottom + cell * max(rows, 3))
    plot_height = max(height - top - bottom, 1)
    clear = 12                                                 # px left free at the title's two ends
    y_title = [] if compact or not output_title else title_lines(t("fig.output_axis", lang), axis_font,
                                                                  plot_height - clear)
    if y_title and not fixed_height:
        plot_height = max(plot_height, max(text_width(line, axis_font) for line in y_title) + clear)
    ticks = max((text_width(tok, font_size) for tok in out_labels), default=0)
    left = 10 + ticks + 6 + (8 + LINE * axis_font * len(y_title) if y_title else 0)
    margin = dict(l=math.ceil(left), r=10, t=math.ceil(top), b=bottom)
    layout = _layout_spec(title=title, height=math.ceil(top + plot_height + bottom), font_size=font_size,
                          margin=margin)
    layout["xaxis"] = dict(tickmode="array", tickvals=list(range(S)), ticktext=src_ticks, side="top",
                           range=[-0.5, S - 0.5], title=dict(text=x_title, font=dict(size=axis_font), standoff=8),
                           tickangle=0, showgrid=False, zeroline=False, automargin=True)
    layout["yaxis"] = dict(tickmode="array", tickvals=list(range(rows)), ticktext=out_labels,
                           range=[max(rows, 1) - 0.5, -0.5],
                           title=dict(text="<br>".join(y_title) or None, font=dict(size=axis_font), standoff=8),
                           showgrid=False, zeroline=False, automargin=True)
    if highlight_row is not None and 0 <= highlight_row < rows:
        layout["shapes"] = [dict(type="rect", x0=-0.5, x1=S - 0.5, y0=highlight_row - 0.5, y1=highlight_row + 0.5,
                                 line=dict(color=COLORS["best"], width=3), fillcolor="rgba(0,0,0,0)")]
    if title:        # at the very top, above the x title (plotly's "auto" centres it in the margin)
        layout["title"].update(y=1, yref="container", yanchor="top", pad=dict(t=8))
    spec = _without_none(dict(data=[trace], layout=layout))
    return spec if as_spec else figure(spec)


def vector_heatmap(tokens: Sequence[str], vectors: np.ndarray, *, title: str | None = None, lang: str = "en",
                   font_size: int = 14) -> go.Figure:
    """Vectors (S, D), one row per token (reading order top → bottom), one column per dimension.

    The colour scale is centred on 0 (blue positive, red negative) and symmetric, so
    the sign of each component is readable.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
    tokens = [label(tok) for tok in tokens]
    bound = float(np.abs(vectors).max()) if vectors.size else 1.0
    fig = go.Figure(go.Heatmap(
        z=vectors, x=list(range(vectors.shape[1])), y=list(range(len(tokens))), colorscale=VECTOR_SCALE,
        zmid=0.0, zmin=-bound, zmax=bound, colorbar=dict(thickness=12),
        customdata=np.array([[tok] * vectors.shape[1] for tok in tokens], dtype=object),
        hovertemplate=(f"{t('fig.token', lang)}: %{{customdata}}<br>{t('fig.dimension', lang)}: %{{x}}"
                       f"<br>{t('fig.value', lang)}: %{{z:.3f}}<extra></extra>")))
    fig.update_xaxes(title=dict(text=t("fig.dimension", lang)), showgrid=False, zeroline=False)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(tokens))), ticktext=tokens,
                     autorange="reversed", showgrid=False, zeroline=False)
    return _layout(fig, title=title, height=110 + 30 * max(len(tokens), 2), font_size=font_size)


REST_SHOWN = 0.005        # the "everything else" bar appears from half a per cent


def probability_bars(alternatives: Sequence, chosen: str | None = None, *, title: str | None = None,
                     lang: str = "en", font_size: int = 14, as_spec: bool = False) -> go.Figure | dict:
    """The model's top next tokens at one step (``search.Alternative``: token, prob), chosen one in red, and
    below them, grey, what the other words of the vocabulary hold together: 1 − Σ top-k when that is at least
    ``REST_SHOWN`` (label smoothing teaches a model to spread ~10 % thinly over every word, and words the search
    may not write, such as ``<unk>`` or a blocked repeat, count here too).
    ``as_spec``: the figure's JSON form (a dict, for :func:`spec_json`) rather than a Figure."""
    tokens = [label(a.token) for a in alternatives]
    probs = [float(a.prob) for a in alternatives]
    colors = [COLORS["chosen"] if a.token == chosen else COLORS["other"] for a in alternatives]
    rest = 1.0 - sum(probs)
    if alternatives and rest >= REST_SHOWN:
        tokens, probs, colors = tokens + [t("fig.rest", lang)], probs + [rest], colors + [COLORS["rest"]]
    bars = dict(type="bar", x=probs, y=list(range(len(tokens))), orientation="h", marker=dict(color=colors),
                text=[f"{p:.1%}" for p in probs], textposition="auto", customdata=tokens,
                hovertemplate=f"%{{customdata}}<br>{t('fig.probability', lang)}: %{{x:.3f}}<extra></extra>")
    layout = _layout_spec(title=title, height=120 + 32 * max(len(tokens), 3), font_size=font_size)
    layout["xaxis"] = dict(range=[0, 1], title=dict(text=t("fig.probability", lang)), tickformat=".0%",
                           automargin=True)        # room for the tokens and the axis title, whoever draws it
    layout["yaxis"] = dict(tickmode="array", tickvals=list(range(len(tokens))), ticktext=tokens,
                           autorange="reversed", automargin=True)
    spec = _without_none(dict(data=[bars], layout=layout))
    return spec if as_spec else figure(spec)


def tree_layout(nodes: Sequence, *, pruned_gap: float = 1.0) -> dict[int, tuple[float, float]]:
    """(x, y) for every node id (and the root, id 0): x = step + 1, leaves stacked top to bottom.

    Children are ordered by score (best on top) and each parent sits at the mean
    height of its children, so the tree reads like a textbook's search tree.
    Neighbouring siblings are one row apart, or ``pruned_gap`` rows where either is
    pruned (a pruned node drawn without its word needs less room than a word). Two
    nodes of one column are never closer than the siblings where their branches
    part, and only leaves are pruned, so with ``pruned_gap`` ≥ 0.5 any two nodes of a
    column that are not pruned stay at least a row apart.
    """
    children: dict[int, list] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)
    for kids in children.values():
        kids.sort(key=lambda n: -n.log_prob)
    position: dict[int, tuple[float, float]] = {}
    last_leaf: list[float | None] = [None]

    def place(node_id: int, depth: int, gap: float) -> float:
        """``gap``: the rows between this subtree's first leaf and the leaf placed before it."""
        kids = children.get(node_id, [])
        if not kids:
            y = 0.0 if last_leaf[0] is None else last_leaf[0] + gap
            last_leaf[0] = y
        else:
            ys = []
            for i, kid in enumerate(kids):
                if i:
                    gap = pruned_gap if "pruned" in (kids[i - 1].status, kid.status) else 1.0
                ys.append(place(kid.id, depth + 1, gap))
            y = float(np.mean(ys))
        position[node_id] = (float(depth), y)
        return y

    place(0, 0, 1.0)
    return position


def best_path(nodes: Sequence, final_tokens: Sequence[str] | None) -> set[int]:
    """Node ids on the path of the finished hypothesis whose tokens are ``final_tokens``."""
    if not final_tokens:
        return set()
    by_id = {n.id: n for n in nodes}
    target = list(final_tokens)
    end = next((n for n in nodes if list(n.tokens) == target and n.status == "finished"), None)
    path: set[int] = set()
    while end is not None:
        path.add(end.id)
        end = by_id.get(end.parent)
    return path


PRESENTER_FONT = 18          # from this font size on, a figure is for a projector (the apps' presenter mode: 20)
TREE_MAX_HEIGHT = 1100       # px: a tree with every word labelled may grow to this, no further
# Words drawn over the tree's edges get a white halo (CSS text-shadow): where the red best path
# runs under a word it is interrupted instead of striking the word through. The tree's plot is
# white (in both apps alike), so the halo does not show.
HALO = "0 0 2px white, 0 0 2px white, 0 0 3px white, 0 0 4px white"


def beam_tree(steps: Sequence, *, best_tokens: Sequence[str] | None = None, title: str | None = None,
              lang: str = "en", font_size: int = 14) -> go.Figure:
    """The beam search tree from ``search.Step`` records.

    Alive hypotheses are blue circles, finished ones green diamonds, pruned ones grey
    crosses; the edges of the best translation are red. Hover shows the hypothesis,
    its cumulative log-probability, the probability of its last token and its score.

    On a projector (``font_size`` ≥ ``PRESENTER_FONT``), and in a tree too big for all
    its words, pruned nodes are crosses without their word: the class follows the
    kept hypotheses, the crosses still show how many candidates each step dropped,
    and hovering one shows its words. With words they need a row each, and at a
    projector's font size they piled on top of each other (issue #10). The figure is
    then as tall as its rows need: a tree taller than the screen scrolls, a word on
    top of another cannot be read at all.
    """
    nodes = [node for step in steps for node in step.nodes]
    on_best = best_path(nodes, best_tokens)
    text_size = font_size - 2
    row = max(14 + font_size // 2, math.ceil(LINE * text_size) + 2)     # px from one row to the next
    axis_font = title_size(font_size)
    top = font_size + 30                 # the legend above the plot (plotly's legend row: the font + 28 px)
    if title:
        top += LINE * round(1.4 * font_size) + 10
    bottom = LINE * font_size + 6 + LINE * axis_font + 8 + 10            # step numbers and the x title
    position = tree_layout(nodes)
    rows = max((y for _, y in position.values()), default=0) + 1.4     # the y range pads 0.7 row each side
    label_pruned = font_size < PRESENTER_FONT and top + bottom + row * rows <= TREE_MAX_HEIGHT
    if not label_pruned:
        position = tree_layout(nodes, pruned_gap=0.5)
        rows = max((y for _, y in position.values()), default=0) + 1.4
    fig = go.Figure()
    # The edges first, the red ones last of them: plotly draws later traces on top, so the best path
    # runs over the grey edges and beneath every node and word.
    for highlight in (False, True):
        xs, ys = [], []
        for node in nodes:
            if (node.id in on_best) != highlight or node.parent not in position:
                continue
            (x0, y0), (x1, y1) = position[node.parent], position[node.id]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
            line=dict(color=COLORS["best"] if highlight else "#cccccc", width=3 if highlight else 1)))
    fig.add_trace(go.Scatter(x=[0], y=[position[0][1]], mode="markers+text", text=["&lt;s&gt;"],
                             textposition="middle left", marker=dict(size=12, color="#555555"),
                             textfont=dict(size=text_size, shadow=HALO),
                             hovertemplate="&lt;s&gt;<extra></extra>", showlegend=False))
    symbols = {"alive": "circle", "finished": "diamond", "pruned": "x"}
    for status in ("alive", "finished", "pruned"):
        chosen = [n for n in nodes if n.status == status]
        if not chosen:
            continue
        words = status != "pruned" or label_pruned
        fig.add_trace(go.Scatter(
            x=[position[n.id][0] for n in chosen], y=[position[n.id][1] for n in chosen],
            mode="markers+text" if words else "markers", name=t(f"fig.{status}", lang),
            text=[label(n.token) for n in chosen] if words else None, textposition="middle right",
            textfont=dict(size=text_size, color="#999999" if status == "pruned" else None, shadow=HALO),
            marker=dict(size=11 if status != "pruned" else 8, symbol=symbols[status], color=COLORS[status],
                        line=dict(width=1, color="white")),
            customdata=[[label(" ".join(n.tokens)), n.log_prob, n.token_prob, n.score,
                         t(f"fig.{n.status}", lang)] for n in chosen],
            hovertemplate=(f"%{{customdata[0]}}<br>{t('fig.logprob', lang)}: %{{customdata[1]:.3f}}"
                           f"<br>{t('fig.token_prob', lang)}: %{{customdata[2]:.3f}}"
                           f"<br>{t('fig.score', lang)}: %{{customdata[3]:.3f}}"
                           f"<br>%{{customdata[4]}}<extra></extra>")))
    depth = max((x for x, _ in position.values()), default=0)
    fig.update_xaxes(title=dict(text=t("fig.step", lang), font=dict(size=axis_font), standoff=8),
                     range=[-0.8, depth + 1.2], dtick=1, zeroline=False, gridcolor="#e8e8e8")
    fig.update_yaxes(visible=False, range=[rows - 0.7, -0.7])
    # The legend at the top left: plotly's modebar appears at the top right on hover and covered it there.
    fig.update_layout(plot_bgcolor="white",
                      legend=dict(orientation="h", x=0, xanchor="left", y=1, yanchor="bottom"))
    fig = _layout(fig, title=title, height=math.ceil(top + bottom + row * rows), font_size=font_size,
                  margin=dict(l=10, r=10, t=math.ceil(top), b=math.ceil(bottom)))
    if title:        # above the legend
        fig.update_layout(title=dict(y=1, yref="container", yanchor="top", pad=dict(t=8)))
    return fig


def training_curves(history: Sequence[dict], *, lang: str = "en", font_size: int = 14) -> go.Figure:
    """Training and validation loss, and validation BLEU, per epoch (``train.fit`` history)."""
    epochs = [h["epoch"] for h in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(t("fig.loss", lang), t("fig.bleu", lang)),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Scatter(x=epochs, y=[h["train_loss"] for h in history], mode="lines+markers",
                             name=t("fig.train_loss", lang), line=dict(color=COLORS["train"])), row=1, col=1)
    fig.add_trace(go.Scatter(x=epochs, y=[h["valid_loss"] for h in history], mode="lines+markers",
                             name=t("fig.valid_loss", lang), line=dict(color=COLORS["valid"])), row=1, col=1)
    fig.add_trace(go.Scatter(x=epochs, y=[h["valid_bleu"] for h in history], mode="lines+markers",
                             name=t("fig.valid_bleu", lang), line=dict(color=COLORS["bleu"])), row=1, col=2)
    fig.update_xaxes(title=dict(text=t("fig.epoch", lang)), dtick=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return _layout(fig, title=None, height=300, font_size=font_size)


# --- the segmentation as coloured chips (plain HTML, inline styles) ----------------------

CHIP_STYLES = {
    "word": "background:#e8f1fb;border:1px solid #9ecae1;color:#08306b",
    "sub": "background:#eef8ea;border:1px dashed #5aae61;color:#1b5e20",
    "char": "background:#fff4e0;border:1px dashed #f0a030;color:#7a4100",
    "name": "background:#f3ebfa;border:1px dashed #9467bd;color:#4a1f73",
    "unk": "background:#fde8e8;border:1px solid #e06060;color:#8b0000",
    "eos": "background:#f0f0f0;border:1px solid #c0c0c0;color:#555555",
}


def token_chips_html(tokens: Sequence, ids: Sequence[int] | None = None, *, font_size: int = 18,
                     notes: Sequence[str] | None = None) -> str:
    """One chip per source token (``text.SourceToken``), coloured by kind, with its vocabulary id below
    (and ``notes``, pinyin, between the two).

    Everything from the user is escaped: ``<script>`` shows as text and never runs.
    """
    chips = []
    for index, token in enumerate(tokens):
        kind = "eos" if token.text == "</s>" else token.kind
        shown = {"unk": token.model_token, "name": f"{token.word} → {token.text}"}.get(kind, token.text)
        title = html.escape(f"{token.word} → {token.model_token}" if kind != "eos" else "</s>")
        note = notes[index] if notes and index < len(notes) else ""
        note_line = "" if not note else (f"<div class='lab-pinyin' style='font-size:{max(10, font_size - 5)}px'>"
                                         f"{html.escape(note)}</div>")
        id_line = "" if ids is None else (f"<div style='font-size:{max(10, font_size - 7)}px;opacity:.75;"
                                          f"font-family:monospace'>{int(ids[index])}</div>")
        chips.append(f"<span title='{title}' style='display:inline-block;margin:3px;padding:4px 10px;"
                     f"border-radius:8px;text-align:center;font-size:{font_size}px;{CHIP_STYLES[kind]}'>"
                     f"{html.escape(shown)}{note_line}{id_line}</span>")
    return "<div style='line-height:1.4'>" + "".join(chips) + "</div>"


def legend_chips_html(items: Sequence[tuple[str, str]], *, font_size: int = 13) -> str:
    """A legend: (kind, explanation) pairs drawn as small chips."""
    return "<div>" + "".join(
        f"<span style='display:inline-block;margin:2px 6px 2px 0;padding:1px 8px;border-radius:6px;"
        f"font-size:{font_size}px;{CHIP_STYLES[kind]}'>{html.escape(text)}</span>" for kind, text in items) + "</div>"


# --- a Transformer's heads: small multiples, queries/keys/values, scores before and after the softmax ---------

MASKED_COLOR = "#d9d9d9"     # the decoder's future positions: drawn grey, never as a weight of 0


def head_grid(maps: np.ndarray, x_tokens: Sequence[str], y_tokens: Sequence[str], *, titles: Sequence[str],
              masked: np.ndarray | None = None, hover: tuple[str, str] = ("fig.output", "fig.source"),
              lang: str = "en", font_size: int = 14, title: str | None = None,
              x_notes: Sequence[str] | None = None) -> go.Figure:
    """Small multiples of attention maps (the bertviz "model view"): ``maps`` (R, C, rows, cols), one panel per
    (R, C) cell — a layer's heads side by side, or layers × heads — titled ``titles`` (R·C, row-major).

    Every panel uses the heatmaps' conventions (x: ``x_tokens`` left → right, y: ``y_tokens`` top → bottom,
    one colour scale fixed at 0–1, shared by all panels, so two heads compare by eye). ``masked`` (rows, cols),
    True where attention is not allowed (the decoder's future words), is drawn grey and left out of the
    weights: a masked cell is not a weight of 0 but a word that does not exist yet. ``x_notes``: a small second
    line under each x token (pinyin).
    """
    maps = np.asarray(maps, dtype=float)
    R, C, rows, cols = maps.shape
    x_labels, y_labels = [label(tok) for tok in x_tokens][:cols], [label(tok) for tok in y_tokens][:rows]
    small = max(10, font_size - 3)
    # Heights in px: each panel as tall as its rows need; between two rows of panels, the x tick labels
    # of the upper one and the title of the lower one.
    cell = max(18, round(1.2 * font_size))
    panel = cell * max(rows, 4)
    x_ticks = noted(x_labels, list(x_notes)[:cols] if x_notes else None, small - 1)
    notes_room = LINE * (small - 1) if x_ticks != x_labels else 0
    between = LINE * font_size + LINE * small + notes_room + 14
    top = LINE * font_size + 12 + (LINE * round(1.4 * font_size) + 10 if title else 0)
    bottom = LINE * small + notes_room + 16
    plot = R * panel + (R - 1) * between
    fig = make_subplots(rows=R, cols=C, subplot_titles=[label(s) for s in titles], shared_yaxes=True,
                        horizontal_spacing=min(0.03, 0.3 / max(C, 1)), vertical_spacing=between / plot if R > 1 else 0)
    y_name, x_name = t(hover[0], lang), t(hover[1], lang)
    custom = np.array([[[y_labels[i], x_labels[j]] for j in range(cols)] for i in range(rows)], dtype=object)
    blank = np.zeros((rows, cols), dtype=bool) if masked is None else np.asarray(masked, dtype=bool)[:rows, :cols]
    for r in range(R):
        for c in range(C):
            fig.add_trace(go.Heatmap(
                z=np.where(blank, np.nan, maps[r, c]), x=list(range(cols)), y=list(range(rows)),
                coloraxis="coloraxis", xgap=1, ygap=1, customdata=custom, name=label(titles[r * C + c]),
                hovertemplate=(f"{y_name}: %{{customdata[0]}}<br>{x_name}: %{{customdata[1]}}<br>"
                               f"{t('fig.weight', lang)}: %{{z:.3f}}<extra>%{{fullData.name}}</extra>")),
                row=r + 1, col=c + 1)
            if blank.any():
                fig.add_trace(go.Heatmap(
                    z=np.where(blank, 1.0, np.nan), x=list(range(cols)), y=list(range(rows)), xgap=1, ygap=1,
                    colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]], showscale=False, name="masked",
                    customdata=custom, hovertemplate=(f"{y_name}: %{{customdata[0]}}<br>{x_name}: "
                                                      f"%{{customdata[1]}}<br>{t('fig.masked', lang)}<extra></extra>")),
                    row=r + 1, col=c + 1)
    # Upright tick labels where they fit a column of a panel on a projector-wide page (about 1100 px of
    # panels), slanted where they do not: plotly's own choice stands CJK words on end.
    column = 1100 / max(C, 1) / max(cols, 1)
    upright = max((text_width(tok, small) for tok in x_labels), default=0) <= column
    fig.update_xaxes(tickmode="array", tickvals=list(range(cols)), ticktext=x_ticks, tickfont=dict(size=small),
                     tickangle=0 if upright else -45, range=[-0.5, cols - 0.5], showgrid=False, zeroline=False)
    fig.update_yaxes(tickmode="array", tickvals=list(range(rows)), ticktext=y_labels, tickfont=dict(size=small),
                     range=[max(rows, 1) - 0.5, -0.5], showgrid=False, zeroline=False, ticks="")
    fig.update_annotations(font=dict(size=font_size))              # the panel titles
    ticks = max((text_width(tok, small) for tok in y_labels), default=0)
    fig.update_layout(coloraxis=dict(cmin=0.0, cmax=1.0, colorscale=ATTENTION_SCALE,
                                     colorbar=dict(title=dict(text=t("fig.weight", lang), side="right"),
                                                   thickness=10, lenmode="pixels", len=min(plot, 220))),
                      plot_bgcolor="white")
    fig = _layout(fig, title=title, height=math.ceil(top + plot + bottom), font_size=font_size,
                  margin=dict(l=math.ceil(14 + ticks), r=10, t=math.ceil(top), b=math.ceil(bottom)))
    if title:
        fig.update_layout(title=dict(y=1, yref="container", yanchor="top", pad=dict(t=8)))
    return fig


def qkv_heatmap(src_tokens: Sequence[str], out_token: str, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
                lang: str = "en", font_size: int = 14, title: str | None = None) -> go.Figure:
    """One head's query, keys and values: left, the query of one output step (top row) above the keys of the
    source tokens — the score of a source word is the dot product of its row with the top one —; right,
    the values the weights then average. Columns are the head's d_k dimensions; one colour scale centred on 0."""
    q, k, v = (np.asarray(x, dtype=float) for x in (q, k, v))
    S, d_k = k.shape
    left = np.vstack([q.reshape(1, d_k), k])                         # (1 + S, d_k)
    right = np.vstack([np.full((1, d_k), np.nan), v])                 # (1 + S, d_k): row 0 left empty
    bound = float(max(np.abs(left).max(), np.abs(v).max(), 1e-9))
    src = [label(tok) for tok in src_tokens][:S]
    rows_left = [f"q · {label(out_token)}"] + [f"k · {tok}" for tok in src]
    rows_right = [""] + [f"v · {tok}" for tok in src]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(t("fig.qk", lang), t("fig.v", lang)),
                        horizontal_spacing=0.12)
    for col, (z, names) in enumerate(((left, rows_left), (right, rows_right)), start=1):
        fig.add_trace(go.Heatmap(
            z=z, x=list(range(d_k)), y=list(range(1 + S)), coloraxis="coloraxis", xgap=1, ygap=1,
            customdata=np.array([[name] * d_k for name in names], dtype=object),
            hovertemplate=(f"%{{customdata}}<br>{t('fig.dimension', lang)}: %{{x}}"
                           f"<br>{t('fig.value', lang)}: %{{z:.3f}}<extra></extra>")), row=1, col=col)
        fig.update_yaxes(tickmode="array", tickvals=list(range(1 + S)), ticktext=names, autorange="reversed",
                         showgrid=False, zeroline=False, row=1, col=col)
    fig.update_xaxes(title=dict(text=t("fig.dimension", lang)), showgrid=False, zeroline=False)
    fig.add_hline(y=0.5, line=dict(color="#333333", width=2), row=1, col=1)     # the query apart from the keys
    fig.update_layout(coloraxis=dict(cmid=0.0, cmin=-bound, cmax=bound, colorscale=VECTOR_SCALE,
                                     colorbar=dict(thickness=10)), plot_bgcolor="white")
    fig.update_annotations(font=dict(size=font_size))
    return _layout(fig, title=title, height=140 + round(1.6 * font_size) * (S + 1), font_size=font_size)


def score_bars(src_tokens: Sequence[str], scores: np.ndarray, weights: np.ndarray, *, lang: str = "en",
               font_size: int = 14, title: str | None = None) -> go.Figure:
    """One output step's attention scores over the source: top, q·k_j/√d_k before the softmax (any sign; blue
    positive, red negative); below, the weights after it (0–1, summing to 1)."""
    scores, weights = np.asarray(scores, dtype=float), np.asarray(weights, dtype=float)
    src = [label(tok) for tok in src_tokens][:len(scores)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.2,
                        subplot_titles=(t("fig.before_softmax", lang), t("fig.after_softmax", lang)))
    positions = list(range(len(src)))
    fig.add_trace(go.Bar(x=positions, y=scores, customdata=src, showlegend=False,
                         marker_color=["#2166ac" if s >= 0 else "#b2182b" for s in scores],
                         text=[f"{s:.2f}" for s in scores], textposition="outside", cliponaxis=False,
                         hovertemplate=f"%{{customdata}}<br>{t('fig.score', lang)}: %{{y:.3f}}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=positions, y=weights, customdata=src, showlegend=False, marker_color=COLORS["alive"],
                         text=[f"{w:.0%}" for w in weights], textposition="outside", cliponaxis=False,
                         hovertemplate=f"%{{customdata}}<br>{t('fig.weight', lang)}: %{{y:.3f}}<extra></extra>"),
                  row=2, col=1)
    low, high = float(min(scores.min(initial=0.0), 0.0)), float(max(scores.max(initial=0.0), 0.0))
    pad = 0.25 * (high - low or 1.0)
    fig.update_yaxes(range=[low - (pad if low < 0 else 0), high + pad], zeroline=True, row=1, col=1)
    fig.update_yaxes(range=[0, 1.2], tickformat=".0%", row=2, col=1)
    fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=src, showticklabels=True)
    fig.update_annotations(font=dict(size=font_size))
    return _layout(fig, title=title, height=330 + 4 * font_size, font_size=font_size)


# --- looking closer: coverage, attribution, exposure bias (seq2seq_lab/explain.py) -----------------------------

COVERAGE_COLORS = {"ok": "#6baed6", "dropped": "#d62728", "repeated": "#ff7f0e", "eos": "#b0b0b0"}


def coverage_bars(src_tokens: Sequence[str], totals: np.ndarray, *, dropped: Sequence[int] = (),
                  repeated: Sequence[int] = (), lang: str = "en", font_size: int = 14, title: str | None = None,
                  src_notes: Sequence[str] | None = None) -> go.Figure:
    """Coverage c_j = Σ_t α_tj per source token (the heatmap's column sums), one bar each in reading order, a line
    at 1 (a word looked at once); words hardly looked at in red, looked at again and again in orange."""
    src = [label(tok) for tok in src_tokens]
    totals = np.asarray(totals, dtype=float)[:len(src)]
    kinds = ["eos" if tok == "</s>" else "dropped" if j in dropped else "repeated" if j in repeated else "ok"
             for j, tok in enumerate(src_tokens)]
    small = max(9, round(0.8 * font_size))
    fig = go.Figure(go.Bar(
        x=list(range(len(src))), y=totals, marker_color=[COVERAGE_COLORS[k] for k in kinds], customdata=src,
        text=[f"{c:.2f}" for c in totals], textposition="outside", cliponaxis=False,
        hovertemplate=f"%{{customdata}}<br>{t('fig.coverage', lang)}: %{{y:.3f}}<extra></extra>"))
    fig.add_hline(y=1.0, line=dict(color="#555", width=1, dash="dash"), layer="below")
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(src))), ticktext=noted(src, src_notes, small),
                     tickangle=0, range=[-0.5, len(src) - 0.5])
    fig.update_yaxes(range=[0, max(2.0, float(totals.max(initial=0.0)) * 1.2)],
                     title=dict(text=t("fig.coverage", lang)))
    return _layout(fig, title=title, height=300 + 2 * font_size, font_size=font_size)


ATTRIBUTION_SCALE = "RdBu"          # red: the word argued against the output, blue: for it
# Spelled out: the figure is built unvalidated, and plotly.js's own "RdBu" runs the other way (blue low, red high).
_ATTRIBUTION_COLORS = _named_scale(ATTRIBUTION_SCALE)


def attribution_heatmap(src_tokens: Sequence[str], out_tokens: Sequence[str], shares: np.ndarray,
                        correlation: Sequence[float], *, lang: str = "en", font_size: int = 14,
                        title: str | None = None, src_notes: Sequence[str] | None = None) -> go.Figure:
    """Attribution shares (T, S) — each row a_tj / Σ_j |a_tj|, so −1 … 1 — laid out like the attention heatmap
    beside it (same axes, same rows); each output word's label carries ρ, the rank correlation of its row with
    the attention row."""
    rows = [f"{tok} · ρ {rho:+.2f}" if np.isfinite(rho) else f"{tok} · ρ –"
            for tok, rho in zip(out_tokens, correlation)]
    fig = attention_heatmap(src_tokens, rows, shares, title=title, lang=lang, font_size=font_size,
                            src_notes=src_notes, output_title=False)
    fig.update_traces(zmin=-1.0, zmax=1.0, zmid=0.0, colorscale=_ATTRIBUTION_COLORS,
                      colorbar=dict(title=dict(text=t("fig.attribution", lang), side="right")),
                      hovertemplate=(f"{t('fig.output', lang)}: %{{customdata[0]}}<br>{t('fig.source', lang)}: "
                                     f"%{{customdata[1]}}<br>{t('fig.attribution', lang)}: %{{z:+.3f}}<extra></extra>"))
    fig.update_layout(margin=dict(r=10 + round(LINE * font_size)))        # the colour bar's upright title
    return fig


def exposure_chart(reference: Sequence[str], teacher_forced: np.ndarray, free_running: np.ndarray,
                   own: Sequence[str], leaves_at: int | None, *, lang: str = "en", font_size: int = 14,
                   title: str | None = None) -> go.Figure:
    """Each reference word's probability fed the reference (teacher forcing) and fed the model's own words
    (free running), step by step; a line where the model's own words leave the reference."""
    ref = [label(tok) for tok in reference]
    steps = list(range(len(ref)))
    mine = [label(own[i]) if i < len(own) else "–" for i in steps]
    custom = np.array([[ref[i], mine[i]] for i in steps], dtype=object)
    hover = (f"{t('fig.reference_word', lang)}: %{{customdata[0]}}<br>{t('fig.own_word', lang)}: "
             f"%{{customdata[1]}}<br>{t('fig.probability', lang)}: %{{y:.3f}}<extra>%{{fullData.name}}</extra>")
    fig = go.Figure([
        go.Scatter(x=steps, y=np.asarray(teacher_forced, dtype=float), mode="lines+markers", customdata=custom,
                   name=t("fig.teacher_forced", lang), line=dict(color=COLORS["train"], width=3),
                   hovertemplate=hover),
        go.Scatter(x=steps, y=np.asarray(free_running, dtype=float), mode="lines+markers", customdata=custom,
                   name=t("fig.free_running", lang), line=dict(color=COLORS["best"], width=3, dash="dot"),
                   hovertemplate=hover)])
    if leaves_at is not None and leaves_at < len(ref):
        fig.add_vline(x=leaves_at - 0.5, line=dict(color="#555", width=2, dash="dash"))
        fig.add_annotation(x=leaves_at - 0.5, y=1.08, text=label(t("fig.leaves_here", lang, own=mine[leaves_at])),
                           showarrow=False, xanchor="left", font=dict(size=max(10, font_size - 2)))
    fig.update_xaxes(tickmode="array", tickvals=steps, ticktext=ref, range=[-0.5, len(ref) - 0.5],
                     title=dict(text=t("fig.reference_axis", lang)))
    fig.update_yaxes(range=[0, 1.15], tickformat=".0%", title=dict(text=t("fig.probability", lang)))
    fig.update_layout(legend=dict(orientation="h", y=-0.3, x=0))
    return _layout(fig, title=title, height=340 + 3 * font_size, font_size=font_size)
