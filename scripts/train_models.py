"""Train every shipped model from scratch and write them to models/.

    python scripts/train_models.py            # all of them
    python scripts/train_models.py toy        # only the toy-task models
    python scripts/train_models.py hsk_dot    # one model by name
    python scripts/train_models.py everyday   # the models trained on HSK + Tatoeba + dictionary
    python scripts/train_models.py --out /tmp/try everyday_transformer   # elsewhere than models/ (to compare)
    torchrun --standalone --nproc_per_node 2 scripts/train_models.py everyday_additive   # data-parallel

Under torchrun every process trains (DistributedDataParallel, seq2seq_lab/distributed.py) and rank 0
alone prints, measures the test splits and writes the file; the recipe's batch size is the global
batch, so the same recipe gives the same model with any number of processes.

The recipes (data, architecture, training settings) are seq2seq_lab/recipes.py. Each model's
file records its recipe, training history and test-split figures (greedy and beam 5).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import distributed
from seq2seq_lab.alignment import toy_alignment
from seq2seq_lab.checkpoint import save
from seq2seq_lab.recipes import Recipe, recipes
from seq2seq_lab.train import domain_figures, fit, record_test_figures, test_figures
from seq2seq_lab.translator import Translator


def train_one(recipe: Recipe, ctx: distributed.Context = distributed.SINGLE,
              out: Path = ROOT / "models") -> dict | None:
    """Train, measure and save one recipe's model; None on the ranks other than 0 (they only train)."""
    name = recipe.name
    splits = recipe.splits()
    started = time.perf_counter()

    def progress(p):
        if p.event == "epoch":
            print(f"  {name} epoch {p.epoch:2d}  loss {p.loss:.3f}  valid chrF {p.valid['chrf']:.1f} "
                  f"BLEU {p.valid['bleu']:.1f} exact {p.valid['exact']:.3f}  ({p.elapsed:.0f} s)", flush=True)

    result = fit(splits.train, splits.valid, recipe.arch, recipe.train, on_progress=progress, record=splits.record,
                 gold=recipe.gold())
    train_seconds = time.perf_counter() - started
    if not ctx.is_main:
        return None
    tr = Translator(result.checkpoint, device="cpu", names=False)     # the model alone: no stand-in names
    # The first test set is the record's "test" (for HSK models and the everyday ones: the HSK test split, so
    # figures stay comparable across corpora); the others go to "tests".
    scores = test_figures(tr, splits.tests)
    first = next(iter(scores))
    record_test_figures(result.checkpoint.record, scores)
    result.checkpoint.record["train_seconds"] = round(train_seconds, 1)
    if recipe.data.startswith("toy:"):               # a toy task: check its whole domain, and where it looks
        task = recipe.data[4:]
        result.checkpoint.record["domain"] = domain_figures(tr, task, {p.zh for p in splits.train})
        result.checkpoint.record["alignment"] = {**toy_alignment(tr, task, splits["test"]).as_dict(),
                                                 "data": "test"}
        d, a = result.checkpoint.record["domain"], result.checkpoint.record["alignment"]
        print(f"{name} whole domain: {d['exact']:.4%} exact ({d['wrong']} wrong of {d['inputs']}); attention "
              f"argmax on the producing character {a['argmax']:.1%}, mean weight {a['weight']:.2f}", flush=True)
    path = save(out / f"{name}.safetensors", result.checkpoint, half=True)
    for test, figures in scores.items():
        g, b = figures["greedy"], figures["beam5"]
        print(f"{name} {test} test: greedy BLEU {g['bleu']:.1f} chrF {g['chrf']:.1f} exact {g['exact']:.3f} | "
              f"beam5 BLEU {b['bleu']:.1f} chrF {b['chrf']:.1f} exact {b['exact']:.3f}", flush=True)
    print(f"{name}: {train_seconds:.0f} s → {path.name}", flush=True)
    return {"name": name, "seconds": train_seconds, "test": scores[first], "epochs": len(result.history)}


def chosen(selection: list[str]) -> list[Recipe]:
    """The recipes a command line names: all of them, or by model name, "toy" or a data spec ("everyday")."""
    return [r for r in recipes() if not selection or r.name in selection
            or ("toy" in selection and r.data.startswith("toy")) or r.data in selection]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Train the shipped models from scratch.")
    parser.add_argument("selection", nargs="*", help="model names, 'toy' or a data spec ('everyday'); none: all")
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="folder to write to (default: models/)")
    args = parser.parse_args(argv)
    selection = args.selection
    if unknown := [s for s in selection if not chosen([s])]:
        parser.error(f"no recipe matches {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with distributed.session() as ctx:             # a no-op without torchrun
        rows = [train_one(recipe, ctx, args.out) for recipe in chosen(selection)]
    if not ctx.is_main:
        return
    total = time.perf_counter() - started
    lines = ["| model | epochs | train time (s) | test greedy BLEU / chrF / exact | test beam 5 BLEU / chrF / exact |",
             "|---|---|---|---|---|"]
    for r in rows:
        g, b = r["test"]["greedy"], r["test"]["beam5"]
        lines.append(f"| {r['name']} | {r['epochs']} | {r['seconds']:.0f} | {g['bleu']:.1f} / {g['chrf']:.1f} / "
                     f"{g['exact']:.3f} | {b['bleu']:.1f} / {b['chrf']:.1f} / {b['exact']:.3f} |")
    print("\n".join(lines) + f"\n\ntotal: {total:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
