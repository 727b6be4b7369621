"""Seq2Seq Attention Lab (注意力实验室): the classroom app.

    streamlit run demo/streamlit_app.py

Type a Chinese sentence and watch the model translate it: the pipeline stage by stage,
the attention heatmap growing one output word per step, greedy against beam search, the
n-best list and the search tree, forced beginnings, and the attention variants side by
side. The sidebar trains a small model in the background.

This file is layout, widgets and per-visitor state only. What the page shows is computed
by ``seq2seq_lab.present`` (shared with the Gradio app); the settings come from
``seq2seq_lab.settings`` (environment variables listed there). Query parameters:
``?lang=zh&model=hsk_dot&text=我爱学习``.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                     # `streamlit run demo/streamlit_app.py` without installing
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402


@st.cache_resource(show_spinner=False)
def import_once() -> None:
    """Import the heavy modules once per server, before any session needs them.

    Thirty students opening the page at once run this script in thirty threads; when several
    threads import pandas (for st.dataframe) or torch for the first time together, one can be
    handed a half-initialised module. st.cache_resource lets exactly one thread import.
    """
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    import seq2seq_lab.jobs  # noqa: F401
    import seq2seq_lab.present.views  # noqa: F401
    from seq2seq_lab import settings

    settings.apply_torch_threads(settings.load())


import_once()

from seq2seq_lab import catalog, figures, jobs, settings  # noqa: E402
from seq2seq_lab.attention import ATTENTION_TYPES  # noqa: E402
from seq2seq_lab.errors import LabError  # noqa: E402
from seq2seq_lab.i18n import LANGUAGES, t  # noqa: E402
from seq2seq_lab.options import LIMITS  # noqa: E402
from seq2seq_lab.present import catalogue, live, training, views  # noqa: E402

SETTINGS = settings.load()
st.set_page_config(page_title="注意力实验室 · Seq2Seq Attention Lab", layout="wide")


def lang() -> str:
    return st.session_state.get("lang", "en")


def T(key: str, **values) -> str:
    return t(key, lang(), **values)


def presenter() -> bool:
    return bool(st.session_state.get("presenter"))


def show_error(error: Exception, where=st) -> None:
    where.error(views.error_message(error, lang()), icon=":material/error:")


def labels(table: dict):
    """A widget's format_func from a table made now (not one that reads the language later)."""
    return lambda value: table.get(value, str(value))


def plot(fig, key: str, where=None, filename: str | None = None) -> None:
    """A plotly figure with PNG/SVG export from its modebar (client-side, offline)."""
    config = figures.export_config(filename or key, fmt=st.session_state.get("export_fmt", "png"))
    (where or st).plotly_chart(fig, key=key, config=config, width="stretch")


def heatmap(src_tokens, out_tokens, attention, **kwargs):
    return views.heatmap(src_tokens, out_tokens, attention, lang(), presenter=presenter(), **kwargs)


OPTION_KEYS = {"beam_size": "beam", "length_penalty": "length_penalty", "coverage_penalty": "coverage_penalty",
               "max_len": "max_len", "no_repeat_ngram_size": "no_repeat"}      # decoding option → widget key


def option_widget(where, name: str, kind: str = "slider", **kwargs):
    """A decoding option's widget, with the range of options.LIMITS (the range the core enforces)."""
    limit = LIMITS[name]
    cast = int if limit.integer else float
    widget = where.slider if kind == "slider" else where.number_input
    return widget(T(limit.label), cast(limit.low), cast(limit.high), step=cast(limit.step), key=OPTION_KEYS[name],
                  **kwargs)


@st.cache_resource(show_spinner=False)
def job_manager(user_dir: str, shipped_dir: str) -> jobs.JobManager:
    """The server's training jobs (at most SEQ2SEQ_LAB_MAX_TRAININGS at once)."""
    return jobs.JobManager(user_dir, other_dirs=[shipped_dir])


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
    requested_lang = params.get("lang") or SETTINGS.lang
    state.lang = requested_lang if requested_lang in LANGUAGES else "en"
    state.presenter, state.export_fmt = False, "png"
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


