"""The same invariants on CUDA, and CPU vs CUDA agreement. Skipped cleanly on machines without a GPU.

cuDNN runs float32 RNNs in TF32 by default (10-bit mantissa). The exact-agreement checks
switch that off (``ieee`` fixture); ``test_default_precision_keeps_trained_outputs`` checks
what a user gets with the defaults.
"""

from __future__ import annotations

import pytest
import torch
from conftest import EXAMPLE_SENTENCES, MODELS, build_translator
from numpy.testing import assert_allclose
from torch.testing import assert_close

from seq2seq_lab import Translator
from seq2seq_lab.attention import ATTENTION_TYPES
from seq2seq_lab.checkpoint import load
from seq2seq_lab.corpus import toy_splits
from seq2seq_lab.data import pad
from seq2seq_lab.model import ModelConfig, Seq2Seq
from seq2seq_lab.search import SearchOptions, beam_search, greedy_search, run
from seq2seq_lab.train import TrainConfig, fit

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

_PRECISION_KNOBS = [(torch.backends.cuda.matmul, "fp32_precision"), (torch.backends.cudnn, "fp32_precision"),
                    (getattr(torch.backends.cudnn, "rnn", None), "fp32_precision")]


@pytest.fixture
def ieee():
    """Full float32 on the GPU for the duration of a test (the newer per-backend API when present)."""
    knobs = [(obj, name) for obj, name in _PRECISION_KNOBS if obj is not None and hasattr(obj, name)]
    if knobs:
        saved = [getattr(obj, name) for obj, name in knobs]
        for obj, name in knobs:
            setattr(obj, name, "ieee")
        yield
        for (obj, name), value in zip(knobs, saved):
            setattr(obj, name, value)
    else:
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _search(tr, texts, strategy, **options):
    analyses = [tr.analyze(t) for t in texts]
    src = pad([a.ids for a in analyses]).to(tr.device)
    lengths = torch.tensor([len(a.ids) for a in analyses])
    with torch.inference_mode():
        encoded = tr.model.encode(src, lengths)
        memory = tr.model.decoder.prepare(encoded)
        state = tr.model.decoder.init_state(encoded)
        return run(strategy(tr.model, memory, state, lengths, tr.tgt_vocab, SearchOptions(record=False, **options)))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", ATTENTION_TYPES)
def test_step_by_step_equals_forward_on_cuda(ieee, attention, cell):
    torch.manual_seed(0)
    config = ModelConfig(src_vocab_size=12, tgt_vocab_size=11, emb_size=8, hidden_size=12, cell=cell,
                         attention=attention, dropout=0.0)
    model = Seq2Seq(config).cuda().eval()
    src = pad([[4, 5, 6, 7, 3], [8, 9, 3], [10, 3]]).cuda()
    lengths = torch.tensor([5, 3, 2])
    tgt_in = torch.tensor([[2, 4, 5, 6, 7], [2, 8, 9, 0, 0], [2, 10, 0, 0, 0]]).cuda()
    with torch.inference_mode():
        logits, attention_weights = model(src, lengths, tgt_in)
        encoded = model.encode(src, lengths)
        memory, state = model.decoder.prepare(encoded), model.decoder.init_state(encoded)
        for t in range(tgt_in.size(1)):
            out = model.decoder.step(tgt_in[:, t], state, memory)
            state = out.state
            assert_close(out.logits, logits[:, t])
    if attention_weights is not None:
        assert attention_weights.device.type == "cuda"
        assert_close(attention_weights.sum(-1), torch.ones(3, 5, device="cuda"))
        assert torch.all(attention_weights[(src == 0).unsqueeze(1).expand(-1, 5, -1)] == 0)


@pytest.mark.parametrize("attention", MODELS)
def test_beam_size_1_equals_greedy_on_cuda(ieee, attention):
    tr = build_translator(attention, eos_bias=2.0, device="cuda")
    greedy = _search(tr, EXAMPLE_SENTENCES, greedy_search, beam_size=1)
    beam = _search(tr, EXAMPLE_SENTENCES, beam_search, beam_size=1)
    for [g], [b] in zip(greedy, beam):
        assert b.ids == g.ids
        assert b.score == pytest.approx(g.score, abs=1e-4)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", MODELS)
def test_cpu_and_cuda_translations_agree(ieee, attention, cell):
    cpu = build_translator(attention, cell=cell, eos_bias=2.0, device="cpu")
    gpu = build_translator(attention, cell=cell, eos_bias=2.0, device="cuda")
    assert gpu.device.type == "cuda" and next(gpu.model.parameters()).is_cuda
    for beam_size in (1, 4):
        a = cpu.translate_batch(EXAMPLE_SENTENCES, beam_size=beam_size, n_best=beam_size, max_len=12)
        b = gpu.translate_batch(EXAMPLE_SENTENCES, beam_size=beam_size, n_best=beam_size, max_len=12)
        for x, y in zip(a, b):
            assert y.device.startswith("cuda:0 (")
            assert [c.tokens for c in x.candidates] == [c.tokens for c in y.candidates]
            assert_allclose([c.score for c in y.candidates], [c.score for c in x.candidates], atol=1e-4)
            for cx, cy in zip(x.candidates, y.candidates):
                if cx.attention is not None:
                    assert_allclose(cy.attention, cx.attention, atol=1e-4)


