"""The Transformer against the default RNN, side by side in one run: decoding latency and training throughput.

    python bench/families.py                       # on the CPU, and on CUDA too when there is a GPU
    python bench/families.py --device cpu          # one device
    python bench/families.py --quick               # a smoke run (tests/test_bench.py)

Decoding: every HSK test sentence through both models, greedy and beam 5, each with the per-step records
the live view uses (``Translator.steps``) and without (``Translator.translate``), the systems in a fresh
random order for every sentence (``inference.run_orders``); the figure is each system's median over
sentences of its median over runs. Training: target tokens per second of each model's own recipe
(``train.train_step`` on its recorded batch size, optimiser and loss, the data it was trained on),
alternating the two models run by run. Ratios are Transformer / RNN within the same run.
Writes ``bench/families-<machine>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

import torch

from seq2seq_lab.catalog import DEFAULT_MODEL, MODELS_DIR
from seq2seq_lab.translator import Translator

# isort: split
from common import QUICK, Settings, at, hsk_test_sentences, machine_info, machine_label, ratio, summarize, sync
from inference import run_orders
from training import RecipeTrainer, training_setup

TRANSFORMER = "everyday_transformer"


def bench_decoding(paths: dict[str, Path], device: torch.device, settings: Settings) -> dict:
    """Per-sentence latency of greedy and beam 5, with and without step records, for each model."""
    translators = {name: Translator.load(path, device=device) for name, path in paths.items()}
    texts = [p.zh for p in hsk_test_sentences(settings.sentences)]

    def steps_run(tr: Translator, beam: int):
        def run(text: str) -> int:
            *_, last = tr.steps(text, beam_size=beam, n_best=beam)
            return last.final.steps
        return run

    def translate_run(tr: Translator, beam: int):
        def run(text: str) -> int:
            return len(tr.translate(text, beam_size=beam, n_best=beam).best.tokens)
        return run

    systems = {}
    for name, tr in translators.items():
        for beam, label in ((1, "greedy"), (5, "beam5")):
            systems[f"{name} {label} steps"] = steps_run(tr, beam)
            systems[f"{name} {label} translate"] = translate_run(tr, beam)
    for text in texts[:settings.warmup] or texts[:1]:
        for run in systems.values():
            run(text)
    times = {name: [[] for _ in texts] for name in systems}
    steps = {name: [0] * len(texts) for name in systems}
    orders = run_orders(list(systems), settings.runs * len(texts), seed=0)
    for repetition in range(settings.runs):
        for i, text in enumerate(texts):
            at(f"decoding on {device}: run {repetition + 1}/{settings.runs}, sentence {i + 1}/{len(texts)}")
            for name in orders[repetition * len(texts) + i]:
                sync(device)
                started = time.perf_counter()
                steps[name][i] = systems[name](text)
                sync(device)
                times[name][i].append(time.perf_counter() - started)
    per_sentence = {name: [statistics.median(ts) for ts in times[name]] for name in systems}
    result = {"device": next(iter(translators.values())).device_label, "sentences": len(texts),
              "runs": settings.runs, "systems": {name: summarize(per_sentence[name], steps[name]) for name in systems}}
    rnn, transformer = paths
    result["transformer_over_rnn"] = {
        kind: ratio(statistics.median(per_sentence[f"{transformer} {kind}"]),
                    statistics.median(per_sentence[f"{rnn} {kind}"]))
        for kind in ("greedy steps", "greedy translate", "beam5 steps", "beam5 translate")}
    return result


def bench_training(paths: dict[str, Path], device: torch.device, settings: Settings) -> dict:
    """Target tokens per second of each model's own training recipe, the two alternating run by run."""
    trainers, pools = {}, {}
    n = settings.train_batches
    for name, path in paths.items():
        at(f"training on {device}: preparing {name}")
        model, batches, _, _, _, recipe, _ = training_setup(path, device)
        trainers[name] = RecipeTrainer(model, recipe, device)
        needed = 2 + n * settings.train_runs
        pools[name] = (batches * (needed // max(1, len(batches)) + 1))[:needed]
        trainers[name].train(pools[name][:2])                               # warm-up
    rates = {name: [] for name in paths}
    for r in range(settings.train_runs):
        for name in (list(paths) if r % 2 == 0 else list(paths)[::-1]):
            at(f"training on {device}: run {r + 1}/{settings.train_runs}, {name}")
            chunk = pools[name][2 + r * n: 2 + (r + 1) * n]
            started = time.perf_counter()
            tokens = trainers[name].train(chunk)
            rates[name].append(tokens / (time.perf_counter() - started))
    result = {"device": str(device), "batches_per_run": n, "runs": settings.train_runs,
              "tokens_per_s": {name: round(statistics.median(r), 1) for name, r in rates.items()},
              "batch_size": {name: t.recipe.batch_size for name, t in trainers.items()},
              "parameters": {name: sum(p.numel() for p in t.model.parameters()) for name, t in trainers.items()}}
    rnn, transformer = paths
    result["transformer_over_rnn"] = ratio(result["tokens_per_s"][transformer], result["tokens_per_s"][rnn])
    return result


def table(results: dict) -> str:
    lines = ["| device | system | median ms / sentence | ms / step |", "|---|---|---|---|"]
    for device, part in results["decoding"].items():
        for name, entry in part["systems"].items():
            lines.append(f"| {device} | {name} | {entry['median_ms']:.1f} | {entry.get('per_step_median_ms', 0):.2f} |")
    lines += ["", "| device | model | training tokens / s | parameters |", "|---|---|---|---|"]
    for device, part in results["training"].items():
        for name, rate in part["tokens_per_s"].items():
            lines.append(f"| {device} | {name} | {rate:,.0f} | {part['parameters'][name]:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or a list (cpu,cuda); auto: cpu, and cuda if any")
    parser.add_argument("--quick", action="store_true", help="a smoke run: a few sentences and batches")
    parser.add_argument("--sentences", type=int, default=0, help="HSK test sentences to time (0 = all 427)")
    parser.add_argument("--models-dir", default=str(MODELS_DIR))
    parser.add_argument("--rnn", default=DEFAULT_MODEL)
    parser.add_argument("--transformer", default=TRANSFORMER)
    parser.add_argument("--out", default=None, help="the JSON file (default bench/families-<machine>.json)")
    args = parser.parse_args(argv)
    devices = (["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto"
               else args.device.split(","))
    settings = QUICK if args.quick else Settings()
    if args.sentences:
        settings = replace(settings, sentences=args.sentences)
    folder = Path(args.models_dir)
    paths = {args.rnn: folder / f"{args.rnn}.safetensors", args.transformer: folder / f"{args.transformer}.safetensors"}
    info = machine_info(devices)
    results = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info,
               "quick": settings.quick, "decoding": {}, "training": {}}
    for device in devices:
        print(f"[families] decoding on {device}", file=sys.stderr, flush=True)
        results["decoding"][device] = bench_decoding(paths, torch.device(device), settings)
        print(f"[families] training on {device}", file=sys.stderr, flush=True)
        results["training"][device] = bench_training(paths, torch.device(device), settings)
    out = Path(args.out) if args.out else BENCH_DIR / f"families-{machine_label(info, devices)}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten: {out}")
    return results


if __name__ == "__main__":
    main()
