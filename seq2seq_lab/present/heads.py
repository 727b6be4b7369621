"""A Transformer's attention heads as both apps show them.

An RNN has one attention; a Transformer has ``heads`` of them in each decoder layer (cross-attention), plus
the encoder's and the decoder's self-attention. This module says what the apps draw of them:

- the heatmap's **head picker**: the summary (the last layer, mean of its heads: ``Candidate.attention``) or
  one (layer, head); :func:`frame_rows` gives the rows to draw for a choice;
- the **model view**: every head of one decoder layer (or every layer × head) side by side, for the step
  shown (:func:`cross_grid`), so a class sees at once that heads specialise;
- **self-attention**: the encoder's (each source word over every source word) and the decoder's masked one,
  whose future cells are drawn grey (:func:`self_attention`);
- the pipeline's **one head, traced**: its query, keys and values for one output step, and that step's scores
  before and after the softmax (:func:`trace_panels`).

Choices are plain strings (what a selectbox or a dropdown hands back), parsed forgivingly: anything that is
not a valid choice for this model falls back to the default. Nothing here knows Streamlit or Gradio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import figures
from ..i18n import t
from .catalogue import OpenModel, md_text
from .live import LRU, Frame, Result, attention_maps
from .views import Panel, font_size, pinyin_notes

SUMMARY = "mean"           # the head picker's default: the last layer, mean of its heads
ALL_LAYERS = "all"         # the model view's "every layer × every head"
GRID_COLUMNS = 6           # at most this many panels side by side; more heads wrap onto two rows


@dataclass(frozen=True)
class Shape:
    """How many attention heads a Transformer has, where."""

    enc_layers: int
    dec_layers: int
    heads: int
    d_k: int

    @property
    def many(self) -> bool:
        """More than one cross-attention map to choose from: the head picker is worth showing."""
        return self.dec_layers * self.heads > 1


def shape(model: OpenModel) -> Shape | None:
    """The model's heads; None for an RNN (one attention, nothing to pick)."""
    tr = model.translator
    if tr.family != "transformer":
        return None
    c = tr.config
    return Shape(c.enc_layers, c.dec_layers, c.heads, c.d_model // c.heads)


# --- the heatmap's head picker ---------------------------------------------------------------------

def head_key(layer: int, head: int) -> str:
    """The picker value of (0-based) ``layer``, ``head``: "1.2" is layer 2, head 3."""
    return f"{layer}.{head}"


def head_choices(found: Shape, lang: str) -> dict[str, str]:
    """Picker value → label: the summary first, then every (layer, head) in order."""
    choices = {SUMMARY: t("heads.summary", lang)}
    for layer in range(found.dec_layers):
        for head in range(found.heads):
            choices[head_key(layer, head)] = t("heads.one", lang, layer=layer + 1, head=head + 1)
    return choices


def parse_head(choice, found: Shape | None) -> tuple[int, int] | None:
    """(layer, head) of a picker value, 0-based; None for the summary or anything that is not a choice."""
    if found is None or not isinstance(choice, str) or "." not in choice:
        return None
    try:
        layer, head = (int(part) for part in choice.split("."))
    except ValueError:
        return None
    return (layer, head) if 0 <= layer < found.dec_layers and 0 <= head < found.heads else None


def pick(choice, found: Shape | None) -> str:
    """``choice`` if it is one of this model's picker values, else the summary."""
    return choice if parse_head(choice, found) is not None else SUMMARY


def _rows(summary: np.ndarray | None, per_head: np.ndarray | None, choice, found: Shape | None):
    where = parse_head(choice, found)
    if where is None or per_head is None or not (where[0] < per_head.shape[1] and where[1] < per_head.shape[2]):
        return summary                                              # (a result of another model: its summary)
    return per_head[:, where[0], where[1], :]                       # (T, L, h, S) → (T, S)


def frame_rows(frame: Frame, choice, found: Shape | None) -> np.ndarray | None:
    """The rows to draw for ``frame``: (step, S) of the chosen head, or the summary."""
    return _rows(frame.attention, frame.heads, choice, found)


# --- every head of one layer: the model view --------------------------------------------------------

def layer_choices(layers: int, lang: str, *, every: bool = False) -> dict[str, str]:
    """Layer picker value ("1" … "N", 1-based) → label, and "all" (every layer × head) if ``every``."""
    choices = {str(n): t("heads.layer", lang, layer=n) for n in range(1, layers + 1)}
    return {**choices, ALL_LAYERS: t("heads.all_layers", lang)} if every else choices


def parse_layer(choice, layers: int, *, every: bool = False) -> int | None:
    """A layer picker value as a 0-based layer; None for "all" (if allowed); anything else: the last layer."""
    if every and choice == ALL_LAYERS:
        return None
    try:
        n = int(choice)
    except (TypeError, ValueError):
        return layers - 1
    return n - 1 if 1 <= n <= layers else layers - 1


def _arrange(maps: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One layer's head maps (h, rows, cols) as a grid (R, C, rows, cols) of at most GRID_COLUMNS columns, and
    the head number of each cell; cells past the last head stay empty (NaN, no title)."""
    h = maps.shape[0]
    columns = h if h <= GRID_COLUMNS else -(-h // 2)
    grid_rows = -(-h // columns)
    grid = np.full((grid_rows * columns, *maps.shape[1:]), np.nan)
    grid[:h] = maps
    return grid.reshape(grid_rows, columns, *maps.shape[1:]), [(i // columns, i % columns) for i in range(h)]


def _grid(maps_by_layer: dict[int, np.ndarray], x_tokens, y_tokens, lang: str, presenter: bool,
          masked=None, hover=("fig.output", "fig.source"), pinyin: bool = False):
    """Small multiples of {layer: (h, rows, cols)}: one layer's heads wrapped, or one row per layer."""
    layers = sorted(maps_by_layer)
    if len(layers) == 1:
        grid, cells = _arrange(maps_by_layer[layers[0]])
        titles = [""] * (grid.shape[0] * grid.shape[1])
        for head, (r, c) in enumerate(cells):
            titles[r * grid.shape[1] + c] = t("heads.head", lang, head=head + 1)
    else:
        grid = np.stack([maps_by_layer[layer] for layer in layers])                     # (L, h, rows, cols)
        titles = [t("heads.one", lang, layer=layer + 1, head=head + 1) for layer in layers
                  for head in range(grid.shape[1])]
    return figures.head_grid(grid, x_tokens, y_tokens, titles=titles, masked=masked, hover=hover, lang=lang,
                             font_size=font_size(presenter), x_notes=pinyin_notes(x_tokens, pinyin))


def cross_grid(frame: Frame, src_tokens: list[str], layer_choice, lang: str, *, presenter: bool = False,
               pinyin: bool = False):
    """(figure, Markdown caption): every cross-attention head of one decoder layer (or of every layer) over the
    output written up to ``frame``; None for the figure where the frame has no per-head rows."""
    if frame.heads is None:
        return None, t("live.no_attention", lang)
    per_layer = np.transpose(frame.heads, (1, 2, 0, 3))                       # (step, L, h, S) → (L, h, step, S)
    layers = per_layer.shape[0]
    layer = parse_layer(layer_choice, layers, every=True)
    figure = _grid({n: per_layer[n] for n in (range(layers) if layer is None else [layer])}, src_tokens,
                   frame.tokens, lang, presenter, pinyin=pinyin)
    caption = (t("heads.grid_caption_all", lang, layers=layers, step=frame.step) if layer is None
               else t("heads.grid_caption", lang, layer=layer + 1, step=frame.step))
    return figure, caption


# --- self-attention: the encoder's and the decoder's (masked) ------------------------------------------

def decoder_inputs(tokens: list[str]) -> list[str]:
    """What the decoder reads at each step: <s>, then the words written before (its self-attention's keys)."""
    return ["<s>", *tokens[:-1]]


def self_attention(model: OpenModel, result: Result, side: str, layer_choice, lang: str, *, step: int | None = None,
                   presenter: bool = False, pinyin: bool = False):
    """(figure, Markdown caption) of one layer's self-attention heads: ``side`` "encoder" (source × source) or
    "decoder" (the output written up to ``step``: masked, its future cells grey). None for the figure where the
    translation carries no self-attention (a model without it, or ``model`` is not the result's)."""
    final = attention_maps(model, result) or result.final                             # computed on first use
    best = final.best
    maps = final.encoder_attention if side == "encoder" else best.self_attention     # (L, h, n, n)
    layer = parse_layer(layer_choice, 1 if maps is None else maps.shape[0])
    caption = t("heads.enc_caption" if side == "encoder" else "heads.dec_caption", lang, layer=layer + 1)
    if maps is None:
        return None, caption
    if side == "encoder":
        tokens = final.src_tokens
        return _grid({layer: maps[layer]}, tokens, tokens, lang, presenter, hover=("fig.query", "fig.key"),
                     pinyin=pinyin), caption
    T = len(best.tokens) if step is None else min(max(int(step), 1), len(best.tokens))
    future = np.triu(np.ones((T, T), dtype=bool), k=1)                  # row i may only look at columns ≤ i
    figure = _grid({layer: maps[layer, :, :T, :T]}, decoder_inputs(best.tokens[:T]), best.tokens[:T], lang,
                   presenter, masked=future, hover=("fig.query", "fig.key"))
    return figure, caption


# --- the pipeline: one head traced through one output step ---------------------------------------------

TRACES = LRU(64)           # a trace is a few small arrays: (T, d_k) and (S, d_k)


def head_options(found: Shape, lang: str) -> dict[str, str]:
    """The pipeline's head picker: "1" … "h" → "head 1" …"""
    return {str(n): t("heads.head", lang, head=n) for n in range(1, found.heads + 1)}


def parse_head_number(choice, heads: int) -> int:
    """A head picker value ("1" … "h") as a 0-based head; anything else: the first head."""
    try:
        n = int(choice)
    except (TypeError, ValueError):
        return 0
    return n - 1 if 1 <= n <= heads else 0


def step_choices(result: Result) -> dict[str, str]:
    """The output steps of the final translation: "1" → "1 · he", …"""
    return {str(i): f"{i} · {token}" for i, token in enumerate(result.final.best.tokens, start=1)}


def parse_step(choice, steps: int) -> int:
    """A step picker value as a 1-based step inside 1 … ``steps``; anything else: the first step."""
    try:
        n = int(choice)
    except (TypeError, ValueError):
        return 1
    return n if 1 <= n <= steps else 1


def trace(model: OpenModel, result: Result, layer: int, head: int) -> dict[str, np.ndarray]:
    """``Translator.trace_cross_attention`` for the final translation, cached."""
    tokens = tuple(result.final.best.tokens)
    return TRACES.get((model.version, result.text, tokens, layer, head),
                      lambda: model.translator.trace_cross_attention(result.text, list(tokens), layer=layer,
                                                                     head=head))


def trace_panels(model: OpenModel, result: Result, layer_choice, head_choice, step_choice, lang: str, *,
                 presenter: bool = False) -> list[Panel]:
    """The pipeline's last two stages for a Transformer: the query, keys and values of one head for one output
    step ("qkv"), and that step's scores before and after the softmax ("scores"). [] for an RNN."""
    found = shape(model)
    if found is None:
        return []
    layer = parse_layer(layer_choice, found.dec_layers)
    head = parse_head_number(head_choice, found.heads)
    tokens = result.final.best.tokens
    step = parse_step(step_choice, len(tokens))
    traced = trace(model, result, layer, head)
    src, size, token = result.final.src_tokens, font_size(presenter), tokens[step - 1]
    where = dict(layer=layer + 1, head=head + 1, step=step, token=md_text(token))
    return [
        Panel("qkv", t("pipe.qkv", lang), t("pipe.qkv_help", lang, d_k=found.d_k, **where),
              figure=figures.qkv_heatmap(src, token, traced["q"][step - 1], traced["k"], traced["v"], lang=lang,
                                         font_size=size)),
        Panel("scores", t("pipe.scores", lang), t("pipe.scores_help", lang, **where),
              figure=figures.score_bars(src, traced["scores"][step - 1], traced["weights"][step - 1], lang=lang,
                                        font_size=size)),
    ]
