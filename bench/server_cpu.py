"""The Streamlit server's CPU time per visitor action: opening the page, and a Translate press (#12).

    python bench/server_cpu.py                       # the default model; writes bench/server_cpu-<machine>.json
    python bench/server_cpu.py --rounds 3
    python bench/server_cpu.py --rounds 1 --sentences 24    # first presses only, 72 of them (side by side)
    python bench/server_cpu.py --profile /tmp/spy.txt   # and a py-spy profile of the presses (needs py-spy)
    python bench/server_cpu.py --model everyday_additive --out bench/server_cpu-<machine>-rnn.json

Starts ``streamlit run demo/streamlit_app.py`` on the shipped models (CPU), then one session at a time, as a
browser does (``streamlit_client``): open the page, type a sentence, set the beam, press Translate and wait for the
run to finish (the live animation included). The server's CPU time is read from ``/proc/<pid>/stat`` (user +
system, every thread) before and after each step, so the figure is the server's work, whatever else the machine
runs (but while it runs other work, torch's threads wait for the cores by spinning, which counts). Another
session stays open meanwhile, as in a class. Sentences: the app's first six examples; beams 1, 3 and 5; each
round presses every pair once. A request some visitor pressed before is replayed from the server's cache (the
animation is the same, the model does no work), so the figures are given for first presses (round 1) and repeated
ones (later rounds) apart. Goal (#12): ≤ 60 ms per Translate press. The idle server's own CPU rate is measured
first (15 s, nobody connected) and also given subtracted over each press's wall time (``…_less_idle``): what the
press itself cost.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
import websockets
from common import ROOT, machine_info, write_record
from load import start_streamlit
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit_client import is_live_heatmap, rerun, run_script, stream_url, widget_id

from seq2seq_lab import catalog
from seq2seq_lab.present import catalogue

TICKS = os.sysconf("SC_CLK_TCK")
LIBC_NAME = ctypes.util.find_library("c")
LIBC = ctypes.CDLL(LIBC_NAME, use_errno=True) if LIBC_NAME else None


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, every thread it has run (ended ones too: Streamlit runs each script run in a thread of
    its own), in nanoseconds: the process's CPU-time clock (``clock_getcpuclockid``). Where that is not to be had,
    user + system from ``/proc/<pid>/stat``, in clock ticks (10 ms: coarse next to a press)."""
    clock = ctypes.c_int()
    if LIBC is not None and LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
        return time.clock_gettime(clock.value)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def idle_cpu_ms_per_s(pid: int, seconds: float = 15.0) -> float:
    """The server's CPU time per second of wall time while nobody asks it for anything: its own background work
    (Streamlit polls its config files every 0.2 s, whatever ``fileWatcherType`` says), which runs during a press
    too and is part of every press's figure, longer for a longer animation."""
    before, started = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) * 1000 / (time.perf_counter() - started)


async def visit(url: str, pid: int, text: str, beam: int, query: str = "") -> dict:
    """One visitor: the page, then one Translate press; the server's CPU seconds for each."""
    async with websockets.connect(stream_url(url), subprotocols=["streamlit"], origin=url, max_size=None,
                                  ping_interval=None) as ws:
        before = cpu_seconds(pid)
        await ws.send(rerun(query=query))
        page = await run_script(ws)
        await asyncio.sleep(0.3)                       # let the server finish sending before reading its clock
        opened = cpu_seconds(pid)
        states = [WidgetState(id=widget_id(page, "text_input", "src_text"), string_value=text),
                  WidgetState(id=widget_id(page, "number_input", "beam"), int_value=beam),
                  WidgetState(id=widget_id(page, "button", "translate"), trigger_value=True)]
        started = time.perf_counter()
        await ws.send(rerun(states, page.fragment_of(states[-1].id), query))   # Translate's fragment, as a browser
        elements = await run_script(ws)
        wall = time.perf_counter() - started
        await asyncio.sleep(0.3)
        pressed = cpu_seconds(pid)
    frames = sum(is_live_heatmap(e, final=False) for e in elements)
    return {"text": text, "beam": beam, "page_ms": round((opened - before) * 1000),
            "translate_ms": round((pressed - opened) * 1000), "translate_wall_ms": round(wall * 1000),
            "translate_window_s": round(wall + 0.3, 3),          # the wall time the CPU figure was read over
            "elements": len(elements), "heatmap_frames": frames}


async def visits_beside_a_class(url: str, pid: int, plan: list[tuple[str, int]], query: str = "") -> list[dict]:
    """The visits one after another while another session stays open, as in a class: Streamlit forgets the
    compiled script when its last session leaves, and a lone visitor would pay for compiling it every time."""
    async with websockets.connect(stream_url(url), subprotocols=["streamlit"], origin=url, max_size=None,
                                  ping_interval=None) as bystander:
        await bystander.send(rerun())
        await run_script(bystander)
        return [await visit(url, pid, text, beam, query) for text, beam in plan]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times through the examples × beams")
    parser.add_argument("--profile", help="record a py-spy profile (raw, collapsed stacks) of the presses here")
    parser.add_argument("--model", default=catalog.DEFAULT_MODEL, help="the model the visitors translate with")
    parser.add_argument("--sentences", type=int, default=6,
                        help="how many of the app's examples (a side-by-side comparison wants more first presses)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    texts = list(catalogue.examples_for("everyday"))[:args.sentences]
    server, url = start_streamlit(ROOT / "models")
    spy = None
    try:
        query = "" if args.model == catalog.DEFAULT_MODEL else f"model={args.model}"
        asyncio.run(visit(url, server.pid, texts[0], 1, query))   # the cold start: not counted
        idle = idle_cpu_ms_per_s(server.pid)
        if args.profile:
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--format", "raw", "--rate", "200",
                                    "--nonblocking", "-o", args.profile], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        plan = [(text, beam) for _ in range(args.rounds) for beam in (1, 3, 5) for text in texts]
        visits = asyncio.run(visits_beside_a_class(url, server.pid, plan, query))
        pressed_before = {(texts[0], 1)}                                       # the cold start's
        for visit_row, request in zip(visits, plan):
            visit_row["decoded_before"] = request in pressed_before
            pressed_before.add(request)
    finally:
        if spy is not None:
            spy.send_signal(2)                         # SIGINT: py-spy writes its profile and exits
            spy.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)

    for visit_row in visits:
        visit_row["translate_ms_less_idle"] = round(visit_row["translate_ms"] - idle * visit_row["translate_window_s"])

    def summary(key: str, rows: list[dict]) -> dict:
        values = [row[key] for row in rows]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info,
              "model": args.model, "visits": len(visits),
              "page_ms": summary("page_ms", visits), "translate_ms": summary("translate_ms", visits),
              "translate_ms_by_beam": {beam: summary("translate_ms", [v for v in visits if v["beam"] == beam])
                                       for beam in (1, 3, 5)},
              **{f"translate_ms_{kind}": summary("translate_ms", rows) for kind, rows in
                 (("first", [v for v in visits if not v["decoded_before"]]),
                  ("repeated", [v for v in visits if v["decoded_before"]])) if rows},
              "idle_cpu_ms_per_s": round(idle, 2),
              **{f"translate_ms_less_idle_{kind}": summary("translate_ms_less_idle", rows) for kind, rows in
                 (("first", [v for v in visits if not v["decoded_before"]]),
                  ("repeated", [v for v in visits if v["decoded_before"]])) if rows},
              "goal_translate_ms": 60, "visits_detail": visits}
    write_record(result, "server_cpu", args.out, print_without=("visits_detail", "machine"))
    return result


if __name__ == "__main__":
    main()