def on_train_data() -> None:
    data = st.session_state.train_data
    st.session_state.train_name = training.default_name(data)
    st.session_state.train_probe = training.PROBES.get(data, catalogue.DEFAULT_TEXT)


def on_whatif_pick() -> None:
    if st.session_state.get("whatif_pick"):
        st.session_state.whatif_prefix = st.session_state.whatif_pick


def on_candidate_row() -> None:
    rows = st.session_state.get("cand_table", {}).get("selection", {}).get("rows", [])
    if rows:
        st.session_state.cand_pick = rows[0] + 1


def use_tuned(tuned: dict) -> None:
    st.session_state.update({OPTION_KEYS[name]: value for name, value in tuned.items()})


def decoding_options() -> dict:
    options = {name: st.session_state[key] for name, key in OPTION_KEYS.items()}
    return {**options, "n_best": options["beam_size"]}


# --- live decoding ---------------------------------------------------------------------------------

def draw_frame(frame: live.Frame, src_tokens: list[str], steps: int | None, slots: dict, key: str) -> None:
    if frame.attention is None:
        slots["heat"].info(views.no_attention_note(frame.tokens, lang()))
    else:
        plot(heatmap(src_tokens, frame.tokens, frame.attention, title=T("live.heatmap_title"),
                     highlight_row=frame.step - 1), key=f"live_heat{key}", where=slots["heat"], filename="attention")
    if frame.alternatives:
        plot(figures.probability_bars(frame.alternatives, frame.token, title=T("live.bars_title", step=frame.step),
                                      lang=lang(), font_size=views.font_size(presenter())),
             key=f"live_bars{key}", where=slots["bars"], filename="next_word_probabilities")
    slots["caption"].markdown(views.step_caption(frame, steps, lang()))


def animate(model, text: str, options: dict, slots: dict) -> live.Result:
    """Decode with the model, redrawing the heatmap after every step."""
    delay = live.SPEEDS.get(st.session_state.get("speed", "normal"), 0.35)
    decoding = live.LiveDecoding(model, text, options)
    for frame in decoding:
        draw_frame(frame, decoding.src_tokens, None, slots, key=f"_anim{frame.step}")
        slots["status"].caption(T("live.running", step=frame.step))
        if delay:
            time.sleep(delay)
    slots["status"].empty()
    return decoding.result


def live_tab(result: live.Result, slots: dict) -> None:
    n = len(result.frames)
    if n > 1:
        st.session_state.scrub = min(max(1, int(st.session_state.get("scrub", n))), n)
        st.slider(T("live.scrub"), 1, n, key="scrub", help=T("live.scrub_help"))
    index = int(st.session_state.get("scrub", n)) - 1 if n > 1 else 0
    draw_frame(result.frames[index], result.final.src_tokens, n, slots, key="")
    if result.final.options.beam_size > 1:
        st.caption(T("live.beam_note"))


# --- the other tabs ----------------------------------------------------------------------------------

def pipeline_tab(model, text: str) -> None:
    st.caption(T("pipe.intro"))
    for panel in views.pipeline(model, text, lang(), presenter=presenter()):
        with st.container(border=True):
            st.markdown(f"##### {panel.title}")
            st.caption(panel.caption)
            if panel.html:
                st.markdown(panel.html, unsafe_allow_html=True)
            if panel.figure is not None:
                plot(panel.figure, key=f"pipe_{panel.key}", filename=f"pipeline_{panel.key}")


def output(text: str, small: bool = False) -> None:
    html_class = "lab-output lab-small" if small else "lab-output"
    st.markdown(f"<div class='{html_class}'>{html.escape(text)}</div>", unsafe_allow_html=True)


def candidate_column(title: str, src_tokens, candidate, key: str, highlight_row=None) -> None:
    st.subheader(title)
    output(candidate.text)
    st.markdown(views.score_line(candidate, lang()))
    if candidate.attention is not None:
        plot(heatmap(src_tokens, candidate.tokens, candidate.attention, highlight_row=highlight_row),
             key=key, filename=key)


def compare_tab(model, result: live.Result) -> None:
    comparison = views.compare(model, result)
    kind, note = comparison.note(lang())
    (st.success if kind == "same" else st.warning)(note)
    for column, (side, title, candidate) in zip(st.columns(2), comparison.sides(lang())):
        with column:
            candidate_column(title, result.final.src_tokens, candidate, f"cmp_{side}", comparison.split)


