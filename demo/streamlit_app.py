"""Seq2Seq Attention Lab (注意力实验室): the classroom app.

    streamlit run demo/streamlit_app.py

Type a Chinese sentence and watch the model translate it: the pipeline stage by stage,
the attention heatmap growing one output word per step, greedy against beam search, the
n-best list and the search tree, forced beginnings, and the attention variants side by
side. The sidebar trains a small model in the background.

This file is layout, widgets and per-visitor state only. What the page shows is computed
by ``seq2seq_lab.present`` (shared with the Gradio app); the settings come from
``seq2seq_lab.settings`` (environment variables listed there). Query parameters:
``?lang=zh&model=everyday_dot&text=我爱学习``.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "demo"):              # the package without installing; this app's other modules
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import streamlit as st


@st.cache_resource(show_spinner=False)
def import_once() -> None:
    """Import the heavy modules once per server, before any session needs them.

    Thirty students opening the page at once run this script in thirty threads; when several
    threads import pandas (for st.dataframe) or torch for the first time together, one can be
    handed a half-initialised module. st.cache_resource lets exactly one thread import.
    """
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    import seq2seq_lab.jobs
    import seq2seq_lab.present.views  # noqa: F401
    from seq2seq_lab import settings

    settings.apply_torch_threads(settings.load())


import_once()

import streamlit_heads as heads_view
import streamlit_player as player
import streamlit_tabs as tabs_view
import streamlit_training as trainer
from streamlit_ui import SIDE_HEATMAP_PX, T, keep_choice, labels, lang, pinyin, presenter, server_turns, show_error

from seq2seq_lab import catalog, settings
from seq2seq_lab.errors import LabError
from seq2seq_lab.i18n import LANGUAGES, language
from seq2seq_lab.options import LIMITS
from seq2seq_lab.present import catalogue, live, training, views

SETTINGS = settings.load()
st.set_page_config(page_title="注意力实验室 · Seq2Seq Attention Lab", layout="wide")


OPTION_KEYS = {"beam_size": "beam", "length_penalty": "length_penalty", "coverage_penalty": "coverage_penalty",
               "max_len": "max_len", "no_repeat_ngram_size": "no_repeat"}      # decoding option → widget key


def option_widget(where, name: str, kind: str = "slider", **kwargs):
    """A decoding option's widget, with the range of options.LIMITS (the range the core enforces)."""
    limit = LIMITS[name]
    cast = int if limit.integer else float
    widget = where.slider if kind == "slider" else where.number_input
    return widget(T(limit.label), cast(limit.low), cast(limit.high), step=cast(limit.step), key=OPTION_KEYS[name],
                  help=T(limit.help), **kwargs)


@st.cache_data(show_spinner=False)
def load_css() -> str:
    return (ROOT / "assets" / "style.css").read_text(encoding="utf-8")


# --- per-visitor state and callbacks -----------------------------------------------------------

def init_state() -> None:
    state = st.session_state
    if state.get("_initialised"):
        return
    state._initialised = True
    params = st.query_params
    state.lang = language(params.get("lang") or SETTINGS.lang)
    state.presenter, state.pinyin, state.export_fmt, state.speed = False, False, "png", "normal"
    state.src_text = params.get("text", catalogue.DEFAULT_TEXT)
    state.train_data = training.DEFAULT_DATA
    state.train_name = training.default_name(training.DEFAULT_DATA)
    state.train_probe = training.PROBES[training.DEFAULT_DATA]
    for name, key in OPTION_KEYS.items():
        state[key] = type(LIMITS[name].step)(LIMITS[name].default)
    if params.get("model"):
        try:
            catalog.model_path(params["model"], SETTINGS.models_dir)
            state.model = params["model"]
            state._text_suits_model = "text" not in params      # no text asked for: the model's own example
        except LabError as error:
            state._notice = error


def on_example() -> None:
    """An example button: fill the text box and translate (with the animation)."""
    picked = st.session_state.get("example")
    if picked:
        st.session_state.src_text = picked
        st.session_state._animate = True
    st.session_state.example = None


