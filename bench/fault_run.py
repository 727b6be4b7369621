"""Fault run (#12): ``kill -9`` of the Streamlit server while a training started in the app runs and a class of
N sessions is connected; then a restart, and what a class finds.

    python bench/fault_run.py                 # 40 sessions; ≈ 2 min; writes bench/fault_run-<machine>.json
    python bench/fault_run.py --sessions 10

1. A copy of ``models/`` (the default and the toy models) in a temporary folder; ``streamlit run`` on it.
2. One session presses the sidebar's **Start training** (its defaults: a toy dates model, 4 epochs), and N
   sessions open the page and translate at once (``streamlit_client.classroom``).
3. Once the training has run for ``--after`` seconds (its thread is inside the server), SIGKILL to the server.
4. Restart on the same folder. Checked: the server answers its health check; no model file is half-written (every
   ``*.safetensors`` in the folder and in ``models/user/`` loads, none is listed as broken); leftover temporary files
   are reported (the server removes them once an hour old); five new sessions translate without an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
import streamlit_client
from common import ROOT, hsk_test_sentences, machine_info, machine_label
from load import start_streamlit
from streamlit.proto.WidgetStates_pb2 import WidgetState

from seq2seq_lab import catalog
from seq2seq_lab.checkpoint import load
from seq2seq_lab.present import catalogue
from seq2seq_lab.settings import Settings

COPIED = (catalog.DEFAULT_MODEL, "toy_numbers", "toy_dates_en", "toy_dates_iso")


async def start_training(url: str) -> tuple[float, bool]:
    """A session that presses "Start training" with the sidebar's defaults; returns when the press was answered,
    and whether the page then showed the training's progress bar (the job is running in the server)."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with streamlit_client.websockets.connect(ws_url, subprotocols=["streamlit"], origin=url,
                                                   max_size=None) as ws:
        await ws.send(streamlit_client.rerun())
        page = await streamlit_client.run_script(ws)
        press = WidgetState(id=streamlit_client.widget_id(page, "button", "train_start"), trigger_value=True)
        await ws.send(streamlit_client.rerun([press]))
        shown = await streamlit_client.run_script(ws)
        return time.perf_counter(), any(e.WhichOneof("type") == "progress" for e in shown)


async def class_and_kill(url: str, process, sessions: int, sentences: list[str], after: float) -> dict:
    started, running = await start_training(url)
    students = asyncio.ensure_future(streamlit_client.classroom(url, sentences, sessions))
    await asyncio.sleep(max(0.0, after - (time.perf_counter() - started)))
    os.kill(process.pid, signal.SIGKILL)
    killed = time.perf_counter()
    results = await asyncio.gather(students, return_exceptions=True)
    pages = results[0] if isinstance(results[0], list) else []
    return {"training_running": running, "training_ran_s": round(killed - started, 1), "sessions": sessions,
            "sessions_finished_before_the_kill": len(pages),
            "sessions_cut_off": sessions - len(pages) if pages else sessions,
            "cut_off_error": None if pages else type(results[0]).__name__}


def check_folder(folder: Path) -> dict:
    files = sorted(folder.rglob("*.safetensors"))
    loads = {}
    for path in files:
        try:
            load(path)
            loads[str(path.relative_to(folder))] = "loads"
        except Exception as error:                       # the finding to report, not a crash of the bench
            loads[str(path.relative_to(folder))] = f"{type(error).__name__}: {error}"
    shelf = catalogue.shelf(Settings(models_dir=folder, device="cpu"))
    return {"model_files": loads, "listed_as_broken": [info.path.name for info in shelf.bad],
            "temporary_files": [str(p.relative_to(folder)) for p in folder.rglob("*.tmp")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--after", type=float, default=8.0, help="seconds of training before the kill")
    args = parser.parse_args()
    sentences = [p.zh for p in hsk_test_sentences(args.sessions)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        for name in COPIED:
            shutil.copy(ROOT / "models" / f"{name}.safetensors", folder)
        process, url = start_streamlit(folder)
        try:
            kill = asyncio.run(class_and_kill(url, process, args.sessions, sentences, args.after))
        finally:
            process.kill()
            process.wait()
        before_restart = check_folder(folder)
        began = time.perf_counter()
        process, url = start_streamlit(folder)
        try:
            back_in_s = time.perf_counter() - began
            pages = asyncio.run(streamlit_client.classroom(url, sentences[:5], 5))
        finally:
            process.kill()
            process.wait()
        after_restart = check_folder(folder)
    bad = [p for p in pages if p["exceptions"] or p["errors"] or p["first_heatmap_s"] is None]
    result = {"command": "python bench/fault_run.py " + " ".join(sys.argv[1:]), "kill": kill,
              "before_restart": before_restart, "restart_s": round(back_in_s, 1),
              "after_restart": after_restart, "new_sessions": len(pages), "new_sessions_failed": len(bad)}
    out = BENCH_DIR / f"fault_run-{machine_label(machine_info(['cpu']), ['cpu'])}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
