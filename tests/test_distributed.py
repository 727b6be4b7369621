"""Data-parallel training: the sharding and gradient arithmetic, and real 2-process gloo runs under torchrun.

The real runs start ``python -m torch.distributed.run --standalone --nproc_per_node 2`` on
``tests/distributed_worker.py``, which runs the real CLI in each rank and logs which examples each rank
trained on and who saved. Their assertions wait for events (a progress line, a process ending) with
generous bounds, never on how fast this machine is.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from seq2seq_lab import distributed
from seq2seq_lab.checkpoint import load, read_metadata
from seq2seq_lab.corpus import TOY_TASKS, load_splits, toy_splits
from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
from seq2seq_lab.models import build_model, config_for
from seq2seq_lab.present import api
from seq2seq_lab.settings import Settings
from seq2seq_lab.train import TrainConfig, _loss, fit, make_criterion

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "distributed_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
# A toy recipe that reaches ~99 % exact match in 2 epochs (7,000 generated pairs, ~6 s on one core). Dropout 0,
# so that the two runs differ only by float rounding and the comparison of their weights is meaningful.
RECIPE = ["train", "--data", "toy:numbers", "--epochs", "2", "--emb", "32", "--hidden", "64", "--batch-size", "64",
          "--lr", "3e-3", "--dropout", "0", "--device", "cpu"]


def rank(r: int, world: int = 2) -> distributed.Context:
    return distributed.Context(rank=r, local_rank=r, world_size=world, backend="gloo")


# --- sharding and gradient arithmetic (no processes) -----------------------------------------------------------


@pytest.mark.parametrize(("rows", "world"), [(rows, world) for rows in (2, 3, 7, 64, 65) for world in (1, 2, 3, 4)
                                             if rows >= world])     # make_batches' min_batch ensures rows ≥ world
def test_the_shares_of_a_batch_are_disjoint_cover_it_and_differ_by_at_most_one(rows, world):
    shares = [range(rows)[distributed.shard_rows(rows, rank(r, world))] for r in range(world)]
    assert sorted(i for share in shares for i in share) == list(range(rows))
    assert all(list(share) == list(range(share.start, share.stop)) for share in shares)      # contiguous
    assert max(map(len, shares)) - min(map(len, shares)) <= 1 and min(map(len, shares)) >= 1


@pytest.mark.parametrize("world", [2, 3])
def test_scaled_share_gradients_average_to_the_whole_batch_gradient(world):
    """What DDP computes — the mean over ranks of each rank's gradient of loss_scale · (its token-mean loss) —
    equals the single-process gradient of the whole batch's token-mean loss."""
    splits = toy_splits("numbers", size=200, seed=3)
    examples = tokenize_pairs(splits["train"], "char", TOY_TASKS["numbers"].tgt_detok)
    src_vocab, tgt_vocab = build_vocabs(examples)
    by_length = sorted(examples, key=lambda e: len(e.tgt_tokens))
    mixed = by_length[::len(by_length) // 24][:24]                  # short and long targets in one batch
    batch = make_batches(mixed, src_vocab, tgt_vocab, batch_size=24)[0]
    torch.manual_seed(0)
    model = build_model(config_for({"emb_size": 16, "hidden_size": 24, "dropout": 0.0, "src_segmenter": "char"},
                                   src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab)))
    criterion = make_criterion(0.1)

    def gradients(b, scale: float = 1.0) -> list[torch.Tensor]:
        model.zero_grad()
        (_loss(model, b, criterion)[0] * scale).backward()
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]

    whole = gradients(batch)
    shares = [batch.select(distributed.shard_rows(len(batch.indices), rank(r, world))) for r in range(world)]
    assert len({s.n_tokens for s in shares}) > 1, "the shares must differ in tokens for the test to mean anything"
    per_rank = [gradients(s, distributed.loss_scale(s.n_tokens, batch.n_tokens, rank(r, world)))
                for r, s in enumerate(shares)]
    averaged = [torch.stack(gs).mean(0) for gs in zip(*per_rank)]                # what DDP's all-reduce gives
    for got, want in zip(averaged, whole):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_a_share_is_trimmed_to_its_own_longest_sentence():
    splits = toy_splits("numbers", size=300, seed=3)
    examples = tokenize_pairs(splits["train"], "char", TOY_TASKS["numbers"].tgt_detok)
    src_vocab, tgt_vocab = build_vocabs(examples)
    batch = make_batches(examples, src_vocab, tgt_vocab, batch_size=300)[0]       # short and long sentences together
    share = batch.select(slice(0, 10))                                              # the ten shortest
    assert share.indices == batch.indices[:10] and share.references == batch.references[:10]
    assert share.src.shape == (10, int(share.src_lengths.max())) < batch.src.shape
    assert share.tgt_in.shape == share.tgt_out.shape and share.tgt_out.shape[1] < batch.tgt_out.shape[1]
    assert (share.tgt_out != 0).sum(1).max() == share.tgt_out.shape[1]            # no column of padding only
    assert torch.equal(share.src, batch.src[:10, :share.src.shape[1]])
    assert share.n_tokens == int((batch.tgt_out[:10] != 0).sum())


