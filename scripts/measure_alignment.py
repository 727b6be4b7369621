"""Measure every shipped model's alignment score and record it in the model file (#13).

    python scripts/measure_alignment.py                  # every model in models/
    python scripts/measure_alignment.py everyday_additive

A toy model is scored on its test split against the generator's gold alignment, a Chinese–English model on the
probe (seq2seq_lab/probe.tsv): the share of output tokens whose attention peak lies on the source token that
produced them, and the mean weight there (seq2seq_lab/alignment.py). The record gets ``alignment``; the apps'
model cards and scripts/models_table.py show it. scripts/train_models.py records it for the toy models as it
trains them; this script (re)measures models trained before it existed. A model without attention gets none.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import checkpoint
from seq2seq_lab.alignment import probe_alignment, toy_alignment
from seq2seq_lab.corpus import load_splits
from seq2seq_lab.translator import Translator


def measure(path: Path) -> dict | None:
    ckpt = checkpoint.load(path)
    translator = Translator(ckpt, device="cpu", names=False)     # the model alone: no stand-in names
    corpus = ckpt.record.get("corpus", "hsk")
    if corpus.startswith("toy:"):
        score, data = toy_alignment(translator, corpus[4:], load_splits(corpus)["test"]), "test"
    else:
        score, data = probe_alignment(translator), "probe"
    if score is None:
        return None
    ckpt.record["alignment"] = {**score.as_dict(), "data": data}
    checkpoint.save(path, ckpt, **({"int8": True} if ckpt.record.get("storage") == "int8-rows" else {"half": True}))
    return ckpt.record["alignment"]


def main(names: list[str]) -> None:
    paths = [ROOT / "models" / f"{n}.safetensors" for n in names] or sorted((ROOT / "models").glob("*.safetensors"))
    for path in paths:
        alignment = measure(path)
        figure = "no attention" if alignment is None else (f"{alignment['argmax']:.1%} of peaks right, mean weight "
                                                           f"{alignment['weight']:.2f} ({alignment['data']})")
        print(f"{path.stem}: {figure}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
