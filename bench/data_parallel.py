"""Data-parallel training throughput: one process against two (torchrun, gloo), side by side in one run.

    python bench/data_parallel.py                  # the default RNN's and the Transformer's recipes, on the CPU
    python bench/data_parallel.py --device cuda    # also one GPU process (when there is a GPU)
    python bench/data_parallel.py --quick          # a smoke run (tests/test_bench.py)

Every configuration trains the shipped recipe (``seq2seq_lab/recipes.py``: its architecture, batch size, optimiser,
learning rate and data, the whole everyday training split for the vocabularies) through the real loop,
``train.fit``, for ``--steps`` optimiser steps, in a fresh process (or two, under ``torchrun``):

* ``cpu 1×1``: one process, one torch thread (what one process of a distributed run gets on each core);
* ``cpu 1×2``: one process, two torch threads (the single-process alternative on this 2-core machine);
* ``cpu 2×1``: two processes of one thread each, DistributedDataParallel over gloo, each on its share of the
  same global batches (``seq2seq_lab/distributed.py``);
* ``cuda 1``: one process on the GPU (``--device cuda``).

The figure is target tokens per second over the steps after ``--warmup`` (the whole batch's tokens: the sum
over the ranks' shares), the median over ``--runs``; the configurations alternate within each run, and the
ratios compare configurations of the same run. Writes ``bench/data_parallel-<machine>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

import torch

from seq2seq_lab import train
from seq2seq_lab.recipes import recipe

# isort: split
from common import machine_info, machine_label

RECIPES = ("everyday_additive", "everyday_transformer")
CONFIGS = {"cpu 1×1": ("cpu", 1, 1), "cpu 1×2": ("cpu", 1, 2), "cpu 2×1": ("cpu", 2, 1), "cuda 1": ("cuda", 1, 1)}


def worker(out: Path, name: str, device: str, threads: int, steps: int, max_pairs: int) -> None:
    """One rank: ``fit`` on the recipe, stopped after ``steps`` steps; writes each step's end time and tokens."""
    torch.set_num_threads(threads)
    shipped = recipe(name)
    splits = shipped.splits()
    pairs = splits.train[:max_pairs] if max_pairs else splits.train
    log: list[tuple[float, int]] = []
    real_step = train.train_step

    def timed_step(model, batch, *args, **kwargs):
        result = real_step(model, batch, *args, **kwargs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        log.append((time.perf_counter(), batch.n_tokens))       # this rank's share of the batch
        return result

    train.train_step = timed_step
    config = replace(shipped.train, epochs=1, max_valid=4, probe=None, patience=0, device=device)
    train.fit(pairs, splits.valid[:4], shipped.arch, config, should_stop=lambda: len(log) >= steps, gold=shipped.gold())
    rank = int(os.environ.get("RANK", 0))
    Path(f"{out}.rank{rank}").write_text(json.dumps(log))


def measure(name: str, config: str, args) -> dict:
    """Launch one configuration in fresh processes; tokens/s over the steps after the warm-up."""
    device, processes, threads = CONFIGS[config]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "log"
        command = [str(Path(__file__).resolve()), "--worker", str(out), "--recipe", name, "--device", device,
                   "--threads", str(threads), "--steps", str(args.steps), "--max-pairs", str(args.max_pairs)]
        launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                     str(processes)] if processes > 1 else [sys.executable])
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([*launcher, *command], check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        logs = [json.loads(Path(f"{out}.rank{r}").read_text()) for r in range(processes)]
    times = [t for t, _ in logs[0]]                       # every step ends together on every rank (all-reduce)
    tokens = sum(n for log in logs for _, n in log[args.warmup:])
    seconds = times[-1] - times[args.warmup - 1]
    return {"tokens_per_s": tokens / seconds, "steps": len(times) - args.warmup, "seconds": seconds}


def table(results: dict) -> str:
    configs = list(next(iter(results["recipes"].values()))["median"])
    lines = [f"{'recipe':22} " + " ".join(f"{c:>12}" for c in configs) + "   2×1 / 1×1   2×1 / 1×2",
             "tokens/s (median)"]
    for name, r in results["recipes"].items():
        m = r["median"]
        lines.append(f"{name:22} " + " ".join(f"{m[c]:12.0f}" for c in configs)
                     + f"   {r['ratios']['2x1_over_1x1']:10.2f}   {r['ratios']['2x1_over_1x2']:9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cpu,cuda to add one GPU process")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--steps", type=int, default=40, help="optimiser steps per configuration and run")
    parser.add_argument("--warmup", type=int, default=5, help="first steps not timed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first N pairs only (0 = all)")
    parser.add_argument("--quick", action="store_true", help="2 runs of 4 steps on 2,000 pairs: a smoke run")
    parser.add_argument("--out", default=None, help="the JSON file (default bench/data_parallel-<machine>.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(Path(args.worker), args.recipe, args.device, args.threads, args.steps, args.max_pairs)
        return None
    if args.quick:
        args.steps, args.warmup, args.runs, args.max_pairs = 4, 1, 1, 2000
    devices = args.device.split(",")
    configs = [c for c in CONFIGS if CONFIGS[c][0] in devices]
    results = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine_info(devices),
               "torch_version": torch.__version__, "steps": args.steps, "warmup": args.warmup, "runs": args.runs,
               "max_pairs": args.max_pairs, "recipes": {}}
    started = time.perf_counter()
    for name in args.recipes.split(","):
        runs = {c: [] for c in configs}
        for run in range(args.runs):
            for config in configs:
                print(f"[{time.perf_counter() - started:6.0f} s] {name} {config} run {run + 1}/{args.runs}",
                      file=sys.stderr, flush=True)
                runs[config].append(measure(name, config, args))
        median = {c: statistics.median(r["tokens_per_s"] for r in runs[c]) for c in configs}
        per_run = [{c: runs[c][i]["tokens_per_s"] for c in configs} for i in range(args.runs)]
        ratios = {"2x1_over_1x1": statistics.median(r["cpu 2×1"] / r["cpu 1×1"] for r in per_run),
                  "2x1_over_1x2": statistics.median(r["cpu 2×1"] / r["cpu 1×2"] for r in per_run)}
        if "cuda 1" in configs:
            ratios["cuda_over_best_cpu"] = statistics.median(
                r["cuda 1"] / max(r["cpu 1×1"], r["cpu 1×2"], r["cpu 2×1"]) for r in per_run)
        results["recipes"][name] = {"runs": runs, "median": median, "ratios": ratios}
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(table(results))
    label = machine_label(results["machine"], devices)
    default_out = BENCH_DIR / ("tmp" if args.quick else "") / f"data_parallel-{label}.json"
    out = Path(args.out) if args.out else default_out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
