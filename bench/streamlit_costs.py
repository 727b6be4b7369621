"""What Streamlit itself costs the server: an element, and a wait between naps (#12).

    python bench/streamlit_costs.py              # writes bench/streamlit_costs-<machine>.json
    python bench/streamlit_costs.py --reps 12

A press of Translate costs the server the model's search, the frames it sends, and Streamlit's own work: every
element the fragment draws, and the naps of ``streamlit_player.wait`` while the browser plays the animation
(each nap ends by reading the session state, where Streamlit stops a run for a newer one). This bench measures
those two apart, on a small app of one fragment (written to a temporary folder, run with the project's
``.streamlit/config.toml``), one session, its server's CPU-time clock read before and after each fragment run
(``server_cpu.cpu_seconds``). The cases alternate, so the machine's drift falls on all of them alike:

* ``nothing``: the fragment's two widgets only;
* ``100 empties``: and 100 ``st.empty()`` (a plain element: what a block, a caption or an empty costs);
* ``sleep``: and one ``time.sleep`` as long as an animation (2.8 s): the idle server's own work over that time;
* ``wait, nap N s``: and ``streamlit_player.wait`` for as long, with ``NAP = N``.

Figures: the median CPU ms of each case; an element's cost, (100 empties − nothing) / 100; and a wait's cost
beyond the idle server's, wait − sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
import websockets
from common import ROOT, machine_info, write_record
from load import start_streamlit
from server_cpu import cpu_seconds
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit_client import rerun, run_script, stream_url, widget_id

WAIT_S = 2.8            # about a press's animation (the server_cpu bench's presses: 2.6–3 s)
NAPS = (0.1, 0.25)
CASES = ("nothing", "100 empties", "sleep", *(f"wait, nap {nap} s" for nap in NAPS))

APP = f'''
import sys, time
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "demo")!r}]
import streamlit as st
import streamlit_player as player

@st.fragment
def fragment():
    case = st.selectbox("case", {list(CASES)!r}, key="case")
    st.button("go", key="go")
    if case == "100 empties":
        for _ in range(100):
            st.empty()
    elif case == "sleep":
        time.sleep({WAIT_S})
    elif case.startswith("wait"):
        player.NAP = float(case.split()[2])
        player.wait({WAIT_S})

fragment()
'''


async def measure(url: str, pid: int, reps: int) -> dict[str, list[float]]:
    async with websockets.connect(stream_url(url), subprotocols=["streamlit"], origin=url, max_size=None,
                                  ping_interval=None) as ws:
        await ws.send(rerun())
        page = await run_script(ws)
        box, go = widget_id(page, "selectbox", "case"), widget_id(page, "button", "go")
        fragment = page.fragment_of(go)
        spent: dict[str, list[float]] = {case: [] for case in CASES}
        for rep in range(reps + 1):                          # the first round warms up (imports): not counted
            for case in CASES:
                states = [WidgetState(id=box, string_value=case), WidgetState(id=go, trigger_value=True)]
                await asyncio.sleep(0.3)                     # let the server finish sending before reading its clock
                before = cpu_seconds(pid)
                await ws.send(rerun(states, fragment))
                await run_script(ws)
                await asyncio.sleep(0.3)
                if rep:
                    spent[case].append((cpu_seconds(pid) - before) * 1000)
        return spent


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8, help="fragment runs of each case")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "costs_app.py"
        app.write_text(APP, encoding="utf-8")
        server, url = start_streamlit(ROOT / "models", app)
        try:
            spent = asyncio.run(measure(url, server.pid, args.reps))
        finally:
            server.terminate()
            server.wait(timeout=30)
    median = {case: round(statistics.median(values), 2) for case, values in spent.items()}
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info, "wait_s": WAIT_S,
              "reps": args.reps, "cpu_ms_median": median,
              "element_ms": round((median["100 empties"] - median["nothing"]) / 100, 3),
              "wait_beyond_idle_ms": {f"nap {nap} s": round(median[f"wait, nap {nap} s"] - median["sleep"], 2)
                                      for nap in NAPS},
              "cpu_ms": {case: [round(v, 2) for v in values] for case, values in spent.items()}}
    write_record(result, "streamlit_costs", args.out, print_without=("machine", "cpu_ms"))
    return result


if __name__ == "__main__":
    main()
