"""Seq2Seq Attention Lab (注意力实验室): the Gradio app and its HTTP API. ``python demo/gradio_app.py``.

The page: type a Chinese sentence, press Translate, watch the attention heatmap grow one word per step;
below it greedy against beam search, the n-best list and the search tree, the model's insides
(``?lang=zh&model=toy_numbers&text=三千零五`` works too). The API (``/translate``, ``/segment``,
``/score``, ``/models``; see the README) answers through ``seq2seq_lab.present.api`` (``demo/gradio_api.py``);
bad input is an error reading ``"[code] explanation"``. Layout and wiring only: what the page shows comes from
``seq2seq_lab.present``. Telemetry is switched off before Gradio is imported: nothing leaves the machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # no telemetry, no version check
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import html
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "demo"):              # `python demo/gradio_app.py` without installing; its other module
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import gradio as gr
import gradio_closer
import gradio_heads
from gradio_api import api_models, api_score, api_segment, api_translate

from seq2seq_lab import settings
from seq2seq_lab.batching import Batcher
from seq2seq_lab.errors import LabError
from seq2seq_lab.i18n import LANGUAGES, language, t
from seq2seq_lab.options import LIMITS
from seq2seq_lab.present import catalogue, heads, live, views

log = logging.getLogger(__name__)
settings.apply_torch_threads(settings.load())


# --- the page: a result (or an error) → values by output name ------------------------------------

def output_html(text: str, small: bool = False) -> str:
    return f"<div class='lab-output{' lab-small' if small else ''}'>{html.escape(text)}</div>"


def render(result: live.Result, lang: str, *, show_pruned: bool = True, pick: Any = 1,
           picks: dict | None = None) -> dict[str, Any]:
    """Every output of the page for ``result``, by name (the wiring maps names to components); ``picks``: the
    head pickers' values (gradio_heads.PICKS)."""
    model = catalogue.open_model(result.model_key, settings.load())
    final, best, picks = result.final, result.final.best, picks or {}
    pinyin = bool(picks.get("pinyin"))
    meta = "  \n⚠ ".join(filter(None, (views.result_meta(final, lang), views.unknown_warning(final, lang))))
    out: dict[str, Any] = {"result": output_html(best.text), "meta": meta,
                           "pipe_pos": "", "pos_view": None, "pipe_ctx": "", "ctx_view": None}   # one of them stays
    for panel in views.pipeline(model, result.text, lang, pinyin=pinyin):
        out[f"pipe_{panel.key}"] = f"#### {panel.title}\n\n{panel.caption}"
        out[f"{panel.key}_view"] = panel.html if panel.html else panel.figure
    out.update(gradio_heads.render(model, result, lang, picks))
    if best.attention is None:
        out["live_plot"], out["live_caption"] = None, views.no_attention_note(best.tokens, lang)
    else:
        out["live_plot"] = gradio_heads.heatmap(model, result, picks.get("head"), lang, pinyin)
        out["live_caption"] = t("gr.live_done", lang, steps=len(result.steps))
        if final.options.beam_size > 1:
            out["live_caption"] += " " + t("live.beam_note", lang)
    comparison = views.compare(model, result)
    kind, note = comparison.note(lang)
    out["compare_note"] = ("✓ " if kind == "same" else "⚠ ") + note
    for side, title, candidate in comparison.sides(lang):
        out[f"{side}_text"] = (f"### {catalogue.md_text(title)}\n\n{output_html(candidate.text, small=True)}\n\n"
                               + views.score_line(candidate, lang))
        out[f"{side}_plot"] = None if candidate.attention is None else views.heatmap(
            final.src_tokens, candidate.tokens, candidate.attention, lang, highlight_row=comparison.split,
            pinyin=pinyin)
    out["candidates"] = views.candidate_frame(final, lang)
    pick = views.pick_rank(final, pick)
    out["pick"] = gr.update(choices=list(range(1, len(final.candidates) + 1)), value=pick, label=t("cand.pick", lang))
    out["candidate_plot"], out["candidate_caption"] = views.candidate_heatmap(result, pick, lang, pinyin=pinyin)
    out["tree_caption"] = views.tree_caption(result, lang)
    out["tree_plot"] = views.beam_tree(result, show_pruned, lang)
    return out


