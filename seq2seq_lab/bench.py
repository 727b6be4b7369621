"""Benchmarks: ``python -m seq2seq_lab bench`` (see bench/README.md).

Measures, side by side in one run, and writes ``bench/results-<machine>.json`` plus a table:

1. inference latency on the HSK test sentences (greedy and beam 5, jieba included), against
   the tutorial-style reference in ``bench/reference.py`` (same weights) and the PyPI
   package ``cn2en`` when it is installed;
2. training throughput (target tokens per second) of the model's recipe against the
   tutorial's batch-of-one loop, the time the HSK recipe took to reach its shipped quality,
   and the time each toy task takes to reach 95 % exact match;
3. the Streamlit app: start → first heatmap in headless Chromium, and server time per
   translate interaction;
4. peak resident memory of translating and of training (each in a fresh process);
5. all of it per device: ``--device cpu,cuda`` (or ``auto``) records CPU next to GPU.

Figures are medians of several runs; ratios come from the same run. Tests never call the
timing paths with real settings (``tests/test_bench.py`` runs ``--quick`` and checks structure).

    python -m seq2seq_lab bench                   # full run (≈10 min on 2 cores)
    python -m seq2seq_lab bench --quick --skip-app
    python -m seq2seq_lab bench --device cpu,cuda --time-to-quality
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .catalog import DEFAULT_MODEL, MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
README = BENCH_DIR / "README.md"
CN2EN_VERSION = "0.0.118"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
GOAL_BEAM_OVER_GREEDY = 2.5      # our beam 5 may cost at most this many times our greedy
GOAL_TRAIN_SPEEDUP = 20.0        # our batched training vs the tutorial's batch-of-one loop
GOAL_TOY_EXACT = 0.95


@dataclass
class Settings:
    """How much of everything to run; ``--quick`` shrinks it to a smoke run."""

    sentences: int = 0                # HSK test sentences to time (0 = all of them)
    runs: int = 3                     # repetitions; every figure is the median over them
    warmup: int = 3                   # sentences decoded before timing starts
    train_batches: int = 20           # batches of our recipe per throughput run
    train_runs: int = 5               # throughput runs (the tutorial loop's speed varies more than ours)
    reference_sentences: int = 64     # sentence pairs of the tutorial loop per throughput run
    toy_tasks: tuple = ("numbers", "dates_iso", "dates_en")
    toy_max_pairs: int = 0            # 0 = the whole toy training split
    toy_max_epochs: int = 0           # 0 = the recipe's epochs
    memory_sentences: int = 50
    memory_batches: int = 10
    app_interactions: int = 3
    quick: bool = False


QUICK = Settings(sentences=6, runs=2, warmup=1, train_batches=3, train_runs=2, reference_sentences=4,
                 toy_tasks=("numbers",), toy_max_pairs=300, toy_max_epochs=1, memory_sentences=3, memory_batches=2, app_interactions=1,
                 quick=True)


# --- small helpers -------------------------------------------------------------------------------


def load_reference():
    """bench/reference.py as a module (bench/ is a folder of the repository, not a package)."""
    name = "seq2seq_lab_bench_reference"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / "reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_recipes():
    """scripts/train_models.py: the shipped models' recipes (HSK_ARCH, HSK_TRAIN, TOY_ARCH, TOY_TRAIN)."""
    name = "seq2seq_lab_bench_recipes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "train_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(seconds_per_sentence: list[float], steps: list[int] | None = None) -> dict:
    """Median / p95 / mean in milliseconds, and per decoding step when ``steps`` is given."""
    ms = [s * 1000 for s in seconds_per_sentence]
    out = {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(percentile(ms, 95), 3),
           "mean_ms": round(statistics.fmean(ms), 3), "sentences": len(ms)}
    if steps:
        per_step = [m / max(1, n) for m, n in zip(ms, steps)]
        out["per_step_median_ms"] = round(statistics.median(per_step), 4)
        out["steps_median"] = statistics.median(steps)
    return out


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), in MiB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info(devices: list[str]) -> dict:
    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cuda_available": torch.cuda.is_available(), "gpu": None}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 ** 2, 1)
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    with contextlib.suppress(OSError):
        info["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def machine_label(info: dict, devices: list[str]) -> str:
    """A file-name-safe label: cpu model and core count, plus the GPU when one was measured."""
    cpu = re.sub(r"\((r|tm)\)|cpu|processor|@.*$|\d+-core", "", info["cpu"], flags=re.IGNORECASE)
    label = f"{cpu.strip()}-{info['cpu_count']}cpu"
    if info.get("gpu") and any(d.startswith("cuda") for d in devices):
        label += "-" + info["gpu"]
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hsk_test_sentences(limit: int = 0) -> list:
    from .corpus import load_hsk, split_pairs

    pairs = split_pairs(load_hsk().pairs)["test"]
    return pairs[:limit] if limit else pairs


def model_corpus_pairs(meta: dict):
    """The train / valid / test splits of the corpus a model was trained on (HSK or a toy task)."""
    from .corpus import load_hsk, split_pairs, toy_splits

    corpus = meta.get("record", {}).get("corpus", "hsk")
    if corpus.startswith("toy:"):
        return toy_splits(corpus[4:])
    return split_pairs(load_hsk().pairs)


# --- 1. inference --------------------------------------------------------------------------------


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
    except Exception as error:  # a broken third-party install must not end the bench
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
    from .train import corpus_metrics
    from .translator import Translator, detokenize

    reference = load_reference()
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
        last = None
        for last in tr.steps(text, beam_size=beam, n_best=beam):
            pass
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


# --- 2. training ---------------------------------------------------------------------------------


def training_setup(model_path: Path, device: torch.device, *, seed: int = 0):
    """The model's recipe (architecture from its config, batch size / lr / smoothing from its record)
    on the corpus it was trained on, as a fresh model: (model, batches, examples, vocabs, train config)."""
    from .checkpoint import read_metadata
    from .data import build_vocabs, make_batches, tokenize_pairs
    from .model import ModelConfig, Seq2Seq
    from .train import TrainConfig

    meta = read_metadata(model_path)
    arch = {k: v for k, v in meta["config"].items() if k not in ("src_vocab_size", "tgt_vocab_size")}
    known = {f for f in TrainConfig.__dataclass_fields__}
    recipe = TrainConfig(**{k: v for k, v in meta.get("record", {}).get("train_config", {}).items() if k in known})
    splits = model_corpus_pairs(meta)
    examples = tokenize_pairs(splits["train"], arch.get("src_segmenter", "jieba"), arch.get("tgt_detok", "english"))
    src_vocab, tgt_vocab = build_vocabs(examples, min_freq=recipe.min_freq)
    torch.manual_seed(seed)
    model = Seq2Seq(ModelConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), **arch)).to(device)
    batches = make_batches(examples, src_vocab, tgt_vocab, batch_size=recipe.batch_size, shuffle=True,
                           rng=random.Random(seed), device=device,
                           char_split_prob=recipe.char_split_prob if arch.get("src_segmenter") != "char" else 0.0)
    return model, batches, examples, src_vocab, tgt_vocab, recipe, meta


