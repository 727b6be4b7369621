"""Train every shipped model from scratch and write them to models/.

    python scripts/train_models.py            # all of them
    python scripts/train_models.py toy        # only the toy-task models
    python scripts/train_models.py hsk_dot    # one model by name
    python scripts/train_models.py everyday   # the models trained on HSK + Tatoeba + dictionary

Each model's file records its recipe, training history and test-split figures
(greedy and beam 5); the run's wall times go to models/TRAINING.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.checkpoint import save  # noqa: E402
from seq2seq_lab.corpus import (CEDICT_ATTRIBUTION, HSK_ATTRIBUTION, TATOEBA_ATTRIBUTION, TOY_TASKS,  # noqa: E402
                                everyday_splits, hsk_glossary, load_hsk, load_splits, split_pairs)
from seq2seq_lab.train import TrainConfig, fit, record_test_figures, test_figures  # noqa: E402
from seq2seq_lab.translator import Translator  # noqa: E402

HSK_ARCH = dict(cell="gru", emb_size=256, hidden_size=256, enc_layers=1, dec_layers=1, bidirectional=True,
                dropout=0.3, lexical=True)
HSK_TRAIN = TrainConfig(epochs=30, batch_size=32, lr=2e-3, label_smoothing=0.1, char_split_prob=0.1, seed=0,
                        patience=6, probe="我爱学习")
# The everyday models: HSK + Tatoeba (~55k sentence pairs) + the HSK word → gloss dictionary (CC-CEDICT on top
# scored 3.5 chrF lower on validation after 2 epochs: bench/data_choices/). Larger batches than HSK's (more
# data, fewer steps per epoch); words and English tokens seen once become <unk>.
EVERYDAY_ARCH = HSK_ARCH
EVERYDAY_TRAIN = TrainConfig(epochs=10, batch_size=64, lr=2e-3, label_smoothing=0.1, char_split_prob=0.1, seed=0,
                             patience=3, min_freq=2, probe="我爱学习")
TOY_ARCH = dict(cell="gru", emb_size=64, hidden_size=128, bidirectional=True, dropout=0.1, src_segmenter="char",
                attention="additive")
TOY_TRAIN = TrainConfig(epochs=15, batch_size=64, lr=3e-3, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                        stop_at_exact=0.99)


def recipes():
    for attention in ("additive", "none", "dot", "general", "scaled_dot"):
        yield f"everyday_{attention}", "everyday", {**EVERYDAY_ARCH, "attention": attention}, EVERYDAY_TRAIN
    for attention in ("additive", "none", "dot", "general", "scaled_dot"):
        yield f"hsk_{attention}", "hsk", {**HSK_ARCH, "attention": attention}, HSK_TRAIN
    for task, spec in TOY_TASKS.items():
        yield f"toy_{task}", f"toy:{task}", {**TOY_ARCH, "tgt_detok": spec.tgt_detok}, TOY_TRAIN


def data_for(corpus: str):
    """(train pairs, valid pairs, {test name: pairs}, record) of one recipe's corpus."""
    if corpus == "everyday":
        splits = everyday_splits()
        sources = [HSK_ATTRIBUTION, TATOEBA_ATTRIBUTION]
        if "cedict" in splits.report["dictionary"]:
            sources.append(CEDICT_ATTRIBUTION)
        record = {"corpus": "everyday", "attribution": " ".join(sources), "data_report": splits.report}
        return splits.train, splits.valid, splits.tests, record
    if corpus == "hsk":
        report = load_hsk()
        splits = split_pairs(report.pairs)
        glossary = hsk_glossary({p.id for p in splits["train"]})      # from the training records only
        record = {"corpus": "hsk", "attribution": HSK_ATTRIBUTION, "cleaning": dict(report.dropped),
                  "glossary_pairs": len(glossary), "split": {k: len(v) for k, v in splits.items()}}
        return splits["train"] + glossary, splits["valid"], {"hsk": splits["test"]}, record
    splits = load_splits(corpus)
    record = {"corpus": corpus, "task": TOY_TASKS[corpus[4:]].title,
              "split": {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits["test"])}}
    return splits.train, splits.valid, splits.tests, record


def train_one(name: str, corpus: str, arch: dict, config: TrainConfig) -> dict:
    train_pairs, valid_pairs, tests, record = data_for(corpus)
    started = time.perf_counter()

    def progress(p):
        if p.event == "epoch":
            print(f"  {name} epoch {p.epoch:2d}  loss {p.loss:.3f}  valid chrF {p.valid['chrf']:.1f} "
                  f"BLEU {p.valid['bleu']:.1f} exact {p.valid['exact']:.3f}  ({p.elapsed:.0f} s)", flush=True)

    result = fit(train_pairs, valid_pairs, arch, config, on_progress=progress, record=record)
    train_seconds = time.perf_counter() - started
    tr = Translator(result.checkpoint, device="cpu")
    # The first test set is the record's "test" (for HSK models and the everyday ones: the HSK test split, so
    # figures stay comparable across corpora); the others go to "tests".
    scores = test_figures(tr, tests)
    first = next(iter(scores))
    record_test_figures(result.checkpoint.record, scores)
    result.checkpoint.record["train_seconds"] = round(train_seconds, 1)
    path = save(ROOT / "models" / f"{name}.safetensors", result.checkpoint, half=True)
    for test, figures in scores.items():
        g, b = figures["greedy"], figures["beam5"]
        print(f"{name} {test} test: greedy BLEU {g['bleu']:.1f} chrF {g['chrf']:.1f} exact {g['exact']:.3f} | "
              f"beam5 BLEU {b['bleu']:.1f} chrF {b['chrf']:.1f} exact {b['exact']:.3f}", flush=True)
    print(f"{name}: {train_seconds:.0f} s → {path.name}", flush=True)
    return {"name": name, "seconds": train_seconds, "test": scores[first], "epochs": len(result.history)}


def main(selection: list[str]) -> None:
    chosen = [r for r in recipes() if not selection or r[0] in selection
              or ("toy" in selection and r[1].startswith("toy")) or (r[1] in selection)]
    started = time.perf_counter()
    rows = [train_one(*recipe) for recipe in chosen]
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
