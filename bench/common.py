"""What every part of the bench shares: the run's settings and goals, statistics, the machine, the data.

The bench is a folder of scripts, not a package: ``bench/run.py`` puts this folder and the repository
on ``sys.path``, and its parts import each other by module name (``from common import Settings``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from seq2seq_lab.corpus import Splits, load_splits, recorded_splits

_position = ""


def at(position: str) -> None:
    """Say where the running part of the bench is ("run 1/3, sentence 22/427"): the progress line shows it.

    A plain assignment, cheap enough for the innermost timed loop (it is outside the timed calls)."""
    global _position
    _position = position


def position() -> str:
    return _position


BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
README = BENCH_DIR / "README.md"
CN2EN_VERSION = "0.0.118"
GOAL_BEAM_OVER_GREEDY = 2.5      # our beam 5 may cost at most this many times our greedy
GOAL_TRAIN_SPEEDUP = 20.0        # our batched training vs the tutorial's batch-of-one loop
GOAL_TOY_EXACT = 0.95
GOAL_TOY_ALIGNMENT = 0.95        # #13: a toy model's attention peaks on the character that produced the output
GOAL_PROBE_ALIGNMENT = 0.80      # #13: a Chinese–English model's peaks on the probe's linked words


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
                 toy_tasks=("numbers",), toy_max_pairs=300, toy_max_epochs=1, memory_sentences=3, memory_batches=2,
                 app_interactions=1, quick=True)


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


def write_record(result: dict, name: str, out: str | None = None, *, print_without: tuple[str, ...] | None = None
                 ) -> Path:
    """Write a CPU bench's record to ``out``, or to ``bench/<name>-<machine label>.json`` (the machine from
    ``result["machine"]``), as indented JSON; with ``print_without``, print it too, less those keys."""
    path = Path(out) if out else BENCH_DIR / f"{name}-{machine_label(result['machine'], ['cpu'])}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    if print_without is not None:
        print(json.dumps({key: value for key, value in result.items() if key not in print_without}, indent=1))
    return path


def shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hsk_test_sentences(limit: int = 0) -> list:
    """The HSK test split's pairs (the first ``limit`` of them): the sentences every decoder is timed on."""
    pairs = load_splits("hsk")["test"]
    return pairs[:limit] if limit else pairs


def model_splits(meta: dict) -> Splits:
    """The train / valid / test splits of the data a model was trained on, as its record names it."""
    return recorded_splits(meta.get("record", {}))
