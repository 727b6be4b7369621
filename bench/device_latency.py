"""One sentence at a time, as the app translates: CPU against GPU, side by side in one run.

    python bench/device_latency.py --devices cpu,cuda --out bench/device_latency-h200.json

The question it answers (bench/README.md, "GPU"): should the app decode a typed sentence on the GPU when
``device="auto"`` finds one? A step of these small models is a few dozen small kernels plus a read-back of the
chosen word, so a GPU may not beat the CPU on one sentence; on a batch it should. For each sentence of the
everyday set and the first HSK test sentences, in a fresh random order of the devices per sentence, greedy and
beam 5 are timed as ``Translator.translate`` runs them (jieba, the search and its step records included); then
``translate_batch`` decodes all of them at once. Medians per device, the GPU / CPU ratio, and whether the two
devices chose the same words.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

from seq2seq_lab.catalog import DEFAULT_MODEL, MODELS_DIR
from seq2seq_lab.corpus import load_everyday, load_hsk, split_pairs
from seq2seq_lab.translator import Translator


def sentences(n_hsk: int) -> list[str]:
    return [p.zh for p in load_everyday()] + [p.zh for p in split_pairs(load_hsk().pairs)["test"][:n_hsk]]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODELS_DIR / f"{DEFAULT_MODEL}.safetensors")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--hsk", type=int, default=60, help="HSK test sentences besides the everyday set")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    devices = args.devices.split(",")
    translators = {d: Translator.load(args.model, device=d) for d in devices}
    texts = sentences(args.hsk)
    rng = random.Random(0)
    times: dict[str, dict[str, list[float]]] = {d: {"greedy": [], "beam5": []} for d in devices}
    words: dict[str, dict[str, list[str]]] = {d: {"greedy": [], "beam5": []} for d in devices}
    for text in texts[:5]:                                       # warm-up: kernels, caches, jieba's dictionary
        for tr in translators.values():
            tr.translate(text, beam_size=5)
    for run in range(args.runs):
        for text in texts:
            for device in rng.sample(devices, len(devices)):
                for strategy, beam in (("greedy", 1), ("beam5", 5)):
                    started = time.perf_counter()
                    result = translators[device].translate(text, beam_size=beam)
                    times[device][strategy].append((time.perf_counter() - started) * 1000)
                    if run == 0:
                        words[device][strategy].append(result.best.text)
    batched = {}
    for device, tr in translators.items():
        started = time.perf_counter()
        tr.translate_batch(texts, beam_size=5)
        batched[device] = round((time.perf_counter() - started) * 1000 / len(texts), 2)
    result = {"model": args.model.name, "sentences": len(texts), "runs": args.runs,
              "cpu_threads": torch.get_num_threads(),
              "devices": {d: translators[d].device_label for d in devices},
              "median_ms": {d: {s: round(statistics.median(v), 2) for s, v in times[d].items()} for d in devices},
              "batched_beam5_ms_per_sentence": batched}
    if len(devices) == 2:
        a, b = devices
        result["ratio"] = {s: round(result["median_ms"][b][s] / result["median_ms"][a][s], 2)
                           for s in ("greedy", "beam5")}
        result["same_words"] = {s: sum(x == y for x, y in zip(words[a][s], words[b][s])) / len(texts)
                                for s in ("greedy", "beam5")}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
