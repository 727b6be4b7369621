"""Benchmarks: ``python bench/run.py`` (see bench/README.md).

Measures, side by side in one run, and writes ``bench/results-<machine>.json`` plus a table:

1. inference latency on the HSK test sentences (greedy and beam 5, jieba included), against
   the tutorial-style reference in ``bench/reference.py`` (same weights) and the PyPI
   package ``cn2en`` when it is installed (``inference.py``);
2. training throughput (target tokens per second) of the model's recipe against the
   tutorial's batch-of-one loop, the time the model's recipe took to reach its shipped quality,
   and the time each toy task takes to reach 95 % exact match (``training.py``);
3. the Streamlit app: start → first heatmap in headless Chromium, and server time per
   translate interaction (``app_timing.py``);
4. peak resident memory of translating and of training, each in a fresh process (``memory.py``);
5. all of it per device: ``--device cpu,cuda`` (or ``auto``) records CPU next to GPU.

Figures are medians of several runs; ratios come from the same run; ``report.py`` checks the goals
and writes the table and the README block. Tests never call the timing paths with real settings
(``tests/test_bench.py`` runs ``--quick`` and checks structure). Progress goes to stderr (:class:`Progress`):
which part runs, how far it has got, the seconds elapsed; stdout has the table, the file the results.

    python bench/run.py                   # full run (≈ 5–7 min on 2 quiet cores, far longer on a busy machine)
    python bench/run.py --quick --skip-app
    python bench/run.py --device cpu,cuda --time-to-quality
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]   # the parts, the package

import torch

from seq2seq_lab.catalog import DEFAULT_MODEL, MODELS_DIR
from seq2seq_lab.checkpoint import read_metadata

# isort: split
import common
from common import GOAL_TOY_EXACT, QUICK, README, ROOT, Settings, hsk_test_sentences, machine_info, machine_label, shown
from report import goals, render_table, update_readme

# The parts that measure are imported where they run: a worker process measuring the memory baseline
# must hold torch and the package only.

PROGRESS_EVERY_S = 15.0          # while a part runs, a progress line on stderr this often


class Progress:
    """Progress on stderr: a line when a part starts and when it ends (with its seconds), and every
    ``every`` seconds while it runs: how far it has got (what the part last said with ``common.at``)
    and the seconds so far. The watcher thread wakes once per ``every`` seconds, too rarely to move
    a median."""

    def __init__(self, every: float = PROGRESS_EVERY_S):
        self.started = time.perf_counter()
        self.every = every
        self.part_seconds: dict[str, float] = {}

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def part(self, name: str):
        self.log(name)
        started, stop = time.perf_counter(), threading.Event()
        common.at("")

        def watch() -> None:
            while not stop.wait(self.every):
                where = common.position()
                self.log(f"{name}: {where + ', ' if where else ''}{time.perf_counter() - started:.0f} s so far")

        watcher = threading.Thread(target=watch, name="bench-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            self.part_seconds[name] = round(time.perf_counter() - started, 1)
            self.log(f"{name}: done in {self.part_seconds[name]:.1f} s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", help=f"model file (default: models/{DEFAULT_MODEL}.safetensors)")
    p.add_argument("--device", default="auto",
                   help="cpu, cuda, cpu,cuda or auto (= cpu, plus cuda when there is a GPU)")
    p.add_argument("--quick", action="store_true", help="a smoke run with tiny settings (seconds to a minute)")
    p.add_argument("--sentences", type=int, help="HSK test sentences to time (default: all)")
    p.add_argument("--runs", type=int, help="repetitions per measurement (default 3)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, one per core)")
    p.add_argument("--skip-inference", action="store_true")
    p.add_argument("--skip-app", action="store_true")
    p.add_argument("--skip-train", action="store_true", help="skip training throughput")
    p.add_argument("--skip-toy", action="store_true", help="skip the toy tasks' time to 95 %% exact")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-cn2en", action="store_true")
    p.add_argument("--time-to-quality", action="store_true",
                   help="also re-train the model's recipe up to the epoch of its shipped weights and check its "
                        "test chrF (long: the whole training run)")
    p.add_argument("--app", default="demo/streamlit_app.py", help="the Streamlit app to start")
    p.add_argument("--out", help="results file (default bench/results-<machine>.json; bench/tmp/ for --quick)")
    p.add_argument("--machine", help="machine label for the file name (default: from the CPU/GPU model)")
    p.add_argument("--no-readme", action="store_true", help="do not refresh the figures in bench/README.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--sentence", action="append", help=argparse.SUPPRESS)
    return p


def parse_devices(spec: str) -> list[str]:
    if spec == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [d.strip() for d in spec.split(",") if d.strip()]


def run_worker(args: list[str], timeout: float = 900) -> dict:
    """Run ``python bench/run.py --worker …`` in a fresh process and read the JSON on its last line."""
    command = [sys.executable, str(BENCH_DIR / "run.py"), *args]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def worker(args, app: Path, model_path: Path, settings: Settings) -> dict:
    """What a child process of the bench (``--worker``) measures: the app's server time, or memory."""
    if args.worker == "app-server":
        from app_timing import app_server_worker

        return app_server_worker(app, args.sentence or [p.zh for p in hsk_test_sentences(3)])
    from memory import memory_worker

    device = torch.device(parse_devices(args.device)[0])
    return memory_worker(args.worker.removeprefix("memory-"), model_path, device, settings)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    settings = QUICK if args.quick else Settings()
    settings = replace(settings, sentences=args.sentences if args.sentences is not None else settings.sentences,
                       runs=args.runs or settings.runs)
    model_path = (Path(args.model) if args.model else MODELS_DIR / f"{DEFAULT_MODEL}.safetensors").resolve()
    if not model_path.is_file():
        print(f"error: model file {model_path} does not exist; train it (python scripts/train_models.py "
              f"{DEFAULT_MODEL}) or pass --model", file=sys.stderr)
        return 2
    app = (Path(args.app) if Path(args.app).is_absolute() else ROOT / args.app).resolve()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.worker:                                                     # a child process of this bench
        print(json.dumps(worker(args, app, model_path, settings)))
        return 0
    from app_timing import bench_app
    from inference import bench_inference
    from training import bench_toy, bench_training, time_to_quality_from_record, time_to_quality_live

    devices = parse_devices(args.device)
    info = machine_info(devices)
    label = args.machine or machine_label(info, devices) + (f"-{args.threads}thread" if args.threads else "")
    results: dict = {
        "schema": 1, "machine_label": label, "machine": info, "quick": settings.quick,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python bench/run.py", *argv]),
        "model": shown(model_path),
        "settings": asdict(settings), "inference": {}, "training": {}, "time_to_quality": {}, "toy": {},
        "alignment": {}, "app": {}, "memory": {}}
    progress = Progress()
    log, part = progress.log, progress.part

    usable = []
    for name in devices:
        if name.startswith("cuda") and not torch.cuda.is_available():
            why = "no GPU available on this machine (torch.cuda.is_available() is False)"
            results["inference"][name] = {"skipped": why}
            results["training"][name] = {"skipped": why}
            log(f"{name}: {why}")
        else:
            usable.append(torch.device(name))

    for device in usable:
        if not args.skip_inference:
            with part(f"inference on {device}"):
                results["inference"][str(device)] = bench_inference(model_path, device, settings,
                                                                    use_cn2en=not args.skip_cn2en)
        if not args.skip_train:
            with part(f"training throughput on {device}"):
                results["training"][str(device)] = bench_training(model_path, device, settings)
    results["time_to_quality"]["record"] = time_to_quality_from_record(model_path)
    if args.time_to_quality:
        with part("time to quality: re-running the recipe"):
            results["time_to_quality"]["live"] = time_to_quality_live(model_path, usable[0] if usable else "cpu")
    if not args.skip_toy:
        for task in settings.toy_tasks:
            with part(f"toy task {task}: time to {GOAL_TOY_EXACT:.0%} exact"):
                results["toy"].update(bench_toy(usable[0] if usable else torch.device("cpu"),
                                                replace(settings, toy_tasks=(task,))))
    # Where each shipped model's attention peaks (#13), as measured into its file by scripts/measure_alignment.py
    for shipped_model in sorted((ROOT / "models").glob("*.safetensors")):
        alignment = read_metadata(shipped_model).get("record", {}).get("alignment")
        if alignment:
            results["alignment"][shipped_model.stem] = alignment
    if not args.skip_app:
        sentences = [p.zh for p in hsk_test_sentences(max(1, settings.app_interactions))]
        with part("app: browser"):
            results["app"]["browser"] = bench_app(app, sentences, settings)
        if app.is_file():
            with part("app: server time (AppTest)"):
                results["app"]["server"] = run_worker(["--worker", "app-server", "--app", str(app), "--model",
                                                       str(model_path)]
                                                      + [a for s in sentences for a in ("--sentence", s)])
    if not args.skip_memory:
        for kind in ("baseline", "translate", "train"):
            for device in usable:
                key = kind if device.type == "cpu" else f"{kind}_{device.type}"
                with part(f"memory: {kind} on {device}"):
                    results["memory"][key] = run_worker(
                        ["--worker", f"memory-{kind}", "--model", str(model_path), "--device", str(device)]
                        + (["--quick"] if settings.quick else [])
                        + (["--threads", str(args.threads)] if args.threads else []))
                if kind == "baseline":
                    break
    with contextlib.suppress(OSError):
        results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["elapsed_s"] = round(time.perf_counter() - progress.started, 1)
    results["part_seconds"] = progress.part_seconds              # what a full run's duration is made of
    results["goals"] = goals(results)

    out = Path(args.out) if args.out else (BENCH_DIR / "tmp" if settings.quick else BENCH_DIR) / f"results-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render_table(results))
    print(f"\nwrote {out}")
    refresh = not settings.quick and not args.no_readme and out.parent.resolve() == BENCH_DIR.resolve()
    if refresh and update_readme():
        print(f"updated the figures in {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
