"""Background training jobs: progress, stop, the server-wide limit, safe saving."""

from __future__ import annotations

import time

import pytest

from seq2seq_lab import jobs
from seq2seq_lab.checkpoint import read_metadata
from seq2seq_lab.corpus import TOY_TASKS
from seq2seq_lab.errors import BusyError, CheckpointError, CorpusError
from seq2seq_lab.train import TrainConfig
from seq2seq_lab.translator import Translator

pytestmark = pytest.mark.slow          # each test trains in a background thread

TINY = {"emb_size": 16, "hidden_size": 32, "attention": "additive", "dropout": 0.0}


def request(name: str = "tiny", *, epochs: int = 1, data: str = "toy:numbers", **extra) -> jobs.TrainRequest:
    config = TrainConfig(epochs=epochs, batch_size=64, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                         device="cpu", max_valid=30, probe="三千零五")
    return jobs.TrainRequest(data=data, name=name, arch=dict(TINY), config=config, **extra)


def wait(job: jobs.Job, timeout: float = 300) -> jobs.Job:
    assert job.wait(timeout), "the job did not end"
    return job


def wait_for_progress(job: jobs.Job, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while job.progress is None and job.active and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_job_trains_reports_progress_and_saves_a_loadable_model(tmp_path):
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "my_numbers.safetensors").write_bytes(b"a shipped model with the same name")
    manager = jobs.JobManager(shipped / "user", other_dirs=[shipped], max_running=1)
    seen = []
    job = manager.start(request("../../my numbers!", epochs=2))
    while job.active:
        if job.progress is not None:
            seen.append(job.progress.fraction)
        time.sleep(0.02)
    assert job.state == jobs.DONE and job.error is None
    assert job.model_name == "my_numbers_2"                          # sanitised, and not the shipped name
    assert job.model_path == shipped / "user" / "my_numbers_2.safetensors"
    assert seen == sorted(seen) and seen                               # the bar only moves forward
    assert [h["epoch"] for h in job.history] == [1, 2]
    assert job.probe is not None and job.probe.src_tokens[:4] == ["三", "千", "零", "五"]
    record = read_metadata(job.model_path)["record"]
    assert record["corpus"] == "toy:numbers" and record["trained_in_app"] is True
    assert record["task"] == TOY_TASKS["numbers"].title and record["train_examples"] == record["pairs"]["train"]
    assert record["split"]["train"] < record["train_examples"]       # distinct pairs; short ones repeated
    assert record["test"]["greedy"]["sentences"] == jobs.MAX_TEST_PAIRS
    tr = Translator.load(job.model_path, device="cpu")
    assert tr.translate("三千零五", beam_size=1).src_tokens == ["三", "千", "零", "五", "</s>"]
    assert not list((shipped / "user").glob(".*.tmp"))                 # the atomic save left no temporary file


def test_only_max_running_trainings_at_once(tmp_path):
    manager = jobs.JobManager(tmp_path, max_running=1)
    first = manager.start(request("first", epochs=30))
    try:
        with pytest.raises(BusyError) as busy:
            manager.start(request("second"))
        assert busy.value.code == "busy" and busy.value.details["limit"] == 1
        assert manager.running() == [first]
    finally:
        first.stop()
        wait(first)
    second = wait(manager.start(request("second")))                  # free again once the first has ended
    assert second.state == jobs.DONE


def test_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_LAB_MAX_TRAININGS", "3")
    assert jobs.JobManager("unused").max_running == 3
    monkeypatch.setenv("SEQ2SEQ_LAB_MAX_TRAININGS", "lots")
    assert jobs.JobManager("unused").max_running == 1
    monkeypatch.delenv("SEQ2SEQ_LAB_MAX_TRAININGS")
    assert jobs.JobManager("unused").max_running == 1


def test_two_allowed_means_two(tmp_path):
    manager = jobs.JobManager(tmp_path, max_running=2)
    a, b = manager.start(request("a", epochs=30)), manager.start(request("b", epochs=30))
    try:
        with pytest.raises(BusyError):
            manager.start(request("c"))
    finally:
        a.stop()
        b.stop()
        wait(a)
        wait(b)
    assert {a.model_name, b.model_name} == {"a", "b"}


def test_stop_ends_early_and_keeps_the_best_weights(tmp_path):
    manager = jobs.JobManager(tmp_path, max_running=1)
    job = manager.start(request("stopped", epochs=30))
    wait_for_progress(job)
    job.stop()
    wait(job)
    assert job.state == jobs.STOPPED
    assert len(job.history) < 30
    assert read_metadata(job.model_path)["record"]["stopped"] is True


def test_a_failed_job_reports_and_frees_its_slot(tmp_path):
    manager = jobs.JobManager(tmp_path, max_running=1)
    job = wait(manager.start(request("nothing", data="tsv")))         # "tsv" without an upload
    assert job.state == jobs.FAILED
    assert isinstance(job.error, CorpusError) and job.error.code == "no_pairs"
    assert manager.running() == []
    assert not list(tmp_path.glob("*.safetensors"))


def test_data_the_app_does_not_offer_is_refused(tmp_path):
    manager = jobs.JobManager(tmp_path, max_running=1)
    for data in ("toy:poetry", "everyday"):
        job = wait(manager.start(request("nothing", data=data)))
        assert job.state == jobs.FAILED and job.error.code == "unknown_task", data
    assert not list(tmp_path.glob("*.safetensors"))


def test_a_name_without_letters_is_refused_before_any_work(tmp_path):
    manager = jobs.JobManager(tmp_path)
    with pytest.raises(CheckpointError) as error:
        manager.start(request("../.."))
    assert error.value.code == "bad_name"
    assert manager.running() == []


