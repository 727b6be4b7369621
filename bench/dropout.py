"""Dropout's masks on a CPU: the recipes' training step with ``seq2seq_lab.dropout.Dropout`` against ``nn.Dropout``.

    python bench/dropout.py                 # the everyday Transformer's and RNN's recipes, on this CPU
    python bench/dropout.py --quick         # a smoke run (tests/test_bench.py)

Two copies of one freshly initialised model (the recipe's architecture, precision, optimiser and training split)
train on the same batches through ``training.RecipeTrainer`` (fit's step); one copy's dropout layers are turned
back into ``nn.Dropout``, whose CPU kernel draws one Mersenne-Twister number per element. The two alternate chunk
by chunk (neither always first), so both see the same machine. Figures: target tokens a second, the median over
``--rounds`` chunks of ``--batches`` batches, the median of the rounds' ratios, and each copy's mean training loss
over its last round (the masks differ, the distribution does not: the losses should agree). Also the mask alone:
one (64, 30, 512) dropout in training mode, timed both ways. Writes ``bench/dropout-<machine>.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

import torch
from torch import nn

from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
from seq2seq_lab.dropout import Dropout
from seq2seq_lab.models import build_model, config_for
from seq2seq_lab.recipes import recipe

# isort: split
from common import at, machine_info, machine_label, ratio, write_record
from training import RecipeTrainer

RECIPES = ("everyday_transformer", "everyday_additive")
KINDS = ("torch", "ours")          # nn.Dropout's masks, seq2seq_lab.dropout.Dropout's


def with_torch_dropout(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose Dropout layers are plain ``nn.Dropout`` (the same p)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, Dropout):
                setattr(module, name, nn.Dropout(child.p))
    return model


def count_dropouts(model: nn.Module) -> dict[str, int]:
    return {"ours": sum(isinstance(m, Dropout) for m in model.modules()),
            "torch": sum(type(m) is nn.Dropout for m in model.modules())}


def bench_recipe(name: str, *, batches: int, rounds: int, max_pairs: int) -> dict:
    shipped = recipe(name)
    pairs = shipped.splits().train
    pairs = pairs[:max_pairs] if max_pairs else pairs
    segmenter, style = shipped.arch.get("src_segmenter", "jieba"), shipped.arch.get("tgt_detok", "english")
    examples = tokenize_pairs(pairs, segmenter, style)
    src_vocab, tgt_vocab = build_vocabs(examples, min_freq=shipped.train.min_freq)
    pool = make_batches(examples, src_vocab, tgt_vocab, batch_size=shipped.train.batch_size, shuffle=True,
                        rng=random.Random(0), char_split_prob=shipped.train.char_split_prob)
    needed = 1 + rounds * batches
    pool = (pool * (needed // len(pool) + 1))[:needed]
    torch.manual_seed(0)
    model = build_model(config_for(shipped.arch, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab)))
    models = {"ours": copy.deepcopy(model), "torch": with_torch_dropout(model)}
    trainers = {kind: RecipeTrainer(models[kind], shipped.train, torch.device("cpu")) for kind in KINDS}

    def train(kind: str, chunk) -> float:
        started = time.perf_counter()
        return trainers[kind].train(chunk) / (time.perf_counter() - started)

    for kind in KINDS:                                               # warm-up: first touches, kernel choice
        train(kind, pool[:1])
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for r in range(rounds):
        at(f"{name}, round {r + 1}/{rounds}")
        chunk = pool[1 + r * batches: 1 + (r + 1) * batches]
        for kind in (KINDS if r % 2 == 0 else reversed(KINDS)):
            rates[kind].append(train(kind, chunk))
    median = {kind: round(statistics.median(values), 1) for kind, values in rates.items()}
    return {"arch": shipped.arch, "batch_size": shipped.train.batch_size, "precision": shipped.train.precision,
            "batches_per_round": batches, "dropout_layers": count_dropouts(models["ours"]),
            "tokens_per_s": median, "ours_over_torch": ratio(median["ours"], median["torch"]),
            "ours_over_torch_median_of_round_ratios": round(statistics.median(
                o / t for o, t in zip(rates["ours"], rates["torch"])), 3),
            "last_round_loss": {kind: round(trainer.loss, 3) for kind, trainer in trainers.items()},
            "runs": {kind: [round(x, 1) for x in values] for kind, values in rates.items()}}


def bench_mask(p: float = 0.1, shape=(64, 30, 512), repeats: int = 50) -> dict:
    """Milliseconds of one training-mode dropout of a (64, 30, 512) tensor, and the share it dropped."""
    x = torch.ones(shape)
    layers = {"torch": nn.Dropout(p), "ours": Dropout(p)}
    ms, dropped = {}, {}
    for kind, layer in layers.items():
        layer.train()
        layer(x)
        started = time.perf_counter()
        for _ in range(repeats):
            y = layer(x)
        ms[kind] = round((time.perf_counter() - started) / repeats * 1000, 3)
        dropped[kind] = round(float((y == 0).float().mean()), 4)
    return {"p": p, "shape": list(shape), "ms": ms, "ours_over_torch_time": ratio(ms["ours"], ms["torch"]),
            "dropped": dropped}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--batches", type=int, default=25, help="batches a round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first N pairs only (0: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 2 batches, 600 pairs")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.rounds, args.max_pairs = 2, 2, 600
    results = {name: bench_recipe(name, batches=args.batches, rounds=args.rounds, max_pairs=args.max_pairs)
               for name in args.recipes}
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info,
              "threads": torch.get_num_threads(), "rounds": args.rounds, "max_pairs": args.max_pairs,
              "mask": bench_mask(repeats=5 if args.quick else 50), "recipes": results}
    out = args.out or (BENCH_DIR / f"dropout-{machine_label(info, ['cpu'])}.json")
    write_record(result, "dropout", str(out), print_without=())
    return result


if __name__ == "__main__":
    main()