def test_transformer_cache_and_attention_record_on_cuda(ieee):
    """The Transformer's cached steps equal its one-pass forward on the GPU, and its head record matches the CPU."""
    cpu = build_translator("transformer", eos_bias=2.0, device="cpu")
    gpu = build_translator("transformer", eos_bias=2.0, device="cuda")
    src = pad([[4, 5, 6, 7, 3], [8, 9, 3]]).cuda()
    lengths = torch.tensor([5, 3])
    tgt_in = torch.tensor([[2, 4, 5, 6], [2, 8, 9, 0]]).cuda()
    model = gpu.model
    with torch.inference_mode():
        logits, _ = model(src, lengths, tgt_in)
        encoded = model.encode(src, lengths)
        memory, state = model.decoder.prepare(encoded), model.decoder.init_state(encoded)
        for t in range(tgt_in.size(1)):
            out = model.decoder.step(tgt_in[:, t], state, memory)
            state = out.state
            real = tgt_in[:, t] != 0
            assert_close(out.logits[real], logits[real, t], atol=1e-5, rtol=1e-5)
    a, b = cpu.translate("我爱学习中文", beam_size=3), gpu.translate("我爱学习中文", beam_size=3)
    assert a.best.tokens == b.best.tokens
    assert_allclose(b.best.attention_heads, a.best.attention_heads, atol=1e-4)
    assert_allclose(b.best.self_attention, a.best.self_attention, atol=1e-4)
    assert_allclose(b.encoder_attention, a.encoder_attention, atol=1e-4)


def test_score_steps_and_encode_on_cuda(ieee):
    tr = build_translator("additive", eos_bias=2.0, device="cuda")
    cpu = build_translator("additive", eos_bias=2.0, device="cpu")
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=3, n_best=3)
        for c in r.candidates:
            if c.finished:
                assert tr.score(text, c.tokens[:-1]) == pytest.approx(c.score, abs=1e-4)
        assert tr.score(text, ["i", "love"]) == pytest.approx(cpu.score(text, ["i", "love"]), abs=1e-4)
        steps = list(tr.steps(text, beam_size=3, n_best=3))
        assert [c.tokens for c in steps[-1].final.candidates] == [c.tokens for c in r.candidates]
        assert_allclose(tr.encode(text).states, cpu.encode(text).states, atol=1e-5)


def test_checkpoint_loads_onto_cuda_and_agrees_with_cpu(ieee, toy_training):
    gpu = Translator.load(toy_training.path, device="cuda")
    cpu = Translator.load(toy_training.path, device="cpu")
    texts = [p.zh for p in toy_training.splits["test"][:20]]
    for a, b in zip(cpu.translate_batch(texts, beam_size=4), gpu.translate_batch(texts, beam_size=4)):
        assert a.best.tokens == b.best.tokens
        assert b.best.score == pytest.approx(a.best.score, abs=1e-4)
    on_gpu = load(toy_training.path, device="cuda")
    assert all(p.is_cuda for p in on_gpu.model.parameters())


def test_default_precision_keeps_trained_outputs(toy_training):
    """With the library's default (TF32-allowed) settings a trained model still decodes the same text."""
    gpu = Translator.load(toy_training.path, device="auto")
    cpu = Translator.load(toy_training.path, device="cpu")
    assert gpu.device.type == "cuda"
    texts = [p.zh for p in toy_training.splits["test"][:20]]
    for a, b in zip(cpu.translate_batch(texts, beam_size=4), gpu.translate_batch(texts, beam_size=4)):
        assert a.best.tokens == b.best.tokens
        assert b.best.score == pytest.approx(a.best.score, abs=2e-2)


def test_training_on_cuda_lowers_the_loss_and_returns_a_cpu_model():
    splits = toy_splits("numbers", size=300, seed=5)
    arch = dict(emb_size=16, hidden_size=32, attention="additive", dropout=0.0, src_segmenter="char",
                tgt_detok="concat")
    config = TrainConfig(epochs=3, batch_size=32, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                         device="cuda", max_valid=20)
    result = fit(splits["train"], splits["valid"], arch, config)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert all(p.device.type == "cpu" for p in result.checkpoint.model.parameters())
    assert Translator(result.checkpoint, device="cpu").translate("三千零五").best.tokens


def test_torchrun_trains_data_parallel_over_nccl_one_process_per_gpu(tmp_path):
    """``torchrun -m seq2seq_lab train --device cuda``: NCCL, each process on the GPU of its local rank (up to two)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from seq2seq_lab.checkpoint import read_metadata

    processes = min(2, torch.cuda.device_count())
    out = tmp_path / "nccl.safetensors"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                           str(processes), "-m", "seq2seq_lab", "train", "--data", "toy:numbers", "--epochs", "2",
                           "--emb", "32", "--hidden", "64", "--device", "cuda", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=root,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              filter(None, [str(root), os.environ.get("PYTHONPATH")]))})
    assert done.returncode == 0, done.stderr[-3000:]
    record = read_metadata(out)["record"]
    assert (record["backend"], record["world_size"]) == ("nccl", processes)
    assert record["test"]["greedy"]["exact"] >= 0.9