def test_uploaded_tsv_files(tmp_path):
    good = "\n".join(f"I have {i} books\t我有{i}本书" for i in range(30)) + "\nbroken line\n"
    report = jobs.read_tsv(good.encode(), name="books.tsv")
    pairs = report.pairs
    assert len(pairs) == 30 and pairs[0].zh == "我有0本书" and pairs[0].en == "I have 0 books"
    assert report.errors == [(31, "expected 2 or 3 tab-separated columns, found 1")]
    with pytest.raises(CorpusError) as few:
        jobs.read_tsv("我爱你\tI love you\n".encode(), name="one.tsv")
    assert few.value.code == "too_few_pairs"
    with pytest.raises(CorpusError) as malformed:
        jobs.read_tsv(b"no tabs here\nnone here either", name="bad.tsv")
    assert malformed.value.code == "no_pairs"
    with pytest.raises(CorpusError) as large:
        jobs.read_tsv(b"x" * 6_000_000, name="big.tsv")
    assert large.value.code == "too_large"
    with pytest.raises(CorpusError) as binary:
        jobs.read_tsv(b"\xff\xfe\xfa", name="binary.tsv")
    assert binary.value.code == "not_utf8"


def test_training_on_an_uploaded_file(tmp_path):
    lines = [f"我有{n}本书\tI have {n} books" for n in range(200)]
    pairs = jobs.read_tsv("\n".join(lines).encode(), name="books.tsv").pairs
    job = wait(jobs.JobManager(tmp_path).start(request("books", data="tsv", pairs=pairs, source_name="books.tsv")))
    assert job.state == jobs.DONE, job.error
    assert read_metadata(job.model_path)["record"]["corpus"] == "tsv:books.tsv"


def test_the_trained_models_folder_has_a_cap_and_models_can_be_deleted(tmp_path):
    """#12: a class cannot fill the disk one training at a time; a model trained here can be deleted (only one)."""
    import os
    import stat

    from seq2seq_lab.errors import LabError

    manager = jobs.JobManager(tmp_path, max_running=1, max_models=1)
    job = wait(manager.start(request("first")))
    assert job.state == jobs.DONE
    assert stat.S_IMODE(os.stat(job.model_path).st_mode) == 0o644                # readable, not mkstemp's 0600
    with pytest.raises(LabError) as full:
        manager.start(request("second"))
    assert full.value.code == "user_models_full" and full.value.details["count"] == 1
    assert not manager.running()                                                # refused before any work
    big = jobs.JobManager(tmp_path, max_running=1, max_models=10, max_mb=0)
    with pytest.raises(LabError, match="MB"):
        big.start(request("third"))
    for bad in ("../first", "first/../../x", "", "nothing_here"):
        with pytest.raises(CheckpointError):
            manager.delete(bad)
    assert manager.delete("first") == job.model_path and not job.model_path.exists()
    assert wait(manager.start(request("second"))).state == jobs.DONE             # room again


def test_stale_temp_files_of_a_killed_save_are_removed_when_the_server_starts(tmp_path):
    import os

    old = tmp_path / ".my_model.safetensors.a1b2c3.tmp"
    old_inner = tmp_path / ".tmpGUC04q"                                          # safetensors' own temp file
    fresh = tmp_path / ".other.safetensors.d4e5f6.tmp"                           # a save in progress right now
    keep = tmp_path / "notes.tmp"
    for path in (old, old_inner, fresh, keep):
        path.write_bytes(b"x" * 100)
    for path in (old, old_inner, keep):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    jobs.JobManager(tmp_path)
    assert not old.exists() and not old_inner.exists() and fresh.exists() and keep.exists()


KILL_WHILE_SAVING = """
import sys, torch
from seq2seq_lab.checkpoint import Checkpoint, save
from seq2seq_lab.model import ModelConfig, Seq2Seq
from seq2seq_lab.vocab import Vocab
words = [f"w{i}" for i in range(3000)]
model = Seq2Seq(ModelConfig(len(Vocab(words)), len(Vocab(words)), emb_size=256, hidden_size=256))
checkpoint = Checkpoint(model, Vocab(words), Vocab(words), {"corpus": "hsk"})
print("ready", flush=True)
for i in range(10_000):
    save(f"{sys.argv[1]}/model_{i % 3}.safetensors", checkpoint)
"""


def test_kill_9_while_saving_leaves_no_half_written_model(tmp_path):
    """#12 fault run: a process saving models in a loop is killed with SIGKILL at five moments. Every model file
    left loads (saves are atomic: write a temp file, fsync, rename); the temp files the kills left behind are
    not models (never listed) and the next server start removes them once stale."""
    import os
    import signal
    import subprocess
    import sys

    from seq2seq_lab import catalog
    from seq2seq_lab.checkpoint import load

    for delay in (0.3, 0.7, 1.1, 1.6, 2.2):
        process = subprocess.Popen([sys.executable, "-c", KILL_WHILE_SAVING, str(tmp_path)], stdout=subprocess.PIPE,
                                   text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    models = sorted(tmp_path.glob("*.safetensors"))
    assert models, "no save finished before the kills: the run proves nothing"
    for path in models:
        load(path)                                                            # complete, or not there at all
    listed = {info.name for info in catalog.list_models(tmp_path)}
    assert listed == {p.stem for p in models} and all(info.ok for info in catalog.list_models(tmp_path))
    for tmp in tmp_path.glob(".*tmp*"):                                       # what the kills left, aged
        os.utime(tmp, (time.time() - 7200, time.time() - 7200))
    jobs.JobManager(tmp_path)
    assert not list(tmp_path.glob(".*tmp*"))
