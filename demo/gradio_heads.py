"""The Gradio app's views of a Transformer's heads: the heatmap's layer × head picker, every head side by side
and self-attention (folded, in the live tab), and one head traced through one step (the pipeline tab).

Layout and wiring only: what is drawn comes from ``seq2seq_lab.present.heads``. The pickers and the folded
boxes start hidden and appear after a Transformer's translation (:func:`control_updates`); an RNN's page is unchanged.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from seq2seq_lab import settings
from seq2seq_lab.i18n import language, t
from seq2seq_lab.present import catalogue, heads, live, views
from seq2seq_lab.present.catalogue import OpenModel

PICKS = ("head", "grid_layer", "enc_layer", "dec_layer", "trace_layer", "trace_head", "trace_step",   # pickers
         "pinyin")                                                                     # and a display switch
SWITCHES = ("pinyin",)          # in every page's picks, but a change redraws the whole page (the app wires it)
VALUES = ("grid_caption", "grid_plot", "enc_caption", "enc_plot", "dec_caption", "dec_plot", "trace_title",
          "pipe_qkv", "qkv_view", "pipe_scores", "scores_view")                                   # what they draw


def picker(L: str, label: str, *, compact: bool = False):
    """A hidden dropdown, shown for a Transformer; ``compact``: one line, no frame (its choices say what they are:
    "last layer · mean of heads", "layer 3 · head 2"), so the heatmap below it still fits a projector screen."""
    return gr.Dropdown(choices=[], value=None, label=t(label, L), visible=False, allow_custom_value=True,
                       container=not compact, show_label=not compact, elem_classes=["lab-compact"] if compact else None)


def live_views(L: str) -> tuple[dict, dict]:
    """The folded boxes below the live heatmap: (value components by name, boxes and their pickers by name)."""
    with gr.Accordion(t("heads.grid_title", L), open=False, visible=False) as grid_box:
        grid_layer = gr.Radio(choices=[], label=t("heads.grid_layer", L))
        values = {"grid_caption": gr.Markdown(), "grid_plot": gr.Plot(show_label=False)}
    with gr.Accordion(t("heads.self_title", L), open=False, visible=False) as self_box:
        enc_layer = gr.Radio(choices=[], label=t("heads.enc_layer", L))
        values.update(enc_caption=gr.Markdown(), enc_plot=gr.Plot(show_label=False))
        dec_layer = gr.Radio(choices=[], label=t("heads.dec_layer", L))
        values.update(dec_caption=gr.Markdown(), dec_plot=gr.Plot(show_label=False))
    return values, {"grid_box": grid_box, "self_box": self_box, "grid_layer": grid_layer, "enc_layer": enc_layer,
                    "dec_layer": dec_layer}


def trace_views(L: str) -> tuple[dict, dict]:
    """The pipeline's last two stages: pickers for a decoder layer, a head and an output step, then the panels."""
    with gr.Column(visible=False) as trace_box:
        values = {"trace_title": gr.Markdown()}
        with gr.Row():
            pickers = {name: gr.Dropdown(choices=[], label=t(f"pipe.{name}", L), allow_custom_value=True)
                       for name in ("trace_layer", "trace_head", "trace_step")}
        values.update(pipe_qkv=gr.Markdown(), qkv_view=gr.Plot(show_label=False), pipe_scores=gr.Markdown(),
                      scores_view=gr.Plot(show_label=False))
    return values, {"trace_box": trace_box, **pickers}


def render(model: OpenModel, result: live.Result, lang: str, picks: dict) -> dict[str, Any]:
    """Values of :data:`VALUES` for ``result``; all empty for an RNN."""
    out: dict[str, Any] = {name: None if name.endswith(("plot", "view")) else "" for name in VALUES}
    if heads.shape(model) is None or not result.frames:
        return out
    src = result.final.src_tokens
    pinyin = bool(picks.get("pinyin"))
    out["grid_plot"], out["grid_caption"] = heads.cross_grid(result.frames[-1], src, picks.get("grid_layer"), lang,
                                                             pinyin=pinyin)
    for side in ("enc", "dec"):
        out[f"{side}_plot"], out[f"{side}_caption"] = heads.self_attention(
            model, result, "encoder" if side == "enc" else "decoder", picks.get(f"{side}_layer"), lang, pinyin=pinyin)
    out["trace_title"] = f"#### {t('pipe.trace', lang)}"
    for panel in heads.trace_panels(model, result, picks.get("trace_layer"), picks.get("trace_head"),
                                    picks.get("trace_step"), lang):
        out[f"pipe_{panel.key}"], out[f"{panel.key}_view"] = f"#### {panel.title}\n\n{panel.caption}", panel.figure
    return out


