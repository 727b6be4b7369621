"""Inference latency: every decoder on the same HSK test sentences, one at a time, interleaved.

Ours (``Translator.steps``, what the app runs, and ``Translator.translate``), the tutorial-style
reference in ``reference.py`` on the same weights, and the PyPI peer ``cn2en`` when it is installed;
then batched decoding, the bytes of weights one decoder step reads, and a matrix–vector probe of how
fast this CPU streams weights.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import torch

from seq2seq_lab.train import corpus_metrics
from seq2seq_lab.translator import Translator, detokenize

# isort: split
import reference  # bench/ (on sys.path: see common.py)
from common import CN2EN_VERSION, Settings, at, hsk_test_sentences, ratio, summarize, sync


def load_cn2en(device: torch.device):
    """The published peer, or (None, why not)."""
    try:
        from cn2en import model as cn2en_model
    except ImportError as error:
        return None, (f"cn2en is not installed ({error}); `pip install cn2en=={CN2EN_VERSION}` adds it "
                      "(17 MB wheel with its weights; needs matplotlib)")
    cn2en_model.device = device          # the package picks its device in a module global
    try:
        peer = cn2en_model.Model()
    except Exception as error:
        return None, f"cn2en failed to load: {type(error).__name__}: {error}"
    return peer, None


def run_orders(names: list[str], count: int, *, seed: int = 0) -> list[list[str]]:
    """A fresh random order of the systems for each of ``count`` sentence timings.

    Why not a fixed or rotated order: a system then always runs right after the same one, and
    that one's weights have just pushed its weights out of the CPU cache. With cn2en (≈ 7.5 MB
    of weights per step) always before it, our greedy decoder paid ≈ 2 ms a sentence to refetch
    its own (see bench/README.md). Shuffling gives every system the same mix of predecessors.
    """
    rng = random.Random(seed)
    return [rng.sample(names, len(names)) for _ in range(count)]


def weights_per_step_bytes(decoder: torch.nn.Module) -> int:
    """Bytes of decoder weights one greedy step reads: every decoder parameter except the
    embedding table, of which it reads one row. Decoding one sentence is bound by this on a CPU."""
    embeddings = {id(p) for m in decoder.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    return sum(p.numel() * p.element_size() for p in decoder.parameters() if id(p) not in embeddings)


def matvec_probe(sizes_mb=(5, 10, 15, 20, 40), rows: int = 4873, cols: int = 256, repeats: int = 50) -> list[dict]:
    """µs per 4873×256 fp32 matrix–vector product while cycling through ``size`` MB of such matrices.

    One decoding step of a batch of one is a chain of matrix–vector products, so its speed is the
    speed at which the CPU can stream the weights: fast while they stay in cache, several times
    slower once a step's weights no longer fit. This shows where that cliff is on this machine.
    """
    x = torch.randn(1, cols)
    rows_list = []
    with torch.inference_mode():
        for size in sizes_mb:
            at(f"matrix-vector probe, {size} MB")
            count = max(1, round(size * 2**20 / (rows * cols * 4)))
            matrices = [torch.randn(rows, cols) for _ in range(count)]
            for _ in range(5):
                for w in matrices:
                    torch.nn.functional.linear(x, w)
            started = time.perf_counter()
            for _ in range(repeats):
                for w in matrices:
                    torch.nn.functional.linear(x, w)
            per = (time.perf_counter() - started) / (repeats * count)
            rows_list.append({"working_set_mb": round(count * rows * cols * 4 / 2**20, 1),
                              "us_per_matvec": round(per * 1e6, 1),
                              "gb_per_s": round(rows * cols * 4 / per / 1e9, 1)})
    return rows_list


def bench_inference(model_path: Path, device: torch.device, settings: Settings, *, use_cn2en: bool) -> dict:
    """Per-sentence latency of every decoder on the same sentences, interleaved, median of runs."""
    tr = Translator.load(model_path, device=device)
    pairs = hsk_test_sentences(settings.sentences)
    texts = [p.zh for p in pairs]

    def ref_translate(text: str, beam: int):
        analysis = tr.analyze(text)                                    # jieba, as ours
        if beam == 1:
            out = reference.greedy_decode(tr.model, analysis.ids)
        else:
            out = reference.beam_decode(tr.model, analysis.ids, beam_size=beam)
        tokens = tr.tgt_vocab.decode(out.ids)
        return detokenize(tokens, tr.config.tgt_detok), out.steps, tokens

    def steps_run(text: str, beam: int):
        *_, last = tr.steps(text, beam_size=beam, n_best=beam)
        return last.final.best.text, last.final.steps, last.final.best.tokens

    def translate_run(text: str, beam: int):
        r = tr.translate(text, beam_size=beam)
        return r.best.text, len(r.best.tokens), r.best.tokens

    systems = {
        "ours_greedy": lambda t: steps_run(t, 1),
        "ours_greedy_translate": lambda t: translate_run(t, 1),
        "reference_greedy": lambda t: ref_translate(t, 1),
        "ours_beam5": lambda t: steps_run(t, 5),
        "ours_beam5_translate": lambda t: translate_run(t, 5),
        "reference_beam5": lambda t: ref_translate(t, 5),
    }
    notes = {}
    if use_cn2en:
        peer, why_not = load_cn2en(device)
        if peer is None:
            notes["cn2en"] = why_not
        else:
            def cn2en_run(text: str):
                out = peer.translate(text)
                return out, len(out.split()) + 1, out.split()
            systems["cn2en_greedy"] = cn2en_run
    else:
        notes["cn2en"] = "skipped (--skip-cn2en)"

    for text in texts[:settings.warmup] or texts[:1]:                  # warm-up: jieba, allocator, caches
        for run in systems.values():
            run(text)

    times = {name: [[] for _ in texts] for name in systems}
    cpu_times = {name: [[] for _ in texts] for name in systems}      # process CPU time: robust on a busy machine
    outputs = {name: [None] * len(texts) for name in systems}
    steps = {name: [0] * len(texts) for name in systems}
    orders = run_orders(list(systems), settings.runs * len(texts), seed=0)
    for repetition in range(settings.runs):
        for i, text in enumerate(texts):
            at(f"run {repetition + 1}/{settings.runs}, sentence {i + 1}/{len(texts)}")
            for name in orders[repetition * len(texts) + i]:
                sync(device)
                started, cpu_started = time.perf_counter(), time.process_time()
                text_out, n_steps, tokens = systems[name](text)
                sync(device)
                times[name][i].append(time.perf_counter() - started)
                cpu_times[name][i].append(time.process_time() - cpu_started)
                outputs[name][i], steps[name][i] = (text_out, tokens), n_steps
    steps["ours_greedy_translate"], steps["ours_beam5_translate"] = steps["ours_greedy"], steps["ours_beam5"]

    per_sentence = {name: [statistics.median(ts) for ts in times[name]] for name in systems}
    result = {"device": tr.device_label, "model": model_path.stem, "attention": tr.attention_type,
              "sentences": len(texts), "runs": settings.runs, "notes": notes, "systems": {}}
    references = [p.en for p in pairs]
    for name in systems:
        entry = summarize(per_sentence[name], steps[name])
        entry["cpu_median_ms"] = round(statistics.median(statistics.median(ts) for ts in cpu_times[name]) * 1000, 3)
        entry["chrf"] = round(corpus_metrics([o[0] for o in outputs[name]], references)["chrf"], 2)
        result["systems"][name] = entry
    def same(a: str, b: str) -> float:
        """The share of sentences where two systems wrote the same tokens."""
        return sum(outputs[a][i][1] == outputs[b][i][1] for i in range(len(texts))) / len(texts)

    result["agreement"] = {"reference_greedy_equals_ours": round(same("reference_greedy", "ours_greedy"), 4),
                           "reference_beam5_equals_ours": round(same("reference_beam5", "ours_beam5"), 4)}

    def paired_ratio(a: str, b: str) -> dict:
        per = [x / y for x, y in zip(per_sentence[a], per_sentence[b])]
        return {"ratio_of_medians": ratio(statistics.median(per_sentence[a]), statistics.median(per_sentence[b])),
                "median_of_ratios": round(statistics.median(per), 3),
                "fraction_of_sentences_not_slower": round(sum(r <= 1.0 for r in per) / len(per), 3)}

    result["ratios"] = {
        "ours_greedy_vs_reference_greedy": paired_ratio("ours_greedy", "reference_greedy"),
        "ours_beam5_vs_reference_beam5": paired_ratio("ours_beam5", "reference_beam5"),
        "ours_beam5_vs_ours_greedy": paired_ratio("ours_beam5", "ours_greedy"),
        "ours_beam5_translate_vs_ours_greedy_translate": paired_ratio("ours_beam5_translate", "ours_greedy_translate"),
    }
    if "cn2en_greedy" in systems:
        result["ratios"]["ours_greedy_vs_cn2en_greedy"] = paired_ratio("ours_greedy", "cn2en_greedy")
        result["ratios"]["ours_greedy_translate_vs_cn2en_greedy"] = paired_ratio("ours_greedy_translate",
                                                                               "cn2en_greedy")

    # Batched decoding (what evaluation uses, and the answer to a launch-bound GPU).
    batched = {}
    for beam in (1, 5):
        at(f"batched decoding, beam {beam}")
        runs = []
        for _ in range(settings.runs):
            sync(device)
            started = time.perf_counter()
            tr.translate_batch(texts, beam_size=beam, batch_size=64)
            sync(device)
            runs.append(time.perf_counter() - started)
        batched[f"beam{beam}"] = {"sentences_per_s": round(len(texts) / statistics.median(runs), 1),
                                  "ms_per_sentence": round(statistics.median(runs) * 1000 / len(texts), 3),
                                  "batch_size": 64}
    result["batched"] = batched
    result["weights_per_step_mb"] = {"ours": round(weights_per_step_bytes(tr.model.decoder) / 2**20, 2)}
    if "cn2en_greedy" in systems:
        result["weights_per_step_mb"]["cn2en"] = round(weights_per_step_bytes(peer.decoder) / 2**20, 2)
    if device.type == "cpu":
        result["matvec_probe"] = matvec_probe(repeats=5 if settings.quick else 50)
    result["examples"] = [{"zh": texts[i], "reference_en": references[i],
                           **{name: outputs[name][i][0] for name in systems}} for i in range(min(3, len(texts)))]
    return result
