"""Seq2Seq Attention Lab (注意力实验室): the classroom app.

    streamlit run demo/streamlit_app.py

Type a Chinese sentence and watch the model translate it: the pipeline stage by
stage, the attention heatmap growing one output word per step, greedy against
beam search, the n-best list and the search tree, forced beginnings, and the
attention variants side by side. The sidebar trains a small model in the
background. The page is only layout, widgets and per-user state; the work is
done by the core (``seq2seq_lab``): ``Translator`` decodes, ``figures`` draws,
``jobs`` trains, ``i18n`` speaks English and Chinese.

Environment: ``SEQ2SEQ_LAB_MODELS_DIR`` (default: the repository's ``models/``;
models trained here go to its ``user/`` folder), ``SEQ2SEQ_LAB_DEVICE`` (``auto``,
``cpu``, ``cuda``), ``SEQ2SEQ_LAB_MAX_TRAININGS`` (trainings at once, default 1),
``SEQ2SEQ_LAB_LANG`` (``en`` or ``zh``: the language a new visitor sees),
``SEQ2SEQ_LAB_TORCH_THREADS`` (torch threads per operation, default 1).
Query parameters: ``?lang=zh&model=hsk_dot&text=我爱学习``.
"""

from __future__ import annotations

import html
import json
import os
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

    Thirty students opening the page at once run this script in thirty threads; when
    several threads import pandas (for st.dataframe) or torch for the first time
    together, one can be handed a half-initialised module. st.cache_resource lets
    exactly one thread do the importing while the others wait.
    """
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import torch

    import seq2seq_lab.figures  # noqa: F401
    import seq2seq_lab.jobs  # noqa: F401

    # One intra-op thread per tensor operation: the server already runs many things at
    # once (visitors' translations, a training). With more threads than free cores,
    # torch's spinning workers make a training 20-40x slower (measured: 20 batches in
    # 1.7 s with 1 thread, 75 s with 2, on a busy 2-core machine).
    try:
        threads = int(os.environ.get("SEQ2SEQ_LAB_TORCH_THREADS", "1"))
    except ValueError:
        threads = 1
    torch.set_num_threads(max(1, threads))


import_once()

from seq2seq_lab import catalog, figures, jobs  # noqa: E402
from seq2seq_lab.attention import ATTENTION_TYPES  # noqa: E402
from seq2seq_lab.errors import LabError  # noqa: E402
from seq2seq_lab.i18n import LANGUAGES, error_text, t  # noqa: E402
from seq2seq_lab.train import TrainConfig  # noqa: E402
from seq2seq_lab.translator import Translator  # noqa: E402

MODELS_DIR = Path(os.environ.get("SEQ2SEQ_LAB_MODELS_DIR") or catalog.MODELS_DIR)
USER_DIR = MODELS_DIR / "user"                   # models trained in the app (git-ignored)
USER_PREFIX = catalog.USER_PREFIX
DEVICE = os.environ.get("SEQ2SEQ_LAB_DEVICE", "auto")
ASSETS = ROOT / "assets"
SPEEDS = {"slow": 0.8, "normal": 0.35, "fast": 0.1, "instant": 0.0}   # seconds between decoding steps
DEFAULT_TRAIN_DATA = "toy:dates_en"
DEFAULT_PROBES = {"hsk": "我爱学习。", "toy:numbers": "三千零五", "toy:dates_iso": "二〇二四年三月五日",
                  "toy:dates_en": "二〇二四年三月五日", "tsv": "我爱学习。"}

st.set_page_config(page_title="注意力实验室 · Seq2Seq Attention Lab", layout="wide")


def T(key: str, **values) -> str:
    """The interface string ``key`` in this visitor's language."""
    return t(key, st.session_state.get("lang", "en"), **values)


def show_error(error: Exception, where=st) -> None:
    """A friendly message in the visitor's language, never a traceback."""
    if isinstance(error, LabError):
        where.error(error_text(error, st.session_state.get("lang", "en")), icon=":material/error:")
    else:
        where.error(T("error.unexpected", message=f"{type(error).__name__}: {error}"), icon=":material/error:")


# --- shared, read-only resources (one copy per server) -----------------------------------

@st.cache_resource(show_spinner=False, max_entries=16)
def load_translator(path: str, mtime: float) -> Translator:
    """A model loaded once and shared by every visitor (``mtime`` reloads a replaced file)."""
    return Translator.load(path, device=DEVICE)


@st.cache_resource(show_spinner=False)
def job_manager(user_dir: str, shipped_dir: str) -> jobs.JobManager:
    """The server's training jobs (at most SEQ2SEQ_LAB_MAX_TRAININGS at once)."""
    return jobs.JobManager(user_dir, other_dirs=[shipped_dir])


@st.cache_data(show_spinner=False)
def load_examples() -> dict:
    return json.loads((ASSETS / "examples.json").read_text(encoding="utf-8"))


@st.cache_data(show_spinner=False)
def load_css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")


