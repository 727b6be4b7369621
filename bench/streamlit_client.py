"""A minimal Streamlit client: what a browser sends over the websocket, and what it gets back.

A browser session is one websocket to ``/_stcore/stream``: it sends ``BackMsg`` "rerun the script with these
widget values" and receives ``ForwardMsg`` deltas (each element drawn) until "script finished". This is enough
to be a student: open the page, type a sentence, press Translate — and to time it. Used by the load bench
(``bench/load.py --streamlit``) and the concurrency test (``tests/test_concurrency.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState


def rerun(states: list[WidgetState] = (), fragment_id: str = "", query: str = "") -> bytes:
    """ "Rerun with these widget values"; with ``fragment_id``, only that fragment (as a browser asks when the
    widget it reports sits in an ``st.fragment``); ``query``: the page's URL query ("model=everyday_additive")."""
    message = BackMsg()
    message.rerun_script.query_string = query
    message.rerun_script.page_script_hash = ""
    message.rerun_script.widget_states.widgets.extend(states)
    message.rerun_script.fragment_id = fragment_id
    return message.SerializeToString()


class Drawn(list):
    """The elements one script run drew, in order; ``fragments``: a widget's id → the fragment it is drawn in."""

    def __init__(self):
        super().__init__()
        self.fragments: dict[str, str] = {}

    def fragment_of(self, widget: str) -> str:
        return self.fragments.get(widget, "")


async def run_script(ws, on_element=None) -> Drawn:
    """Every element the script run drew, until the server says the run finished (``on_element`` sees each)."""
    elements = Drawn()
    while True:
        message = ForwardMsg.FromString(await asyncio.wait_for(ws.recv(), timeout=300))
        kind = message.WhichOneof("type")
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            elements.append(element)
            if message.delta.fragment_id:
                drawn = getattr(element, element.WhichOneof("type"))
                if hasattr(drawn, "id"):
                    elements.fragments[drawn.id] = message.delta.fragment_id
            if on_element is not None:
                on_element(element)
        elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return elements


def widget_id(elements: list, kind: str, key: str) -> str:
    for element in elements:
        if element.WhichOneof("type") == kind and getattr(element, kind).id.endswith(f"-{key}"):
            return getattr(element, kind).id
    raise AssertionError(f"no {kind} with key {key}")


def is_live_heatmap(element, *, final: bool = True) -> bool:
    """The live tab's heatmap: its finished chart (key ``live_heat``), or with ``final=False`` the live player too
    (keys ``live_player_heat_first`` then ``live_player_heat``: the animation's first frame, then all of them,
    played by the browser)."""
    kind = element.WhichOneof("type")
    if kind == "plotly_chart":
        return element.plotly_chart.id.endswith("-live_heat")
    return not final and kind == "bidi_component" and "-live_player_heat" in element.bidi_component.id


def finished_heatmap(elements) -> dict | None:
    """The live heatmap a run left on the page, as plotly JSON: its chart, or right after an animation the
    player's last frame (the finished view: ``streamlit_tabs.draw_frame`` does not draw it again)."""
    for element in reversed(elements):
        kind = element.WhichOneof("type")
        if kind == "plotly_chart" and is_live_heatmap(element):
            return json.loads(element.plotly_chart.spec)
        if kind == "bidi_component" and element.bidi_component.id.endswith("-live_player_heat"):
            data = json.loads(element.bidi_component.json)
            data = json.loads(data) if isinstance(data, str) else data               # the player's data is JSON text
            figure = data["frames"][-1]["figure"]
            return None if figure is None else {"data": figure["data"],
                                                "layout": {**figure["layout"], "template": data["template"]}}
    return None


def stream_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/_stcore/stream"


async def student(url: str, text: str, beam: int) -> dict:
    """Open the page, type ``text``, set the beam size, press Translate; report what came back and when.

    ``page_s``: the first script run (the page); ``first_heatmap_s`` / ``final_s``: from pressing Translate to
    the first frame of the live heatmap, and to the end of the run (the animation's last frame included).
    Like a browser, the student sends no keep-alive pings of its own (it answers the server's): whether the
    server answers pings under load is measured by ``ping_watch``, not left to decide whether a student fails.
    """
    async with websockets.connect(stream_url(url), subprotocols=["streamlit"], origin=url, max_size=None,
                                  ping_interval=None) as ws:
        opened = time.perf_counter()
        await ws.send(rerun())
        first = await run_script(ws)
        page_s = time.perf_counter() - opened
        states = [WidgetState(id=widget_id(first, "text_input", "src_text"), string_value=text),
                  WidgetState(id=widget_id(first, "number_input", "beam"), int_value=beam),
                  WidgetState(id=widget_id(first, "button", "translate"), trigger_value=True)]
        pressed = time.perf_counter()
        first_heatmap = []

        def note(element) -> None:
            if not first_heatmap and is_live_heatmap(element, final=False):
                first_heatmap.append(time.perf_counter() - pressed)

        await ws.send(rerun(states, first.fragment_of(states[-1].id)))     # Translate: its fragment, as a browser
        second = await run_script(ws, note)
        final_s = time.perf_counter() - pressed
    kinds = [e.WhichOneof("type") for e in second]
    heat = finished_heatmap(second)
    return {"text": text, "beam": beam, "page_s": page_s, "first_heatmap_s": first_heatmap[0] if first_heatmap
            else None, "final_s": final_s,
            "exceptions": [e.exception.message for e, k in zip(second, kinds) if k == "exception"],
            "errors": [e.alert.body for e, k in zip(second, kinds) if k == "alert" and e.alert.format == Alert.ERROR],
            "shown": [e.markdown.body for e, k in zip(second, kinds) if k == "markdown"
                      and "lab-translation" in e.markdown.body],
            "heat": heat}


async def ping_watch(url: str, stop: asyncio.Event, every_s: float = 0.5) -> list[float]:
    """One idle connection that pings the server every ``every_s`` until ``stop``: each pong's delay in seconds.

    The server answers pings on its event loop; while script runs hold the interpreter, the answer waits, and a
    browser whose ping goes unanswered for long enough drops the connection. This is the delay it would see.
    """
    delays = []
    async with websockets.connect(stream_url(url), subprotocols=["streamlit"], origin=url, max_size=None,
                                  ping_interval=None) as ws:
        while not stop.is_set():
            sent = time.perf_counter()
            await (await ws.ping())
            delays.append(time.perf_counter() - sent)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)
    return delays


async def classroom(url: str, sentences: list[str], students: int, beams=(1, 2, 3)) -> list[dict]:
    """``students`` sessions at once, student i translating sentence i (in turn) with beam ``beams[i % …]``."""
    return await asyncio.gather(*(student(url, sentences[i % len(sentences)], beams[i % len(beams)])
                                  for i in range(students)))


async def watched_classroom(url: str, sentences: list[str], students: int, beams=(1, 2, 3)) -> tuple[list, list]:
    """``classroom`` with ``ping_watch`` running beside it: (the students' reports, the pong delays)."""
    stop = asyncio.Event()
    watch = asyncio.create_task(ping_watch(url, stop))
    try:
        pages = await classroom(url, sentences, students, beams)
    finally:
        stop.set()
    return pages, await watch
