"""One rank of a real ``torchrun`` training, observed: ``tests/test_distributed.py`` launches it.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py LOGDIR train …

Runs ``python -m seq2seq_lab train …`` (the real CLI, in this process) with two observers around the real
functions, and writes what it saw to ``LOGDIR/rank<R>.json``:

* ``epochs``: per epoch, the training-example indices of each batch this rank trained on;
* ``saves``: the paths this rank saved a model to;
* ``evaluations``: how many times this rank decoded a data set to score it (validation, test splits);
* ``exit``: the CLI's exit code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from seq2seq_lab import checkpoint, cli, train  # noqa: E402

torch.set_num_threads(1)


def main(log_dir: str, argv: list[str]) -> int:
    rank = int(os.environ.get("RANK", 0))          # 0 also when run without torchrun
    seen = {"epochs": [], "saves": [], "evaluations": 0, "exit": None}
    real_make_batches, real_train_step, real_save = train.make_batches, train.train_step, checkpoint.save
    real_evaluate = train.evaluate

    def make_batches(*args, **kwargs):
        if kwargs.get("shuffle"):                       # a training epoch's batches (validation's are not shuffled)
            seen["epochs"].append([])
        return real_make_batches(*args, **kwargs)

    def train_step(model, batch, *args, **kwargs):
        seen["epochs"][-1].append(list(batch.indices))
        return real_train_step(model, batch, *args, **kwargs)

    def save(path, *args, **kwargs):
        seen["saves"].append(str(path))
        return real_save(path, *args, **kwargs)

    def evaluate(*args, **kwargs):
        seen["evaluations"] += 1
        return real_evaluate(*args, **kwargs)

    train.make_batches, train.train_step, checkpoint.save, train.evaluate = make_batches, train_step, save, evaluate
    try:
        seen["exit"] = cli.main(argv)
    finally:
        Path(log_dir, f"rank{rank}.json").write_text(json.dumps(seen))
    return seen["exit"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