@st.cache_data(show_spinner=False, max_entries=512)
def translate_cached(path: str, mtime: float, text: str, options: tuple):
    return load_translator(path, mtime).translate(text, **dict(options))


@st.cache_data(show_spinner=False, max_entries=256)
def decode_cached(path: str, mtime: float, text: str, options: tuple) -> list:
    return list(load_translator(path, mtime).steps(text, **dict(options)))


@st.cache_data(show_spinner=False, max_entries=256)
def encode_cached(path: str, mtime: float, text: str):
    return load_translator(path, mtime).encode(text)


# --- models ----------------------------------------------------------------------------

def available_models() -> tuple[dict[str, catalog.ModelInfo], list[catalog.ModelInfo]]:
    return catalog.available_models(MODELS_DIR)


def use_tuned_penalties(tuned: dict) -> None:
    """Set the penalty sliders (and n-gram blocking) to the values chosen on this model's validation split."""
    st.session_state.length_penalty = float(tuned["length_penalty"])
    st.session_state.coverage_penalty = float(tuned["coverage_penalty"])
    st.session_state.no_repeat = int(tuned.get("no_repeat_ngram_size", 0))


def model_path(key: str) -> Path:
    return catalog.model_path(key, MODELS_DIR)


def open_model(key: str) -> tuple[Translator, str, float]:
    path = model_path(key)
    mtime = path.stat().st_mtime
    return load_translator(str(path), mtime), str(path), mtime


def labels(table: dict):
    """A widget's format_func from a table made now (not one that reads the language later)."""
    return lambda value: table.get(value, str(value))


def fmt(value, digits: int = 1) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def test_figure(info: catalog.ModelInfo, decoding: str = "greedy") -> str:
    """The model's headline test figure: BLEU for sentences, exact match for the toy tasks
    (BLEU means little on a one-token output like "3005")."""
    metrics = info.test_metrics.get(decoding, {})
    if info.corpus.startswith("toy:") and isinstance(metrics.get("exact"), (int, float)):
        return T("app.metric_exact", value=f"{metrics['exact']:.1%}")
    return T("app.metric_bleu", value=fmt(metrics.get("bleu")))


def model_label(key: str, info: catalog.ModelInfo) -> str:
    here = f" ({T('app.trained_here')})" if key.startswith(USER_PREFIX) else ""
    return f"{info.name}{here} · {info.attention} · {info.corpus} · {test_figure(info)}"


def model_card(key: str, info: catalog.ModelInfo) -> str:
    c = info.config
    arch = (f"{str(c.get('cell', '?')).upper()} ×{c.get('enc_layers', '?')}"
            f"{' bi' if c.get('bidirectional') else ''} · emb {c.get('emb_size', '?')}"
            f" · hidden {c.get('hidden_size', '?')}")
    card = T("app.model_card", name=html.escape(info.name), attention=info.attention, corpus=info.corpus, arch=arch)
    test = info.test_metrics
    if test:
        card += " · " + T("app.model_test", greedy=test_figure(info, "greedy"))
        if "beam5" in test:
            card += ", " + T("app.model_test_beam", beam=test_figure(info, "beam5"))
    by_set = info.test_set_chrf()
    if len(by_set) > 1:
        card += "  \n" + T("app.model_test_sets", figures=html.escape(
            ", ".join(f"{name} {value:.1f}" for name, value in by_set.items())))
    return card


def model_data(info: catalog.ModelInfo) -> str | None:
    """The data's attribution, as the model card's tooltip (on screen it would push the heatmap down)."""
    return T("app.model_data", attribution=info.attribution) if info.attribution else None


# --- per-visitor state -------------------------------------------------------------------

def init_state() -> None:
    state = st.session_state
    if state.get("_initialised"):
        return
    state._initialised = True
    params = st.query_params
    lang = params.get("lang") or os.environ.get("SEQ2SEQ_LAB_LANG", "en")
    state.lang = lang if lang in LANGUAGES else "en"
    state.presenter = False
    state.export_fmt = "png"
    state.src_text = params.get("text", "我爱学习。")
    state.train_data = DEFAULT_TRAIN_DATA
    state.train_name = "my_" + DEFAULT_TRAIN_DATA.replace("toy:", "")
    state.train_probe = DEFAULT_PROBES[DEFAULT_TRAIN_DATA]
    requested = params.get("model")
    if requested:
        try:
            model_path(requested)
            state.model = requested
        except LabError as error:
            state._notice = error


def on_example() -> None:
    """An example button: fill the text box and translate (with the animation)."""
    picked = st.session_state.get("example")
    if picked:
        st.session_state.src_text = picked
        st.session_state._animate = True
    st.session_state.example = None


def example_source(entry: dict) -> str:
    """Where an example comes from, for its button: "HSK2", "Tatoeba", "everyday" (or nothing)."""
    return f"HSK{entry['level']}" if "level" in entry else str(entry.get("source", ""))