def test_a_last_batch_smaller_than_the_world_joins_the_one_before():
    splits = toy_splits("numbers", size=20, seed=3)
    examples = tokenize_pairs(splits["train"][:9], "char", TOY_TASKS["numbers"].tgt_detok)
    src_vocab, tgt_vocab = build_vocabs(examples)
    assert [len(b.indices) for b in make_batches(examples, src_vocab, tgt_vocab, batch_size=4)] == [4, 4, 1]
    joined = make_batches(examples, src_vocab, tgt_vocab, batch_size=4, min_batch=2)
    assert [len(b.indices) for b in joined] == [4, 5]
    assert sorted(i for b in joined for i in b.indices) == list(range(9))


def test_loss_scale_is_one_in_a_single_process():
    assert distributed.loss_scale(7, 30, distributed.SINGLE) == 1.0
    assert distributed.loss_scale(10, 30, rank(1, 3)) == pytest.approx(1.0)
    assert distributed.loss_scale(12, 30, rank(0, 2)) == pytest.approx(0.8)


def test_only_a_torchrun_environment_starts_a_process_group():
    full = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert distributed.launched_by_torchrun(full)
    for missing in full:
        assert not distributed.launched_by_torchrun({k: v for k, v in full.items() if k != missing})
    assert distributed.start("cpu", environ={}) is distributed.SINGLE
    assert not dist.is_initialized()
    assert distributed.backend_for("cpu") == "gloo" and distributed.backend_for("cuda:0") == "nccl"


def test_a_single_process_run_initialises_nothing_and_records_no_world(toy_training):
    assert not dist.is_initialized()
    record = toy_training.result.checkpoint.record
    assert "world_size" not in record and "backend" not in record
    assert distributed.SINGLE.record() == {} and rank(0).record() == {"backend": "gloo", "world_size": 2}


def test_fit_refuses_a_batch_smaller_than_the_number_of_processes(monkeypatch):
    monkeypatch.setattr(distributed, "current", lambda: rank(0, 4))
    pairs = toy_splits("numbers", size=20, seed=3)["train"]
    with pytest.raises(ValueError, match="batch_size"):
        fit(pairs, [], {"src_segmenter": "char"}, TrainConfig(epochs=1, batch_size=3, device="cpu"))


# --- real runs: two gloo processes under torchrun --------------------------------------------------------------


def worker_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("SEQ2SEQ_LAB_DEVICE", None)
    return env


def run_worker(log_dir: Path, argv: list[str], *, processes: int) -> subprocess.CompletedProcess:
    """The worker in one process, or in two under torchrun with each rank's stdout and stderr in its own files
    (``--log-dir``/``--redirects 3``: ``log_dir/torchrun/<run>/attempt_0/<rank>/std{out,err}.log``)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    launcher = ([*TORCHRUN, "--log-dir", str(log_dir / "torchrun"), "--redirects", "3"] if processes == 2
                else [sys.executable])
    return subprocess.run([*launcher, str(WORKER), str(log_dir), *argv], capture_output=True, text=True,
                          env=worker_env(), timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same recipe trained by two gloo processes and by one: (folder, {"ddp": logs, "single": logs})."""
    folder = tmp_path_factory.mktemp("distributed")
    logs = {}
    for name, processes in (("ddp", 2), ("single", 1)):
        done = run_worker(folder / name, [*RECIPE, "--out", str(folder / f"{name}_numbers.safetensors")],
                          processes=processes)
        assert done.returncode == 0, done.stderr[-3000:]
        logs[name] = {path.stem: json.loads(path.read_text()) for path in sorted((folder / name).glob("rank*.json"))}
        logs[name]["output"] = {"rank0": done.stdout + done.stderr}
        for output in (folder / name / "torchrun").glob("*/attempt_0/*"):
            logs[name]["output"][f"rank{output.name}"] = "".join(
                (output / f).read_text() for f in ("stdout.log", "stderr.log"))
    return folder, logs


