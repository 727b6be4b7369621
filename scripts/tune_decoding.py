"""Choose each model's beam-search penalties on the *validation* split and record them.

    python scripts/tune_decoding.py                     # every models/hsk_*.safetensors and everyday_*
    python scripts/tune_decoding.py everyday_additive   # one

For beam 5, the GNMT length penalty α, the coverage penalty β and n-gram blocking (none, or no
repeated bigram) are picked from a small grid by validation chrF **with every output that repeats
a word or n-gram counted as wrong** (``train.evaluate``'s ``chrf_repeats_wrong``): plain chrF
weighs recall twice as much as precision and rose with settings that padded translations with
repeats ("I is a student student."). A setting that repeats more often than plain beam search
is never chosen; ties go to the smaller penalties. The test splits are then decoded once with the
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

from seq2seq_lab import checkpoint
from seq2seq_lab.corpus import recorded_splits
from seq2seq_lab.train import evaluate, record_test_figures, test_figures
from seq2seq_lab.translator import Translator

ALPHAS, BETAS, NO_REPEAT = (0.0, 0.6, 1.0), (0.0, 0.2), (0, 2)
CRITERION = "chrf_repeats_wrong"


def tune(path: Path) -> dict:
    ckpt = checkpoint.load(path)
    splits = recorded_splits(ckpt.record)
    tr = Translator(ckpt, device="cpu", names=False)     # the model alone: no stand-in names
    grid = {}
    for alpha, beta, no_repeat in itertools.product(ALPHAS, BETAS, NO_REPEAT):
        if beta and tr.config.attention == "none":
            continue                                      # no attention, no coverage
        grid[(alpha, beta, no_repeat)] = evaluate(tr, splits.valid, beam_size=5, length_penalty=alpha,
                                                  coverage_penalty=beta, no_repeat_ngram_size=no_repeat)
    plain = grid[(0.0, 0.0, 0)]["repeats"]
    allowed = {k: m for k, m in grid.items() if m["repeats"] <= plain}
    (alpha, beta, no_repeat), valid = max(allowed.items(), key=lambda kv: (round(kv[1][CRITERION], 1), -sum(kv[0])))
    options = {"beam_size": 5, "length_penalty": alpha, "coverage_penalty": beta, "no_repeat_ngram_size": no_repeat}
    ckpt.record["decoding"] = {**options, "chosen_by": "validation chrF, outputs with repeats counted as wrong, "
                                                       "no more repeats than plain beam", "valid": valid,
                               "grid": [{"length_penalty": a, "coverage_penalty": b, "no_repeat_ngram_size": n,
                                         "chrf": m["chrf"], CRITERION: m[CRITERION], "repeats": m["repeats"]}
                                        for (a, b, n), m in grid.items()]}
    record_test_figures(ckpt.record, test_figures(tr, splits.tests, ckpt.record["decoding"]))
    # Keep the file's storage: int8 rows stay int8 rows (re-saving them as fp16 would double the file).
    checkpoint.save(path, ckpt, **({"int8": True} if ckpt.record.get("storage") == "int8-rows" else {"half": True}))
    return {"alpha": alpha, "beta": beta, "no_repeat": no_repeat, "valid": valid,
            "test": ckpt.record["test"]["beam5_tuned"]}


def main(names: list[str]) -> None:
    models = ROOT / "models"
    paths = ([models / f"{n}.safetensors" for n in names]
             or sorted([*models.glob("hsk_*.safetensors"), *models.glob("everyday_*.safetensors")]))
    for path in paths:
        r = tune(path)
        print(f"{path.stem}: α={r['alpha']} β={r['beta']} no-repeat {r['no_repeat']}  "
              f"valid {CRITERION} {r['valid'][CRITERION]:.1f} "
              f"(chrF {r['valid']['chrf']:.1f}, repeats {r['valid']['repeats']:.1%}) → test chrF "
              f"{r['test']['chrf']:.1f} BLEU {r['test']['bleu']:.1f} repeats {r['test']['repeats']:.1%}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
