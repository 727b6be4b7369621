"""Peak resident memory (VmHWM) of a fresh process: the package alone, translating, training.

``run.py`` starts ``python bench/run.py --worker memory-<kind>`` for each kind, and this is what that
process does before it prints its figures. Each kind imports only what its work needs, so the
baseline is a process that has loaded torch and the package, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import torch

# isort: split
from common import Settings, hsk_test_sentences, peak_rss_mb  # bench/ (on sys.path: see common.py)


def memory_worker(kind: str, model_path: Path, device: torch.device, settings: Settings) -> dict:
    out = _memory_work(kind, model_path, device, settings)
    if device.type == "cuda":
        out["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return out


def _memory_work(kind: str, model_path: Path, device: torch.device, settings: Settings) -> dict:
    if kind == "baseline":
        import seq2seq_lab.translator  # noqa: F401 - torch and the package load, no model: the baseline
        return {"peak_rss_mb": peak_rss_mb()}
    if kind == "translate":
        from seq2seq_lab.translator import Translator

        tr = Translator.load(model_path, device=device)
        texts = [p.zh for p in hsk_test_sentences(settings.memory_sentences)]
        for text in texts:
            for beam in (1, 5):
                for _ in tr.steps(text, beam_size=beam, n_best=beam):
                    pass
        return {"peak_rss_mb": peak_rss_mb(), "sentences": len(texts), "work": "steps(), greedy and beam 5"}
    if kind == "train":
        from training import RecipeTrainer, training_setup

        model, batches, *_rest, recipe, _meta = training_setup(model_path, device)
        chosen = batches[:settings.memory_batches]
        RecipeTrainer(model, recipe, device).train(chosen)
        return {"peak_rss_mb": peak_rss_mb(), "batches": len(chosen), "batch_size": recipe.batch_size}
    raise ValueError(kind)
