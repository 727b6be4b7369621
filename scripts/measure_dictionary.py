"""How much does a dictionary help? Short trainings of the default recipe with each choice.

    OMP_NUM_THREADS=1 python scripts/measure_dictionary.py hsk --epochs 2 &
    OMP_NUM_THREADS=1 python scripts/measure_dictionary.py hsk+cedict --epochs 2; wait

Trains the everyday recipe (seq2seq_lab/recipes.py) for a few epochs with the given dictionary
(corpus.everyday_splits(dictionary=…)) and prints, per epoch, the validation chrF (greedy, the
first 400 validation sentences: HSK and Tatoeba interleaved) and how many validation source
tokens the model sees as <unk> or as fallback pieces. Writes bench/data_choices/<choice>.json.
Validation only: the test splits are never looked at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.corpus import everyday_splits
from seq2seq_lab.recipes import EVERYDAY_ARCH, EVERYDAY_TRAIN
from seq2seq_lab.text import map_to_vocab, segment_zh
from seq2seq_lab.train import fit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dictionary")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    splits = everyday_splits(dictionary=args.dictionary)
    rows = []

    def progress(p):
        if p.event == "epoch":
            vocab = p.model.src_vocab
            kinds = [t.kind for pair in splits.valid for t in map_to_vocab(segment_zh(pair.zh), vocab)]
            row = {"epoch": p.epoch, "valid_chrf": round(p.valid["chrf"], 2), "valid_bleu": round(p.valid["bleu"], 2),
                   "elapsed_s": round(p.elapsed), "src_vocab": len(vocab),
                   "valid_tokens": {k: kinds.count(k) for k in ("word", "sub", "char", "unk")}}
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)

    started = time.perf_counter()
    config = replace(EVERYDAY_TRAIN, epochs=args.epochs, patience=0)
    fit(splits.train, splits.valid, EVERYDAY_ARCH, config, on_progress=progress)
    out = ROOT / "bench" / "data_choices" / f"{args.dictionary}.json"
    out.write_text(json.dumps({"dictionary": args.dictionary, "train_pairs": len(splits.train),
                               "report": splits.report, "epochs": rows,
                               "wall_s": round(time.perf_counter() - started)}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
