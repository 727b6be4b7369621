"""Choose each model's beam-search penalties on the *validation* split and record them.

    python scripts/tune_decoding.py                     # every models/hsk_*.safetensors and everyday_*
    python scripts/tune_decoding.py everyday_additive   # one

For beam 5, the GNMT length penalty α and coverage penalty β are picked from a small grid by
validation chrF **with every output that repeats a word or n-gram counted as wrong**
(``train.evaluate``'s ``chrf_repeats_wrong``): plain chrF weighs recall twice as much as
precision and rose with settings that padded translations with repeats ("I is a student
student."). Ties go to the smaller penalties. The test splits are then decoded once with the
chosen values. The model file's record gets ``decoding`` (the choice, with the whole grid) and
``beam5_tuned`` figures on every test set; the apps use ``decoding`` as their default settings. Test figures never
drive a choice.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import checkpoint  # noqa: E402
from seq2seq_lab.corpus import load_splits  # noqa: E402
from seq2seq_lab.train import evaluate, record_test_figures, test_figures  # noqa: E402
from seq2seq_lab.translator import Translator  # noqa: E402

ALPHAS, BETAS = (0.0, 0.2, 0.6, 1.0), (0.0, 0.2, 0.4)
CRITERION = "chrf_repeats_wrong"


def tune(path: Path) -> dict:
    ckpt = checkpoint.load(path)
    splits = load_splits(ckpt.record.get("corpus", "hsk"))
    tr = Translator(ckpt, device="cpu")
    grid = {}
    for alpha, beta in itertools.product(ALPHAS, BETAS):
        if beta and tr.config.attention == "none":
            continue                                      # no attention, no coverage
        grid[(alpha, beta)] = evaluate(tr, splits.valid, beam_size=5, length_penalty=alpha, coverage_penalty=beta)
    (alpha, beta), valid = max(grid.items(), key=lambda kv: (round(kv[1][CRITERION], 1), -kv[0][0] - kv[0][1]))
    options = dict(beam_size=5, length_penalty=alpha, coverage_penalty=beta)
    ckpt.record["decoding"] = {**options, "chosen_by": "validation chrF, outputs with repeats counted as wrong",
                               "valid": valid,
                               "grid": [{"length_penalty": a, "coverage_penalty": b, "chrf": m["chrf"],
                                         CRITERION: m[CRITERION], "repeats": m["repeats"]}
                                        for (a, b), m in grid.items()]}
    record_test_figures(ckpt.record, test_figures(tr, splits.tests, ckpt.record["decoding"]))
    checkpoint.save(path, ckpt, half=True)
    return {"alpha": alpha, "beta": beta, "valid": valid, "test": ckpt.record["test"]["beam5_tuned"]}


def main(names: list[str]) -> None:
    models = ROOT / "models"
    paths = ([models / f"{n}.safetensors" for n in names]
             or sorted([*models.glob("hsk_*.safetensors"), *models.glob("everyday_*.safetensors")]))
    for path in paths:
        r = tune(path)
        print(f"{path.stem}: α={r['alpha']} β={r['beta']}  valid {CRITERION} {r['valid'][CRITERION]:.1f} "
              f"(chrF {r['valid']['chrf']:.1f}, repeats {r['valid']['repeats']:.1%}) → test chrF "
              f"{r['test']['chrf']:.1f} BLEU {r['test']['bleu']:.1f} repeats {r['test']['repeats']:.1%}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
