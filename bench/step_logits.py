"""A decoding step's output layer: ``layer(x)`` against ``model.step_logits`` (the same product, laid out tall-first).

    python bench/step_logits.py                 # writes bench/step_logits-<machine>.json
    python bench/step_logits.py --model everyday_additive --rounds 6

On one torch thread, for the shipped model (default: the default model) and beams 1, 3 and 5: the CPU time of
decoding the app's everyday examples (``Translator.translate_batch``, one sentence at a time, as the app does), with
the output layer computed as ``layer(x)`` (x Wᵀ + b, what ``nn.Linear`` does) and as ``step_logits`` ((W xᵀ)ᵀ + b),
alternating the two within each round so that both see the same machine; the median over rounds. The outputs of the
two must be the same text (checked). Also the product alone, for one step's rows, with the weights cold in cache
(a 64 MB buffer is written between calls, as a decoding step's other layers evict them).

The model is loaded without packing (``seq2seq_lab/int8_linear.py``): a packed output layer is computed by its own
kernel either way; this compares the two float32 layouts, which a model trained in the app still uses.
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
from common import machine_info, write_record

from seq2seq_lab import catalog, checkpoint, model, settings, transformer
from seq2seq_lab.present import catalogue
from seq2seq_lab.translator import Translator


def through_the_layer(layer, x):
    return layer(x)


def use(product) -> None:
    model.step_logits = transformer.step_logits = product


def decode_all(translator, texts: list[str], beam: int) -> tuple[float, list[str]]:
    started = time.thread_time()
    outputs = [translator.translate_batch([text], beam_size=beam)[0].best.text for text in texts]
    return (time.thread_time() - started) * 1000, outputs


def product_alone(layer, rows: int, repeats: int = 60) -> dict:
    junk = torch.zeros(16 * 1024 * 1024)
    x = torch.randn(rows, layer.in_features)
    times = {"layer": [], "step_logits": []}
    with torch.inference_mode():
        for _ in range(repeats):
            for name, product in (("layer", through_the_layer), ("step_logits", model.step_logits)):
                junk.add_(1.0)                                    # the weights leave the cache
                started = time.perf_counter()
                product(layer, x)
                times[name].append((time.perf_counter() - started) * 1e6)
    return {name: round(statistics.median(values), 1) for name, values in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=catalog.DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    opened = catalogue.open_model(args.model, settings.load())
    translator = Translator(checkpoint.load(opened.path), device="cpu")          # float32 products, not packed
    texts = list(catalogue.examples_for(opened.key))[:8] or list(catalogue.examples_for("everyday"))[:8]
    fast = model.step_logits
    beams = {}
    for beam in (1, 3, 5):
        decode_all(translator, texts, beam)                          # warm up
        times = {"layer": [], "step_logits": []}
        for _ in range(args.rounds):
            for name, product in (("layer", through_the_layer), ("step_logits", fast)):
                use(product)
                ms, outputs = decode_all(translator, texts, beam)
                times[name].append(ms)
                if name == "layer":
                    expected = outputs
                elif outputs != expected:
                    raise SystemExit(f"beam {beam}: the outputs differ: {outputs} vs {expected}")
        use(fast)
        layer_ms, fast_ms = (statistics.median(times[name]) / len(texts) for name in ("layer", "step_logits"))
        beams[beam] = {"layer_ms_per_sentence": round(layer_ms, 2), "step_logits_ms_per_sentence": round(fast_ms, 2),
                       "ratio": round(fast_ms / layer_ms, 3)}
        print(f"beam {beam}: {layer_ms:6.2f} → {fast_ms:6.2f} ms a sentence ({fast_ms / layer_ms:.2f}×)", flush=True)
    generator = translator.model.decoder.generator
    alone = {rows: product_alone(generator, rows) for rows in (1, 3, 5, 10, 12, 15)}
    for rows, figures in alone.items():
        print(f"{rows:2d} rows × {generator.out_features} words: layer {figures['layer']} µs, "
              f"step_logits {figures['step_logits']} µs (cold)")
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info, "model": opened.key,
              "threads": 1, "sentences": texts, "rounds": args.rounds, "decoding": beams,
              "output_layer_alone_us": alone}
    write_record(result, "step_logits", args.out)
    return result


if __name__ == "__main__":
    main()
