"""The default model's recipe without the </s> sink (#13): does its attention align, and what does it cost?

    python bench/everyday_alignment.py state+token     # 91 min beside other work
    python bench/everyday_alignment.py state           # 68 min alone on 2 cores (about 400 s an epoch)

Trains ``everyday_additive``'s recipe as it was when these runs were made (seq2seq_lab/recipes.py: data, sizes,
seed; ten epochs, no guided alignment: since 2026-12-03 it trains three epochs, guided) with two changes —
attention may not rest on the source's closing ``</s>`` (``attend_eos=False``) and the query is ``state+token``
([s_{t−1}; E'[y_{t−1}]], the argument) or ``state`` — then prints the probe alignment and the beam-5 chrF on each
test split, and writes the model to /tmp (it is not shipped). The recorded runs are in
``bench/everyday_alignment-state+token.log`` (probe 76.9 %, everyday chrF 61.7) and
``bench/everyday_alignment-state.log`` (probe 41.7 %, everyday chrF 72.9; the shipped default: 27.8 %, 70.3).
"""

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.alignment import probe_alignment
from seq2seq_lab.checkpoint import save
from seq2seq_lab.recipes import recipe
from seq2seq_lab.train import fit, record_test_figures, test_figures
from seq2seq_lab.translator import Translator


def main(query: str) -> None:
    plan = recipe("everyday_additive")
    arch = {**plan.arch, "attend_eos": False, "query": query}
    splits = plan.splits()
    started = time.perf_counter()

    def progress(p):
        if p.event == "epoch":
            print(f"epoch {p.epoch} loss {p.loss:.3f} valid chrF {p.valid['chrf']:.1f} ({p.elapsed:.0f} s)",
                  flush=True)

    train = replace(plan.train, epochs=10, guided_alignment=0.0)          # the recipe of the recorded runs
    result = fit(splits.train, splits.valid, arch, train, on_progress=progress, record=splits.record)
    translator = Translator(result.checkpoint, device="cpu")
    print("probe", probe_alignment(translator).as_dict(), flush=True)
    scores = test_figures(translator, splits.tests)
    record_test_figures(result.checkpoint.record, scores)
    result.checkpoint.record["train_seconds"] = round(time.perf_counter() - started, 1)
    save(Path("/tmp") / f"everyday_additive_{query.replace('+', '_')}.safetensors", result.checkpoint, half=True)
    print(json.dumps({split: {decoding: round(figures["chrf"], 1) for decoding, figures in by.items()}
                      for split, by in scores.items()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "state+token")