def _choices(table: dict[str, str]) -> list[tuple[str, str]]:
    return [(label, value) for value, label in table.items()]


def control_updates(model: OpenModel | None, result: live.Result | None, lang: str, picks: dict) -> dict[str, Any]:
    """Updates of the pickers and boxes by name: their choices in ``lang``, a value this model offers, and
    shown only for a Transformer's result (the picker for a many-headed one)."""
    found = heads.shape(model) if model is not None and result is not None else None
    if found is None:
        hidden = {name: gr.update(visible=False) for name in ("head", "grid_box", "self_box", "trace_box")}
        return {**hidden, "pos_box": gr.update(visible=False), "ctx_box": gr.update(visible=result is not None)}

    def choose(name: str, table: dict[str, str], default: str, **extra):
        value = picks.get(name) if picks.get(name) in table else default
        return gr.update(choices=_choices(table), value=value, **extra)

    layers = {side: heads.layer_choices(n, lang) for side, n in (("enc", found.enc_layers), ("dec", found.dec_layers))}
    return {
        "head": choose("head", heads.head_choices(found, lang), heads.SUMMARY, visible=found.many,
                       label=t("heads.picker", lang)),
        "grid_layer": choose("grid_layer", heads.layer_choices(found.dec_layers, lang, every=True),
                             str(found.dec_layers), label=t("heads.grid_layer", lang)),
        "enc_layer": choose("enc_layer", layers["enc"], str(found.enc_layers), label=t("heads.enc_layer", lang)),
        "dec_layer": choose("dec_layer", layers["dec"], str(found.dec_layers), label=t("heads.dec_layer", lang)),
        "trace_layer": choose("trace_layer", layers["dec"], str(found.dec_layers), label=t("pipe.trace_layer", lang)),
        "trace_head": choose("trace_head", heads.head_options(found, lang), "1", label=t("pipe.trace_head", lang)),
        "trace_step": choose("trace_step", heads.step_choices(result), "1", label=t("pipe.trace_step", lang)),
        "grid_box": gr.update(visible=True, label=t("heads.grid_title", lang)),
        "self_box": gr.update(visible=True, label=t("heads.self_title", lang)),
        "trace_box": gr.update(visible=True), "pos_box": gr.update(visible=True), "ctx_box": gr.update(visible=False),
    }


def heatmap(model: OpenModel, result: live.Result, head, lang: str, pinyin: bool = False):
    """The live tab's finished heatmap for the head picked."""
    if not result.frames:
        return None
    last = result.frames[-1]                                          # the whole translation, every head's rows
    rows = heads.frame_rows(last, head, heads.shape(model))
    return None if rows is None else views.heatmap(result.final.src_tokens, last.tokens, rows, lang, pinyin=pinyin)


def wire(state, lang_radio, controls: dict, outputs: dict, render) -> dict:
    """Redraw the head views when a picker changes (``render``: the app's page by name); returns the event
    that sets the pickers after a page (``.then(**it)``): their choices, values and visibility."""
    pickers = [controls[name] for name in PICKS]

    def ui_controls(result, lang, *picks):
        model = None if result is None else catalogue.open_model(result.model_key, settings.load())
        named = control_updates(model, result, language(lang), dict(zip(PICKS, picks)))
        return {controls[name]: update for name, update in named.items()}

    def ui_heads(result, lang, *picks):
        if result is None:
            return {component: gr.skip() for component in outputs.values()}
        page = render(result, language(lang), picks=dict(zip(PICKS, picks)))
        return {component: page[name] for name, component in outputs.items()}

    gr.on([controls[name].change for name in PICKS if name not in SWITCHES], ui_heads,
          inputs=[state, lang_radio, *pickers], outputs=list(outputs.values()), api_name="ui_heads",
          api_visibility="private", show_progress="hidden")
    return dict(fn=ui_controls, inputs=[state, lang_radio, *pickers], outputs=list(controls.values()),
                api_visibility="private")