def examples_for(corpus: str) -> dict[str, dict]:
    """The example sentences that suit a model trained on ``corpus`` (by Chinese text)."""
    book = load_examples()
    entries = book["toy"].get(corpus[4:], []) if corpus.startswith("toy:") else book["sentences"]
    return {entry["zh"]: entry for entry in entries}


def on_model_change(corpora: dict[str, str]) -> None:
    """A model for another kind of input (dates, numbers, sentences) gets one of its own examples."""
    suitable = examples_for(corpora.get(st.session_state.model, "hsk"))
    all_examples = {zh for corpus in set(corpora.values()) for zh in examples_for(corpus)}
    text = st.session_state.get("src_text", "")
    if suitable and text not in suitable and (text in all_examples or not text.strip()):
        st.session_state.src_text = next(iter(suitable))
        st.session_state._animate = True


def on_text_change() -> None:
    st.session_state._animate = True              # Enter in the text box = Translate


def on_train_data() -> None:
    data = st.session_state.train_data
    st.session_state.train_name = "my_" + data.replace("toy:", "")
    st.session_state.train_probe = DEFAULT_PROBES.get(data, "我爱学习。")


def on_whatif_pick() -> None:
    picked = st.session_state.get("whatif_pick")
    if picked:
        st.session_state.whatif_prefix = picked


def on_candidate_row() -> None:
    rows = st.session_state.get("cand_table", {}).get("selection", {}).get("rows", [])
    if rows:
        st.session_state.cand_pick = rows[0] + 1


def decoding_options() -> tuple:
    s = st.session_state
    beam = int(s.beam)
    return (("beam_size", beam), ("length_penalty", float(s.length_penalty)),
            ("coverage_penalty", float(s.coverage_penalty)), ("max_len", int(s.max_len) or None),
            ("no_repeat_ngram_size", int(s.no_repeat)), ("n_best", beam))


def with_options(options: tuple, **changes) -> tuple:
    merged = dict(options) | changes
    return tuple(sorted(merged.items()))


# --- figures ------------------------------------------------------------------------------

def font_size() -> int:
    return 20 if st.session_state.get("presenter") else 14


def plot(fig, key: str, where=None, filename: str | None = None) -> None:
    """A plotly figure with PNG/SVG export from its modebar (client-side, offline)."""
    config = figures.export_config(filename or key, fmt=st.session_state.get("export_fmt", "png"))
    (where or st).plotly_chart(fig, key=key, config=config, width="stretch")


def heatmap(src_tokens, out_tokens, attention, *, title=None, highlight_row=None, compact=False):
    return figures.attention_heatmap(src_tokens, out_tokens, attention, title=title,
                                     lang=st.session_state.get("lang", "en"), highlight_row=highlight_row,
                                     font_size=font_size(), compact=compact)


# --- live decoding -----------------------------------------------------------------------

def frames_of(steps: list, final) -> list[dict]:
    """One frame per step along the final best translation: tokens, attention rows, alternatives."""
    best = final.best
    path = figures.final_path(steps, best.tokens)
    frames = []
    for i, token in enumerate(best.tokens):
        node = path[i] if i < len(path) else None
        frames.append({"tokens": best.tokens[:i + 1],
                       "attention": None if best.attention is None else best.attention[:i + 1],
                       "alternatives": node.alternatives if node is not None else [],
                       "token": token, "prob": float(node.token_prob) if node is not None else float("nan")})
    return frames


def make_result(request: tuple, path: str, steps: list) -> dict:
    """What one translation leaves in the visitor's session: the step records and the frames to scrub."""
    final = steps[-1].final
    return {"request": request, "path": path, "text": request[2], "steps": steps, "final": final,
            "frames": frames_of(steps, final)}


def draw_frame(frame: dict, src_tokens: list[str], n_steps: int, slots: dict, key: str) -> None:
    step = len(frame["tokens"])
    lang = st.session_state.get("lang", "en")
    if frame["attention"] is None:
        slots["heat"].info(T("live.no_attention") + "\n\n" + T("live.output_so_far", text=" ".join(frame["tokens"])))
    else:
        plot(heatmap(src_tokens, frame["tokens"], frame["attention"], title=T("live.heatmap_title"),
                     highlight_row=step - 1), key=f"live_heat{key}", where=slots["heat"], filename="attention")
    if frame["alternatives"]:
        plot(figures.probability_bars(frame["alternatives"], frame["token"], title=T("live.bars_title", step=step),
                                      lang=lang, font_size=font_size()),
             key=f"live_bars{key}", where=slots["bars"], filename="next_word_probabilities")
    slots["caption"].markdown(T("live.step_caption", step=step, steps=n_steps, token=html.escape(frame["token"]),
                                prob=frame["prob"]))