def candidates_tab(result: live.Result) -> None:
    final = result.final
    if final.options.beam_size == 1:
        st.info(T("cand.greedy_only"))
        return
    st.caption(T("cand.intro"))
    columns, rows = views.candidate_rows(final, lang())
    st.dataframe([dict(zip(columns, row)) for row in rows], key="cand_table", on_select=on_candidate_row,
                 selection_mode="single-row", hide_index=True, width="stretch")
    st.session_state.cand_pick = views.pick_rank(final, st.session_state.get("cand_pick"))
    pick = st.segmented_control(T("cand.pick"), list(range(1, len(rows) + 1)), key="cand_pick", required=True)
    figure, caption = views.candidate_heatmap(result, pick, lang(), presenter=presenter())
    plot(figure, key="cand_heat", filename=f"candidate_{pick}") if figure is not None else st.info(caption)
    st.subheader(T("tree.title"))
    st.caption(views.tree_caption(result, lang()))
    show_pruned = st.toggle(T("tree.pruned"), value=True, key="tree_pruned")
    plot(views.beam_tree(result, show_pruned, lang(), presenter=presenter()), key="beam_tree", filename="beam_tree")


def whatif_tab(model, result: live.Result) -> None:
    st.caption(T("whatif.intro"))
    choices = views.first_choices(result)
    st.pills(T("whatif.pick"), list(choices), key="whatif_pick", on_change=on_whatif_pick,
             format_func=labels({token: f"{token} · {p:.0%}" for token, p in choices.items()}))
    prefix = st.text_input(T("whatif.prefix"), key="whatif_prefix", help=T("whatif.prefix_help")).strip()
    if not prefix:
        st.info(T("whatif.empty"))
        return
    try:
        forced = live.translate(model, result.text, {**result.options, "prefix": prefix})
    except LabError as error:
        show_error(error)
        return
    free = result.final
    sides = ((T("whatif.free"), free, "whatif_free"),
             (T("whatif.forced", prefix=catalogue.md_text(prefix)), forced, "whatif_forced"))
    for column, (title, translation, key) in zip(st.columns(2), sides):
        with column:
            candidate_column(title, translation.src_tokens, translation.best, key)
    st.caption(views.forced_cost(free, forced, lang()))


def variants_tab(shelf: catalogue.Shelf, result: live.Result) -> None:
    st.caption(T("var.intro"))
    if not st.toggle(T("var.run"), key="variants_on"):
        return
    if not any(name in shelf.good for name in catalog.VARIANT_MODELS.values()):
        st.info(T("var.none_found"))
        return
    columns = st.columns(3)
    for index, (attention, name) in enumerate(catalog.VARIANT_MODELS.items()):
        with columns[index % 3], st.container(border=True):
            st.markdown(f"**{name}** · {T(f'var.formula.{attention}')}")
            if name not in shelf.good:
                st.caption(T("var.missing", name=name))
                continue
            try:
                translation = live.translate(catalogue.open_model(name, SETTINGS), result.text, result.options)
            except LabError as error:
                show_error(error)
                continue
            best = translation.best
            output(best.text, small=True)
            st.caption(views.score_line(best, lang()))
            if best.attention is None:
                st.info(T("live.no_attention"))
            else:
                plot(heatmap(translation.src_tokens, best.tokens, best.attention, compact=True),
                     key=f"variant_{attention}", filename=f"attention_{attention}")


# --- the sidebar: settings and training ------------------------------------------------------------