@pytest.mark.slow
def test_each_rank_trains_on_its_own_share_and_together_they_cover_every_epoch(two_runs):
    folder, logs = two_runs
    rank0, rank1, single = logs["ddp"]["rank0"], logs["ddp"]["rank1"], logs["single"]["rank0"]
    n_train = len(load_splits("toy:numbers").train)            # the training examples (short inputs repeated)
    assert len(rank0["epochs"]) == len(rank1["epochs"]) == 2
    for epoch0, epoch1, epoch_single in zip(rank0["epochs"], rank1["epochs"], single["epochs"]):
        assert len(epoch0) == len(epoch1) == len(epoch_single)                   # same steps: nobody waits
        for share0, share1, whole in zip(epoch0, epoch1, epoch_single):
            assert share0 and share1 and not set(share0) & set(share1)           # disjoint, none empty
            assert sorted(share0 + share1) == sorted(whole)                      # together: the one-process batch
        seen = [i for share in epoch0 + epoch1 for i in share]
        assert sorted(seen) == list(range(n_train))                             # every example once per epoch


@pytest.mark.slow
def test_only_rank_0_writes_the_model_and_its_record_names_the_world(two_runs):
    folder, logs = two_runs
    assert logs["ddp"]["rank0"]["saves"] == [str(folder / "ddp_numbers.safetensors")]
    assert logs["ddp"]["rank1"]["saves"] == []
    assert logs["ddp"]["rank0"]["exit"] == logs["ddp"]["rank1"]["exit"] == 0
    assert "2 processes (gloo)" in logs["ddp"]["output"]["rank0"] and "test greedy" in logs["ddp"]["output"]["rank0"]
    record = read_metadata(folder / "ddp_numbers.safetensors")["record"]
    assert (record["world_size"], record["backend"]) == (2, "gloo")
    assert "world_size" not in read_metadata(folder / "single_numbers.safetensors")["record"]


@pytest.mark.slow
def test_only_rank_0_validates_and_reports(two_runs):
    _, logs = two_runs
    assert logs["ddp"]["rank1"]["evaluations"] == 0
    assert logs["ddp"]["rank0"]["evaluations"] == logs["single"]["rank0"]["evaluations"] > 2   # 2 epochs + tests
    assert "epoch 2/2 loss" in logs["ddp"]["output"]["rank0"]                   # the progress bar
    assert logs["ddp"]["output"]["rank1"].strip() == ""                         # rank 1 says nothing at all


@pytest.mark.slow
def test_two_processes_train_the_same_model_as_one(two_runs):
    """Same batches, same gradient: the weights agree to float rounding (a per-rank mean without the
    W·N_r/N scaling drifts to ~5e-2 on this run), and so do the quality and the API's answers."""
    folder, _ = two_runs
    ddp, single = load(folder / "ddp_numbers.safetensors"), load(folder / "single_numbers.safetensors")
    ddp_state, single_state = ddp.model.state_dict(), single.model.state_dict()
    assert max(float((ddp_state[k] - single_state[k]).abs().max()) for k in ddp_state) < 1e-3
    ddp_exact, single_exact = ddp.record["test"]["greedy"]["exact"], single.record["test"]["greedy"]["exact"]
    assert single_exact >= 0.9 and abs(ddp_exact - single_exact) <= 0.01

    settings = Settings(models_dir=folder)
    listed = {m["name"]: m for m in api.models(settings)}
    assert listed["ddp_numbers"]["ok"] and listed["single_numbers"]["ok"]
    for text in ("十五", "三千零五", "一万两千三百"):
        got, want = api.translate(settings, text, "ddp_numbers"), api.translate(settings, text, "single_numbers")
        assert [c["text"] for c in got["candidates"]] == [c["text"] for c in want["candidates"]]
        assert [c["score"] for c in got["candidates"]] == pytest.approx([c["score"] for c in want["candidates"]],
                                                                          abs=1e-3)


class Launch:
    """A torchrun training in the background, its output collected as it comes."""

    def __init__(self, argv: list[str], *, launcher: list[str] = TORCHRUN):
        self.process = subprocess.Popen([*launcher, "-m", "seq2seq_lab", *argv], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=worker_env(), cwd=ROOT)
        self.output = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := self.process.stdout.read1(4096):
            self.output += chunk

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert self.process.poll() is None, f"ended before {needle!r}:\n{self.text[-3000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout} s:\n{self.text[-3000:]}"
            time.sleep(0.1)

    def workers(self) -> dict[int, int]:
        """{rank: pid} of torchrun's worker processes."""
        children = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        ranks = {}
        for pid in children:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            ranks.update({int(v.split(b"=")[1]): pid for v in env if v.startswith(b"RANK=")})
        return ranks

    def end(self, timeout: float) -> float:
        """Seconds until torchrun exits (fails the test past ``timeout``)."""
        started = time.monotonic()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"torchrun still running {timeout} s after the event:\n{self.text[-3000:]}")
        self.reader.join(timeout=10)
        return time.monotonic() - started


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