def animate(tr: Translator, text: str, options: tuple, slots: dict) -> list:
    """Decode with the model, redrawing the heatmap after every step; returns the step records."""
    delay = SPEEDS.get(st.session_state.get("speed", "normal"), 0.3)
    src_tokens = tr.analyze(text).src_tokens
    steps, by_id, compute = [], {}, 0.0
    decoding = tr.steps(text, **dict(options))
    while True:
        started = time.perf_counter()
        step = next(decoding, None)
        compute += time.perf_counter() - started
        if step is None:
            break
        steps.append(step)
        by_id.update((n.id, n) for n in step.nodes)
        leader = figures.leading_node(step)
        path = figures.path_to(leader, by_id)
        attention = None if leader.attention is None else [n.attention for n in path]
        frame = {"tokens": leader.tokens, "attention": attention, "alternatives": leader.alternatives,
                 "token": leader.token, "prob": leader.token_prob}
        draw_frame(frame, src_tokens, len(steps), slots, key=f"_anim{step.index}")
        slots["status"].caption(T("live.running", step=step.index + 1))
        if delay and step.final is None:
            time.sleep(delay)
    slots["status"].empty()
    steps[-1].final.elapsed_ms = compute * 1000            # the model's time, not the animation's pauses
    return steps


def live_tab(result: dict | None, slots: dict) -> None:
    if result is None:
        return
    frames = result["frames"]
    n = len(frames)
    if n > 1:
        st.session_state.scrub = min(max(1, int(st.session_state.get("scrub", n))), n)
        st.slider(T("live.scrub"), 1, n, key="scrub", help=T("live.scrub_help"))
    index = int(st.session_state.get("scrub", n)) - 1 if n > 1 else 0
    draw_frame(frames[index], result["final"].src_tokens, n, slots, key="")
    if result["final"].options.beam_size > 1:
        st.caption(T("live.beam_note"))


# --- the other tabs --------------------------------------------------------------------------

def pipeline_tab(tr: Translator, path: str, mtime: float, text: str) -> None:
    st.caption(T("pipe.intro"))
    encoding = encode_cached(path, mtime, text)
    source = encoding.source
    lang = st.session_state.get("lang", "en")
    with st.container(border=True):
        st.markdown(f"##### {T('pipe.seg')}")
        if tr.config.src_segmenter == "char":
            st.caption(T("pipe.seg_char_model"))
        else:
            st.caption(T("pipe.seg_help"))
            st.markdown(T("pipe.words", words=html.escape(" / ".join(source.words))))
        st.markdown(figures.token_chips_html(source.tokens, font_size=font_size() + 4), unsafe_allow_html=True)
        st.markdown(figures.legend_chips_html([("word", T("pipe.legend_word")), ("sub", T("pipe.legend_sub")),
                                               ("char", T("pipe.legend_char")), ("unk", T("pipe.legend_unk"))]),
                    unsafe_allow_html=True)
    with st.container(border=True):
        st.markdown(f"##### {T('pipe.ids')}")
        st.caption(T("pipe.ids_help", size=len(tr.src_vocab)))
        st.markdown(figures.token_chips_html(source.tokens, source.ids, font_size=font_size() + 2),
                    unsafe_allow_html=True)
    with st.container(border=True):
        st.markdown(f"##### {T('pipe.emb')}")
        st.caption(T("pipe.emb_help", dim=encoding.embeddings.shape[1]))
        plot(figures.vector_heatmap(source.src_tokens, encoding.embeddings, lang=lang, font_size=font_size()),
             key="pipe_emb", filename="embeddings")
    with st.container(border=True):
        st.markdown(f"##### {T('pipe.enc')}")
        st.caption(T("pipe.enc_help", cell=tr.config.cell.upper(), dim=encoding.states.shape[1],
                     direction=T("pipe.both_ways") if tr.config.bidirectional else T("pipe.one_way")))
        plot(figures.vector_heatmap(source.src_tokens, encoding.states, lang=lang, font_size=font_size()),
             key="pipe_enc", filename="encoder_states")
    with st.container(border=True):
        st.markdown(f"##### {T('pipe.ctx')}")
        st.caption(T("pipe.ctx_help", dim=encoding.summary.shape[0]))
        plot(figures.vector_heatmap(["z"], encoding.summary[None, :], lang=lang, font_size=font_size()),
             key="pipe_ctx", filename="decoder_start_vector")


def score_line(candidate) -> str:
    return (f"{T('cmp.logprob')}: **{candidate.score:.3f}** · {T('cmp.norm')}: **{candidate.normalized_score:.3f}**"
            f" · {T('cand.length')}: {candidate.length}")


