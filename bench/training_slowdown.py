"""How much one visitor's training slows everybody else's translations (#12; goal: at most 1.5×).

    python bench/training_slowdown.py            # ≈ 2 min; writes bench/training_slowdown-<machine>.json

In one process, as in the app's server: the default model translates example sentences one after another (beam 5,
as the app does by default) — first alone, then while the sidebar's default training (toy dates → English, the
form's defaults, in a JobManager thread as the app starts it) runs, then alone again. Reported: the median and p95
seconds per translation in each phase, and the slowdown = median during training / median of the two quiet phases
(measured side by side in one run, so the machine's own noise mostly cancels).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
from common import ROOT, machine_info, machine_label, percentile

from seq2seq_lab import catalog, jobs, settings
from seq2seq_lab.present import catalogue, training
from seq2seq_lab.translator import Translator

SENTENCES = 24                     # translations timed per quiet phase


def timed_translations(translator: Translator, texts: list[str], *, until=None) -> list[float]:
    """Seconds per translation, over ``texts`` in turn — once, or (``until``) until it returns True."""
    seconds, i = [], 0
    while (until is None and i < len(texts)) or (until is not None and not until()):
        started = time.perf_counter()
        translator.translate(texts[i % len(texts)], beam_size=5, n_best=5)
        seconds.append(time.perf_counter() - started)
        i += 1
    return seconds


def summary(seconds: list[float]) -> dict:
    return {"translations": len(seconds), "median_s": round(statistics.median(seconds), 4),
            "p95_s": round(percentile(seconds, 95), 4)}


def main() -> None:
    settings.apply_torch_threads(settings.load())
    translator = Translator.load(ROOT / "models" / f"{catalog.DEFAULT_MODEL}.safetensors", device="cpu")
    texts = [e["zh"] for e in catalogue.examples_for("everyday").values()]
    timed_translations(translator, texts[:3])                                # warm-up
    before = timed_translations(translator, texts[:SENTENCES])
    with tempfile.TemporaryDirectory() as folder:
        manager = jobs.JobManager(folder)
        request = training.request(training.DEFAULT_DATA, "slowdown", {}, attention="additive",
                                   probe=training.PROBES[training.DEFAULT_DATA])
        job = manager.start(request)
        while job.progress is None and job.active:                          # data loaded, batches running
            time.sleep(0.1)
        during = timed_translations(translator, texts, until=lambda: not job.active)
        trained = {"state": job.state, "epochs": len(job.history)}
    after = timed_translations(translator, texts[:SENTENCES])
    quiet = statistics.median(before + after)
    result = {"command": "python bench/training_slowdown.py", "machine": machine_info(["cpu"]),
              "torch_threads": settings.load().torch_threads, "training": trained,
              "before": summary(before), "during": summary(during), "after": summary(after),
              "slowdown_median": round(statistics.median(during) / quiet, 2), "goal": 1.5}
    out = BENCH_DIR / f"training_slowdown-{machine_label(machine_info(['cpu']), ['cpu'])}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
