"""The Streamlit app's views of a Transformer's heads: the heatmap's head picker, every head side by side,
the encoder's and the decoder's self-attention, and one head traced through one step (pipeline tab).

Layout only: what is drawn comes from ``seq2seq_lab.present.heads``. For an RNN nothing here draws anything.
"""

from __future__ import annotations

import streamlit as st
from streamlit_ui import T, draw_panel, keep_choice, labels, lang, pinyin, plot, presenter

from seq2seq_lab.present import heads, live


def _choose(key: str, choices: dict[str, str], default: str) -> None:
    """Before a picker is drawn: its value stays if this model offers it, else ``default``."""
    keep_choice(key)
    if st.session_state.get(key) not in choices:
        st.session_state[key] = default


def head_picker(model, where) -> heads.Shape | None:
    """The layer × head picker of the live heatmap (a many-headed model only); the model's heads, None for an RNN."""
    found = heads.shape(model)
    if found is None or not found.many:
        return found
    choices = heads.head_choices(found, lang())
    _choose("head_pick", choices, heads.SUMMARY)
    where.selectbox(T("heads.picker"), list(choices), key="head_pick", format_func=labels(choices),
                    help=T("heads.picker_help"))
    return found


def chosen_head() -> str:
    return st.session_state.get("head_pick", heads.SUMMARY)


def _layer_picker(key: str, label: str, layers: int, *, every: bool = False) -> str:
    choices = heads.layer_choices(layers, lang(), every=every)
    _choose(key, choices, str(layers))
    return st.segmented_control(label, list(choices), key=key, format_func=labels(choices), required=True)


def head_views(model, result: live.Result, frame: live.Frame) -> None:
    """Below the live heatmap, folded: every head of a layer at the step shown, and self-attention."""
    found = heads.shape(model)                               # the model of the result
    if found is None:
        return
    # Folded views cost nothing until opened: on_change="rerun" makes an expander report .open, and its figures
    # (a dozen heatmaps) are built only then — they were two thirds of a Transformer's translate on the server.
    grid = st.expander(T("heads.grid_title"), icon=":material/grid_view:", key="heads_grid_open", on_change="rerun")
    if grid.open:
        with grid:
            _cross_grid(found, result, frame)
    views_open = st.expander(T("heads.self_title"), icon=":material/compare_arrows:", key="heads_self_open",
                             on_change="rerun")
    if views_open.open:
        with views_open:
            _self_attention(model, found, result, frame)


def _cross_grid(found, result: live.Result, frame: live.Frame) -> None:
    """Every head of one decoder layer (or every layer) at the step shown."""
    layer = _layer_picker("grid_layer", T("heads.grid_layer"), found.dec_layers, every=True)
    figure, caption = heads.cross_grid(frame, result.final.src_tokens, layer, lang(), presenter=presenter(),
                                       pinyin=pinyin())
    st.caption(caption)
    if figure is not None:
        plot(figure, key="heads_grid", filename="attention_heads")


def _self_attention(model, found, result: live.Result, frame: live.Frame) -> None:
    """The encoder's and the decoder's self-attention, one layer of each."""
    for side, key, label, layers in (("encoder", "enc_layer", "heads.enc_layer", found.enc_layers),
                                     ("decoder", "dec_layer", "heads.dec_layer", found.dec_layers)):
        layer = _layer_picker(key, T(label), layers)
        figure, caption = heads.self_attention(model, result, side, layer, lang(), step=frame.step,
                                               presenter=presenter(), pinyin=pinyin())
        st.caption(caption)
        if figure is not None:
            plot(figure, key=f"self_{side}", filename=f"self_attention_{side}")


def trace_section(model, result: live.Result) -> None:
    """The pipeline's last stages for a Transformer: pick a decoder layer, a head and an output step."""
    found = heads.shape(model)
    if found is None:
        return
    st.markdown(f"##### {T('pipe.trace')}")
    layer_col, head_col, step_col = st.columns(3)
    layers = heads.layer_choices(found.dec_layers, lang())
    _choose("trace_layer", layers, str(found.dec_layers))
    layer_col.selectbox(T("pipe.trace_layer"), list(layers), key="trace_layer", format_func=labels(layers))
    head_names = heads.head_options(found, lang())
    _choose("trace_head", head_names, "1")
    head_col.selectbox(T("pipe.trace_head"), list(head_names), key="trace_head", format_func=labels(head_names))
    steps = heads.step_choices(result)
    _choose("trace_step", steps, "1")
    step_col.selectbox(T("pipe.trace_step"), list(steps), key="trace_step", format_func=labels(steps))
    for panel in heads.trace_panels(model, result, st.session_state.trace_layer, st.session_state.trace_head,
                                    st.session_state.trace_step, lang(), presenter=presenter()):
        draw_panel(panel)