def compare_tab(path: str, mtime: float, text: str, options: tuple, result: dict) -> None:
    beam_size = dict(options)["beam_size"]
    if beam_size > 1:
        beam = result["final"]
    else:
        beam_size = 5
        st.info(T("cmp.beam1"))
        beam = translate_cached(path, mtime, text, with_options(options, beam_size=5, n_best=5))
    greedy = translate_cached(path, mtime, text, with_options(options, beam_size=1, n_best=1))
    st.caption(T("cmp.intro", k=beam_size))
    g, b = greedy.best, beam.best
    split = figures.first_divergence(g.tokens, b.tokens)
    if split is None:
        st.success(T("cmp.same"))
    else:
        st.warning(T("cmp.diverge", step=split + 1,
                     greedy=html.escape(g.tokens[split]) if split < len(g.tokens) else "–",
                     beam=html.escape(b.tokens[split]) if split < len(b.tokens) else "–"))
    left, right = st.columns(2)
    for column, name, candidate, key in ((left, T("cmp.greedy"), g, "cmp_greedy"),
                                         (right, T("cmp.beam", k=beam_size), b, "cmp_beam")):
        with column:
            st.subheader(name)
            st.markdown(f"<div class='lab-output'>{html.escape(candidate.text)}</div>", unsafe_allow_html=True)
            st.markdown(score_line(candidate))
            if candidate.attention is not None:
                plot(heatmap(greedy.src_tokens, candidate.tokens, candidate.attention, highlight_row=split),
                     key=key, filename=key)


def candidates_tab(result: dict) -> None:
    final = result["final"]
    k = final.options.beam_size
    if k == 1:
        st.info(T("cand.greedy_only"))
        return
    st.caption(T("cand.intro"))
    rows = [{T("cand.rank"): i + 1, T("cand.text"): c.text, T("cand.logprob"): round(c.score, 3),
             T("cand.norm"): round(c.normalized_score, 3), T("cand.length"): c.length,
             T("cand.finished"): "✓" if c.finished else "…"} for i, c in enumerate(final.candidates)]
    st.dataframe(rows, key="cand_table", on_select=on_candidate_row, selection_mode="single-row", hide_index=True,
                 width="stretch")
    ranks = list(range(1, len(final.candidates) + 1))
    if st.session_state.get("cand_pick") not in ranks:
        st.session_state.cand_pick = 1
    pick = st.segmented_control(T("cand.pick"), ranks, key="cand_pick", required=True)
    chosen = final.candidates[(pick or 1) - 1]
    if chosen.attention is not None:
        plot(heatmap(final.src_tokens, chosen.tokens, chosen.attention,
                     title=T("cand.heatmap_title", rank=pick, text=chosen.text)), key="cand_heat",
             filename=f"candidate_{pick}")
    else:
        st.info(T("live.no_attention"))
    st.subheader(T("tree.title"))
    st.caption(T("tree.intro", k=k))
    show_pruned = st.toggle(T("tree.pruned"), value=True, key="tree_pruned")
    steps = result["steps"]
    if not show_pruned:
        steps = [type(s)(s.index, [n for n in s.nodes if n.status != "pruned"]) for s in steps]
    plot(figures.beam_tree(steps, best_tokens=final.best.tokens, lang=st.session_state.get("lang", "en"),
                           font_size=font_size()), key="beam_tree", filename="beam_tree")


def whatif_tab(path: str, mtime: float, text: str, options: tuple, result: dict) -> None:
    st.caption(T("whatif.intro"))
    first = result["steps"][0].nodes[0].alternatives if result["steps"] else []
    probability = {a.token: a.prob for a in first if a.token not in ("</s>", "<unk>")}
    st.pills(T("whatif.pick"), list(probability), key="whatif_pick", on_change=on_whatif_pick,
             format_func=labels({token: f"{token} · {p:.0%}" for token, p in probability.items()}))
    prefix = st.text_input(T("whatif.prefix"), key="whatif_prefix", help=T("whatif.prefix_help")).strip()
    if not prefix:
        st.info(T("whatif.empty"))
        return
    try:
        forced = translate_cached(path, mtime, text, with_options(options, prefix=prefix))
    except LabError as error:
        show_error(error)
        return
    free = result["final"]
    left, right = st.columns(2)
    for column, title, translation, key in ((left, T("whatif.free"), free, "whatif_free"),
                                            (right, T("whatif.forced", prefix=html.escape(prefix)), forced,
                                             "whatif_forced")):
        with column:
            st.subheader(title)
            best = translation.best
            st.markdown(f"<div class='lab-output'>{html.escape(best.text)}</div>", unsafe_allow_html=True)
            st.markdown(score_line(best))
            if best.attention is not None:
                plot(heatmap(translation.src_tokens, best.tokens, best.attention), key=key, filename=key)
    cost = free.best.score - forced.best.score
    if cost >= 0:
        st.caption(T("whatif.cost", cost=cost, free=free.best.score, forced=forced.best.score))
    else:
        st.caption(T("whatif.better", free=free.best.score, forced=forced.best.score))


