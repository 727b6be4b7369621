"""The Streamlit app's tabs: the live heatmap (played step by step by ``streamlit_player``, then scrubbed),
inside the model, greedy against beam, the candidates and the search tree, forcing a beginning, the attention
variants, a closer look (coverage, attention against attribution, exposure bias).

Layout only: every value comes from ``seq2seq_lab.present``.
"""

from __future__ import annotations

import streamlit as st
import streamlit_heads as heads_view
import streamlit_player as player
from streamlit_ui import (
    SIDE_HEATMAP_PX,
    VARIANT_PLOT_PX,
    T,
    draw_panel,
    heatmap,
    labels,
    lang,
    output,
    pinyin,
    plot,
    presenter,
    show_error,
)

from seq2seq_lab import catalog, settings
from seq2seq_lab.errors import LabError
from seq2seq_lab.present import catalogue, closer, live, views

# --- ① live decoding ---------------------------------------------------------------------------------

def draw_frame(frame: live.Frame, src_tokens: list[str], steps: int, slots: dict) -> None:
    """The live view at one step of the finished translation (the player drew the steps as they came). Right
    after an animation the players already show this picture and its caption, their last frame: it is not drawn
    again (a chart costs the server ~8 ms, plotly's JSON of it: #12)."""
    if slots.get("played"):
        return
    slots["caption"].markdown(views.step_caption(frame, steps, lang()))
    heat, bars = player.frame_figures(frame, src_tokens, slots)          # as the live player drew them
    if heat is None:
        slots["heat"].info(views.no_attention_note(frame.tokens, lang()))
    else:
        plot(heat, key="live_heat", where=slots["heat"], filename="attention", themed=False)
    if bars is not None:
        plot(bars, key="live_bars", where=slots["bars"], filename="next_word_probabilities", themed=False)


def live_tab(model, result: live.Result, slots: dict) -> None:
    n = len(result.frames)
    st.caption(T("live.intro"))
    if n > 1:
        st.session_state.scrub = min(max(1, int(st.session_state.get("scrub", n))), n)
        st.slider(T("live.scrub"), 1, n, key="scrub", help=T("live.scrub_help"))
    index = int(st.session_state.get("scrub", n)) - 1 if n > 1 else 0
    draw_frame(result.frames[index], result.final.src_tokens, n, slots)
    if result.final.options.beam_size > 1:
        st.caption(T("live.beam_note"))
    heads_view.head_views(model, result, result.frames[index])


def on_whatif_pick() -> None:
    if st.session_state.get("whatif_pick"):
        st.session_state.whatif_prefix = st.session_state.whatif_pick


def on_candidate_row() -> None:
    rows = st.session_state.get("cand_table", {}).get("selection", {}).get("rows", [])
    if rows:
        st.session_state.cand_pick = rows[0] + 1


def pipeline_tab(model, result: live.Result) -> None:
    st.caption(views.pipeline_intro(model, lang()))
    for panel in views.pipeline(model, result.text, lang(), presenter=presenter(), pinyin=pinyin()):
        draw_panel(panel)
    heads_view.trace_section(model, result)                  # a Transformer's one head, traced


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
    # Side by side, or one above the other where the source words would run together in half the page
    stacked = views.words_width(result.final.src_tokens, presenter=presenter(), pinyin=pinyin()) > SIDE_HEATMAP_PX
    for column, (side, title, candidate) in zip([st.container(), st.container()] if stacked else st.columns(2),
                                               comparison.sides(lang())):
        with column:
            candidate_column(title, result.final.src_tokens, candidate, f"cmp_{side}", comparison.split)


