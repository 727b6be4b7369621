"""Where does the gap to cn2en come from: the model's size, or our code?

    python bench/peer_gap.py [--sentences 200] [--runs 3]

Times greedy decoding, one sentence at a time in a fresh random order per sentence (as the
main bench does), for:

* ours on ``hsk_additive`` (attention + lexical shortcut; the default model when this was written, no longer
  shipped: ``git show d2399e2:models/hsk_additive.safetensors > models/hsk_additive.safetensors`` restores it),
* ours on ``everyday_none`` (no attention, hence no shortcut; the run recorded used the HSK-trained
  ``hsk_none``, shipped until 2026-12-03): about as many decoder weights per step as cn2en reads,
* cn2en 0.0.118,

each with the megabytes of decoder weights one step reads. If per-step time follows the
weights, the gap is the model; if the model without attention is still slower than cn2en per step, the rest
is our per-step work (attention records, alternatives, the output rules, Python).
The output of the committed run is in ``bench/peer_gap-amd-epyc-2cpu.txt``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import Translator

# isort: split
from common import hsk_test_sentences  # bench/ (this script's folder)
from inference import load_cn2en, run_orders, weights_per_step_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    peer, why_not = load_cn2en(torch.device("cpu"))
    if peer is None:
        print(f"cn2en is needed here: {why_not}")
        return 2
    texts = [p.zh for p in hsk_test_sentences(args.sentences)]
    models = {name: Translator.load(ROOT / "models" / f"{name}.safetensors", device="cpu")
              for name in ("hsk_additive", "everyday_none")}

    def steps_run(tr: Translator, text: str) -> int:
        *_, last = tr.steps(text, beam_size=1, n_best=1)
        return last.final.steps

    def translate_run(tr: Translator, text: str) -> int:
        return len(tr.translate(text, beam_size=1).best.tokens)

    systems = {}
    for name, tr in models.items():
        systems[f"ours {name} (steps)"] = (lambda t, tr=tr: steps_run(tr, t), tr.model.decoder)
        systems[f"ours {name} (translate)"] = (lambda t, tr=tr: translate_run(tr, t), tr.model.decoder)
    systems["cn2en 0.0.118"] = (lambda t: len(peer.translate(t).split()) + 1, peer.decoder)

    for text in texts[:3]:                                              # warm-up
        for run, _ in systems.values():
            run(text)
    seconds = {name: [[] for _ in texts] for name in systems}
    steps = {name: [0] * len(texts) for name in systems}
    orders = run_orders(list(systems), args.runs * len(texts), seed=1)
    for repetition in range(args.runs):
        for i, text in enumerate(texts):
            for name in orders[repetition * len(texts) + i]:
                started = time.perf_counter()
                steps[name][i] = systems[name][0](text)
                seconds[name][i].append(time.perf_counter() - started)

    print(f"{len(texts)} HSK test sentences × {args.runs} runs, torch threads {torch.get_num_threads()}")
    print(f"{'system':34} {'MB/step':>8} {'ms/sentence':>12} {'ms/step':>8}")
    for name, (_, decoder) in systems.items():
        per_sentence = [statistics.median(ts) for ts in seconds[name]]
        per_step = [s / max(1, n) for s, n in zip(per_sentence, steps[name])]
        print(f"{name:34} {weights_per_step_bytes(decoder) / 2**20:8.1f} "
              f"{statistics.median(per_sentence) * 1000:12.2f} {statistics.median(per_step) * 1000:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
