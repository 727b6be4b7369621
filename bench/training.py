"""Training: throughput of a model's recipe against the tutorial's batch-of-one loop, and time to quality.

* target tokens per second of ``train.train_step`` (the step ``fit`` runs) on the model's recipe and
  data, against ``reference.train_sentences`` on the same sentences (plain Adam, and our fused Adam);
* when the shipped weights were reached, from the model's record, and (``--time-to-quality``) a live
  re-run of the recipe until its test chrF reaches the shipped figure;
* how long each toy recipe takes to reach 95 % exact match.

A model's recipe is read from its own file (architecture from its config, batch size, learning rate,
… from its training record, data from ``record["corpus"]``), so any model file can be timed.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from seq2seq_lab import recipes
from seq2seq_lab.checkpoint import read_metadata
from seq2seq_lab.data import build_vocabs, make_batches, source_ids, tokenize_pairs
from seq2seq_lab.models import build_model, config_for
from seq2seq_lab.train import (
    PRECISIONS,
    TrainConfig,
    evaluate,
    fit,
    keep_freed_memory,
    kept_weights,
    make_criterion,
    make_optimizer,
    train_step,
)
from seq2seq_lab.translator import Translator

# isort: split
import reference  # bench/ (on sys.path: see common.py)
from common import GOAL_TOY_EXACT, Settings, at, model_splits, ratio, sync


def recorded_recipe(meta: dict) -> tuple[dict, TrainConfig]:
    """(ModelConfig fields but the vocabulary sizes, TrainConfig) of a model file's metadata."""
    arch = {k: v for k, v in meta["config"].items() if k not in ("src_vocab_size", "tgt_vocab_size")}
    known = set(TrainConfig.__dataclass_fields__)
    return arch, TrainConfig(**{k: v for k, v in meta.get("record", {}).get("train_config", {}).items() if k in known})


def training_setup(model_path: Path, device: torch.device, *, seed: int = 0):
    """The model's recipe (architecture from its config, batch size / lr / smoothing from its record)
    on the data it was trained on, as a fresh model: (model, batches, examples, vocabs, train config)."""
    meta = read_metadata(model_path)
    arch, recipe = recorded_recipe(meta)
    splits = model_splits(meta)
    examples = tokenize_pairs(splits["train"], arch.get("src_segmenter", "jieba"), arch.get("tgt_detok", "english"))
    src_vocab, tgt_vocab = build_vocabs(examples, min_freq=recipe.min_freq)
    torch.manual_seed(seed)
    model = build_model(config_for(arch, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab))).to(device)
    batches = make_batches(examples, src_vocab, tgt_vocab, batch_size=recipe.batch_size, shuffle=True,
                           rng=random.Random(seed), device=device,
                           char_split_prob=recipe.char_split_prob if arch.get("src_segmenter") != "char" else 0.0)
    return model, batches, examples, src_vocab, tgt_vocab, recipe, meta


class RecipeTrainer:
    """Our training loop, exactly as ``fit`` runs it: :func:`~.train.train_step` with the recipe's
    optimiser, loss, clipping, teacher forcing and precision."""

    def __init__(self, model, recipe, device: torch.device):
        keep_freed_memory()                                            # as fit does
        self.model, self.recipe, self.device = model, recipe, device
        self.optimizer = make_optimizer(model, recipe.lr)
        self.criterion = make_criterion(recipe.label_smoothing)
        self.rng = random.Random(recipe.seed)
        self.loss = float("nan")                                       # the mean loss of the last train() call

    def train(self, batches) -> int:
        """One optimiser step per batch; returns the target tokens trained on."""
        self.model.train()
        tokens, loss_sum = 0, 0.0
        for batch in batches:
            loss, n = train_step(self.model, batch, self.optimizer, self.criterion, clip=self.recipe.clip,
                                 teacher_forcing=self.recipe.teacher_forcing, rng=self.rng,
                                 autocast=PRECISIONS[self.recipe.precision])
            tokens, loss_sum = tokens + n, loss_sum + loss * n
        sync(self.device)
        self.loss = loss_sum / max(1, tokens)
        return tokens