class RecipeTrainer:
    """Our training loop, exactly as ``fit`` runs it: :func:`~.train.train_step` with the recipe's
    optimiser, loss, clipping and teacher forcing."""

    def __init__(self, model, recipe, device: torch.device):
        from .train import keep_freed_memory, make_criterion, make_optimizer

        keep_freed_memory()                                            # as fit does
        self.model, self.recipe, self.device = model, recipe, device
        self.optimizer = make_optimizer(model, recipe.lr)
        self.criterion = make_criterion(recipe.label_smoothing)
        self.rng = random.Random(recipe.seed)

    def train(self, batches) -> int:
        """One optimiser step per batch; returns the target tokens trained on."""
        from .train import train_step

        self.model.train()
        tokens = 0
        for batch in batches:
            tokens += train_step(self.model, batch, self.optimizer, self.criterion, clip=self.recipe.clip,
                                 teacher_forcing=self.recipe.teacher_forcing, rng=self.rng)[1]
        sync(self.device)
        return tokens


def bench_training(model_path: Path, device: torch.device, settings: Settings) -> dict:
    """Target tokens per second: our batched recipe vs the tutorial's one-sentence-per-step loop."""
    from .data import source_ids
    from .train import make_optimizer

    reference = load_reference()
    model, batches, examples, src_vocab, tgt_vocab, recipe, meta = training_setup(model_path, device)
    # The tutorial loop as written uses a plain Adam; it also runs with our fused Adam, to show how
    # much of the gap is the optimiser (the tutorial loop takes one optimiser step per sentence).
    tutorials = {}
    for variant in ("tutorial", "tutorial_fused_adam"):
        ref_model = copy.deepcopy(model)
        optimizer = (torch.optim.Adam(ref_model.parameters(), lr=recipe.lr) if variant == "tutorial"
                     else make_optimizer(ref_model, recipe.lr))
        tutorials[variant] = (ref_model, optimizer)

    n = settings.train_batches
    needed = 2 + n * settings.train_runs
    pool = (batches * (needed // max(1, len(batches)) + 1))[:needed]
    trainer = RecipeTrainer(model, recipe, device)
    trainer.train(pool[:2])                                            # warm-up

    def tutorial_pairs(chunk, count: int):
        """``count`` sentences spread evenly over the batches of ``chunk``, one at a time. The batches
        are bucketed by length, so taking the first few sentences would time only short (or only
        long) ones; spreading them keeps the same length mix as our run."""
        indices = [i for b in chunk for i in b.indices]
        picked = [indices[round(k * len(indices) / count)] for k in range(min(count, len(indices)))]
        return [(source_ids(examples[i].src_words, src_vocab), tgt_vocab.encode(examples[i].tgt_tokens))
                for i in picked]

    m = settings.reference_sentences
    for ref_model, optimizer in tutorials.values():
        reference.train_sentences(ref_model, tutorial_pairs(pool[:2], 2), optimizer, clip=recipe.clip)  # warm-up

    rates = {"ours": [], **{variant: [] for variant in tutorials}}
    for r in range(settings.train_runs):                               # interleaved: ours, then each tutorial loop
        chunk = pool[2 + r * n: 2 + (r + 1) * n]
        started = time.perf_counter()
        tokens = trainer.train(chunk)
        rates["ours"].append(tokens / (time.perf_counter() - started))
        sentences = tutorial_pairs(chunk, m)
        for variant, (ref_model, optimizer) in tutorials.items():
            started = time.perf_counter()
            tokens = reference.train_sentences(ref_model, sentences, optimizer, clip=recipe.clip)
            sync(device)
            rates[variant].append(tokens / (time.perf_counter() - started))
    ours_tps, tutorial_tps, fused_tps = (statistics.median(rates[k]) for k in ("ours", "tutorial",
                                                                                "tutorial_fused_adam"))
    return {"device": str(device), "model": model_path.stem, "corpus": meta.get("record", {}).get("corpus", "hsk"),
            "batch_size": recipe.batch_size, "batches_per_run": n, "tutorial_sentences_per_run": m,
            "runs": settings.train_runs, "ours_tokens_per_s": round(ours_tps, 1),
            "tutorial_tokens_per_s": round(tutorial_tps, 1), "speedup": ratio(ours_tps, tutorial_tps),
            "tutorial_fused_adam_tokens_per_s": round(fused_tps, 1),
            "speedup_vs_tutorial_fused_adam": ratio(ours_tps, fused_tps),
            "speedup_median_of_run_ratios": round(statistics.median(
                o / t for o, t in zip(rates["ours"], rates["tutorial"])), 3),   # each run: the same sentences
            "ours_runs": [round(x, 1) for x in rates["ours"]],
            "tutorial_runs": [round(x, 1) for x in rates["tutorial"]],
            "tutorial_fused_adam_runs": [round(x, 1) for x in rates["tutorial_fused_adam"]]}


def time_to_quality_from_record(model_path: Path) -> dict:
    """When the shipped weights were reached, from the model's own training record."""
    from .checkpoint import read_metadata

    record = read_metadata(model_path).get("record", {})
    history, best_epoch = record.get("history", []), record.get("best_epoch", 0)
    out = {"source": "training record in the model file", "model": model_path.stem,
           "test_chrf_greedy": record.get("test", {}).get("greedy", {}).get("chrf"),
           "test_chrf_beam5": record.get("test", {}).get("beam5", {}).get("chrf"),
           "best_epoch": best_epoch, "epochs_run": record.get("epochs_run"),
           "train_seconds_total": record.get("train_seconds", record.get("elapsed_s")),
           "train_config": record.get("train_config"), "trained_on": record.get("date")}
    if best_epoch and len(history) >= best_epoch:
        elapsed = history[best_epoch - 1].get("elapsed")
        out["seconds_to_shipped_weights"] = None if elapsed is None else round(elapsed, 1)
    return out


TIME_TO_QUALITY_TOLERANCE = 0.5   # chrF points: the shipped figure is of int8-stored weights, a re-run is fp32


def time_to_quality_live(model_path: Path, device: torch.device) -> dict:
    """Re-run the model's training recipe with today's code and time how long it takes to reach
    the shipped test chrF (greedy, within 0.5 points).

    After every epoch the model is decoded on the test split; that decoding is timed separately
    and left out of the training time. The run stops once the target is reached (or when the
    recipe itself stops). Its trajectory can differ from the shipped run's: the shipped model may
    have been trained with older code (e.g. other batches), so it is the chrF that is compared,
    not the epoch.
    """
    from .checkpoint import read_metadata
    from .train import TrainConfig, evaluate, fit

    meta = read_metadata(model_path)
    record = meta.get("record", {})
    target = record.get("test", {}).get("greedy", {}).get("chrf")
    arch = {k: v for k, v in meta["config"].items() if k not in ("src_vocab_size", "tgt_vocab_size")}
    known = set(TrainConfig.__dataclass_fields__)
    config = replace(TrainConfig(**{k: v for k, v in record.get("train_config", {}).items() if k in known}),
                     device=str(device), probe=None)
    splits = model_corpus_pairs(meta)
    curve, evaluating = [], {"seconds": 0.0}

    def on_progress(progress) -> None:
        if progress.event != "epoch":
            return
        started = time.perf_counter()
        chrf = evaluate(progress.model, splits["test"], beam_size=1)["chrf"]
        curve.append({"epoch": progress.epoch, "train_seconds": round(progress.elapsed - evaluating["seconds"], 1),
                      "test_chrf_greedy": round(chrf, 2)})
        evaluating["seconds"] += time.perf_counter() - started

    def reached(point: dict) -> bool:
        return target is not None and point["test_chrf_greedy"] >= target - TIME_TO_QUALITY_TOLERANCE

    fit(splits["train"], splits["valid"], arch, config, on_progress=on_progress,
        should_stop=lambda: any(reached(p) for p in curve))
    first = next((p for p in curve if reached(p)), None)
    return {"source": "live re-run of the recipe", "device": str(device), "epochs": len(curve),
            "shipped_test_chrf_greedy": target, "tolerance": TIME_TO_QUALITY_TOLERANCE,
            "reached": first is not None,
            "seconds_to_shipped_chrf": first["train_seconds"] if first else None,
            "epoch_reached": first["epoch"] if first else None,
            "best_test_chrf_greedy": max((p["test_chrf_greedy"] for p in curve), default=None),
            "curve": curve}


def bench_toy(device: torch.device, settings: Settings) -> dict:
    """Wall time for each toy recipe to reach 95 % exact match on its validation split."""
    from .corpus import TOY_TASKS, toy_splits
    from .train import evaluate, fit
    from .translator import Translator

    recipes = load_recipes()
    out = {}
    for task in settings.toy_tasks:
        splits = toy_splits(task)
        train_pairs = splits["train"][:settings.toy_max_pairs] if settings.toy_max_pairs else splits["train"]
        arch = {**recipes.TOY_ARCH, "tgt_detok": TOY_TASKS[task].tgt_detok}
        config = replace(recipes.TOY_TRAIN, stop_at_exact=GOAL_TOY_EXACT, device=str(device),
                         epochs=settings.toy_max_epochs or recipes.TOY_TRAIN.epochs)
        reached = {}

        def on_progress(p, reached=reached):
            if p.event == "epoch" and "seconds" not in reached and p.valid["exact"] >= GOAL_TOY_EXACT:
                reached.update(seconds=round(p.elapsed, 1), epoch=p.epoch)

        result = fit(train_pairs, splits["valid"], arch, config, on_progress=on_progress)
        test = evaluate(Translator(result.checkpoint, device=device), splits["test"], beam_size=1)
        out[task] = {"reached_95": bool(reached), "seconds": reached.get("seconds"), "epochs": reached.get("epoch"),
                     "epochs_run": len(result.history), "seconds_run": round(result.elapsed, 1),
                     "valid_exact": round(result.history[-1]["valid_exact"], 4), "test_exact": round(test["exact"], 4),
                     "train_pairs": len(train_pairs), "batch_size": config.batch_size}
    return out


# --- 3. the app ----------------------------------------------------------------------------------

_HEATMAP_SIGNATURES_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(gd => gd.getBoundingClientRect().height > 0)
  .filter(gd => (gd.data || []).some(t => t.type === 'heatmap') || gd.querySelector('.heatmaplayer image, g.hm'))
  .map(gd => JSON.stringify([(gd.data || []).filter(t => t.type === 'heatmap').map(t => [t.x, t.y]),
                             gd.layout && gd.layout.xaxis && gd.layout.xaxis.ticktext]))
"""


def bench_app(app: Path, sentences: list[str], settings: Settings) -> dict:
    """Start `streamlit run`, drive it in headless Chromium: start → first heatmap, click → heatmap."""
    import urllib.request

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        return {"skipped": f"playwright is not installed ({error})"}
    if not app.is_file():
        return {"skipped": f"{shown(app)} does not exist yet"}
    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing (apt-get install chromium)"}
    port = free_port()
    log_path = BENCH_DIR / "tmp" / "streamlit.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    result: dict = {"app": shown(app), "port": port}
    with open(log_path, "w") as log:
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = started + 120
            while time.perf_counter() < deadline:
                if server.poll() is not None:
                    return {**result, "error": f"streamlit exited with {server.returncode}; see {log_path}"}
                with contextlib.suppress(OSError), \
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
                time.sleep(0.1)
            else:
                return {**result, "error": "the server did not answer within 120 s"}
            result["server_ready_s"] = round(time.perf_counter() - started, 3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    result.update(_drive_app(browser, f"http://127.0.0.1:{port}/", sentences, started, settings))
                finally:
                    browser.close()
        except Exception as error:  # whatever the app or browser does: report it, go on
            result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return result


def _first_visible(page, selectors: list[str]):
    """The first selector that matches something on the page (apps differ; be tolerant)."""
    for selector in selectors:
        locator = page.locator(selector).first
        if locator.count():
            return locator
    return page.locator(selectors[-1]).first


def _drive_app(browser, url: str, sentences: list[str], started: float, settings: Settings) -> dict:
    """Type a sentence, press translate, wait for a heatmap that was not there before; repeat."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator("[data-testid='stMain'] input[type='text'], [data-testid='stMain'] textarea, "
                 "input[type='text'], textarea").first.wait_for(state="visible")
    _wait_idle(page)
    out = {"page_ready_s": round(time.perf_counter() - started, 3), "first_heatmap_ms": [], "done_ms": []}
    box = _first_visible(page, [".st-key-src_text input", ".st-key-src_text textarea",
                                "[data-testid='stMain'] textarea", "[data-testid='stMain'] input[type='text']",
                                "textarea, input[type='text']"])
    button = _first_visible(page, [".st-key-translate button", "[data-testid='stMain'] button:has-text('Translate')",
                                   "[data-testid='stMain'] button:has-text('翻译')", "button:has-text('Translate')"])
    for i, sentence in enumerate(sentences[:max(1, settings.app_interactions)]):
        box.fill(sentence)
        box.press("Control+Enter" if box.evaluate("el => el.tagName") == "TEXTAREA" else "Enter")
        _wait_idle(page)
        before = sorted(set(page.evaluate(_HEATMAP_SIGNATURES_JS)))
        clicked = time.perf_counter()
        button.click()
        page.wait_for_function(f"(before) => ({_HEATMAP_SIGNATURES_JS})().some(s => !before.includes(s))",
                               arg=before, polling=50)
        shown_at = time.perf_counter()
        _wait_idle(page)
        done_at = time.perf_counter()
        out["first_heatmap_ms"].append(round((shown_at - clicked) * 1000, 1))
        out["done_ms"].append(round((done_at - clicked) * 1000, 1))
        if i == 0:
            out["first_heatmap_s"] = round(shown_at - started, 3)
    out["interaction_median_ms"] = round(statistics.median(out["first_heatmap_ms"]), 1)
    out["done_median_ms"] = round(statistics.median(out["done_ms"]), 1)
    return out


def _wait_idle(page, timeout_s: float = 120) -> None:
    """Wait until Streamlit's "running" indicator has come and gone (or never came)."""
    with contextlib.suppress(Exception):
        page.locator("[data-testid='stStatusWidget']").wait_for(state="visible", timeout=300)
    with contextlib.suppress(Exception):
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=timeout_s * 1000)