def friendly(error: Exception, lang: str) -> dict[str, Any]:
    """The page after bad input: every output cleared and a message in the visitor's language."""
    if not isinstance(error, LabError):
        log.exception("unexpected error in the page")
    message = catalogue.md_text(views.error_message(error, lang))
    empty = {name: None if isinstance(component, (gr.Plot, gr.State)) else "" for name, component in OUTPUTS.items()}
    return {**empty, "candidates": views.candidate_frame(None, lang), "pick": gr.update(choices=[1], value=1),
            "message": gr.update(value=f"⚠ **{t('gr.message_title', lang)}:** {message}", visible=True)}


def translate_stream(text: Any, key: str | None, beam_size: Any, length_penalty: Any, coverage_penalty: Any,
                     max_len: Any, no_repeat: Any, speed: str, lang: str, show_pruned: bool = True,
                     picks: dict | None = None) -> Iterator[dict[str, Any]]:
    """The Translate button: page updates by name, one per decoding step (the heatmap grows one row at a
    time, for the head picked), then the whole result with ``state``; or a friendly ``message`` for bad input."""
    lang, picks = language(lang), picks or {}
    delay = live.SPEEDS.get(speed, live.SPEEDS["normal"])
    try:
        model = catalogue.open_model(key, settings.load())
        found = heads.shape(model)
        decoding = live.LiveDecoding(model, text, {
            "beam_size": beam_size, "length_penalty": length_penalty, "coverage_penalty": coverage_penalty,
            "n_best": beam_size, "max_len": max_len, "no_repeat_ngram_size": no_repeat})
        for frame in decoding:
            if delay:
                rows = heads.frame_rows(frame, picks.get("head"), found)
                yield {"message": gr.update(visible=False), "live_caption": views.step_caption(frame, None, lang)
                       + ("  \n" + views.no_attention_note(frame.tokens, lang) if rows is None else ""),
                       "live_plot": None if rows is None else views.heatmap(
                           decoding.src_tokens, frame.tokens, rows, lang, highlight_row=frame.step - 1,
                           pinyin=bool(picks.get("pinyin")))}
                time.sleep(delay)
        page = render(decoding.result, lang, show_pruned=show_pruned, picks=picks)
    except Exception as error:                     # bad input is a message, never a traceback
        yield friendly(error, lang)
        return
    yield {**page, "state": decoding.result, "message": gr.update(visible=False)}


# --- the model list and examples --------------------------------------------------------------------

def shelf() -> catalogue.Shelf:
    return catalogue.shelf(settings.load())


def examples_for(key: str | None) -> list[list[str]]:
    return [[zh] for zh in shelf().examples(key)]


def on_model_change(key: str | None, text: str | None, lang: str):
    found = shelf()                                   # the new model's examples, card and its own decoding
    start = catalogue.starting_decoding(found.good.get(key or ""))
    return (gr.Dataset(samples=examples_for(key)), found.card(key, lang),
            catalogue.text_for_model(text, found.corpus(key)), *start.values())


def on_refresh(key: str | None, lang: str):
    found = shelf()
    value = key if key in found.good else found.default_key
    return gr.Dropdown(choices=found.choices(lang), value=value), found.card(value, lang)


def on_load(request: gr.Request):
    """``?lang=zh&model=everyday_dot&text=我爱学习`` in the address."""
    params = dict(request.query_params) if request is not None else {}
    lang = language(params.get("lang", settings.load().lang))
    found = shelf()
    model = params.get("model") if params.get("model") in found.good else found.default_key
    text = params.get("text") or found.examples(model)[0]
    return (lang, gr.Dropdown(choices=found.choices(lang), value=model), text, gr.Dataset(samples=examples_for(model)),
            found.card(model, lang))


def option_slider(name: str, lang: str, *, number: bool = False):
    limit = LIMITS[name]                      # the widget's range is the one the core enforces
    common = dict(minimum=limit.low, maximum=limit.high, step=limit.step, label=t(limit.label, lang),
                  info=t(limit.help, lang))
    return gr.Number(limit.default, precision=0, **common) if number else gr.Slider(value=limit.default, **common)


# --- the page ---------------------------------------------------------------------------------------

