"""Background training jobs for the front ends: a thread per job, a stop flag, a live snapshot.

A web app must not train inside the request that asked for it (the page would
freeze, and so would everybody else's). :class:`JobManager` runs each training in
its own thread and keeps, for the page to poll, the latest
:class:`~.train.Progress` (epoch, loss, time left, validation metrics, the probe
sentence's translation). It allows at most ``max_running`` trainings at once on
the whole server (default 1, or the ``SEQ2SEQ_LAB_MAX_TRAININGS`` environment
variable); one more raises :class:`~.errors.BusyError`.

When a job ends (finished or stopped) the best weights are evaluated on the test
split and saved atomically as ``<models_dir>/<name>.safetensors``; the name is
sanitised and made unique, so a new model never overwrites another.

    manager = JobManager("models/user")
    job = manager.start(TrainRequest(data="toy:dates_en", name="my dates", arch={...}, config=TrainConfig(...)))
    while job.active: time.sleep(1); print(job.progress)
    job.model_path   # models/user/my_dates.safetensors
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import catalog, settings
from .checkpoint import remove_stale_temp_files, save
from .corpus import TOY_TASKS, CorpusReport, Pair, Splits, load_splits, parse_tsv
from .errors import BusyError, CheckpointError, CorpusError, LabError
from .recipes import data_arch
from .train import Progress, TrainConfig, evaluate, fit
from .translator import Translation, Translator

MIN_TRAIN_PAIRS = 20          # fewer pairs than this cannot teach a model anything visible
MAX_TEST_PAIRS = 300          # test sentences decoded for the saved model's record
DATA_CHOICES = ("hsk", *(f"toy:{task}" for task in TOY_TASKS), "tsv")

STARTING, RUNNING, DONE, STOPPED, FAILED = "starting", "running", "done", "stopped", "failed"


def read_tsv(data: bytes, *, name: str = "upload.tsv", max_bytes: int = 5_000_000) -> CorpusReport:
    """An uploaded TSV file's usable pairs (``.pairs``) and skipped lines (``.errors``).

    Raises :class:`CorpusError` if it cannot be trained on (too large, not UTF-8, too few pairs).
    """
    report = parse_tsv(data, name=name, max_bytes=max_bytes)
    if len(report.pairs) < MIN_TRAIN_PAIRS:
        raise CorpusError("too_few_pairs", f"{name} has {len(report.pairs)} usable sentence pairs; training "
                          f"needs at least {MIN_TRAIN_PAIRS}", count=len(report.pairs), minimum=MIN_TRAIN_PAIRS)
    return report


@dataclass
class TrainRequest:
    """What to train: data, architecture (ModelConfig fields), settings and the name to save under."""

    data: str                                 # "hsk", "toy:<task>" or "tsv"
    name: str                                 # wished-for model name (sanitised and made unique on save)
    arch: dict = field(default_factory=dict)  # ModelConfig fields: cell, attention, emb_size, hidden_size, …
    config: TrainConfig = field(default_factory=TrainConfig)
    pairs: list[Pair] | None = None           # the uploaded pairs when data == "tsv" (read_tsv(...).pairs)
    source_name: str = ""                     # the uploaded file's name, for the record

    def splits(self) -> tuple[Splits, dict]:
        """(the data's splits, the ModelConfig fields the data fixes: a toy task's segmenter)."""
        if self.data == "tsv":
            if not self.pairs:
                raise CorpusError("no_pairs", "No training file was uploaded.")
            splits = load_splits(f"tsv:{self.source_name or 'upload'}", pairs=self.pairs)
            if len(splits.train) < MIN_TRAIN_PAIRS:
                raise CorpusError("too_few_pairs", f"only {len(splits.train)} pairs fall in the training split",
                                  count=len(splits.train), minimum=MIN_TRAIN_PAIRS)
            return splits, {}
        if self.data not in DATA_CHOICES:
            raise CorpusError("unknown_task", f"unknown data choice {self.data!r}")
        return load_splits(self.data), data_arch(self.data)


class Job:
    """One training run. The worker thread writes; any thread may read the attributes."""

    def __init__(self, job_id: str, request: TrainRequest):
        self.id = job_id
        self.request = request
        self.state = STARTING
        self.progress: Progress | None = None     # latest batch/epoch/done event
        self.probe: Translation | None = None      # the probe sentence after the latest epoch
        self.history: list[dict] = []              # one entry per finished epoch
        self.error: LabError | None = None
        self.model_name: str | None = None
        self.model_path: Path | None = None
        self.test: dict | None = None              # test-split metrics of the saved model
        self.started = time.time()
        self.finished: float | None = None
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.state in (STARTING, RUNNING)

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the job to stop after the current batch; it still saves the best weights so far."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (for scripts and tests); True if it did."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.active

    def _on_progress(self, progress: Progress) -> None:
        self.state = RUNNING
        if progress.event == "epoch":
            self.history = list(progress.history)
            if progress.probe is not None:
                self.probe = progress.probe
        self.progress = progress


def _unique_path(models_dir: Path, name: str, taken: Iterable[str]) -> Path:
    taken = set(taken)
    for index in itertools.count(1):
        stem = name if index == 1 else f"{name}_{index}"
        path = models_dir / f"{stem}{catalog.SUFFIX}"
        if stem not in taken and not path.exists():
            return path
    raise AssertionError("unreachable")


class JobManager:
    """Starts training jobs, enforces the server-wide limit, saves finished models."""

    def __init__(self, models_dir: str | Path, *, max_running: int | None = None,
                 other_dirs: Iterable[str | Path] = (), device: str = "auto", max_models: int | None = None,
                 max_mb: int | None = None):
        self.models_dir = Path(models_dir)
        loaded = settings.load()
        self.max_running = max_running if max_running is not None else loaded.max_trainings
        self.max_models = max_models if max_models is not None else loaded.max_user_models
        self.max_bytes = (max_mb if max_mb is not None else loaded.max_user_mb) * 10**6
        if self.models_dir.is_dir():
            remove_stale_temp_files(self.models_dir)      # left by a process killed while saving
        self.other_dirs = [Path(d) for d in other_dirs]   # names taken there are avoided too (shipped models)
        self.device = device
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._ids = itertools.count(1)

    def running(self) -> list[Job]:
        with self._lock:
            return [job for job in self._jobs.values() if job.active]

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def start(self, request: TrainRequest) -> Job:
        """Start ``request`` in a new thread; :class:`BusyError` when the server is at its limit."""
        name = catalog.sanitize_name(request.name)            # bad names fail here, before any work
        request.config.device = self.device if request.config.device == "auto" else request.config.device
        self.check_room()
        with self._lock:
            running = sum(job.active for job in self._jobs.values())
            if running >= self.max_running:
                raise BusyError("busy", f"{running} training(s) already running; the server allows "
                                f"{self.max_running} at a time. Try again when it has finished.",
                                running=running, limit=self.max_running)
            job = Job(f"job{next(self._ids)}", request)
            self._jobs[job.id] = job
        job.thread = threading.Thread(target=self._run, args=(job, name), name=f"train-{job.id}", daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job, name: str) -> None:
        try:
            splits, arch_defaults = job.request.splits()
            arch = {**arch_defaults, **job.request.arch}
            result = fit(splits.train, splits.valid, arch, job.request.config, on_progress=job._on_progress,
                         should_stop=job._stop.is_set, record={**splits.record, "trained_in_app": True})
            job.history = list(result.history)
            translator = Translator(result.checkpoint, device="cpu", names=False)    # recorded: the model alone
            test_pairs = splits["test"][:MAX_TEST_PAIRS]
            if test_pairs:
                job.test = {"greedy": evaluate(translator, test_pairs, beam_size=1)}
                result.checkpoint.record["test"] = job.test
            job.model_path = self.save(result.checkpoint, name)
            job.model_name = job.model_path.stem
            job.state = STOPPED if result.stopped else DONE
        except LabError as error:
            job.error, job.state = error, FAILED
        except Exception as error:
            job.error, job.state = LabError("train_failed", f"training failed: {error}"), FAILED
        finally:
            job.finished = time.time()

    def saved(self) -> list[Path]:
        """The model files the app's trainings have saved here."""
        return sorted(self.models_dir.glob(f"*{catalog.SUFFIX}")) if self.models_dir.is_dir() else []

    def check_room(self) -> None:
        """:class:`~.errors.LabError` ("user_models_full") when the folder holds ``max_models`` models or
        ``max_mb`` MB: a class cannot fill the disk one training at a time."""
        files, size = self.saved(), 0
        for path in files:
            try:
                size += path.stat().st_size
            except OSError:              # deleted meanwhile
                continue
        coming = len(self.running())     # trainings under way will save a model each
        if len(files) + coming >= self.max_models or size >= self.max_bytes:
            raise LabError("user_models_full", f"the trained models' folder holds {len(files)} models "
                           f"({size / 1e6:.0f} MB); the limit is {self.max_models} models or "
                           f"{self.max_bytes / 1e6:.0f} MB. Delete one you no longer need first.",
                           count=len(files), size=round(size / 1e6), models=self.max_models,
                           mb=round(self.max_bytes / 1e6))

    def delete(self, name: str) -> Path:
        """Delete the trained model ``name`` (a file of this folder, never a shipped one); returns its path."""
        path = catalog.resolve_model(name, self.models_dir)          # refuses names that leave the folder
        try:
            path.unlink()
        except FileNotFoundError:
            raise CheckpointError("missing", f"there is no trained model called {path.stem}", path=str(path)) from None
        except OSError as error:
            raise CheckpointError("delete_failed", f"could not delete {path.stem}: {error.strerror or error}",
                                  path=str(path)) from None
        return path

    def save(self, checkpoint, name: str) -> Path:
        """Save under a unique, sanitised name (atomic write; never overwrites)."""
        name = catalog.sanitize_name(name)
        with self._save_lock:
            taken = {p.stem for d in self.other_dirs for p in d.glob(f"*{catalog.SUFFIX}")}
            path = _unique_path(self.models_dir, name, taken)
            try:
                return save(path, checkpoint)
            except OSError as error:
                raise CheckpointError("save_failed", f"could not save the model: {error}") from None
