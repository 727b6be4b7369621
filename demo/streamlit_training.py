"""The Streamlit app's training: the sidebar form, its progress, and the training tab's curves.

A visitor trains a small model in the background (``seq2seq_lab.jobs``); the form's choices and the
request it makes come from ``seq2seq_lab.present.training``. Layout only.
"""

from __future__ import annotations

import streamlit as st
from streamlit_ui import T, heatmap, keep_choice, labels, lang, plot, presenter, show_error

from seq2seq_lab import catalog, figures, jobs
from seq2seq_lab.errors import LabError
from seq2seq_lab.present import catalogue, training, views


@st.cache_resource(show_spinner=False)
def job_manager(user_dir: str, shipped_dir: str) -> jobs.JobManager:
    """The server's training jobs (at most SEQ2SEQ_LAB_MAX_TRAININGS at once)."""
    return jobs.JobManager(user_dir, other_dirs=[shipped_dir])



def on_train_data() -> None:
    data = st.session_state.train_data
    st.session_state.train_name = training.default_name(data)
    st.session_state.train_probe = training.PROBES.get(data, catalogue.DEFAULT_TEXT)


def use_model(key: str, corpus: str) -> None:
    """"Use this model": what picking it in the model list does (then training_panel redraws the page)."""
    state = st.session_state
    state.model, state._use_model = key, True
    text = state.get("src_text", "")
    new = catalogue.text_for_model(text, corpus)
    if new != text:
        state.src_text, state._animate = new, True


def delete_model(manager: jobs.JobManager, key: str) -> None:
    """The model card's "Delete" button (models trained here only): remove the file, pick the default model."""
    try:
        manager.delete(key.removeprefix(catalog.USER_PREFIX))
        st.session_state.model, st.session_state._notice = None, None
        st.session_state._deleted = key
    except LabError as error:
        st.session_state._notice = error


def delete_button(manager: jobs.JobManager, key: str) -> None:
    if key.startswith(catalog.USER_PREFIX):
        st.button(T("train.delete"), key="model_delete", icon=":material/delete:", on_click=delete_model,
                  args=(manager, key), help=T("train.delete_help"))


def training_panel(manager: jobs.JobManager) -> None:
    """Progress of this visitor's training (re-run every second by st.fragment while it runs)."""
    if st.session_state.pop("_use_model", False):
        st.rerun(scope="app")                        # "Use this model" reran this fragment only: redraw the page
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
        key = catalog.USER_PREFIX + job.model_name
        if st.session_state.get("model") != key:
            st.button(T("train.use"), key="train_use", on_click=use_model, args=(key, job.request.data))
    else:
        show_error(job.error or LabError("train_failed", "unknown error"))
    if job.history:
        st.caption(T("train.valid", bleu=job.history[-1]["valid_bleu"], loss=job.history[-1]["valid_loss"]))
    st.caption(T("train.watch", tab=T("tab.training")))     # the tab's own label: its number follows the tabs
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


FOLDED = {"attention": "additive", **{name: spec.default for name, spec in training.FORM.items()}}   # → default


def keep_folded_choices() -> None:
    """The form's two folded boxes draw their widgets only while open (a closed box costs every visitor's run
    nothing; #12), and Streamlit forgets a widget's value in a run that does not draw it. Set here, as session
    state rather than widget state, the choices stay while a box is closed; the widgets take no default of their
    own, so nothing overrides them."""
    for name, default in FOLDED.items():
        key = f"train_{name}"
        st.session_state[key] = st.session_state.get(key, default)


def form_widget(name: str, kind, label: str, **kwargs):
    spec = training.FORM[name]
    key = f"train_{name}"
    if kind == "toggle":
        return st.toggle(T(label), key=key, **kwargs)
    if kind == "select":
        return st.select_slider(T(label), list(spec.choices), key=key, **kwargs)
    return st.slider(T(label), spec.low, spec.high, step=spec.step, key=key, **kwargs)


def folded(title: str, key: str):
    """A box of the form, if it is open; None while it is closed. Its title is part of what Streamlit knows it by,
    so a language switch makes it a new box: it opens as the old one was (``_<key>``)."""
    box = st.expander(title, expanded=bool(st.session_state.get(f"_{key}")), key=key, on_change="rerun")
    st.session_state[f"_{key}"] = bool(box.open)
    return box if box.open else None


def sidebar_training(manager: jobs.JobManager) -> None:
    st.header(T("train.header"))
    st.caption(T("train.intro"))
    keep_choice("train_data")                        # its labels follow the language
    data = st.selectbox(T("train.data"), jobs.DATA_CHOICES, key="train_data", on_change=on_train_data,
                        format_func=labels({d: T(f"train.data.{d}") for d in jobs.DATA_CHOICES}))
    pairs, source_name = upload_pairs() if data == "tsv" else (None, "")
    st.text_input(T("train.name"), key="train_name", help=T("train.name_help"), max_chars=60)
    keep_folded_choices()
    if box := folded(T("train.arch"), "train_arch"):
        with box:
            st.segmented_control(T("train.cell"), list(training.FORM["cell"].choices), format_func=str.upper,
                                 key="train_cell", required=True)
            form_widget("layers", "slider", "train.layers")
            form_widget("bi", "toggle", "train.bidirectional")
            st.selectbox(T("train.attention"), training.ATTENTION_CHOICES, key="train_attention",
                         help=T("train.attention_help"),
                         format_func=lambda a: T("train.transformer") if a == "multi_head" else a)
            form_widget("emb", "select", "train.emb")
            form_widget("hidden", "select", "train.hidden")
    if box := folded(T("train.settings"), "train_settings"):
        with box:
            form_widget("epochs", "slider", "train.epochs")
            form_widget("batch", "select", "train.batch")
            form_widget("lr", "select", "train.lr")
            form_widget("tf", "slider", "train.tf", help=T("train.tf_help"))
            form_widget("dropout", "slider", "train.dropout")
            st.number_input(T("train.seed"), 0, 10_000, key="train_seed")
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
            form = {name: s[f"train_{name}"] for name in training.FORM}
            try:
                job = manager.start(training.request(data, s.train_name, form, attention=s.train_attention,
                                                     probe=s.train_probe, pairs=pairs, source_name=source_name))
            except LabError as error:
                show_error(error)
            else:
                s.job_id, s._job_seen = job.id, None
                st.rerun()                            # redraw the sidebar: Stop enabled, progress polling on
    training_fragment(training_panel, manager)
