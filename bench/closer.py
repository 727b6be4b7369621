"""How long the "look closer" views take for one sentence, the way the apps compute them (#13).

    python bench/closer.py            # ≈ 1 min; writes bench/closer-<machine>.json

For every shipped sentence model and the numbers toy, over the app's example sentences (the toy: its examples):
coverage (from the beam-5 translation's attention), Integrated Gradients (32 Gauss–Legendre points, doubled up to
256 where completeness needs it; every output word at once), exposure bias (teacher forcing and a greedy run on
the reference) and pinyin for the source tokens. Each figure is the median wall time per sentence, the translation
itself not included; the completeness gap of Integrated Gradients is the largest over the sentences. Goal:
interactive for one sentence — about a second, with a progress indicator beyond that (the apps show one for the
attribution).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(ROOT)]

from common import machine_info, machine_label  # bench/ is a folder of scripts, not a package

from seq2seq_lab import explain
from seq2seq_lab.present import catalogue
from seq2seq_lab.translator import Translator

MODELS = ("everyday_additive", "everyday_transformer", "everyday_scaled_dot", "toy_numbers")


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def one_sentence(tr: Translator, zh: str, en: str) -> dict:
    """Seconds per view for one example (and IG's completeness gap, the output's length)."""
    translation = tr.translate(zh, beam_size=5)
    best = translation.best
    seconds = {"coverage": timed(lambda: explain.coverage(translation.src_tokens, best.attention, 0.2))[0]}
    seconds["attribution"], found = timed(lambda: explain.attribute(tr, zh, best.tokens))
    seconds["exposure"] = timed(lambda: explain.exposure_bias(tr, zh, en))[0]
    seconds["pinyin"] = timed(lambda: [explain.pinyin(w) for w in translation.src_tokens])[0]
    return {"seconds": seconds, "gap": float(abs(found.delta).max()), "tokens": len(best.tokens), "steps": found.steps}


def main() -> None:
    rows = {}
    for name in MODELS:
        tr = Translator.load(ROOT / "models" / f"{name}.safetensors", device="cpu")
        corpus = tr.record.get("corpus", "hsk")
        examples = [e for e in catalogue.examples_for(corpus).values() if e.get("en")][:12]
        found = [one_sentence(tr, e["zh"], e["en"]) for e in examples]
        views = found[0]["seconds"].keys()
        rows[name] = {**{f"{k}_ms": round(1000 * statistics.median(f["seconds"][k] for f in found), 1) for k in views},
                      "attribution_max_ms": round(1000 * max(f["seconds"]["attribution"] for f in found), 1),
                      "ig_gap_max_nats": round(max(f["gap"] for f in found), 4),
                      "ig_steps_max": max(f["steps"] for f in found), "sentences": len(examples),
                      "output_tokens_median": statistics.median(f["tokens"] for f in found)}
        print(name, rows[name], flush=True)
    out = BENCH_DIR / f"closer-{machine_label(machine_info(['cpu']), ['cpu'])}.json"
    out.write_text(json.dumps({"machine": machine_info(["cpu"]), "ig_steps": [explain.IG_STEPS, explain.IG_MAX_STEPS],
                               "models": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
