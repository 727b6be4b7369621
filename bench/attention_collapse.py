"""Why dot and general attention collapse onto the sentence's end (#13): the numbers behind the story.

    python bench/attention_collapse.py             # the shipped variants, then short HSK training runs (≈ 15 min)
    python bench/attention_collapse.py --shipped   # the shipped models only (seconds)
    python bench/attention_collapse.py --toy       # the shipped models and the sidebar's toy lesson (≈ 2 min)
    python bench/attention_collapse.py --memory tanh --runs dot general   # training runs with a bounded memory
    python bench/attention_collapse.py --scaled --runs dot general        # … with scores divided by √H
    python bench/attention_collapse.py --scaled --toy --runs dot general  # the toy lesson, scores divided by √H

On the alignment probe (seq2seq_lab/probe.tsv, its references fed teacher-forced), for each model:

* **spread** — the score range within one row, max_j s_j − min_j s_j = log α_max − log α_min (the softmax is
  shift-invariant, so the weights give it exactly); a spread of 20 means the largest weight is e²⁰ times the
  smallest: the softmax is saturated. Where a weight underflowed to exactly 0 (the row's share is reported), the
  spread is at least 103 and counted as 103.
* **entropy** H(α_t) in nats (uniform over 8 tokens: 2.08; one-hot: 0).
* **softmax gradient** 1 − Σ_j α_tj², the trace of ∂α/∂s = diag(α) − ααᵀ: how much of a change in the scores gets
  through the softmax to the weights (0 for a one-hot row: the scores then learn nothing).
* **on the end** — the share of rows whose peak is the final punctuation or </s>.
* **alignment** — the probe's score (share of linked words whose peak is on their source word).

The training runs repeat the HSK recipe of each variant for a few epochs and record the same numbers after every
epoch: whether the collapse is there from the start or grows. The toy lesson trains what the app's sidebar trains
by default (toy dates → English, 4 epochs, the form's sizes) with each attention, scored on the toy's gold
alignment instead of the probe. ``--memory tanh`` repeats the training runs with the memory bounded,
k_j = tanh(W_m h_j) (seq2seq_lab/model.py), recorded beside the first ones as "training_memory_tanh";
``--scaled`` with dot's and general's scores divided by √H ("training_scaled"; with ``--toy`` the toy lesson,
"toy_lesson_scaled").
Results: bench/attention_collapse.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(ROOT)]

from seq2seq_lab.alignment import load_probe, probe_alignment, teacher_forced_attention
from seq2seq_lab.recipes import HSK_ARCH, HSK_TRAIN, Recipe
from seq2seq_lab.text import tokenize_target
from seq2seq_lab.train import fit
from seq2seq_lab.translator import Translator

SHIPPED = ("hsk_additive", "everyday_additive", "everyday_scaled_dot", "everyday_dot", "everyday_general")
RUNS = ("dot", "general", "scaled_dot")
PUNCTUATION = set("。！？，.!?,")
FLOAT32_TINY = 1.4e-45          # the smallest float32 above 0: a weight of exactly 0 counts as this (spread ≥ 103)


def row_numbers(attentions) -> dict[str, list]:
    """Per attention row (over every (T, S) matrix): its spread, entropy, softmax gradient, and whether a weight
    underflowed to 0 (a weight below float32's e^−103: the spread is then beyond measure, counted as 103)."""
    numbers = {"spread": [], "entropy": [], "gradient": [], "underflow": []}
    for attention in attentions:
        for row in attention.astype(np.float64):
            kept = row[row > 0]
            numbers["spread"].append(float(np.log(row.max()) - np.log(max(row.min(), FLOAT32_TINY))))
            numbers["entropy"].append(float(-(kept * np.log(kept)).sum()))
            numbers["gradient"].append(float(1.0 - (row ** 2).sum()))
            numbers["underflow"].append(bool((row == 0).any()))
    return numbers


def stats(translator) -> dict:
    """The collapse numbers of one model on the probe (module docstring)."""
    sentences = load_probe()
    references = [tokenize_target(s.en, translator.config.tgt_detok) for s in sentences]
    attentions = teacher_forced_attention(translator, [s.zh for s in sentences], references)
    on_end = []
    for sentence, attention in zip(sentences, attentions):
        src = translator.analyze(sentence.zh).src_tokens
        end = {len(src) - 1} | ({len(src) - 2} if len(src) > 1 and src[-2] in PUNCTUATION else set())
        on_end += [int(row.argmax()) in end for row in attention]
    numbers, score = row_numbers(attentions), probe_alignment(translator)
    return {"spread_median": round(float(np.median(numbers["spread"])), 2),
            "rows_with_a_zero_weight": round(float(np.mean(numbers["underflow"])), 3),
            "entropy_mean": round(float(np.mean(numbers["entropy"])), 3),
            "softmax_gradient_mean": round(float(np.mean(numbers["gradient"])), 3),
            "peak_on_end": round(float(np.mean(on_end)), 3), "alignment": round(score.argmax, 3)}


def shipped() -> dict:
    rows = {}
    for name in SHIPPED:
        rows[name] = stats(Translator.load(ROOT / "models" / f"{name}.safetensors", device="cpu"))
        print(name, rows[name], flush=True)
    return rows


def hsk_variant(attention: str) -> Recipe:
    """The HSK RNN recipe with another attention, its scores unscaled and unguided: the shipped attention variants
    were these until they moved to the everyday data (2026-12-03), and the runs recorded here trained them."""
    return Recipe(f"hsk_{attention}", "hsk", {**HSK_ARCH, "attention": attention}, HSK_TRAIN, glossary=True)


def training_runs(epochs: int, attentions=RUNS, **arch) -> dict:
    """Each attention's HSK recipe for ``epochs`` epochs (``arch`` overrides its architecture), measured after
    every epoch."""
    runs = {}
    for attention in attentions:
        plan = hsk_variant(attention)
        splits = plan.splits()
        curve = []

        def after_epoch(p, curve=curve, attention=attention):
            if p.event == "epoch" and p.model is not None:
                curve.append({"epoch": p.epoch, "valid_chrf": round(p.valid["chrf"], 1), **stats(p.model)})
                print(attention, curve[-1], flush=True)

        started = time.perf_counter()
        fit(splits.train, splits.valid, {**plan.arch, **arch}, replace(plan.train, epochs=epochs, patience=0),
            on_progress=after_epoch, record=splits.record)
        runs[attention] = {"epochs": curve, "seconds": round(time.perf_counter() - started, 1), **arch}
    return runs


def toy_runs(task: str = "toy:dates_en", attentions=("additive", *RUNS), **arch) -> dict:
    """The sidebar's own training (its form's defaults, ``present.training.request``) of a toy task with each
    attention: what a teacher would see running the lesson live. Same numbers, on 300 test examples, per epoch."""
    from seq2seq_lab.alignment import toy_alignment
    from seq2seq_lab.present import training

    runs = {}
    for attention in attentions:
        plan = training.request(task, "lesson", {}, attention=attention, probe=None)
        splits, fixed = plan.splits()
        test, curve = splits["test"][:300], []

        def after_epoch(p, curve=curve, attention=attention, test=test):
            if p.event != "epoch" or p.model is None:
                return
            refs = [tokenize_target(x.en, p.model.config.tgt_detok) for x in test]
            numbers = row_numbers(teacher_forced_attention(p.model, [x.zh for x in test], refs))
            curve.append({"epoch": p.epoch, "valid_exact": round(p.valid["exact"], 3),
                          "spread_median": round(float(np.median(numbers["spread"])), 2),
                          "entropy_mean": round(float(np.mean(numbers["entropy"])), 3),
                          "alignment": round(toy_alignment(p.model, task[4:], test).argmax, 3)})
            print(task, attention, curve[-1], flush=True)

        started = time.perf_counter()
        fit(splits.train, splits.valid, {**plan.arch, **fixed, **arch}, plan.config, on_progress=after_epoch,
            record=splits.record)
        runs[attention] = {"epochs": curve, "seconds": round(time.perf_counter() - started, 1), **arch}
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shipped", action="store_true", help="the shipped models only")
    parser.add_argument("--toy", action="store_true", help="the shipped models and the sidebar's toy lesson only")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of each HSK training run")
    parser.add_argument("--memory", choices=("linear", "tanh"), default="linear",
                        help="tanh: only the training runs (--toy: the toy lesson), with k_j = tanh(W_m h_j)")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=RUNS, help="the attentions to train")
    parser.add_argument("--scaled", action="store_true",
                        help="only the training runs (--toy: the toy lesson), dot's and general's scores ÷ √H")
    args = parser.parse_args()
    out = BENCH_DIR / "attention_collapse.json"
    before = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    if args.memory != "linear" or args.scaled:
        arch = {"memory": args.memory} if args.memory != "linear" else {}
        arch |= {"scaled_scores": True} if args.scaled else {}
        suffix = (f"_memory_{args.memory}" if args.memory != "linear" else "") + ("_scaled" if args.scaled else "")
        if args.toy:
            key, runs = "toy_lesson" + suffix, toy_runs(attentions=args.runs, **arch)
        else:
            key, runs = "training" + suffix, training_runs(args.epochs, args.runs, **arch)
        before = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}   # another run may have written
        out.write_text(json.dumps({**before, key: runs}, indent=1) + "\n", encoding="utf-8")
        print(f"→ {out.relative_to(ROOT)}")
        return
    results = {"shipped": shipped()}
    results["toy_lesson"] = toy_runs() if not args.shipped else before.get("toy_lesson", {})
    results["training"] = (training_runs(args.epochs) if not (args.shipped or args.toy)   # else: the last runs kept
                           else before.get("training", {}))
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
