"""Decoding from packed int8 rows (``seq2seq_lab/int8_linear.py``) against the float32 weights, side by side.

    python bench/int8_linear.py                      # writes bench/int8_linear-<machine>.json
    python bench/int8_linear.py --models everyday_transformer --rounds 3

On one torch thread, for each shipped sentence model asked for (default: the Transformer and the additive RNN):
the CPU time of decoding the 52 everyday sentences one at a time, as the apps do — the live view's search
(``Translator.steps(attention_maps=False)``) and the API's ``translate`` (with the Transformer's self-attention
maps) — with beams 1, 3 and 5, the same file loaded twice: as the apps load it (packed) and without packing (float32
``F.linear``). The two alternate within each round, so both see the same machine; the median over rounds. The best
candidate of every sentence (the live search: its whole tree, step by step) must be the same in both (checked),
and the largest score difference is reported. Also the memory a loaded model takes with and without its packed copies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
from common import ROOT, machine_info, write_record

from seq2seq_lab import checkpoint, int8_linear
from seq2seq_lab.corpus import load_everyday
from seq2seq_lab.translator import Translator

MODELS = ("everyday_transformer", "everyday_additive")


def live_search(translator: Translator, text: str, beam: int) -> tuple[str, float]:
    """The whole search tree (each step's nodes: words and status, in any order — two pruned hypotheses a hair
    apart may swap places) and the best finished score."""
    steps = list(translator.steps(text, beam_size=beam, attention_maps=False))
    tree = " || ".join(" | ".join(sorted(f"{' '.join(n.tokens)} {n.status}" for n in step.nodes)) for step in steps)
    finished = [n.log_prob for step in steps for n in step.nodes if n.status == "finished"]
    return tree, max(finished, default=0.0)


def api_translate(translator: Translator, text: str, beam: int) -> tuple[str, float]:
    best = translator.translate(text, beam_size=beam).best
    return best.text, best.score


def decode_all(translator: Translator, decode, texts: list[str], beam: int) -> tuple[float, list]:
    started = time.thread_time()
    outputs = [decode(translator, text, beam) for text in texts]
    return (time.thread_time() - started) * 1000 / len(texts), outputs


def packed_bytes(model: torch.nn.Module) -> int:
    """What the packed copies add: two bytes a weight of every packed layer."""
    return sum(2 * m.weight.numel() for m in model.modules() if isinstance(m, int8_linear.PackedLinear))


def bench_model(name: str, texts: list[str], rounds: int) -> dict:
    path = ROOT / "models" / f"{name}.safetensors"
    fast, plain = Translator.load(path, device="cpu"), Translator(checkpoint.load(path), device="cpu")
    layers = sum(isinstance(m, int8_linear.PackedLinear) for m in fast.model.modules())
    weights = sum(p.numel() * p.element_size() for p in plain.model.parameters())
    result = {"packed_layers": layers, "float32_weights_mb": round(weights / 1e6, 1),
              "packed_copies_mb": round(packed_bytes(fast.model) / 1e6, 1), "paths": {}}
    for path_name, decode in (("live search", live_search), ("api translate", api_translate)):
        beams = {}
        for beam in (1, 3, 5):
            decode_all(plain, decode, texts[:8], beam)                    # warm up both
            decode_all(fast, decode, texts[:8], beam)
            times = {"float32": [], "packed": []}
            worst = 0.0
            for _ in range(rounds):
                plain_ms, expected = decode_all(plain, decode, texts, beam)
                fast_ms, found = decode_all(fast, decode, texts, beam)
                times["float32"].append(plain_ms)
                times["packed"].append(fast_ms)
                for (text_a, score_a), (text_b, score_b), zh in zip(expected, found, texts):
                    if text_a != text_b:
                        raise SystemExit(f"{name} beam {beam}: {zh} → {text_a!r} (float32) vs {text_b!r} (packed)")
                    worst = max(worst, abs(score_a - score_b))
            plain_ms, fast_ms = (statistics.median(times[k]) for k in ("float32", "packed"))
            beams[beam] = {"float32_ms_per_sentence": round(plain_ms, 2), "packed_ms_per_sentence": round(fast_ms, 2),
                           "ratio": round(fast_ms / plain_ms, 3), "max_score_difference": worst}
            print(f"{name} {path_name} beam {beam}: {plain_ms:6.2f} → {fast_ms:6.2f} ms a sentence "
                  f"({fast_ms / plain_ms:.2f}×; scores differ ≤ {worst:.1e})", flush=True)
        result["paths"][path_name] = beams
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if not int8_linear.available():
        raise SystemExit("FBGEMM's fp16 kernel does not run on this CPU: nothing to compare")
    torch.set_num_threads(1)
    texts = [pair.zh for pair in load_everyday()]
    models = {name: bench_model(name, texts, args.rounds) for name in args.models}
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info, "threads": 1,
              "sentences": len(texts), "rounds": args.rounds, "models": models}
    write_record(result, "int8_linear", args.out)
    return result


if __name__ == "__main__":
    main()