CSS = (ROOT / "assets" / "gradio.css").read_text(encoding="utf-8")
HEADER = "## {title}"
L = settings.load().lang
_first_models = shelf().choices(L)
_first_model = shelf().default_key

with gr.Blocks(title="注意力实验室 · Seq2Seq Attention Lab") as demo:
    state = gr.State(None)                        # this visitor's last result
    # Projector first: examples, the model card and the decoding settings fold away (heatmap on a 1366×768 screen)
    with gr.Row(equal_height=True):
        header = gr.Markdown(HEADER.format(title=t("app.title", L)), scale=3)
        lang_radio = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value=L,
                              label=t("app.language", L), scale=1, min_width=200, container=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Row(equal_height=True):
                text_box = gr.Textbox(value=examples_for(_first_model)[0][0], label=t("app.input", L),
                                      placeholder=t("app.input_placeholder", L), lines=1, max_lines=4, scale=4)
                translate_btn = gr.Button(t("app.translate", L), variant="primary", scale=1, min_width=120)
            with gr.Accordion(t("app.examples_short", L), open=False) as examples_box:
                examples = gr.Dataset(components=[text_box], samples=examples_for(_first_model),
                                      label=t("app.examples", L), samples_per_page=14)
        with gr.Column(scale=2):
            model_box = gr.Dropdown(_first_models, value=_first_model, label=t("app.model", L),
                                    allow_custom_value=False)
            with gr.Row(equal_height=False):
                with gr.Accordion(t("gr.model_card", L), open=False) as card_box:
                    model_info = gr.Markdown(shelf().card(_first_model, L))
                    refresh_btn = gr.Button(t("gr.refresh", L), size="sm", variant="secondary")
                with gr.Accordion(t("app.decoding", L), open=False) as settings_box:
                    speed_input = gr.Radio([(t(f"live.speed_{s}", L), s) for s in live.SPEEDS], value="fast",
                                           label=t("live.speed", L))
                    OPTION_INPUTS = {name: option_slider(name, L, number=name in ("max_len", "no_repeat_ngram_size"))
                                     for name in ("beam_size", "length_penalty", "coverage_penalty", "max_len",
                                                  "no_repeat_ngram_size")}
                    pinyin_box = gr.Checkbox(False, label=t("app.pinyin", L), info=t("app.pinyin_help", L))
    message = gr.Markdown(visible=False, elem_id="lab-message")
    result_html = gr.HTML()
    with gr.Row(equal_height=True):               # the score line, and beside it which attention the heatmap shows
        meta = gr.Markdown()
        # A Transformer's layer × head picker for the live heatmap: on this line, so a 10-word heatmap fits 1366×768.
        CONTROLS = {"head": gradio_heads.picker(L, "heads.picker", compact=True)}
    with gr.Tabs():
        with gr.Tab(t("tab.live", L)) as tab_live:
            live_plot = gr.Plot(show_label=False)
            live_caption_md = gr.Markdown()
            live_md = gr.Markdown(t("live.intro", L))
            HEADS, more = gradio_heads.live_views(L)                         # every head; self-attention
            CONTROLS.update(more)
        with gr.Tab(t("gr.tab_pipeline", L)) as tab_pipeline:
            pipe_md = gr.Markdown(t("pipe.intro", L))
            pipe_seg, seg_view = gr.Markdown(), gr.HTML()
            PIPE = {"pipe_ids": gr.Markdown(), "ids_view": gr.HTML()}
            for stage in ("emb", "pos", "enc", "ctx"):                     # "pos": a Transformer's, "ctx": an RNN's
                with gr.Column(visible=stage != "pos") as box:
                    PIPE[f"pipe_{stage}"], PIPE[f"{stage}_view"] = gr.Markdown(), gr.Plot(show_label=False)
                CONTROLS.update({f"{stage}_box": box} if stage in ("pos", "ctx") else {})
            traced, more = gradio_heads.trace_views(L)
            HEADS.update(traced)
            CONTROLS.update(more)
        with gr.Tab(t("tab.compare", L)) as tab_compare:
            compare_note = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    greedy_text, greedy_plot = gr.Markdown(), gr.Plot(show_label=False)
                with gr.Column():
                    beam_text, beam_plot = gr.Markdown(), gr.Plot(show_label=False)
        with gr.Tab(t("tab.candidates", L)) as tab_candidates:
            cand_md = gr.Markdown(t("cand.intro", L))
            candidates = gr.Dataframe(interactive=False, wrap=True)
            pick_input = gr.Radio([1], value=1, label=t("cand.pick", L))
            candidate_caption, candidate_plot = gr.Markdown(), gr.Plot(show_label=False)
            tree_title = gr.Markdown(f"### {t('tree.title', L)}")
            tree_caption = gr.Markdown()
            show_pruned_input = gr.Checkbox(True, label=t("tree.pruned", L))
            tree_plot = gr.Plot(show_label=False)
        with gr.Tab(t("gr.tab_closer", L)) as tab_closer:
            CLOSER = gradio_closer.build(L)

    OUTPUTS = {"message": message, "result": result_html, "meta": meta, "pipe_seg": pipe_seg, "seg_view": seg_view,
               "live_plot": live_plot, "live_caption": live_caption_md, "compare_note": compare_note,
               "greedy_text": greedy_text, "greedy_plot": greedy_plot, "beam_text": beam_text, "beam_plot": beam_plot,
               "candidates": candidates, "pick": pick_input, "candidate_plot": candidate_plot,
               "candidate_caption": candidate_caption, "tree_caption": tree_caption, "tree_plot": tree_plot,
               **PIPE, **HEADS, "state": state}
    CONTROLS["pinyin"] = pinyin_box                                   # travels with the pickers to every page
    PICK_INPUTS = [CONTROLS[name] for name in gradio_heads.PICKS]

    def to_components(named: dict[str, Any]) -> dict:
        return {OUTPUTS[name]: value for name, value in named.items()}

    def ui_translate(text, key, beam_size, lp, cp, max_length, no_repeat_size, speed_name, lang, pruned, *picks):
        for update in translate_stream(text, key, beam_size, lp, cp, max_length, no_repeat_size, speed_name, lang,
                                       pruned, dict(zip(gradio_heads.PICKS, picks))):
            yield to_components(update)

    LABELS = [  # (component, attribute → i18n key): what the language switch rewrites
        (lang_radio, {"label": "app.language"}),
        (text_box, {"label": "app.input", "placeholder": "app.input_placeholder"}),
        (examples, {"label": "app.examples"}), (examples_box, {"label": "app.examples_short"}),
        (translate_btn, {"value": "app.translate"}),
        (model_box, {"label": "app.model"}), (refresh_btn, {"value": "gr.refresh"}),
        (settings_box, {"label": "app.decoding"}), (card_box, {"label": "gr.model_card"}),
        (tab_live, {"label": "tab.live"}), (live_md, {"value": "live.intro"}),
        (tab_compare, {"label": "tab.compare"}), (tab_pipeline, {"label": "gr.tab_pipeline"}),
        (pipe_md, {"value": "pipe.intro"}), (tab_candidates, {"label": "tab.candidates"}),
        (cand_md, {"value": "cand.intro"}), (show_pruned_input, {"label": "tree.pruned"}),
        (tab_closer, {"label": "gr.tab_closer"}), (pinyin_box, {"label": "app.pinyin", "info": "app.pinyin_help"}),
    ]

    def ui_language(lang, key, result, pruned, picked, *picks):
        lang = language(lang)
        updates = {component: gr.update(**{attr: t(k, lang) for attr, k in attrs.items()})
                   for component, attrs in LABELS}
        for name, component in OPTION_INPUTS.items():
            updates[component] = gr.update(label=t(LIMITS[name].label, lang), info=t(LIMITS[name].help, lang))
        updates[speed_input] = gr.update(label=t("live.speed", lang),
                                         choices=[(t(f"live.speed_{s}", lang), s) for s in live.SPEEDS])
        updates[model_box] = gr.update(label=t("app.model", lang), choices=shelf().choices(lang))
        updates[header] = HEADER.format(title=t("app.title", lang))
        updates[tree_title] = f"### {t('tree.title', lang)}"
        updates[model_info] = shelf().card(key, lang)
        return {**updates, **ui_page(lang, result, pruned, picked, *picks)}

    def ui_page(lang, result, pruned, picked, *picks):     # the page again: a language or the pinyin switch
        return {} if result is None else to_components(render(result, language(lang), show_pruned=pruned,
                                                               pick=picked, picks=dict(zip(gradio_heads.PICKS, picks))))

    def ui_pick(result, picked, lang, pinyin):
        return ((gr.skip(), gr.skip()) if result is None
                else views.candidate_heatmap(result, picked, language(lang), pinyin=bool(pinyin)))

    def ui_tree(result, pruned, lang):
        return gr.skip() if result is None else views.beam_tree(result, pruned, language(lang))

    def ui_row(event: gr.SelectData):
        return event.index[0] + 1 if isinstance(event.index, (list, tuple)) else gr.skip()

    translate_inputs = [text_box, model_box, *OPTION_INPUTS.values(), speed_input, lang_radio, show_pruned_input,
                        *PICK_INPUTS]
    controls = gradio_heads.wire(state, lang_radio, CONTROLS, {**HEADS, "live_plot": live_plot}, render)
    closer_then = gradio_closer.wire(CLOSER, state, lang_radio, pinyin_box, model_box, tab_closer,
                                     [tab_live, tab_pipeline, tab_compare, tab_candidates])
    gr.on([translate_btn.click, text_box.submit], ui_translate, inputs=translate_inputs,
          outputs=list(OUTPUTS.values()), api_name="ui_translate", api_visibility="private", concurrency_limit=8,
          show_progress="minimal").then(**controls, api_name="ui_controls").then(**closer_then,
                                                                                 api_name="ui_closer_new")
    examples.click(lambda sample: sample[0], inputs=examples, outputs=text_box, api_name="ui_example",
                   api_visibility="private", queue=False).then(
        ui_translate, inputs=translate_inputs, outputs=list(OUTPUTS.values()), api_name="ui_example_translate",
        api_visibility="private", concurrency_limit=8, show_progress="minimal").then(
        **controls, api_name="ui_example_controls").then(**closer_then, api_name="ui_example_closer")
    model_box.change(on_model_change, inputs=[model_box, text_box, lang_radio], api_name="ui_model",  # + its penalties
                     outputs=[examples, model_info, text_box, *(OPTION_INPUTS[n] for n in catalogue.NO_PENALTIES)],
                     api_visibility="private")
    refresh_btn.click(on_refresh, inputs=[model_box, lang_radio], outputs=[model_box, model_info],
                      api_name="ui_refresh", api_visibility="private")
    lang_radio.change(ui_language, inputs=[lang_radio, model_box, state, show_pruned_input, pick_input, *PICK_INPUTS],
                      outputs=[c for c, _ in LABELS] + list(OPTION_INPUTS.values())
                      + [speed_input, header, tree_title, model_info] + list(OUTPUTS.values()),
                      api_name="ui_language", api_visibility="private").then(**controls, api_name="ui_lang_controls")
    pinyin_box.change(ui_page, inputs=[lang_radio, state, show_pruned_input, pick_input, *PICK_INPUTS],
                      outputs=list(OUTPUTS.values()), api_name="ui_pinyin", api_visibility="private")
    candidates.select(ui_row, inputs=None, outputs=pick_input, api_name="ui_row", api_visibility="private")
    pick_input.change(ui_pick, inputs=[state, pick_input, lang_radio, pinyin_box],
                      outputs=[candidate_plot, candidate_caption],
                      api_name="ui_pick", api_visibility="private")
    show_pruned_input.change(ui_tree, inputs=[state, show_pruned_input, lang_radio], outputs=tree_plot,
                             api_name="ui_tree", api_visibility="private")
    demo.load(on_load, inputs=None, outputs=[lang_radio, model_box, text_box, examples, model_info],
              api_name="ui_load", api_visibility="private")

    # The programmatic API (JSON in, JSON out; see the README).
    # As many at once as one batch takes: requests that arrive together are decoded together (batching.py)
    gr.api(api_translate, api_name="translate", concurrency_limit=Batcher.MAX_BATCH)
    gr.api(api_segment, api_name="segment", concurrency_limit=8)
    gr.api(api_score, api_name="score", concurrency_limit=8)
    gr.api(api_models, api_name="models", concurrency_limit=8)

demo.queue(default_concurrency_limit=8)


if __name__ == "__main__":
    catalogue.warm_up(settings.load())          # the first visitors of a class get answers at once
    demo.launch(css=CSS, footer_links=["api", "settings"])
