"""The everyday Transformer's recipe, or a wider or longer variant of it, trained on a GPU and measured.

    python bench/gpu_recipes.py default --out OUT                    # the shipped recipe as it is (10 epochs)
    python bench/gpu_recipes.py d512 --arch '{"d_model": 512, "heads": 8, "ff_size": 2048}' \\
        --train '{"batch_size": 128, "epochs": 30}' --budget-s 380 --out OUT --save

Written for a lent GPU whose time is short (DEVELOPERS.md, "device"): several variants train side by side on one
GPU, each in its own process, and each must end inside the call. With ``--budget-s`` a variant first times the
recipe's start (stopped after 80 batches), then fixes its epoch count so that training ends within the budget:
the linear learning-rate decay then runs to its end, as in the recipe, instead of being cut off. The epochs are
at most ``--train``'s (the recipe's when not given). A deadline 10 % past
the budget stops training regardless (``fit(should_stop=…)``; the record says ``stopped``).

Each run writes ``OUT/<name>.json``: the configuration, the epochs chosen and why, training seconds, the history,
and the test figures (HSK test, Tatoeba test and the everyday set; greedy and plain beam 5, decoded on the device
it trained on), plus the model with ``--save``. The shipped files are trained on the CPU (scripts/train_models.py);
this records how the same recipe and its variants fare on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

from seq2seq_lab.checkpoint import save
from seq2seq_lab.recipes import recipe
from seq2seq_lab.train import fit, test_figures
from seq2seq_lab.translator import Translator, device_name, resolve_device

CALIBRATION_BATCHES = 80
MARGIN = 0.9            # the epochs chosen fill 90 % of the time left


def calibrate(splits, arch: dict, config) -> dict:
    """Seconds of set-up, per training batch and per validation pass, from the recipe's own start stopped after
    ``CALIBRATION_BATCHES`` batches (timed from the 20th: the first ones also warm the device up)."""
    batches: list[float] = []
    validated: list[float] = []

    def progress(p):
        if p.event == "batch":
            batches.append(p.elapsed)
        elif p.event == "epoch":
            validated.append(p.elapsed)

    started = time.perf_counter()
    fit(splits.train, splits.valid, arch, replace(config, epochs=1, average_last=0, ema_decay=0.0),
        on_progress=progress, should_stop=lambda: len(batches) >= CALIBRATION_BATCHES)
    return {"seconds_per_batch": (batches[-1] - batches[19]) / (len(batches) - 20),
            "seconds_per_validation": validated[0] - batches[-1], "setup_seconds": batches[0],
            "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the run's name (its files are OUT/<name>.json, OUT/<name>.safetensors)")
    parser.add_argument("--arch", default="{}", help="JSON: TransformerConfig fields over the recipe's")
    parser.add_argument("--train", default="{}", help="JSON: TrainConfig fields over the recipe's")
    parser.add_argument("--budget-s", type=float, default=0.0,
                        help="seconds from start to the end of training; the epochs are chosen to fit it (0: the "
                             "recipe's epochs)")
    parser.add_argument("--stop-after-s", type=float, default=0.0,
                        help="without --budget-s: stop training this many seconds after the start (0: never)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--save", action="store_true", help="also write the model (float16)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (several runs share the machine)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    base = recipe("everyday_transformer")
    arch = {**base.arch, **json.loads(args.arch)}
    config = replace(base.train, **json.loads(args.train))
    splits = base.splits()
    device = resolve_device(config.device)
    info = {"name": args.name, "device": device_name(device),
            "torch": torch.__version__, "arch": arch, "requested_epochs": config.epochs}
    deadline = started + args.stop_after_s if args.stop_after_s else None
    if args.budget_s:
        cal = calibrate(splits, arch, config)
        batches = math.ceil(len(splits.train) / config.batch_size)
        per_epoch = batches * cal["seconds_per_batch"] + cal["seconds_per_validation"]
        left = args.budget_s - (time.perf_counter() - started) - cal["setup_seconds"]
        epochs = max(1, min(config.epochs, math.floor(MARGIN * left / per_epoch)))
        config = replace(config, epochs=epochs)
        info["calibration"] = {**cal, "estimated_epoch_seconds": per_epoch, "seconds_left": left}
        deadline = started + 1.1 * args.budget_s
        print(f"{args.name}: {cal['seconds_per_batch'] * 1000:.1f} ms a batch, ~{per_epoch:.0f} s an epoch → "
              f"{epochs} epochs", flush=True)

    def progress(p):
        if p.event == "epoch":
            print(f"{args.name} epoch {p.epoch:2d}/{p.epochs}  loss {p.loss:.3f}  valid chrF {p.valid['chrf']:.1f}  "
                  f"({p.elapsed:.0f} s)", flush=True)

    train_started = time.perf_counter()
    result = fit(splits.train, splits.valid, arch, config, on_progress=progress, record=splits.record,
                 should_stop=(lambda: time.perf_counter() > deadline) if deadline else None)
    train_seconds = time.perf_counter() - train_started
    decode_started = time.perf_counter()
    translator = Translator(result.checkpoint, device=str(device), names=False)
    figures = test_figures(translator, splits.tests)
    record = result.checkpoint.record
    info.update(train=asdict(config), train_seconds=round(train_seconds, 1),
                decode_seconds=round(time.perf_counter() - decode_started, 1), best_epoch=result.best_epoch,
                stopped=result.stopped, averaged=record.get("averaged"), valid=record.get("valid"),
                history=result.history, parameters=sum(p.numel() for p in result.checkpoint.model.parameters()),
                test=figures)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(info, indent=1, default=str))
    if args.save:
        record["train_seconds"] = round(train_seconds, 1)
        save(args.out / f"{args.name}.safetensors", result.checkpoint, half=True)
    for test, scores in figures.items():
        g, b = scores["greedy"], scores["beam5"]
        print(f"{args.name} {test}: greedy chrF {g['chrf']:.1f} BLEU {g['bleu']:.1f} | beam5 chrF {b['chrf']:.1f} "
              f"BLEU {b['bleu']:.1f}", flush=True)
    print(f"{args.name}: {len(result.history)} epochs, {train_seconds:.0f} s training, "
          f"{info['decode_seconds']:.0f} s decoding, {info['parameters'] / 1e6:.1f} M parameters", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