def variants_tab(models: dict, text: str, options: tuple) -> None:
    st.caption(T("var.intro"))
    if not st.toggle(T("var.run"), key="variants_on"):
        return
    present = [(attention, name) for attention, name in catalog.VARIANT_MODELS.items() if name in models]
    if not present:
        st.info(T("var.none_found"))
        return
    columns = st.columns(3)
    for index, (attention, name) in enumerate(catalog.VARIANT_MODELS.items()):
        with columns[index % 3], st.container(border=True):
            st.markdown(f"**{name}** · {T(f'var.formula.{attention}')}")
            if name not in models:
                st.caption(T("var.missing", name=name))
                continue
            try:
                _, path, mtime = open_model(name)
                translation = translate_cached(path, mtime, text, options)
            except LabError as error:
                show_error(error)
                continue
            best = translation.best
            st.markdown(f"<div class='lab-output lab-small'>{html.escape(best.text)}</div>",
                        unsafe_allow_html=True)
            st.caption(score_line(best))
            if best.attention is None:
                st.info(T("live.no_attention"))
            else:
                plot(heatmap(translation.src_tokens, best.tokens, best.attention, compact=True),
                     key=f"variant_{attention}",
                     filename=f"attention_{attention}")


# --- the sidebar: settings and training ----------------------------------------------------------

