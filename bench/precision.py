"""Training in bfloat16 against float32: tokens a second of the same recipe, side by side in one run.

    python bench/precision.py                      # the Transformer's and the RNN's recipes, on the CPU
    python bench/precision.py --device cuda        # on the GPU
    python bench/precision.py --quick              # a smoke run (tests/test_bench.py)

``TrainConfig.precision = "bf16"`` runs a training step's forward pass under ``torch.autocast`` in bfloat16 (the
backward follows it; the weights, the optimiser and validation stay float32). For each recipe
(``seq2seq_lab/recipes.py``: its architecture, batch size, optimiser and the everyday training split), two copies of
one freshly initialised model train on the same batches through ``training.RecipeTrainer`` (fit's step), the two
precisions alternating chunk by chunk, so both see the same machine. The figure is target tokens a second, the median
over ``--rounds`` chunks of ``--batches`` batches, and the median of the rounds' ratios; the mean training loss of
each copy's last round says whether bfloat16 learns as float32 does over those steps. A CPU runs bfloat16 fast only
with AVX512-BF16 or AMX (the record keeps ``torch.backends.cpu.get_cpu_capability()``); elsewhere it is emulated.
Writes ``bench/precision-<machine>.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

import torch

from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
from seq2seq_lab.models import build_model, config_for
from seq2seq_lab.recipes import recipe
from seq2seq_lab.train import PRECISIONS

# isort: split
from common import at, machine_info, machine_label, ratio, write_record
from training import RecipeTrainer

RECIPES = ("everyday_transformer", "everyday_additive")


def bench_recipe(name: str, device: torch.device, *, batches: int, rounds: int, max_pairs: int) -> dict:
    """fp32 and bf16 copies of one model, trained on the same batches in alternation: tokens/s and loss."""
    shipped = recipe(name)
    pairs = shipped.splits().train
    pairs = pairs[:max_pairs] if max_pairs else pairs
    segmenter, style = shipped.arch.get("src_segmenter", "jieba"), shipped.arch.get("tgt_detok", "english")
    examples = tokenize_pairs(pairs, segmenter, style)
    src_vocab, tgt_vocab = build_vocabs(examples, min_freq=shipped.train.min_freq)
    pool = make_batches(examples, src_vocab, tgt_vocab, batch_size=shipped.train.batch_size, shuffle=True,
                        rng=random.Random(0), device=device)
    needed = 1 + rounds * batches
    pool = (pool * (needed // len(pool) + 1))[:needed]
    torch.manual_seed(0)
    model = build_model(config_for(shipped.arch, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab)))
    trainers = {precision: RecipeTrainer(copy.deepcopy(model).to(device), replace(shipped.train, precision=precision),
                                         device) for precision in PRECISIONS}

    def train(precision: str, chunk) -> float:
        """Tokens a second of one chunk."""
        started = time.perf_counter()
        return trainers[precision].train(chunk) / (time.perf_counter() - started)

    for precision in PRECISIONS:                                     # warm-up: first touches, kernel choice
        train(precision, pool[:1])
    rates: dict[str, list[float]] = {precision: [] for precision in PRECISIONS}
    for r in range(rounds):
        at(f"{name}, round {r + 1}/{rounds}")
        chunk = pool[1 + r * batches: 1 + (r + 1) * batches]
        order = list(PRECISIONS) if r % 2 == 0 else list(reversed(PRECISIONS))   # neither always goes first
        for precision in order:
            rates[precision].append(train(precision, chunk))
    losses = {precision: trainer.loss for precision, trainer in trainers.items()}
    median = {precision: round(statistics.median(values), 1) for precision, values in rates.items()}
    return {"arch": shipped.arch, "batch_size": shipped.train.batch_size, "batches_per_round": batches,
            "tokens_per_s": median, "bf16_over_fp32": ratio(median["bf16"], median["fp32"]),
            "bf16_over_fp32_median_of_round_ratios": round(statistics.median(
                b / f for b, f in zip(rates["bf16"], rates["fp32"])), 3),
            "last_round_loss": {precision: round(loss, 3) for precision, loss in losses.items()},
            "runs": {precision: [round(x, 1) for x in values] for precision, values in rates.items()}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, default=25, help="batches a round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first N pairs only (0: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 2 batches, 600 pairs")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.rounds, args.max_pairs = 2, 2, 600
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run with --device cpu")
    results = {name: bench_recipe(name, device, batches=args.batches, rounds=args.rounds, max_pairs=args.max_pairs)
               for name in args.recipes}
    info = machine_info([args.device])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info,
              "device": str(device), "threads": torch.get_num_threads(),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(), "rounds": args.rounds,
              "max_pairs": args.max_pairs, "recipes": results}
    out = args.out or (BENCH_DIR / f"precision-{machine_label(info, [args.device])}.json")
    write_record(result, "precision", str(out), print_without=())
    return result


if __name__ == "__main__":
    main()