def candidates_tab(result: live.Result) -> None:
    final = result.final
    if final.options.beam_size == 1:
        st.info(T("cand.greedy_only"))
        return
    st.caption(T("cand.intro"))
    table = views.candidate_frame(final, lang())
    st.dataframe(table, key="cand_table", on_select=on_candidate_row, selection_mode="single-row", hide_index=True,
                 width="stretch")
    st.session_state.cand_pick = views.pick_rank(final, st.session_state.get("cand_pick"))
    pick = st.segmented_control(T("cand.pick"), list(range(1, len(table) + 1)), key="cand_pick", required=True)
    figure, caption = views.candidate_heatmap(result, pick, lang(), presenter=presenter(), pinyin=pinyin())
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


def variant_columns(needed_px: float) -> int:
    """How many variant cards share a row: three, two or one, the most whose heatmaps still give the sentence's
    source words the plot width they need (``views.source_width``; ``VARIANT_PLOT_PX``)."""
    return next((n for n in (3, 2) if needed_px <= VARIANT_PLOT_PX[n]), 1)


def variants_tab(shelf: catalogue.Shelf, result: live.Result) -> None:
    st.caption(T("var.intro"))
    if not st.toggle(T("var.run"), key="variants_on"):
        return
    if not any(name in shelf.good for name in catalog.VARIANT_MODELS.values()):
        st.info(T("var.none_found"))
        return
    # Three cards a row, or fewer and wider where the sentence's words would run together in a third of the page
    # (the variants read the sentence alike: they learned from the same data and vocabulary).
    first = catalogue.open_model(next(n for n in catalog.VARIANT_MODELS.values() if n in shelf.good), settings.load())
    per_row = variant_columns(views.source_width(first, result.text, shown=result, presenter=presenter(),
                                                 pinyin=pinyin()))
    columns = st.columns(per_row)
    for index, (attention, name) in enumerate(catalog.VARIANT_MODELS.items()):
        with columns[index % per_row], st.container(border=True):
            st.markdown(f"**{name}** · {catalogue.variant_formula(attention, shelf.good.get(name), lang())}")
            if name not in shelf.good:
                st.caption(T("var.missing", name=name))
                continue
            try:
                translation = live.translate(catalogue.open_model(name, settings.load()), result.text, result.options)
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


def closer_tab(model, result: live.Result, corpus: str) -> None:
    st.caption(T("closer.intro"))
    names = {name: T(f"closer.section.{name}") for name in closer.SECTIONS}
    if st.session_state.get("closer_pick") not in names:
        st.session_state.closer_pick = closer.SECTIONS[0]
    section = st.segmented_control(T("closer.pick"), list(names), key="closer_pick", format_func=labels(names),
                                   required=True)
    try:
        if section == "coverage":
            view = closer.coverage_view(result, lang(), presenter=presenter(), pinyin=pinyin())
        elif section == "attribution":
            with st.spinner(T("closer.attribution_running")):
                view = closer.attribution_view(model, result, lang(), presenter=presenter(), pinyin=pinyin())
        else:
            if st.session_state.get("_closer_text") != result.text:    # a new sentence brings its own reference
                st.session_state._closer_text = result.text
                st.session_state.closer_reference = closer.default_reference(result, corpus)
            reference = st.text_input(T("closer.reference"), key="closer_reference", max_chars=closer.MAX_REFERENCE,
                                      help=T("closer.reference_help"))
            view = closer.exposure_view(model, result, reference, lang(), presenter=presenter())
    except LabError as error:
        show_error(error)
        return
    (st.warning if view.kind == "warning" else st.info)(view.caption)
    # Side by side on a laptop; one below the other in presenter mode, where two large-font heatmaps in half the
    # width leave no room for their cells, and wherever the sentence's words would run together in half the page.
    stacked = presenter() or views.words_width(result.final.src_tokens, pinyin=pinyin()) > SIDE_HEATMAP_PX
    places = [st.container() for _ in view.figures] if stacked else st.columns(max(1, len(view.figures)))
    for place, (index, figure) in zip(places, enumerate(view.figures)):
        with place:
            plot(figure, key=f"closer_{section}_{index}", filename=f"{section}_{index + 1}")