def on_model_change(corpora: dict[str, str]) -> None:
    text = st.session_state.get("src_text", "")
    new = catalogue.text_for_model(text, corpora.get(st.session_state.model, "hsk"))
    if new != text:
        st.session_state.src_text = new
        st.session_state._animate = True


def on_text_change() -> None:
    st.session_state._animate = True              # Enter in the text box = Translate


def use_tuned(tuned: dict) -> None:
    st.session_state.update({OPTION_KEYS[name]: value for name, value in tuned.items()})


def start_with_the_models_settings(shelf: catalogue.Shelf) -> None:
    """A model seen for the first time brings its own decoding: the penalties and n-gram blocking chosen on
    its validation split (so the default shows no repeats), or none when it records no choice."""
    key = st.session_state.model
    if st.session_state.get("_options_for") != key:
        st.session_state._options_for = key
        use_tuned(catalogue.starting_decoding(shelf.good[key]))


def decoding_options() -> dict:
    options = {name: st.session_state[key] for name, key in OPTION_KEYS.items()}
    return {**options, "n_best": options["beam_size"]}


# --- the sidebar: settings and training ------------------------------------------------------------

def sidebar_settings() -> None:
    st.segmented_control(T("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang", required=True)
    st.toggle(T("app.presenter"), key="presenter", help=T("app.presenter_help"))
    st.toggle(T("app.pinyin"), key="pinyin", help=T("app.pinyin_help"))
    st.segmented_control(T("app.export"), ["png", "svg"], format_func=str.upper, key="export_fmt", required=True,
                         help=T("app.export_help"))


# --- the page ----------------------------------------------------------------------------------------

TABS = ("live", "pipeline", "compare", "candidates", "whatif", "variants", "closer", "training")


def tab_labels() -> list[str]:
    """The tab titles; presenter mode uses the short ones, so all seven fit on one projector line."""
    suffix = "_short" if presenter() else ""
    return [T(f"tab.{name}{suffix}") for name in TABS]


def keep_open_tab(labels: list[str]) -> None:
    """The open tab survives a change of language or of presenter mode (its label changes with them)."""
    previous = st.session_state.get("_tab_labels")
    if st.session_state.get("tab") not in labels and previous and st.session_state.get("tab") in previous:
        st.session_state.tab = labels[previous.index(st.session_state.tab)]
    st.session_state._tab_labels = labels


def model_row(shelf: catalogue.Shelf, manager):
    """Title, model picker, the model card and decoding settings (a popover), the examples (another)."""
    # The last column stays empty: Streamlit's toolbar (the "Running…" sign and the ⋮ menu) sits there.
    widths = [0.01, 3.0, 1.4, 1.4, 1.4] if presenter() else [2.3, 2.3, 1.35, 1.35, 1.25]
    title, pick, settings_col, examples_col, _ = st.columns(widths, vertical_alignment="center")
    if not presenter():                                 # a projector needs the room for the heatmap
        title.markdown(f"<div class='lab-title'>{html.escape(T('app.title'))}</div>", unsafe_allow_html=True,
                       help=T("app.subtitle"))
    keys = shelf.keys
    key = pick.selectbox(T("app.model"), keys, key="model", help=T("app.model_help"), label_visibility="collapsed",
                         format_func=labels({k: catalogue.model_label(k, shelf.good[k], lang()) for k in keys}),
                         on_change=on_model_change, args=({k: shelf.corpus(k) for k in keys},))
    info = shelf.good[key]
    with settings_col.popover(T("app.decoding_short"), icon=":material/tune:", width="stretch"):
        st.caption(catalogue.model_card(key, info, lang()), help=catalogue.model_data(info, lang()))
        trainer.delete_button(manager, key)
        option_widget(st, "length_penalty")
        option_widget(st, "coverage_penalty")
        tuned = catalogue.tuned_decoding(info)
        if tuned:
            st.button(catalogue.tuned_label(tuned, lang()), key="use_tuned", help=T("app.use_tuned_help"),
                      on_click=use_tuned, args=(tuned,))
        option_widget(st, "max_len", "number")
        option_widget(st, "no_repeat_ngram_size", "number")
        device = st.empty()
    examples = catalogue.examples_for(shelf.corpus(key))
    with examples_col.popover(T("app.examples_short"), icon=":material/list:", width="stretch"):
        st.pills(T("app.examples"), list(examples), key="example", on_change=on_example, wrap=True,
                 format_func=labels({zh: catalogue.example_label(e) for zh, e in examples.items()}))
    try:
        model = catalogue.open_model(key, SETTINGS)
    except LabError as error:
        show_error(error)
        return None
    device.caption(T("app.device", device=model.translator.device_label))
    return model


def input_row() -> tuple[bool, bool]:
    """The sentence, Translate, One step, the beam size and the speed, on one line; (translate, one_step)."""
    widths = [3.0, 1.4, 1.4, 1.2, 1.8] if presenter() else [3.8, 1.1, 1.1, 1.0, 1.8]
    box, go, step, beam, speed = st.columns(widths, vertical_alignment="bottom")
    box.text_input(T("app.input"), key="src_text", placeholder=T("app.input_placeholder"), help=T("app.input_help"),
                   on_change=on_text_change)
    translate = go.button(T("app.translate"), key="translate", type="primary", width="stretch")
    one_step = step.button(T("live.one_step"), key="one_step", help=T("live.one_step_help"), width="stretch")
    option_widget(beam, "beam_size", "number")
    keep_choice("speed")                                  # its labels follow the language
    speed.select_slider(T("live.speed"), list(live.SPEEDS), key="speed",
                        format_func=labels({s: T(f"live.speed_{s}") for s in live.SPEEDS}))
    return translate, one_step


def banner(result: live.Result, text: str, corpus: str) -> None:
    """The translation (so far, while stepping), big; its scores; the reference of an example."""
    if result.text != text:
        st.warning(T("app.stale") + "  \n" + T("app.result_for", text=catalogue.md_text(result.text)))
    step = int(st.session_state.get("scrub", len(result.frames)))
    shown = views.text_so_far(result, step)
    st.markdown(f"<div class='lab-output' id='lab-translation'>{html.escape(shown)}</div>", unsafe_allow_html=True)
    meta = views.result_meta(result.final, lang())
    reference = catalogue.example_reference(result.text, corpus, lang())
    st.caption(meta + (f" · {reference}" if reference else ""))
    if warning := views.unknown_warning(result.final, lang()):    # a dates model given a sentence about the weather
        st.warning(warning)


def decide(model, text: str, options: dict, translate: bool, one_step: bool, slots: dict, live_open: bool):
    """What this run does with the visitor's request: animate, decode at once, step, or keep the result."""
    state = st.session_state
    result: live.Result | None = state.get("result")
    # Enter in the box or an example asks for the animation; "One step" on a new sentence starts at step 1.
    animate_now = (state.pop("_animate", False) or translate) and not one_step
    current = result is not None and result.is_for(model, text, options)
    instant = not live.SPEEDS.get(state.get("speed", "normal"), 0.35)
    if animate_now and live_open and not instant:
        result = player.animate(model, text, options, slots)
        state.scrub, state.cand_pick = len(result.frames), 1
    elif animate_now or (one_step and not current):
        result = live.decode(model, text, options)
        state.scrub, state.cand_pick = (1 if one_step else len(result.frames)), 1
    elif one_step:
        n = len(result.frames)
        state.scrub = 1 if int(state.get("scrub", n)) >= n else int(state.get("scrub", n)) + 1
    elif ("result" not in state and text.strip()) or (not current and result is not None and result.text == text):
        # a first visit shows the default sentence already translated; a changed setting updates at once
        result = live.decode(model, text, options)
        state.scrub = len(result.frames)
    return result


def main() -> None:
    init_state()
    st.html(f"<style>{load_css()}</style>")
    with st.sidebar:
        sidebar_settings()
    if presenter():
        st.html("<style>html { font-size: 19px; } .lab-output { font-size: 1.9rem; }</style>")
    manager = trainer.job_manager(str(SETTINGS.user_dir), str(SETTINGS.models_dir))
    with st.sidebar:
        st.divider()
        trainer.sidebar_training(manager)

    notice = st.session_state.pop("_notice", None)
    if notice is not None:
        show_error(notice)
    deleted = st.session_state.pop("_deleted", None)
    if deleted:
        st.toast(T("train.deleted", name=deleted.removeprefix(catalog.USER_PREFIX)), icon=":material/delete:")
    shelf = catalogue.shelf(SETTINGS)
    for info in shelf.bad:
        st.warning(catalogue.broken_file_line(info, lang()), icon=":material/broken_image:")
    if not shelf.good:
        st.markdown(f"### {T('app.title')}")
        st.info(T("app.no_models"))
        trainer.training_fragment(trainer.training_view, manager)
        return
    if st.session_state.get("model") not in shelf.good:
        st.session_state.model = shelf.default_key
    keep_choice("model")                                  # the picker's labels follow the language
    start_with_the_models_settings(shelf)
    if st.session_state.pop("_text_suits_model", False):
        st.session_state.src_text = catalogue.text_for_model(st.session_state.src_text,
                                                              shelf.corpus(st.session_state.model))
    model = model_row(shelf, manager)
    if model is None:
        return
    workspace(shelf, model, manager)


@st.fragment
def workspace(shelf: catalogue.Shelf, model, manager) -> None:
    """The sentence, Translate, the translation and the tabs: what a student works with.

    A fragment: pressing Translate, switching a tab or scrubbing reruns only this part of the page, not the
    sidebar and the model row above it (server time per press, #12). A change up there (model, language, the
    decoding popover) reruns the whole page, this part with it. A fragment's rerun gets the objects of the last
    page run, so the model is opened again: another visitor may have retrained or deleted it since."""
    with server_turns().turn():
        try:
            model = catalogue.open_model(model.key, SETTINGS)
        except (OSError, LabError):
            st.rerun(scope="app")                         # the page's list of models is out of date: draw it again
        translate, one_step = input_row()
        text = st.session_state.src_text or ""
        options = decoding_options()
        header = st.container()
        names = tab_labels()
        keep_open_tab(names)
        tabs = dict(zip(TABS, st.tabs(names, key="tab", on_change="rerun")))
        with tabs["live"]:
            # The heatmap gets the whole width, the bars below it, on a projector and wherever its source words
            # would run together in the 3/5 column beside the bars (a 10-word sentence's, at 1366 px).
            shown = st.session_state.get("result")                  # a rerun's sentence is not analysed again
            if presenter() or views.source_width(model, text, shown=shown, pinyin=pinyin()) > SIDE_HEATMAP_PX:
                heat_col, bars_col = st.container(), None
            else:
                heat_col, bars_col = st.columns([3, 2])
            slots = {"heat": heat_col.empty(), "caption": st.empty(), "status": st.empty()}
            slots["shape"] = heads_view.head_picker(model, bars_col or st)     # a Transformer's layer × head picker
            slots["bars"] = (bars_col or st).empty()
        try:
            with tabs["live"]:
                result = decide(model, text, options, translate, one_step, slots, tabs["live"].open is not False)
            st.session_state.result = result
        except LabError as error:
            show_error(error, header)
            result = st.session_state.result = None
        if tabs["training"].open is not False:
            with tabs["training"]:
                trainer.training_fragment(trainer.training_view, manager)
        if result is None:
            header.info(T("app.start_hint"))
            return
        with header:
            banner(result, text, shelf.corpus(model.key))
        try:
            model = catalogue.open_model(result.model_key, SETTINGS)
        except LabError as error:
            show_error(error)
            return
        views_by_tab = {"live": lambda: tabs_view.live_tab(model, result, slots),
                        "pipeline": lambda: tabs_view.pipeline_tab(model, result),
                        "compare": lambda: tabs_view.compare_tab(model, result),
                        "candidates": lambda: tabs_view.candidates_tab(result),
                        "whatif": lambda: tabs_view.whatif_tab(model, result),
                        "variants": lambda: tabs_view.variants_tab(shelf, result),
                        "closer": lambda: tabs_view.closer_tab(model, result, shelf.corpus(model.key))}
        for name, draw in views_by_tab.items():
            if tabs[name].open is not False:                   # only the open tab does any work (None: all, in tests)
                with tabs[name]:
                    draw()


with server_turns().turn():        # a class's requests take turns rather than all slowing down together
    main()
