"""The live animation, played by the browser: the heatmap grows one output word per step.

The server decodes the sentence step by step (tens of milliseconds: ``live.LiveDecoding``), builds each step's
heatmap and next-word bars, and sends them to two players (``live_player.js``, one for the heatmap, one for the
bars): the first step alone as soon as the model has taken it, then all of them, ending on the finished
translation. The players draw a frame every ``delay`` seconds with the page's own plotly.js. While the browser
plays, the server only waits; the players' last frame then stays as the finished view (exportable from its
modebar, as every chart), until the visitor scrubs or changes the page: then it is a Streamlit chart again.

Sending the frames one by one, as Streamlit charts, cost the server a chart's bookkeeping per frame (a copy, a
hash and a message through the event loop, twice a step): a third of its time per Translate press (#12).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import streamlit as st
import streamlit_heads as heads_view
from streamlit_ui import T, heatmap, lang, presenter, server_turns

from seq2seq_lab import figures
from seq2seq_lab.errors import LabError
from seq2seq_lab.present import heads, live, views

PLAYER_CSS = """
.lab-player-caption { padding-top: 0.5rem; }             /* as the step's line under the finished view */
.lab-player-note { white-space: pre-line; padding: 1rem; border-radius: 0.5rem;
                   background: rgba(28, 131, 225, 0.1); color: rgb(0, 66, 128); }
"""
PLAYER = st.components.v2.component("lab_live_player", js=(Path(__file__).parent / "live_player.js").read_text(
    encoding="utf-8"), css=PLAYER_CSS, isolate_styles=False)    # plotly's own styles must reach its charts
# Seconds: how soon a waiting run notices that the visitor changed the page. Each nap costs the server ~0.3 ms (a
# wake-up and the session state's check for a newer run): over a 2.8 s animation, 0.1 s naps cost ~7.7 ms, 0.25 s
# naps ~2.7 ms (bench/streamlit_costs.py).
NAP = 0.25


def frames_json(name: str, parts: list[tuple], run: str, delay: float, filename: str) -> str:
    """Player ``name``'s data: ``parts`` (figure spec or None, note or None, caption or None) per frame of
    translation ``run``, as JSON text.
    Each figure's JSON is written once (``figures.spec_json``) and their shared template sent once."""
    template, frames = {}, []
    for spec, note, caption in parts:
        chart = "null"
        if spec is not None:
            chart, template = figures.spec_json(spec)
        frames.append(f'{{"figure": {chart}, "note": {json.dumps(note)}, "caption": {json.dumps(caption)}}}')
    config = figures.export_config(filename, fmt=st.session_state.get("export_fmt", "png"))
    return (f'{{"name": "{name}", "run": "{run}", "delay": {json.dumps(delay)}, "config": {json.dumps(config)}, '
            f'"template": {json.dumps(template)}, "frames": [{", ".join(frames)}]}}')


def frame_figures(frame: live.Frame, src_tokens: list[str], slots: dict, *, as_spec: bool = False) -> tuple:
    """What the live view draws at ``frame``: the heatmap of the head picked (or the mean; None for a model
    without attention) and the next-word bars (None without alternatives). The player's frames and the finished
    view (``streamlit_tabs.draw_frame``) both come from here, so they are the same picture: the player takes
    them in plotly's JSON form (``as_spec``), which it sends without building a Figure (~1 ms a frame, #12)."""
    rows = heads.frame_rows(frame, heads_view.chosen_head(), slots.get("shape"))
    heat = None if rows is None else heatmap(src_tokens, frame.tokens, rows, highlight_row=frame.step - 1,
                                             as_spec=as_spec)
    bars = (views.next_word_bars(frame, lang(), presenter=presenter(), as_spec=as_spec) if frame.alternatives
            else None)
    return heat, bars


def play(frames: list[live.Frame], src_tokens: list[str], run: str, delay: float, slots: dict, *,
         first: bool, steps: int | None = None) -> None:
    """Send the frames to the heatmap's and the bars' places; they play them at once, side by side. Frames sent
    again for the same ``run`` with more after them carry on where the player is (``first``: the first message
    of a run; the second is another element). ``steps``: the finished translation's length, when the last frame
    is the finished view (its caption then says "step n of n", as the finished view's)."""
    heat, bars = [], []
    for i, frame in enumerate(frames):
        heat_spec, bars_spec = frame_figures(frame, src_tokens, slots, as_spec=True)
        note = None if heat_spec is not None else views.no_attention_note(frame.tokens, lang(), plain=True)
        total = steps if i == len(frames) - 1 else None
        heat.append((heat_spec, note, views.step_caption(frame, total, lang(), plain=True)))
        if bars_spec is not None:
            bars.append((bars_spec, None, None))
    suffix = "_first" if first else ""
    with slots["heat"]:                         # an st.empty: the player takes its place
        PLAYER(data=frames_json("heat", heat, run, delay, "attention"), key=f"live_player_heat{suffix}")
    if bars:
        with slots["bars"]:
            PLAYER(data=frames_json("bars", bars, run, delay, "next_word_probabilities"),
                   key=f"live_player_bars{suffix}")


def wait(seconds: float) -> None:
    """Wait while the browser plays, without holding a turn (other visitors' requests run meanwhile). Between
    short naps the run reads its session state: that is where Streamlit stops a run for a newer page run (a
    change in the sidebar or the model row). A request for this page's fragment (Translate, a tab, the scrubber)
    waits until the run ends: Streamlit does not let a fragment's request stop a run in progress."""
    end = time.monotonic() + seconds
    with server_turns().set_aside():
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(NAP, left))
            st.session_state.get("speed")


def animate(model, text: str, options: dict, slots: dict) -> live.Result:
    """Decode with the model and let the browser play the steps. The first goes out as soon as the model has
    taken it, and the run then lets the visitors queued behind it send theirs (a class sees every heatmap start
    at once); the others follow when the search is over. Returns once the browser has played them all."""
    delay = live.SPEEDS.get(st.session_state.get("speed", "normal"), 0.35)
    run = uuid.uuid4().hex                      # the player's state outlives a session (a server restart)
    decoding = live.LiveDecoding(model, text, options)
    slots["status"].caption(T("live.running"))
    try:
        frames, first = [], time.monotonic()
        for frame in decoding:                  # the search, step by step (replayed if decoded before)
            frames.append(frame)
            if len(frames) == 1:
                play(frames, decoding.src_tokens, run, delay, slots, first=True)
                first = time.monotonic()        # the browser starts playing about now
                server_turns().pause(0)         # to the back of the queue: the others' first frames go out
        final = decoding.result.frames[-1] if decoding.result.frames else frames[-1]
        if final.tokens != frames[-1].tokens:   # the search ended on another hypothesis than the last step's leader
            frames.append(final)                # (a beam's finished one): the player ends on the translation
        if len(frames) > 1:
            play(frames, decoding.src_tokens, run, delay, slots, first=False, steps=len(decoding.result.frames))
        rest = time.monotonic()
        wait(max(first + len(frames) * delay, rest + (len(frames) - 1) * delay) - rest)
    except LabError:
        slots["status"].empty()                 # the error is shown above; nothing is decoding any more
        raise
    slots["status"].empty()
    slots["played"] = len(frames) > 1           # the last frame sent is the finished view: not drawn again (draw_frame)
    return decoding.result