def sidebar_settings() -> None:
    st.segmented_control(T("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang", required=True)
    st.toggle(T("app.presenter"), key="presenter", help=T("app.presenter_help"))
    st.segmented_control(T("app.export"), ["png", "svg"], format_func=str.upper, key="export_fmt", required=True,
                         help=T("app.export_help"))


def training_panel(manager: jobs.JobManager) -> None:
    """Progress of this visitor's training (re-run every second by st.fragment while it runs)."""
    job = manager.get(st.session_state.get("job_id"))
    if job is None:
        return
    if job.active:
        fraction, text = training.progress_line(job, lang())
        st.progress(fraction, text=text)
        if job.stop_requested:
            st.caption(T("train.stopping"))
    elif job.state in (jobs.DONE, jobs.STOPPED):
        st.success(T("train.done" if job.state == jobs.DONE else "train.stopped", name=job.model_name))
        if job.test:
            st.caption(T("train.test", bleu=job.test["greedy"]["bleu"]))
        if st.session_state.get("model") != catalog.USER_PREFIX + job.model_name:
            st.button(T("train.use"), key="train_use", on_click=st.session_state.update,
                      kwargs={"model": catalog.USER_PREFIX + job.model_name})
    else:
        show_error(job.error or LabError("train_failed", "unknown error"))
    if job.history:
        st.caption(T("train.valid", bleu=job.history[-1]["valid_bleu"], loss=job.history[-1]["valid_loss"]))
    st.caption(T("train.watch"))
    if not job.active and st.session_state.get("_job_seen") != job.id:
        st.session_state._job_seen = job.id
        st.rerun()                                   # the whole page, so the model list shows the new model


def training_view(manager: jobs.JobManager) -> None:
    """The training tab: loss and BLEU curves, and the probe sentence's attention after every epoch."""
    job = manager.get(st.session_state.get("job_id"))
    if job is None:
        st.info(T("train.view_empty"))
        return
    request = job.request
    st.caption(T("train.view_caption", data=T(f"train.data.{request.data}"), attention=request.arch.get("attention"),
                 epochs=request.config.epochs))
    if not job.history:
        st.caption(T("train.view_waiting"))
    else:
        plot(figures.training_curves(job.history, lang=lang(), font_size=views.font_size(presenter())),
             key="train_curves", filename="training_curves")
    probe = job.probe
    if probe is not None and probe.best.attention is not None:
        plot(heatmap(probe.src_tokens, probe.best.tokens, probe.best.attention,
                     title=T("train.probe_title", epoch=len(job.history), text=probe.best.text)),
             key="train_probe_map", filename="probe_attention")


def training_fragment(function, manager: jobs.JobManager) -> None:
    """Run ``function`` as a fragment that redraws itself every second while this visitor's job runs."""
    job = manager.get(st.session_state.get("job_id"))
    st.fragment(function, run_every=1.0 if job is not None and job.active else None)(manager)


def upload_pairs():
    upload = st.file_uploader(T("train.upload"), type=["tsv", "txt"], key="train_tsv")
    if upload is None:
        return None, ""
    try:
        report = jobs.read_tsv(upload.getvalue(), name=upload.name)
    except LabError as error:
        show_error(error)
        return None, ""
    st.success(T("train.upload_ok", count=len(report.pairs), name=catalogue.md_text(upload.name)))
    if report.errors:
        line, problem = report.errors[0]
        st.caption(T("train.upload_skipped", count=len(report.errors), line=line, problem=catalogue.md_text(problem)))
    return report.pairs, upload.name


def form_widget(name: str, kind, label: str, **kwargs):
    spec = training.FORM[name]
    key = f"train_{name}"
    if kind == "toggle":
        return st.toggle(T(label), value=spec.default, key=key, **kwargs)
    if kind == "select":
        return st.select_slider(T(label), list(spec.choices), value=spec.default, key=key, **kwargs)
    return st.slider(T(label), spec.low, spec.high, spec.default, spec.step, key=key, **kwargs)


def sidebar_training(manager: jobs.JobManager) -> None:
    st.header(T("train.header"))
    st.caption(T("train.intro"))
    data = st.selectbox(T("train.data"), jobs.DATA_CHOICES, key="train_data", on_change=on_train_data,
                        format_func=labels({d: T(f"train.data.{d}") for d in jobs.DATA_CHOICES}))
    pairs, source_name = upload_pairs() if data == "tsv" else (None, "")
    st.text_input(T("train.name"), key="train_name", help=T("train.name_help"), max_chars=60)
    with st.expander(T("train.arch")):
        st.segmented_control(T("train.cell"), list(training.FORM["cell"].choices), format_func=str.upper,
                             key="train_cell", default="gru", required=True)
        form_widget("layers", "slider", "train.layers")
        form_widget("bi", "toggle", "train.bidirectional")
        st.selectbox(T("train.attention"), ATTENTION_TYPES, index=ATTENTION_TYPES.index("additive"),
                     key="train_attention")
        form_widget("emb", "select", "train.emb")
        form_widget("hidden", "select", "train.hidden")
    with st.expander(T("train.settings")):
        form_widget("epochs", "slider", "train.epochs")
        form_widget("batch", "select", "train.batch")
        form_widget("lr", "select", "train.lr")
        form_widget("tf", "slider", "train.tf", help=T("train.tf_help"))
        form_widget("dropout", "slider", "train.dropout")
        st.number_input(T("train.seed"), 0, 10_000, 0, key="train_seed")
    st.text_input(T("train.probe"), key="train_probe")

    mine = manager.get(st.session_state.get("job_id"))
    others = [job for job in manager.running() if job is not mine]
    if others and not (mine and mine.active):
        st.info(training.busy_line(others[0], lang()), icon=":material/hourglass_top:")
    start_col, stop_col = st.columns(2)
    start = start_col.button(T("train.start"), key="train_start", type="primary",
                             disabled=bool(mine and mine.active), width="stretch")
    if stop_col.button(T("train.stop"), key="train_stop", disabled=not (mine and mine.active), width="stretch"):
        mine.stop()
    if start:
        s = st.session_state
        if data == "tsv" and not pairs:
            st.warning(T("train.upload_needed"))
        else:
            form = {name: s.get(f"train_{name}", spec.default) for name, spec in training.FORM.items()}
            try:
                job = manager.start(training.request(data, s.train_name, form, attention=s.train_attention,
                                                     probe=s.train_probe, pairs=pairs, source_name=source_name))
            except LabError as error:
                show_error(error)
            else:
                s.job_id, s._job_seen = job.id, None
                st.rerun()                            # redraw the sidebar: Stop enabled, progress polling on
    training_fragment(training_panel, manager)


# --- the page ----------------------------------------------------------------------------------------

def model_column(shelf: catalogue.Shelf):
    """The model picker, its card and the decoding settings; returns the open model (None: an error shown)."""
    keys = shelf.keys
    key = st.selectbox(T("app.model"), keys, key="model", help=T("app.model_help"),
                       format_func=labels({k: catalogue.model_label(k, shelf.good[k], lang()) for k in keys}),
                       on_change=on_model_change, args=({k: shelf.corpus(k) for k in keys},))
    info = shelf.good[key]
    st.caption(catalogue.model_card(key, info, lang()), help=catalogue.model_data(info, lang()))
    with st.expander(T("app.decoding"), expanded=False):
        option_widget(st, "length_penalty", help=T("app.length_penalty_help"))
        option_widget(st, "coverage_penalty", help=T("app.coverage_penalty_help"))
        tuned = catalogue.tuned_decoding(info)
        if tuned:
            st.button(catalogue.tuned_label(tuned, lang()), key="use_tuned", help=T("app.use_tuned_help"),
                      on_click=use_tuned, args=(tuned,))
        option_widget(st, "max_len", "number", help=T("app.max_len_help"))
        option_widget(st, "no_repeat_ngram_size", "number", help=T("app.no_repeat_help"))
    try:
        model = catalogue.open_model(key, SETTINGS)
    except LabError as error:
        show_error(error)
        return None
    st.caption(T("app.device", device=model.translator.device_label))
    return model


def main() -> None:
    init_state()
    st.html(f"<style>{load_css()}</style>")
    with st.sidebar:
        sidebar_settings()
    if presenter():
        st.html("<style>html { font-size: 21px; } .lab-output { font-size: 2.1rem; }</style>")
    manager = job_manager(str(SETTINGS.user_dir), str(SETTINGS.models_dir))
    with st.sidebar:
        st.divider()
        sidebar_training(manager)

    st.title(T("app.title"))
    st.caption(T("app.subtitle"))
    notice = st.session_state.pop("_notice", None)
    if notice is not None:
        show_error(notice)
    shelf = catalogue.shelf(SETTINGS)
    for info in shelf.bad:
        st.warning(catalogue.broken_file_line(info, lang()), icon=":material/broken_image:")
    if not shelf.good:
        st.info(T("app.no_models"))
        training_fragment(training_view, manager)
        return
    if st.session_state.get("model") not in shelf.good:
        st.session_state.model = shelf.default_key

    left, right = st.columns([3, 2], gap="large")
    with right:
        model = model_column(shelf)
    if model is None:
        return
    with left:
        st.text_input(T("app.input"), key="src_text", placeholder=T("app.input_placeholder"),
                      help=T("app.input_help"), on_change=on_text_change)
        controls = st.columns([1.2, 1.2, 1, 2], vertical_alignment="bottom")
        translate = controls[0].button(T("app.translate"), key="translate", type="primary", width="stretch")
        one_step = controls[1].button(T("live.one_step"), key="one_step", help=T("live.one_step_help"),
                                      width="stretch")
        option_widget(controls[2], "beam_size", "number", help=T("app.beam_help"))
        controls[3].select_slider(T("live.speed"), list(live.SPEEDS), value="normal", key="speed",
                                  format_func=labels({s: T(f"live.speed_{s}") for s in live.SPEEDS}))
    corpus = shelf.corpus(model.key)
    examples = catalogue.examples_for(corpus)
    st.pills(T("app.examples"), list(examples), key="example", on_change=on_example, wrap=True,
             format_func=labels({zh: catalogue.example_label(e) for zh, e in examples.items()}))

    text = st.session_state.src_text or ""
    options = decoding_options()
    result: live.Result | None = st.session_state.get("result")
    # Enter in the box or an example asks for the animation; "One step" on a new sentence starts at step 1 instead.
    animate_now = (st.session_state.pop("_animate", False) or translate) and not one_step
    current = result is not None and result.is_for(model, text, options)
    header = st.container()
    tabs = st.tabs([T("tab.live"), T("tab.pipeline"), T("tab.compare"), T("tab.candidates"), T("tab.whatif"),
                    T("tab.variants"), T("tab.training")])
    with tabs[6]:
        training_fragment(training_view, manager)
    with tabs[0]:
        st.caption(T("live.intro"))
        heat_col, bars_col = st.columns([3, 2])
        slots = {"heat": heat_col.empty(), "bars": bars_col.empty(), "caption": st.empty(), "status": st.empty()}

    try:
        if animate_now:
            with tabs[0]:
                result = animate(model, text, options, slots)
            st.session_state.scrub, st.session_state.cand_pick = len(result.frames), 1
        elif one_step and not current:
            result = live.decode(model, text, options)
            st.session_state.scrub, st.session_state.cand_pick = 1, 1
        elif one_step:
            n = len(result.frames)
            st.session_state.scrub = 1 if int(st.session_state.get("scrub", n)) >= n else st.session_state.scrub + 1
        elif ("result" not in st.session_state and text.strip()) or (not current and result is not None
                                                                      and result.text == text):
            # a first visit shows the default sentence already translated; a changed setting updates at once
            result = live.decode(model, text, options)
            st.session_state.scrub = len(result.frames)
        st.session_state.result = result
    except LabError as error:
        show_error(error, header)
        result = st.session_state.result = None

    if result is None:
        header.info(T("app.start_hint"))
        return
    with header:
        if result.text != text:
            st.warning(T("app.stale"))
            st.caption(T("app.result_for", text=catalogue.md_text(result.text)))
        st.markdown(f"<div class='lab-output' id='lab-translation'>{html.escape(result.final.best.text)}</div>",
                    unsafe_allow_html=True)
        st.caption(views.result_meta(result.final, lang()))
        reference = catalogue.example_reference(result.text, corpus, lang())
        if reference:
            st.caption(reference)
    try:
        model = catalogue.open_model(result.model_key, SETTINGS)
    except LabError as error:
        show_error(error)
        return
    with tabs[0]:
        live_tab(result, slots)
    with tabs[1]:
        pipeline_tab(model, result.text)
    with tabs[2]:
        compare_tab(model, result)
    with tabs[3]:
        candidates_tab(result)
    with tabs[4]:
        whatif_tab(model, result)
    with tabs[5]:
        variants_tab(shelf, result)


main()