def bench_training(model_path: Path, device: torch.device, settings: Settings) -> dict:
    """Target tokens per second: our batched recipe vs the tutorial's one-sentence-per-step loop."""
    model, batches, examples, src_vocab, tgt_vocab, recipe, meta = training_setup(model_path, device)
    # The tutorial loop as written uses a plain Adam; it also runs with our fused Adam, to show how
    # much of the gap is the optimiser (the tutorial loop takes one optimiser step per sentence).
    tutorials = {}
    for variant in ("tutorial", "tutorial_fused_adam"):
        ref_model = copy.deepcopy(model)
        optimizer = (torch.optim.Adam(ref_model.parameters(), lr=recipe.lr) if variant == "tutorial"
                     else make_optimizer(ref_model, recipe.lr))
        tutorials[variant] = (ref_model, optimizer)

    n = settings.train_batches
    needed = 2 + n * settings.train_runs
    pool = (batches * (needed // max(1, len(batches)) + 1))[:needed]
    trainer = RecipeTrainer(model, recipe, device)
    trainer.train(pool[:2])                                            # warm-up

    def tutorial_pairs(chunk, count: int):
        """``count`` sentences spread evenly over the batches of ``chunk``, one at a time. The batches
        are bucketed by length, so taking the first few sentences would time only short (or only
        long) ones; spreading them keeps the same length mix as our run."""
        indices = [i for b in chunk for i in b.indices]
        picked = [indices[round(k * len(indices) / count)] for k in range(min(count, len(indices)))]
        return [(source_ids(examples[i].src_words, src_vocab), tgt_vocab.encode(examples[i].tgt_tokens))
                for i in picked]

    m = settings.reference_sentences
    for ref_model, optimizer in tutorials.values():
        reference.train_sentences(ref_model, tutorial_pairs(pool[:2], 2), optimizer, clip=recipe.clip)  # warm-up

    rates = {"ours": [], **{variant: [] for variant in tutorials}}
    for r in range(settings.train_runs):                               # interleaved: ours, then each tutorial loop
        at(f"run {r + 1}/{settings.train_runs}")
        chunk = pool[2 + r * n: 2 + (r + 1) * n]
        started = time.perf_counter()
        tokens = trainer.train(chunk)
        rates["ours"].append(tokens / (time.perf_counter() - started))
        sentences = tutorial_pairs(chunk, m)
        for variant, (ref_model, optimizer) in tutorials.items():
            started = time.perf_counter()
            tokens = reference.train_sentences(ref_model, sentences, optimizer, clip=recipe.clip)
            sync(device)
            rates[variant].append(tokens / (time.perf_counter() - started))
    ours_tps, tutorial_tps, fused_tps = (statistics.median(rates[k]) for k in ("ours", "tutorial",
                                                                                "tutorial_fused_adam"))
    return {"device": str(device), "model": model_path.stem, "corpus": meta.get("record", {}).get("corpus", "hsk"),
            "batch_size": recipe.batch_size, "batches_per_run": n, "tutorial_sentences_per_run": m,
            "runs": settings.train_runs, "ours_tokens_per_s": round(ours_tps, 1),
            "tutorial_tokens_per_s": round(tutorial_tps, 1), "speedup": ratio(ours_tps, tutorial_tps),
            "tutorial_fused_adam_tokens_per_s": round(fused_tps, 1),
            "speedup_vs_tutorial_fused_adam": ratio(ours_tps, fused_tps),
            "speedup_median_of_run_ratios": round(statistics.median(
                o / t for o, t in zip(rates["ours"], rates["tutorial"])), 3),   # each run: the same sentences
            "ours_runs": [round(x, 1) for x in rates["ours"]],
            "tutorial_runs": [round(x, 1) for x in rates["tutorial"]],
            "tutorial_fused_adam_runs": [round(x, 1) for x in rates["tutorial_fused_adam"]]}


def time_to_quality_from_record(model_path: Path) -> dict:
    """When the shipped weights were reached, from the model's own training record."""
    record = read_metadata(model_path).get("record", {})
    history, best_epoch = record.get("history", []), record.get("best_epoch", 0)
    out = {"source": "training record in the model file", "model": model_path.stem, "weights": kept_weights(record),
           "test_chrf_greedy": record.get("test", {}).get("greedy", {}).get("chrf"),
           "test_chrf_beam5": record.get("test", {}).get("beam5", {}).get("chrf"),
           "best_epoch": best_epoch, "epochs_run": record.get("epochs_run"),
           "train_seconds_total": record.get("train_seconds", record.get("elapsed_s")),
           "train_config": record.get("train_config"), "trained_on": record.get("date")}
    if best_epoch and len(history) >= best_epoch:
        elapsed = history[best_epoch - 1].get("elapsed")
        out["seconds_to_shipped_weights"] = None if elapsed is None else round(elapsed, 1)
    return out


TIME_TO_QUALITY_TOLERANCE = 0.5   # chrF points: the shipped figure is of int8-stored weights, a re-run is fp32


def time_to_quality_live(model_path: Path, device: torch.device) -> dict:
    """Re-run the model's training recipe with today's code and time how long it takes to reach
    the shipped test chrF (greedy, within 0.5 points).

    After every epoch the model is decoded on the test split; that decoding is timed separately
    and left out of the training time. The run stops once the target is reached (or when the
    recipe itself stops). Its trajectory can differ from the shipped run's: the shipped model may
    have been trained with older code (e.g. other batches), so it is the chrF that is compared,
    not the epoch.
    """
    meta = read_metadata(model_path)
    target = meta.get("record", {}).get("test", {}).get("greedy", {}).get("chrf")
    arch, config = recorded_recipe(meta)
    config = replace(config, device=str(device), probe=None)
    splits = model_splits(meta)
    curve, evaluating = [], {"seconds": 0.0}

    def on_progress(progress) -> None:
        at(f"epoch {progress.epoch}/{progress.epochs}, batch {progress.batch}/{progress.batches}")
        if progress.event != "epoch":
            return
        started = time.perf_counter()
        chrf = evaluate(progress.model, splits["test"], beam_size=1)["chrf"]
        curve.append({"epoch": progress.epoch, "train_seconds": round(progress.elapsed - evaluating["seconds"], 1),
                      "test_chrf_greedy": round(chrf, 2)})
        evaluating["seconds"] += time.perf_counter() - started

    def reached(point: dict) -> bool:
        return target is not None and point["test_chrf_greedy"] >= target - TIME_TO_QUALITY_TOLERANCE

    corpus = meta.get("record", {}).get("corpus", "")
    gold = recipes.Recipe(model_path.stem, corpus, arch, config).gold() if config.guided_alignment else None
    fit(splits["train"], splits["valid"], arch, config, on_progress=on_progress,
        should_stop=lambda: any(reached(p) for p in curve), gold=gold)
    first = next((p for p in curve if reached(p)), None)
    return {"source": "live re-run of the recipe", "device": str(device), "epochs": len(curve),
            "shipped_test_chrf_greedy": target, "tolerance": TIME_TO_QUALITY_TOLERANCE,
            "reached": first is not None,
            "seconds_to_shipped_chrf": first["train_seconds"] if first else None,
            "epoch_reached": first["epoch"] if first else None,
            "best_test_chrf_greedy": max((p["test_chrf_greedy"] for p in curve), default=None),
            "curve": curve}


def bench_toy(device: torch.device, settings: Settings) -> dict:
    """Wall time for each toy recipe (seq2seq_lab/recipes.py) to reach 95 % exact match on its validation split."""
    out = {}
    for task in settings.toy_tasks:
        toy = recipes.recipe(f"toy_{task}")
        splits = toy.splits()
        train_pairs = splits.train[:settings.toy_max_pairs] if settings.toy_max_pairs else splits.train
        config = replace(toy.train, stop_at_exact=GOAL_TOY_EXACT, device=str(device),
                         epochs=settings.toy_max_epochs or toy.train.epochs)
        reached = {}

        def on_progress(p, reached=reached, task=task):
            at(f"{task}: epoch {p.epoch}/{p.epochs}, batch {p.batch}/{p.batches}")
            if p.event == "epoch" and "seconds" not in reached and p.valid["exact"] >= GOAL_TOY_EXACT:
                reached.update(seconds=round(p.elapsed, 1), epoch=p.epoch)

        result = fit(train_pairs, splits.valid, toy.arch, config, on_progress=on_progress, gold=toy.gold())
        test = evaluate(Translator(result.checkpoint, device=device), splits["test"], beam_size=1)
        out[task] = {"reached_95": bool(reached), "seconds": reached.get("seconds"), "epochs": reached.get("epoch"),
                     "epochs_run": len(result.history), "seconds_run": round(result.elapsed, 1),
                     "valid_exact": round(result.history[-1]["valid_exact"], 4), "test_exact": round(test["exact"], 4),
                     "train_pairs": len(train_pairs), "batch_size": config.batch_size}
    return out
