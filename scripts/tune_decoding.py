"""Choose each HSK model's beam-search penalties on the *validation* split and record them.

    python scripts/tune_decoding.py                 # every models/hsk_*.safetensors
    python scripts/tune_decoding.py hsk_additive    # one

For beam 5, the GNMT length penalty α and coverage penalty β are picked from a small
grid by validation chrF; the test split is then decoded once with the chosen values.
The model file's record gets ``decoding`` (the choice) and ``test["beam5_tuned"]``;
the apps use ``decoding`` as their default settings. Test figures never drive a choice.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import checkpoint  # noqa: E402
from seq2seq_lab.corpus import load_hsk, split_pairs  # noqa: E402
from seq2seq_lab.train import evaluate  # noqa: E402
from seq2seq_lab.translator import Translator  # noqa: E402

ALPHAS, BETAS = (0.0, 0.6, 1.0), (0.0, 0.2, 0.4)


def tune(path: Path, splits: dict) -> dict:
    ckpt = checkpoint.load(path)
    tr = Translator(ckpt, device="cpu")
    grid = {}
    for alpha, beta in itertools.product(ALPHAS, BETAS):
        if beta and tr.config.attention == "none":
            continue                                      # no attention, no coverage
        grid[(alpha, beta)] = evaluate(tr, splits["valid"], beam_size=5, length_penalty=alpha, coverage_penalty=beta)
    (alpha, beta), valid = max(grid.items(), key=lambda kv: (kv[1]["chrf"], kv[1]["bleu"]))
    test = evaluate(tr, splits["test"], beam_size=5, length_penalty=alpha, coverage_penalty=beta)
    ckpt.record["decoding"] = {"beam_size": 5, "length_penalty": alpha, "coverage_penalty": beta,
                               "chosen_by": "validation chrF", "valid": valid}
    ckpt.record.setdefault("test", {})["beam5_tuned"] = test
    checkpoint.save(path, ckpt, half=True)
    return {"alpha": alpha, "beta": beta, "valid": valid, "test": test}


def main(names: list[str]) -> None:
    splits = split_pairs(load_hsk().pairs)
    paths = [ROOT / "models" / f"{n}.safetensors" for n in names] or sorted((ROOT / "models").glob("hsk_*.safetensors"))
    for path in paths:
        r = tune(path, splits)
        print(f"{path.stem}: α={r['alpha']} β={r['beta']}  valid chrF {r['valid']['chrf']:.1f} BLEU "
              f"{r['valid']['bleu']:.1f} → test chrF {r['test']['chrf']:.1f} BLEU {r['test']['bleu']:.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
