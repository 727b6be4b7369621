"""Store the sentence models' large matrices as int8 (per-row scales) and re-measure them as stored.

    python scripts/compact_models.py            # every models/hsk_*.safetensors and everyday_*

The shipped models must fit in 60 MB together; five fp16 HSK models take ~72 MB.
This rewrites each one with checkpoint.save(int8=True), then decodes the test split
again with the stored weights, so the figures in each file (and the README) describe
exactly what ships. The fp16 figures are kept under ``record["test_before_int8"]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import checkpoint
from seq2seq_lab.corpus import recorded_splits
from seq2seq_lab.train import record_test_figures, test_figures
from seq2seq_lab.translator import Translator


def main(names: list[str]) -> None:
    models = ROOT / "models"
    paths = ([models / f"{n}.safetensors" for n in names]
             or sorted([*models.glob("hsk_*.safetensors"), *models.glob("everyday_*.safetensors")]))
    for path in paths:
        before = path.stat().st_size
        ckpt = checkpoint.load(path)
        if ckpt.record.get("storage") == "int8-rows":
            print(f"{path.stem}: already int8")
            continue
        ckpt.record["test_before_int8"] = ckpt.record.get("test", {})
        ckpt.record["storage"] = "int8-rows"
        checkpoint.save(path, ckpt, int8=True)
        stored = checkpoint.load(path)
        tr = Translator(stored, device="cpu", names=False)     # as its record was measured
        splits = recorded_splits(stored.record)
        record_test_figures(stored.record, test_figures(tr, splits.tests, stored.record.get("decoding")))
        checkpoint.save(path, stored, int8=True)
        old, test = stored.record["test_before_int8"], stored.record["test"]
        print(f"{path.stem}: {before / 1e6:.1f} → {path.stat().st_size / 1e6:.1f} MB; test beam5 chrF "
              f"{old['beam5']['chrf']:.2f} → {test['beam5']['chrf']:.2f}, BLEU {old['beam5']['bleu']:.2f} → "
              f"{test['beam5']['bleu']:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