LONG_RUN = ["train", "--data", "toy:numbers", "--epochs", "40", "--emb", "32", "--hidden", "64", "--device", "cpu"]


@pytest.mark.slow
def test_killing_one_rank_ends_the_other_within_a_bounded_time(tmp_path):
    out = tmp_path / "killed.safetensors"
    run = Launch([*LONG_RUN, "--out", str(out)])
    run.wait_for("epoch 1/40 loss")                        # rank 0's progress bar: training is under way
    workers = run.workers()
    assert sorted(workers) == [0, 1]
    os.kill(workers[1], signal.SIGKILL)
    run.end(timeout=60)
    assert run.process.returncode != 0
    assert not alive(workers[0]) and not alive(workers[1])
    assert "error: rank 0: training stopped, another training process failed or left" in run.text
    assert "[rank0]: Traceback" not in run.text           # rank 0 says one line, no traceback of its own
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_a_stop_request_on_one_rank_stops_both_and_rank_0_saves_the_best_so_far(tmp_path):
    out = tmp_path / "stopped.safetensors"
    run = Launch([*LONG_RUN, "--out", str(out)])
    run.wait_for("epoch 2/40 loss")                        # one epoch validated: there is a best so far
    workers = run.workers()
    os.kill(workers[1], signal.SIGTERM)                    # what torchrun sends a worker it stops
    run.end(timeout=60)
    assert run.process.returncode == 0, run.text[-3000:]
    assert not alive(workers[0]) and not alive(workers[1])
    assert "stopped on request: saved the best epoch so far" in run.text
    record = read_metadata(out)["record"]
    assert record["stopped"] and record["world_size"] == 2 and 1 <= record["epochs_run"] < 40
    assert load(out).model is not None


def readme_two_machine_launcher() -> list[str]:
    """The README's two-machine ``torchrun`` launcher (everything before ``-m seq2seq_lab``), as documented."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("torchrun --nnodes 2"))
    return line.split(" -m seq2seq_lab")[0].split()


@pytest.mark.slow
def test_the_readme_two_machine_command_trains_with_both_machines_on_this_one(tmp_path):
    """Two torchrun agents, one process each, meet through the documented c10d rendezvous (the endpoint is
    this machine instead of lab0) and train one model together."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launcher = readme_two_machine_launcher()
    assert launcher[:2] == ["torchrun", "--nnodes"] and "--rdzv-endpoint" in launcher and "--rdzv-id" in launcher
    launcher = [sys.executable, "-m", "torch.distributed.run",
                *[{"lab0:29400": f"127.0.0.1:{port}", "4": "1"}.get(arg, arg) for arg in launcher[1:]]]
    out = tmp_path / "two_machines.safetensors"
    command = [*launcher, "-m", "seq2seq_lab", "train", "--data", "toy:numbers", "--epochs", "1", "--emb", "32",
               "--hidden", "64", "--device", "cpu", "--out", str(out)]
    nodes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=worker_env(), cwd=ROOT) for _ in range(2)]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert sum("saved " in output for output in outputs) == 1                  # one global rank 0, one file
    record = read_metadata(out)["record"]
    assert (record["world_size"], record["backend"]) == (2, "gloo")


@pytest.mark.slow
def test_ctrl_c_in_a_single_process_training_saves_the_best_so_far(tmp_path):
    """The same stop without torchrun: Ctrl-C ends the training after the current batch, not mid-step, and
    keeps what it learned (before distributed training existed, it was a KeyboardInterrupt traceback)."""
    out = tmp_path / "interrupted.safetensors"
    run = Launch([*LONG_RUN, "--out", str(out)], launcher=[sys.executable])
    run.wait_for("epoch 2/40 loss")
    run.process.send_signal(signal.SIGINT)
    run.end(timeout=60)
    assert run.process.returncode == 0, run.text[-3000:]
    assert "stopped on request: saved the best epoch so far" in run.text and "Traceback" not in run.text
    record = read_metadata(out)["record"]
    assert record["stopped"] and 1 <= record["epochs_run"] < 40 and "world_size" not in record
