"""How well a sentence model's attention matches the dictionary's silver links on data it never trained on (#13).

    python bench/silver_alignment.py models/everyday_additive.safetensors /tmp/a/everyday_additive.safetensors …

For each model file: the alignment score (peak on a linked word; mean weight there) against the silver links of
``alignment.pair_gold`` (CC-CEDICT) on the HSK **validation** split and on 400 training sentences, the validation
chrF its training recorded, and the probe score (hand-drawn links, ``probe.tsv``). The guided-alignment weight λ is
chosen on the validation figures; the probe is only reported. Prints a JSON object.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import Translator
from seq2seq_lab.alignment import probe_alignment, silver_alignment
from seq2seq_lab.corpus import load_splits

TRAIN_SAMPLE = 400


def main(paths: list[str]) -> dict:
    splits = load_splits("hsk")
    train = [pair for pair in splits["train"] if not pair.tag][:TRAIN_SAMPLE]
    out = {}
    for path in paths:
        translator = Translator.load(path, device="cpu")
        record = translator.record
        out[path] = {"guided_alignment": record.get("train_config", {}).get("guided_alignment", 0.0),
                     "valid_chrf": record.get("valid", {}).get("chrf"),
                     "silver_valid": silver_alignment(translator, splits["valid"]).as_dict(),
                     "silver_train": silver_alignment(translator, train).as_dict(),
                     "probe": probe_alignment(translator).as_dict()}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
