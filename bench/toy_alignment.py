"""Where a toy model's attention peaks, output position by output position, and whether attribution agrees (#13).

    python bench/toy_alignment.py                                   # the shipped toy_dates_iso
    python bench/toy_alignment.py --task dates_iso OLD.safetensors models/toy_dates_iso.safetensors
    git show 9d92d92:models/toy_dates_iso.safetensors > /tmp/old.safetensors   # the file before guided alignment

For each model file, over its task's test split (teacher forcing on the reference, as the alignment score):
the share of peaks on the gold character per output position and kind ("digit", "pad0" for a padding zero,
"dash"), the characters the missed peaks landed on, and — over the first 40 test inputs — how often the peak of
the Integrated Gradients attribution |a_tj| lands on the gold character and the mean Spearman ρ between each
row's attention and attribution (``explain.attribute``, as the apps' "look closer" tab). Prints a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab import Translator
from seq2seq_lab.alignment import teacher_forced_attention, toy_gold
from seq2seq_lab.corpus import load_splits
from seq2seq_lab.explain import attribute
from seq2seq_lab.text import tokenize_target

ATTRIBUTED = 40          # test inputs explained with Integrated Gradients (each a few hundred ms)


def kind(token: str, position: int, tokens: list[str]) -> str:
    """digit, dash, or pad0: a zero that starts a two-digit month or day (2024-03-05's two zeros)."""
    if token == "-":
        return "dash"
    padding = token == "0" and position > 0 and tokens[position - 1] == "-"
    return "pad0" if padding else "digit"


def measure(path: Path, task: str) -> dict:
    translator = Translator.load(path, device="cpu")
    pairs = load_splits(f"toy:{task}")["test"]
    references = [tokenize_target(p.en, translator.config.tgt_detok) for p in pairs]
    attentions = teacher_forced_attention(translator, [p.zh for p in pairs], references)
    peaks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: Counter = Counter()
    for pair, attention, reference in zip(pairs, attentions, references):
        for t, (row, gold) in enumerate(zip(attention, toy_gold(task, pair.zh, pair.en))):
            if gold is None:
                continue
            label = f"{t}:{kind(reference[t], t, reference)}"
            hit = int(row.argmax()) in gold
            peaks[label][0] += hit
            peaks[label][1] += 1
            if not hit:
                missed[f"{label} at {pair.zh[int(row.argmax())]}"] += 1
    hits = sum(h for h, _ in peaks.values())
    total = sum(n for _, n in peaks.values())
    agree, scored, correlations = 0, 0, []
    for pair in pairs[:ATTRIBUTED]:
        tokens = tokenize_target(pair.en, translator.config.tgt_detok)
        explained = attribute(translator, pair.zh, tokens)
        scores = np.abs(explained.scores)[:len(tokens), :len(pair.zh)]
        for row, gold in zip(scores, toy_gold(task, pair.zh, pair.en)):
            if gold is not None:
                agree += int(row.argmax()) in gold
                scored += 1
        correlations += [float(c) for c in explained.correlation[:len(tokens)] if np.isfinite(c)]
    return {"model": str(path), "test_inputs": len(pairs), "peaks_right": round(hits / total, 4),
            "by_position": {label: f"{h}/{n}" for label, (h, n) in sorted(peaks.items(), key=lambda kv: int(
                kv[0].split(":")[0]))},
            "missed_peaks_at": dict(missed.most_common(8)),
            "attribution": {"inputs": ATTRIBUTED, "peak_on_gold": round(agree / scored, 4),
                            "mean_spearman_attention_vs_attribution": round(float(np.mean(correlations)), 3)}}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[ROOT / "models" / "toy_dates_iso.safetensors"])
    parser.add_argument("--task", default="dates_iso", choices=["numbers", "dates_iso", "dates_en"])
    args = parser.parse_args(argv)
    print(json.dumps([measure(path, args.task) for path in args.models], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