def sidebar_settings() -> None:
    st.segmented_control(T("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang", required=True)
    st.toggle(T("app.presenter"), key="presenter", help=T("app.presenter_help"))
    st.segmented_control(T("app.export"), ["png", "svg"], format_func=str.upper, key="export_fmt", required=True,
                         help=T("app.export_help"))


def fmt_seconds(seconds: float) -> str:
    return T("train.seconds", s=max(0.0, seconds))


def training_panel(manager: jobs.JobManager) -> None:
    """Progress of this visitor's training (re-run every second by st.fragment while it runs)."""
    job = manager.get(st.session_state.get("job_id"))
    if job is None:
        return
    progress = job.progress
    if job.active:
        if progress is None:
            st.progress(0.0, text=T("train.starting"))
        else:
            st.progress(min(1.0, max(0.0, progress.fraction)),
                        text=T("train.epoch_progress", epoch=progress.epoch, epochs=progress.epochs,
                               remaining=fmt_seconds(progress.remaining)))
        if job.stop_requested:
            st.caption(T("train.stopping"))
    elif job.state in (jobs.DONE, jobs.STOPPED):
        st.success(T("train.done" if job.state == jobs.DONE else "train.stopped", name=job.model_name))
        if job.test:
            st.caption(T("train.test", bleu=job.test["greedy"]["bleu"]))
        if st.session_state.get("model") != USER_PREFIX + job.model_name:
            st.button(T("train.use"), key="train_use", on_click=st.session_state.update,
                      kwargs={"model": USER_PREFIX + job.model_name})
    else:
        show_error(job.error or LabError("train_failed", "unknown error"))
    if job.history:
        last = job.history[-1]
        st.caption(T("train.valid", bleu=last["valid_bleu"], loss=last["valid_loss"]))
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
    lang = st.session_state.get("lang", "en")
    request = job.request
    st.caption(T("train.view_caption", data=T(f"train.data.{request.data}"), attention=request.arch.get("attention"),
                 epochs=request.config.epochs))
    history = job.history
    if not history:
        st.caption(T("train.view_waiting"))
    else:
        plot(figures.training_curves(history, lang=lang, font_size=font_size()), key="train_curves",
             filename="training_curves")
    probe = job.probe
    if probe is not None and probe.best.attention is not None:
        plot(heatmap(probe.src_tokens, probe.best.tokens, probe.best.attention,
                     title=T("train.probe_title", epoch=len(history), text=probe.best.text)),
             key="train_probe_map", filename="probe_attention")


def training_fragment(function, manager: jobs.JobManager) -> None:
    """Run ``function`` as a fragment that redraws itself every second while this visitor's job runs."""
    job = manager.get(st.session_state.get("job_id"))
    st.fragment(function, run_every=1.0 if job is not None and job.active else None)(manager)


def sidebar_training(manager: jobs.JobManager) -> None:
    st.header(T("train.header"))
    st.caption(T("train.intro"))
    data = st.selectbox(T("train.data"), jobs.DATA_CHOICES, key="train_data", on_change=on_train_data,
                        format_func=labels({d: T(f"train.data.{d}") for d in jobs.DATA_CHOICES}))
    pairs, source_name = None, ""
    if data == "tsv":
        upload = st.file_uploader(T("train.upload"), type=["tsv", "txt"], key="train_tsv")
        if upload is not None:
            try:
                report = jobs.read_tsv(upload.getvalue(), name=upload.name)
            except LabError as error:
                show_error(error)
            else:
                pairs, source_name = report.pairs, upload.name
                st.success(T("train.upload_ok", count=len(pairs), name=html.escape(upload.name)))
                if report.errors:
                    line, problem = report.errors[0]
                    st.caption(T("train.upload_skipped", count=len(report.errors), line=line,
                                 problem=html.escape(problem)))
    st.text_input(T("train.name"), key="train_name", help=T("train.name_help"), max_chars=60)
    with st.expander(T("train.arch")):
        st.segmented_control(T("train.cell"), ["gru", "lstm"], format_func=str.upper, key="train_cell",
                             default="gru", required=True)
        st.slider(T("train.layers"), 1, 2, 1, key="train_layers")
        st.toggle(T("train.bidirectional"), value=True, key="train_bi")
        st.selectbox(T("train.attention"), ATTENTION_TYPES, index=ATTENTION_TYPES.index("additive"),
                     key="train_attention")
        st.select_slider(T("train.emb"), [16, 32, 64, 128, 256], value=64, key="train_emb")
        st.select_slider(T("train.hidden"), [32, 64, 128, 256, 512], value=128, key="train_hidden")
    with st.expander(T("train.settings")):
        st.slider(T("train.epochs"), 1, 30, 4, key="train_epochs")
        st.select_slider(T("train.batch"), [16, 32, 64, 128], value=64, key="train_batch")
        st.select_slider(T("train.lr"), [0.0003, 0.001, 0.002, 0.003, 0.005, 0.01], value=0.003, key="train_lr")
        st.slider(T("train.tf"), 0.0, 1.0, 1.0, 0.1, key="train_tf", help=T("train.tf_help"))
        st.slider(T("train.dropout"), 0.0, 0.5, 0.1, 0.05, key="train_dropout")
        st.number_input(T("train.seed"), 0, 10_000, 0, key="train_seed")
    st.text_input(T("train.probe"), key="train_probe")

    mine = manager.get(st.session_state.get("job_id"))
    others = [job for job in manager.running() if job is not mine]
    if others and not (mine and mine.active):
        message = T("train.busy_other")
        progress = others[0].progress
        if progress is not None:
            message += " " + T("train.epoch_progress", epoch=progress.epoch, epochs=progress.epochs,
                               remaining=fmt_seconds(progress.remaining))
        st.info(message, icon=":material/hourglass_top:")
    start_col, stop_col = st.columns(2)
    start = start_col.button(T("train.start"), key="train_start", type="primary",
                             disabled=bool(mine and mine.active), width="stretch")
    stop = stop_col.button(T("train.stop"), key="train_stop", disabled=not (mine and mine.active), width="stretch")
    if stop and mine is not None:
        mine.stop()
    if start:
        s = st.session_state
        if data == "tsv" and not pairs:
            st.warning(T("train.upload_needed"))
        else:
            request = jobs.TrainRequest(
                data=data, name=s.train_name or "model", pairs=pairs, source_name=source_name,
                arch=dict(cell=s.train_cell or "gru", enc_layers=s.train_layers, dec_layers=s.train_layers,
                          bidirectional=s.train_bi, attention=s.train_attention, emb_size=s.train_emb,
                          hidden_size=s.train_hidden, dropout=s.train_dropout),
                config=TrainConfig(epochs=s.train_epochs, batch_size=s.train_batch, lr=s.train_lr,
                                   teacher_forcing=s.train_tf, seed=int(s.train_seed), probe=s.train_probe or None,
                                   label_smoothing=0.1 if data in ("hsk", "tsv") else 0.0,
                                   char_split_prob=0.1 if data in ("hsk", "tsv") else 0.0, max_valid=200))
            try:
                job = manager.start(request)
            except LabError as error:
                show_error(error)
            else:
                s.job_id = job.id
                s._job_seen = None
                st.rerun()                            # redraw the sidebar: Stop enabled, progress polling on
    training_fragment(training_panel, manager)


# --- the page ----------------------------------------------------------------------------------

def main() -> None:
    init_state()
    st.html(f"<style>{load_css()}</style>")
    with st.sidebar:
        sidebar_settings()
    if st.session_state.presenter:
        st.html("<style>html { font-size: 21px; } .lab-output { font-size: 2.1rem; }</style>")
    manager = job_manager(str(USER_DIR), str(MODELS_DIR))
    with st.sidebar:
        st.divider()
        sidebar_training(manager)

    st.title(T("app.title"))
    st.caption(T("app.subtitle"))
    notice = st.session_state.pop("_notice", None)
    if notice is not None:
        show_error(notice)
    models, broken = available_models()
    for info in broken:
        st.warning(T("app.bad_model_files", name=html.escape(info.path.name),
                     reason=error_text(info.error, st.session_state.lang)), icon=":material/broken_image:")
    if not models:
        st.info(T("app.no_models"))
        training_fragment(training_view, manager)
        return
    keys = list(models)
    if st.session_state.get("model") not in keys:
        st.session_state.model = catalog.DEFAULT_MODEL if catalog.DEFAULT_MODEL in keys else keys[0]

    left, right = st.columns([3, 2], gap="large")
    with right:
        key = st.selectbox(T("app.model"), keys, key="model", help=T("app.model_help"),
                           format_func=labels({k: model_label(k, models[k]) for k in keys}),
                           on_change=on_model_change, args=({k: models[k].corpus for k in keys},))
        st.caption(model_card(key, models[key]), help=model_data(models[key]))
        with st.expander(T("app.decoding"), expanded=False):
            # No value= here: the sliders start at their minimum (0 = no penalty), and the
            # button below may set them through session_state.
            st.slider(T("app.length_penalty"), 0.0, 2.0, step=0.1, key="length_penalty",
                      help=T("app.length_penalty_help"))
            st.slider(T("app.coverage_penalty"), 0.0, 1.0, step=0.1, key="coverage_penalty",
                      help=T("app.coverage_penalty_help"))
            tuned = models[key].record.get("decoding")
            if tuned:
                st.button(T("app.use_tuned", alpha=tuned["length_penalty"], beta=tuned["coverage_penalty"],
                            n=tuned.get("no_repeat_ngram_size", 0)),
                          key="use_tuned", help=T("app.use_tuned_help"), on_click=use_tuned_penalties,
                          args=(tuned,))
            st.number_input(T("app.max_len"), 0, 200, 0, step=1, key="max_len", help=T("app.max_len_help"))
            st.number_input(T("app.no_repeat"), 0, 4, 0, step=1, key="no_repeat", help=T("app.no_repeat_help"))
        try:
            tr, path, mtime = open_model(key)
        except LabError as error:
            show_error(error)
            return
        st.caption(T("app.device", device=tr.device_label))

    with left:
        st.text_input(T("app.input"), key="src_text", placeholder=T("app.input_placeholder"),
                      help=T("app.input_help"), on_change=on_text_change)
        controls = st.columns([1.2, 1.2, 1, 2], vertical_alignment="bottom")
        translate = controls[0].button(T("app.translate"), key="translate", type="primary", width="stretch")
        one_step = controls[1].button(T("live.one_step"), key="one_step", help=T("live.one_step_help"),
                                      width="stretch")
        controls[2].number_input(T("app.beam"), 1, 10, 5, step=1, key="beam", help=T("app.beam_help"))
        controls[3].select_slider(T("live.speed"), list(SPEEDS), value="normal", key="speed",
                                  format_func=labels({s: T(f"live.speed_{s}") for s in SPEEDS}))
    examples = examples_for(models[key].corpus)
    st.pills(T("app.examples"), list(examples), key="example", on_change=on_example, wrap=True,
             format_func=labels({zh: f"{example_source(e)} · {zh}" if example_source(e) else zh
                                 for zh, e in examples.items()}))

    text = st.session_state.src_text or ""
    options = decoding_options()
    request = (key, mtime, text, options)
    result = st.session_state.get("result")
    animate_now = translate or st.session_state.pop("_animate", False)
    first_visit = "result" not in st.session_state and bool(text.strip())

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
        if animate_now or (one_step and (result is None or result["request"] != request)):
            tr.analyze(text)                                        # bad input: a message, before any drawing
            if animate_now:
                with tabs[0]:
                    steps = animate(tr, text, options, slots)
            else:
                steps = decode_cached(path, mtime, text, options)
            result = make_result(request, path, steps)
            st.session_state.result = result
            st.session_state.scrub = len(result["frames"]) if animate_now else 1
            st.session_state.cand_pick = 1
        elif one_step:
            n = len(result["frames"])
            current = int(st.session_state.get("scrub", n))
            st.session_state.scrub = 1 if current >= n else current + 1
        elif first_visit or (result is not None and result["request"] != request and result["text"] == text):
            # a first visit shows the default sentence already translated; a changed setting updates at once
            steps = decode_cached(path, mtime, text, options)
            result = make_result(request, path, steps)
            st.session_state.result = result
            st.session_state.scrub = len(result["frames"])
    except LabError as error:
        show_error(error, header)
        result = None
        st.session_state.result = None

    if result is None:
        header.info(T("app.start_hint"))
        return
    final = result["final"]
    best = final.best
    with header:
        if result["text"] != text:
            st.warning(T("app.stale"))
            st.caption(T("app.result_for", text=html.escape(result["text"])))
        strategy = (T("strategy.greedy") if final.options.beam_size == 1
                    else T("strategy.beam", k=final.options.beam_size))
        st.markdown(f"<div class='lab-output' id='lab-translation'>{html.escape(best.text)}</div>",
                    unsafe_allow_html=True)
        st.caption(T("app.result_meta", strategy=strategy, score=best.score, norm=best.normalized_score,
                     ms=final.elapsed_ms, device=final.device))
        if not best.finished:
            st.caption(T("app.not_finished"))
        example = examples.get(result["text"])
        if example and example.get("en"):
            seen = {"train": " " + T("app.example_seen"), "test": " " + T("app.example_unseen")}
            st.caption(T("app.example_reference", en=html.escape(example["en"])) + seen.get(example.get("split"), ""))

    run_text, run_options, path, mtime = result["text"], result["request"][3], result["path"], result["request"][1]
    try:
        tr = load_translator(path, mtime)
    except LabError as error:
        show_error(error)
        return
    with tabs[0]:
        live_tab(result, slots)
    with tabs[1]:
        pipeline_tab(tr, path, mtime, run_text)
    with tabs[2]:
        compare_tab(path, mtime, run_text, run_options, result)
    with tabs[3]:
        candidates_tab(result)
    with tabs[4]:
        whatif_tab(path, mtime, run_text, run_options, result)
    with tabs[5]:
        variants_tab(models, run_text, run_options)


main()
