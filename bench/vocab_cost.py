"""What the everyday model's bigger vocabulary costs, and how much <unk> it leaves.

    OMP_NUM_THREADS=1 python bench/vocab_cost.py            # writes bench/vocab_cost.json

For each model (the HSK-only hsk_additive and the everyday RNN as they were, 2026-12-01), on the HSK test split.
hsk_additive is no longer shipped (since 2026-12-03); to run this again, restore it first:
``git show d2399e2:models/hsk_additive.safetensors > models/hsk_additive.safetensors``.

* vocabulary sizes, and the share of reference tokens of each test set that the target vocabulary
  lacks (no search can write those words: the floor for any model with this vocabulary);
* how often the model *wants* to write ``<unk>``: the share of teacher-forced positions whose
  argmax is ``<unk>`` (the search never writes it — ``search._constrain`` forbids it — so this is
  the share of steps where the second-best token is written instead);
* greedy decoding time per sentence, one thread, both models timed on the same sentences in a
  fresh random order per sentence (median of 3 runs), and the output layer's multiply-adds per
  decoder step (V × its input size), the part that grows with the vocabulary.
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.corpus import load_splits
from seq2seq_lab.data import make_batches, tokenize_pairs
from seq2seq_lab.translator import Translator

MODELS = ("hsk_additive", "everyday_additive")


def unk_wanted(tr: Translator, pairs) -> float:
    examples = tokenize_pairs(pairs, "jieba")
    batches = make_batches(examples, tr.src_vocab, tr.tgt_vocab, batch_size=64)
    wanted = total = 0
    with torch.inference_mode():
        for batch in batches:
            logits, _ = tr.model(batch.src, batch.src_lengths, batch.tgt_in)          # (B, T, V)
            real = batch.tgt_out != 0
            wanted += int((logits.argmax(-1)[real] == tr.tgt_vocab.unk_id).sum())
            total += int(real.sum())
    return wanted / max(1, total)


def main() -> None:
    torch.set_num_threads(1)
    splits = load_splits("everyday")
    translators = {name: Translator.load(ROOT / "models" / f"{name}.safetensors", device="cpu") for name in MODELS}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else ""
    out = {"machine": cpu, "threads": 1, "models": {}}
    for name, tr in translators.items():
        generator = tr.model.decoder.generator
        oov = {}
        for test, pairs in splits.tests.items():
            tokens = [t for e in tokenize_pairs(pairs, "jieba") for t in e.tgt_tokens]
            oov[test] = sum(t not in tr.tgt_vocab for t in tokens) / len(tokens)
        out["models"][name] = {
            "src_vocab": len(tr.src_vocab), "tgt_vocab": len(tr.tgt_vocab),
            "output_layer_macs_per_step": generator.in_features * generator.out_features,
            "reference_tokens_outside_vocab": {k: round(v, 4) for k, v in oov.items()},
            "argmax_is_unk_hsk_test": round(unk_wanted(tr, splits.tests["hsk"]), 4)}
    sentences = [p.zh for p in splits.tests["hsk"]]
    rng = random.Random(0)
    times = {name: [] for name in MODELS}
    for text in sentences:
        runs = {name: [] for name in MODELS}
        for _ in range(3):
            order = list(MODELS)
            rng.shuffle(order)
            for name in order:
                started = time.perf_counter()
                translators[name].translate(text, beam_size=1)
                runs[name].append(time.perf_counter() - started)
        for name in MODELS:
            times[name].append(statistics.median(runs[name]) * 1000)
    for name in MODELS:
        out["models"][name]["greedy_ms_median"] = round(statistics.median(times[name]), 2)
    ratios = [b / a for a, b in zip(times[MODELS[0]], times[MODELS[1]])]
    out["greedy_time_ratio_median"] = round(statistics.median(ratios), 3)
    print(json.dumps(out, indent=1))
    (ROOT / "bench" / "vocab_cost.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