def _by_key_or_label(widgets, key: str, label: str | None = None):
    widgets = list(widgets)
    for widget in widgets:
        if getattr(widget, "key", None) == key:
            return widget
    if label:
        for widget in widgets:
            if re.search(label, str(getattr(widget, "label", "")), re.IGNORECASE):
                return widget
    return widgets[0] if widgets else None


def app_server_worker(app: Path, sentences: list[str]) -> dict:
    """Server-side time of one translate interaction: Streamlit's AppTest rerun of the script.

    The app animates decoding (a pause between steps, 0.35 s by default); the speed is set to
    "instant" when the app has that control, so the figure is compute and drawing only.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app), default_timeout=300)
    started = time.perf_counter()
    at.run()
    out = {"first_run_s": round(time.perf_counter() - started, 3), "translate_ms": []}
    if at.exception:
        return {**out, "error": f"the app raised: {at.exception[0].value}"}
    speed = _by_key_or_label(at.select_slider, "speed")
    if speed is not None and getattr(speed, "key", None) == "speed":
        with contextlib.suppress(Exception):
            speed.set_value("instant").run()
            out["animation"] = "instant"
    for sentence in sentences:
        box = _by_key_or_label(list(at.text_input) + list(at.text_area), "src_text")
        button = _by_key_or_label(at.button, "translate", r"translate|翻译")
        if box is None or button is None:
            return {**out, "error": "no text box or translate button found in the app"}
        box.input(sentence).run()
        button = _by_key_or_label(at.button, "translate", r"translate|翻译")
        started = time.perf_counter()
        button.click().run()
        out["translate_ms"].append(round((time.perf_counter() - started) * 1000, 1))
        if at.exception:
            return {**out, "error": f"the app raised: {at.exception[0].value}"}
    out["translate_median_ms"] = round(statistics.median(out["translate_ms"]), 1)
    return out


# --- 4. memory (fresh processes) -----------------------------------------------------------------


def memory_worker(kind: str, model_path: Path, device: torch.device, settings: Settings) -> dict:
    out = _memory_work(kind, model_path, device, settings)
    if device.type == "cuda":
        out["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return out


def _memory_work(kind: str, model_path: Path, device: torch.device, settings: Settings) -> dict:
    if kind == "baseline":
        from . import translator  # torch and the package load, no model: the baseline
        return {"peak_rss_mb": peak_rss_mb()}
    if kind == "translate":
        from .translator import Translator

        tr = Translator.load(model_path, device=device)
        texts = [p.zh for p in hsk_test_sentences(settings.memory_sentences)]
        for text in texts:
            for beam in (1, 5):
                for _ in tr.steps(text, beam_size=beam, n_best=beam):
                    pass
        return {"peak_rss_mb": peak_rss_mb(), "sentences": len(texts), "work": "steps(), greedy and beam 5"}
    if kind == "train":
        model, batches, *_rest, recipe, _meta = training_setup(model_path, device)
        chosen = batches[:settings.memory_batches]
        RecipeTrainer(model, recipe, device).train(chosen)
        return {"peak_rss_mb": peak_rss_mb(), "batches": len(chosen), "batch_size": recipe.batch_size}
    raise ValueError(kind)


def run_worker(args: list[str], timeout: float = 900) -> dict:
    """Run ``python -m seq2seq_lab.bench --worker …`` and read the JSON on its last line."""
    command = [sys.executable, "-m", "seq2seq_lab.bench", *args]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


# --- goals, table, README ------------------------------------------------------------------------


def goals(results: dict) -> list[dict]:
    out = []
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            continue
        s = inf["systems"]
        ours = s["ours_greedy"]["median_ms"]
        out.append({"goal": f"[{device}] our greedy (with step records) no slower than the tutorial reference",
                    "measured": f"{ours:.2f} vs {s['reference_greedy']['median_ms']:.2f} ms",
                    "met": ours <= s["reference_greedy"]["median_ms"]})
        if "cn2en_greedy" in s:
            out.append({"goal": f"[{device}] our greedy (with step records) no slower than cn2en",
                        "measured": f"{ours:.2f} vs {s['cn2en_greedy']['median_ms']:.2f} ms",
                        "met": ours <= s["cn2en_greedy"]["median_ms"]})
        beam_ratio = inf["ratios"]["ours_beam5_vs_ours_greedy"]["ratio_of_medians"]
        out.append({"goal": f"[{device}] our beam 5 ≤ {GOAL_BEAM_OVER_GREEDY}× our greedy",
                    "measured": f"{beam_ratio:.2f}×", "met": beam_ratio <= GOAL_BEAM_OVER_GREEDY})
    for device, tr in results.get("training", {}).items():
        if "speedup" in tr:
            out.append({"goal": f"[{device}] batched training ≥ {GOAL_TRAIN_SPEEDUP:.0f}× the tutorial loop "
                                f"(target tokens/s)",
                        "measured": f"{tr['speedup']:.1f}×", "met": tr["speedup"] >= GOAL_TRAIN_SPEEDUP})
    for task, toy in results.get("toy", {}).items():
        if isinstance(toy, dict) and "reached_95" in toy:
            out.append({"goal": f"toy {task} reaches {GOAL_TOY_EXACT:.0%} exact match",
                        "measured": f"{toy['seconds']} s" if toy["reached_95"] else
                        f"not reached ({toy['valid_exact']:.1%} after {toy['epochs_run']} epochs)",
                        "met": toy["reached_95"]})
    return out


LABELS = {"ours_greedy": "ours greedy (steps: attention + alternatives)",
          "ours_greedy_translate": "ours greedy (translate)",
          "reference_greedy": "tutorial reference greedy",
          "cn2en_greedy": f"cn2en {CN2EN_VERSION} greedy (PyPI peer)",
          "ours_beam5": "ours beam 5 (steps)",
          "ours_beam5_translate": "ours beam 5 (translate)",
          "reference_beam5": "tutorial reference beam 5"}


def _one_decimal(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def render_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"### {results['machine_label']}",
             "",
             (f"{m['cpu']}, {m['cpu_count']} CPUs, {m.get('memory_gib', '?')} GiB, torch {m['torch']} "
             f"({m['torch_threads']} threads), Python {m['python']}; GPU: {m['gpu'] or 'none'}. "
             f"Run {results['date']}{' (quick smoke run)' if results['quick'] else ''}; load average at start "
             f"{m.get('load_average_start')}, at end {m.get('load_average_end')}."),
             f"Command: `{results['command']}`", ""]
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            lines += [f"**Inference on {device}:** {inf.get('skipped') or inf.get('error')}", ""]
            continue
        lines += [(f"**Inference on {inf['device']}** — {inf['sentences']} HSK test sentences, model "
                  f"`{inf['model']}`, median of {inf['runs']} runs per sentence, jieba included"), "",
                  "| decoder | median ms | p95 ms | ms / step | CPU ms | chrF |", "|---|---:|---:|---:|---:|---:|"]
        for name, s in inf["systems"].items():
            lines.append(f"| {LABELS.get(name, name)} | {s['median_ms']:.2f} | {s['p95_ms']:.2f} | "
                         f"{s.get('per_step_median_ms', float('nan')):.3f} | {s['cpu_median_ms']:.2f} | "
                         f"{s['chrf']:.1f} |")
        b = inf["batched"]
        lines += ["", (f"Batched `translate_batch` (64 per batch): greedy {b['beam1']['sentences_per_s']} sentences/s, "
                      f"beam 5 {b['beam5']['sentences_per_s']} sentences/s. Reference greedy output identical to ours "
                      f"for {inf['agreement']['reference_greedy_equals_ours']:.0%} of sentences, beam 5 for "
                      f"{inf['agreement']['reference_beam5_equals_ours']:.0%}.")]
        weights = inf.get("weights_per_step_mb", {})
        if weights:
            lines += ["", "Decoder weights read per greedy step: " + ", ".join(
                f"{'ours' if who == 'ours' else who} {mb:.1f} MB" for who, mb in weights.items()) + "."]
        if inf.get("matvec_probe"):
            lines += ["", "Matrix–vector product (4873×256, fp32) while cycling through a working set of weights: "
                      + ", ".join(f"{r['working_set_mb']:.0f} MB → {r['us_per_matvec']:.0f} µs ({r['gb_per_s']:.0f} GB/s)"
                                  for r in inf["matvec_probe"]) + "."]
        for note in inf.get("notes", {}).values():
            lines.append(f"Note: {note}")
        lines.append("")
    for device, tr in results.get("training", {}).items():
        if "speedup" not in tr:
            lines += [f"**Training on {device}:** {tr.get('skipped') or tr.get('error')}", ""]
            continue
        lines += [(f"**Training on {device}** ({tr['model']} recipe on {tr['corpus']}, batch {tr['batch_size']}): "
                  f"{tr['ours_tokens_per_s']:.0f} target tokens/s vs {tr['tutorial_tokens_per_s']:.0f} for the "
                  f"tutorial batch-of-one loop (plain Adam, as the tutorial) → **{tr['speedup']:.1f}×**"
                  + (f" (median of the {tr['runs']} runs' own ratios: {tr['speedup_median_of_run_ratios']:.1f}×)"
                     if "speedup_median_of_run_ratios" in tr else "")
                  + (f"; {tr['tutorial_fused_adam_tokens_per_s']:.0f} tokens/s when the tutorial loop also uses our "
                     f"fused Adam → {tr['speedup_vs_tutorial_fused_adam']:.1f}×"
                     if "speedup_vs_tutorial_fused_adam" in tr else "") + "."), ""]
    ttq = results.get("time_to_quality", {})
    if ttq.get("record"):
        r = ttq["record"]
        lines += [(f"**Time to quality ({r['model']}, from its training record):** shipped test chrF "
                  f"{_one_decimal(r.get('test_chrf_greedy'))} (greedy) / {_one_decimal(r.get('test_chrf_beam5'))} (beam 5) "
                  f"are the weights of "
                  f"epoch {r.get('best_epoch')}, reached after {r.get('seconds_to_shipped_weights')} s of a "
                  f"{r.get('train_seconds_total')} s run ({r.get('epochs_run')} epochs)."), ""]
    if ttq.get("live"):
        live = ttq["live"]
        shipped = _one_decimal(live["shipped_test_chrf_greedy"])
        if live["reached"]:
            outcome = (f"reached test chrF ≥ {shipped} − {live['tolerance']} (greedy) after "
                       f"**{live['seconds_to_shipped_chrf']} s** of training, at epoch {live['epoch_reached']}")
        else:
            outcome = (f"did **not** reach the shipped test chrF {shipped} in {live['epochs']} epochs "
                       f"(best {_one_decimal(live['best_test_chrf_greedy'])})")
        lines += [(f"**Time to quality, live re-run of the recipe on {live['device']}:** {outcome}; test chrF by "
                   "epoch: " + ", ".join(f"{p['test_chrf_greedy']:.1f}" for p in live["curve"]) + "."), ""]
    if results.get("toy"):
        lines += ["| toy task | time to 95 % exact (s) | epochs | test exact |", "|---|---:|---:|---:|"]
        for task, toy in results["toy"].items():
            if isinstance(toy, dict) and "reached_95" in toy:
                lines.append(f"| {task} | {toy['seconds'] if toy['reached_95'] else 'not reached'} | "
                             f"{toy['epochs'] or toy['epochs_run']} | {toy['test_exact']:.3f} |")
        lines.append("")
    app = results.get("app", {})
    if app:
        if "browser" in app and "first_heatmap_s" in app["browser"]:
            b = app["browser"]
            lines.append(f"**App:** server up in {b['server_ready_s']} s, page ready {b['page_ready_s']} s, first "
                         f"heatmap {b['first_heatmap_s']} s after `streamlit run`; click → first heatmap "
                         f"{b['interaction_median_ms']} ms, click → animation finished {b['done_median_ms']} ms "
                         f"(medians of {len(b['first_heatmap_ms'])}).")
        else:
            lines.append(f"**App (browser):** {json.dumps(app.get('browser', app))}")
        server = app.get("server", {})
        if "translate_median_ms" in server:
            lines.append(f"Server time per translate interaction (AppTest rerun): {server['translate_median_ms']} ms "
                         f"(first run, model load included: {server['first_run_s']} s).")
        elif server:
            lines.append(f"**App (server):** {json.dumps(server)}")
        lines.append("")
    if results.get("memory"):
        mem = results["memory"]
        lines.append("**Peak resident memory (fresh process):** " + ", ".join(
            f"{k} {v['peak_rss_mb']} MiB" if "peak_rss_mb" in v else f"{k}: {v.get('error') or v.get('skipped')}"
            for k, v in mem.items()) + ".")
        lines.append("")
    lines += ["| goal | measured | met |", "|---|---|---|"]
    for g in results.get("goals", []):
        lines.append(f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def render_table(results: dict) -> str:
    """The console table (plain text)."""
    lines = [f"bench: {results['machine_label']}  ({results['date']})"]
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            lines.append(f"inference [{device}]: {inf.get('skipped') or inf.get('error')}")
            continue
        lines.append(f"\ninference [{inf['device']}] {inf['sentences']} sentences × {inf['runs']} runs")
        lines.append(f"  {'decoder':48} {'median ms':>10} {'p95 ms':>9} {'ms/step':>8} {'CPU ms':>8} {'chrF':>6}")
        for name, s in inf["systems"].items():
            lines.append(f"  {LABELS.get(name, name):48} {s['median_ms']:10.2f} {s['p95_ms']:9.2f} "
                         f"{s.get('per_step_median_ms', float('nan')):8.3f} {s['cpu_median_ms']:8.2f} {s['chrf']:6.1f}")
        b = inf["batched"]
        lines.append(f"  batched greedy {b['beam1']['sentences_per_s']} sent/s, beam 5 "
                     f"{b['beam5']['sentences_per_s']} sent/s")
        for note in inf.get("notes", {}).values():
            lines.append(f"  note: {note}")
    for device, tr in results.get("training", {}).items():
        if "speedup" in tr:
            lines.append(f"\ntraining [{device}] ours {tr['ours_tokens_per_s']:.0f} tok/s, tutorial "
                         f"{tr['tutorial_tokens_per_s']:.0f} tok/s → {tr['speedup']:.1f}×"
                         + (f" (tutorial with fused Adam {tr['tutorial_fused_adam_tokens_per_s']:.0f} tok/s → "
                            f"{tr['speedup_vs_tutorial_fused_adam']:.1f}×)" if "speedup_vs_tutorial_fused_adam" in tr
                            else ""))
        else:
            lines.append(f"\ntraining [{device}]: {tr.get('skipped') or tr.get('error')}")
    for task, toy in results.get("toy", {}).items():
        if isinstance(toy, dict) and "reached_95" in toy:
            lines.append(f"toy {task}: " + (f"95% exact in {toy['seconds']} s (epoch {toy['epochs']})"
                                            if toy["reached_95"] else f"not reached ({toy['valid_exact']:.1%})"))
    if results.get("app"):
        lines.append(f"\napp: {json.dumps(results['app'])}")
    if results.get("memory"):
        lines.append("memory: " + json.dumps(results["memory"]))
    lines.append("\ngoals:")
    for g in results.get("goals", []):
        lines.append(f"  [{'met' if g['met'] else 'MISSED'}] {g['goal']}: {g['measured']}")
    return "\n".join(lines)


BEGIN, END = "<!-- bench:figures:begin -->", "<!-- bench:figures:end -->"


def update_readme(readme: Path = README, bench_dir: Path = BENCH_DIR) -> bool:
    """Rewrite the figures block of bench/README.md from every bench/results-*.json."""
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    blocks = []
    for path in sorted(bench_dir.glob("results-*.json")):
        with contextlib.suppress(ValueError, KeyError, OSError):
            blocks.append(f"From `bench/{path.name}`:\n\n" + render_markdown(json.loads(path.read_text())))
    body = "\n".join(blocks) or "No full run has been recorded yet.\n"
    head, rest = text.split(BEGIN, 1)
    readme.write_text(f"{head}{BEGIN}\n{body}{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    return True


# --- main ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seq2seq_lab bench", description=__doc__.splitlines()[0])
    p.add_argument("--model", help=f"model file (default: models/{DEFAULT_MODEL}.safetensors)")
    p.add_argument("--device", default="auto",
                   help="cpu, cuda, cpu,cuda or auto (= cpu, plus cuda when there is a GPU)")
    p.add_argument("--quick", action="store_true", help="a smoke run with tiny settings (seconds to a minute)")
    p.add_argument("--sentences", type=int, help="HSK test sentences to time (default: all)")
    p.add_argument("--runs", type=int, help="repetitions per measurement (default 3)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, one per core)")
    p.add_argument("--skip-inference", action="store_true")
    p.add_argument("--skip-app", action="store_true")
    p.add_argument("--skip-train", action="store_true", help="skip training throughput")
    p.add_argument("--skip-toy", action="store_true", help="skip the toy tasks' time to 95 %% exact")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-cn2en", action="store_true")
    p.add_argument("--time-to-quality", action="store_true",
                   help="also re-train the model's recipe up to the epoch of its shipped weights and check its "
                        "test chrF (long: the whole training run)")
    p.add_argument("--app", default="demo/streamlit_app.py", help="the Streamlit app to start")
    p.add_argument("--out", help="results file (default bench/results-<machine>.json; bench/tmp/ for --quick)")
    p.add_argument("--machine", help="machine label for the file name (default: from the CPU/GPU model)")
    p.add_argument("--no-readme", action="store_true", help="do not refresh the figures in bench/README.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--sentence", action="append", help=argparse.SUPPRESS)
    return p


def parse_devices(spec: str) -> list[str]:
    if spec == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [d.strip() for d in spec.split(",") if d.strip()]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:                      # `python -m seq2seq_lab bench -- --quick …`
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    settings = QUICK if args.quick else Settings()
    settings = replace(settings, sentences=args.sentences if args.sentences is not None else settings.sentences,
                       runs=args.runs or settings.runs)
    model_path = (Path(args.model) if args.model else MODELS_DIR / f"{DEFAULT_MODEL}.safetensors").resolve()
    if not model_path.is_file():
        print(f"error: model file {model_path} does not exist; train it (python scripts/train_models.py "
              f"{DEFAULT_MODEL}) or pass --model", file=sys.stderr)
        return 2
    app = (Path(args.app) if Path(args.app).is_absolute() else ROOT / args.app).resolve()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.worker:                                                     # a child process of this bench
        device = torch.device(parse_devices(args.device)[0])
        if args.worker == "app-server":
            out = app_server_worker(app, args.sentence or [p.zh for p in hsk_test_sentences(3)])
        else:
            out = memory_worker(args.worker.removeprefix("memory-"), model_path, device, settings)
        print(json.dumps(out))
        return 0

    devices = parse_devices(args.device)
    info = machine_info(devices)
    label = args.machine or machine_label(info, devices) + (f"-{args.threads}thread" if args.threads else "")
    results: dict = {
        "schema": 1, "machine_label": label, "machine": info, "quick": settings.quick,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m seq2seq_lab.bench", *argv]),
        "model": shown(model_path),
        "settings": asdict(settings), "inference": {}, "training": {}, "time_to_quality": {}, "toy": {},
        "app": {}, "memory": {}}
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    usable = []
    for name in devices:
        if name.startswith("cuda") and not torch.cuda.is_available():
            why = "no GPU available on this machine (torch.cuda.is_available() is False)"
            results["inference"][name] = {"skipped": why}
            results["training"][name] = {"skipped": why}
            log(f"{name}: {why}")
        else:
            usable.append(torch.device(name))

    for device in usable:
        if not args.skip_inference:
            log(f"inference on {device}")
            results["inference"][str(device)] = bench_inference(model_path, device, settings,
                                                                use_cn2en=not args.skip_cn2en)
        if not args.skip_train:
            log(f"training throughput on {device}")
            results["training"][str(device)] = bench_training(model_path, device, settings)
    results["time_to_quality"]["record"] = time_to_quality_from_record(model_path)
    if args.time_to_quality:
        log("time to quality: re-running the recipe")
        results["time_to_quality"]["live"] = time_to_quality_live(model_path, usable[0] if usable else "cpu")
    if not args.skip_toy:
        for task in settings.toy_tasks:
            log(f"toy task {task}: time to {GOAL_TOY_EXACT:.0%} exact")
            results["toy"].update(bench_toy(usable[0] if usable else torch.device("cpu"),
                                            replace(settings, toy_tasks=(task,))))
    if not args.skip_app:
        sentences = [p.zh for p in hsk_test_sentences(max(1, settings.app_interactions))]
        log("app: browser")
        results["app"]["browser"] = bench_app(app, sentences, settings)
        if app.is_file():
            log("app: server time (AppTest)")
            results["app"]["server"] = run_worker(["--worker", "app-server", "--app", str(app), "--model",
                                                   str(model_path)] + [a for s in sentences for a in ("--sentence", s)])
    if not args.skip_memory:
        for kind in ("baseline", "translate", "train"):
            for device in usable:
                log(f"memory: {kind} on {device}")
                key = kind if device.type == "cpu" else f"{kind}_{device.type}"
                results["memory"][key] = run_worker(
                    ["--worker", f"memory-{kind}", "--model", str(model_path), "--device", str(device)]
                    + (["--quick"] if settings.quick else []) + (["--threads", str(args.threads)] if args.threads else []))
                if kind == "baseline":
                    break
    with contextlib.suppress(OSError):
        results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["goals"] = goals(results)

    out = Path(args.out) if args.out else (BENCH_DIR / "tmp" if settings.quick else BENCH_DIR) / f"results-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render_table(results))
    print(f"\nwrote {out}")
    refresh = not settings.quick and not args.no_readme and out.parent.resolve() == BENCH_DIR.resolve()
    if refresh and update_readme():
        print(f"updated the figures in {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
