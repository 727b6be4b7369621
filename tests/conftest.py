"""Shared fixtures: seeded RNGs, tiny random-init models, and tiny models trained for seconds.

Everything here is CPU-only and small. Two kinds of model:

* :func:`make_translator` (fixture) builds a random-init :class:`~seq2seq_lab.Translator`
  over a 14-word Chinese / 12-word English vocabulary in milliseconds — any attention,
  cell, direction and depth. Its output is gibberish but fully deterministic, which is
  all the search and model invariants need. Its generator is scaled up so the next-token
  distributions are peaked (as in a trained model) rather than uniform, and ``eos_bias``
  makes hypotheses end early enough to test finished output.
* :func:`toy_training` / :func:`tiny_models_dir` (session-scoped) train small models on
  the generated toy tasks (Chinese numerals → digits) and a handful of HSK pairs, once
  per test session, and save them under a temporary directory.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seq2seq_lab.attention import ATTENTION_TYPES
from seq2seq_lab.catalog import DEFAULT_MODEL, VARIANT_MODELS
from seq2seq_lab.checkpoint import Checkpoint, save
from seq2seq_lab.corpus import TOY_TASKS, load_hsk, split_pairs, toy_splits
from seq2seq_lab.model import ModelConfig, Seq2Seq
from seq2seq_lab.train import Progress, TrainConfig, TrainResult, fit
from seq2seq_lab.transformer import Transformer, TransformerConfig
from seq2seq_lab.translator import Translator
from seq2seq_lab.vocab import Vocab

# Tiny models gain nothing from intra-op threads, and on a busy 2-core machine the
# thread pool's spinning makes a 3 s training take 45 s. One thread for the session.
torch.set_num_threads(1)

# The random-init models' vocabulary. "学习" and "中文" are words whose characters are
# in the vocabulary too, as build_vocabs makes them.
SRC_WORDS = ("我", "爱", "学习", "学", "习", "中文", "中", "文", "你", "好", "是", "的", "不", "他")
TGT_WORDS = ("i", "you", "he", "love", "study", "chinese", "is", "good", "not", "the", "a", ".")
EXAMPLE_SENTENCES = ("我爱学习中文", "你好", "他不是我的", "中文好", "我")

# Every kind of model the search invariants run on: the RNN with each attention, and the Transformer.
MODELS = (*ATTENTION_TYPES, "transformer")
TINY_TRANSFORMER = dict(family="transformer", d_model=32, heads=4, enc_layers=2, dec_layers=2, ff_size=64,
                        dropout=0.0)

TINY_ARCH = dict(emb_size=32, hidden_size=64, cell="gru", bidirectional=True, attention="additive", dropout=0.0)


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state (Python, NumPy, torch)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def build_translator(attention: str = "additive", *, cell: str = "gru", bidirectional: bool = True,
                     enc_layers: int = 1, dec_layers: int = 1, seed: int = 0, src_words=SRC_WORDS,
                     tgt_words=TGT_WORDS, segmenter: str = "jieba", tgt_detok: str = "english",
                     emb_size: int = 16, hidden_size: int = 24, sharpen: float = 3.0,
                     eos_bias: float = 0.0, device: str = "cpu") -> Translator:
    """A random-init translator, the same for the same arguments whatever ran before.

    ``attention="transformer"`` builds a 2 + 2-layer, 4-head Transformer (d 24) instead of an RNN; the RNN's
    cell, direction and sizes do not apply to it (``cell="lstm"`` skips: that case would repeat the GRU one).
    """
    src_vocab, tgt_vocab = Vocab(src_words), Vocab(tgt_words)
    if attention == "transformer":
        if cell != "gru":
            pytest.skip("a Transformer has no recurrent cell")
        config = TransformerConfig(len(src_vocab), len(tgt_vocab), d_model=24, heads=4, enc_layers=enc_layers + 1,
                                   dec_layers=dec_layers + 1, ff_size=48, dropout=0.0, src_segmenter=segmenter,
                                   tgt_detok=tgt_detok)
        model = Transformer(config)
    else:
        config = ModelConfig(len(src_vocab), len(tgt_vocab), emb_size=emb_size, hidden_size=hidden_size, cell=cell,
                             enc_layers=enc_layers, dec_layers=dec_layers, bidirectional=bidirectional,
                             attention=attention, dropout=0.0, src_segmenter=segmenter, tgt_detok=tgt_detok)
        model = Seq2Seq(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():            # reproducible init independent of the global RNG
            parameter.copy_(torch.empty_like(parameter).uniform_(-0.3, 0.3, generator=generator))
        model.decoder.generator.weight.mul_(sharpen)    # peaked next-token distributions
        model.decoder.generator.bias[tgt_vocab.eos_id] += eos_bias
    return Translator(Checkpoint(model.eval(), src_vocab, tgt_vocab, {"corpus": "random"}), device=device,
                      name=f"random_{attention}_{cell}")


@pytest.fixture
def make_translator():
    """Factory fixture: ``make_translator("dot", cell="lstm", bidirectional=False, eos_bias=2.0)``."""
    return build_translator


@dataclass
class ToyTraining:
    """One short training run on the numbers task, shared by the whole session."""

    result: TrainResult
    events: list[Progress]
    splits: dict
    path: Path            # the saved checkpoint (fp32)
    arch: dict
    config: TrainConfig

    @property
    def translator(self) -> Translator:
        """A fresh translator on its own copy of the weights (tests may move or change it)."""
        return Translator.load(self.path, device="cpu")


@pytest.fixture(scope="session")
def toy_training(tmp_path_factory) -> ToyTraining:
    """Chinese numerals → digits: 600 training pairs, emb 32 / hidden 64, 5 epochs (~3 s)."""
    splits = toy_splits("numbers", size=700, seed=7)
    arch = {**TINY_ARCH, "src_segmenter": "char", "tgt_detok": TOY_TASKS["numbers"].tgt_detok}
    config = TrainConfig(epochs=5, batch_size=32, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                         device="cpu", max_valid=40, probe="三千零五")
    events: list[Progress] = []
    torch.manual_seed(0)
    result = fit(splits["train"], splits["valid"], arch, config, on_progress=events.append,
                 record={"corpus": "toy:numbers"})
    path = save(tmp_path_factory.mktemp("toy") / "tiny_numbers.safetensors", result.checkpoint)
    return ToyTraining(result, events, splits, path, arch, config)


def _short_hsk_pairs(n: int) -> list:
    """``n`` short HSK training pairs, the sentences with 学习 or 爱 among them (so 我爱学习 is known)."""
    train = [p for p in split_pairs(load_hsk().pairs)["train"] if "placeholder" not in p.en]
    by_length = sorted(train, key=lambda p: (len(p.zh), p.id))
    chosen = [p for p in by_length if "学习" in p.zh or "爱" in p.zh][:40]
    chosen += [p for p in by_length if p not in chosen][:n - len(chosen)]
    return sorted(chosen, key=lambda p: p.id)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory, toy_training) -> Path:
    """A models folder with small trained models, for any test that needs a catalog:

    * ``tiny_numbers``      — numbers task, additive attention (the session's toy training)
    * ``tiny_numbers_none`` — numbers task, no attention, 2 epochs
    * ``tiny_zh_en``        — 300 short HSK pairs, jieba words, additive attention, 3 epochs
                              (knows 我 / 爱 / 学习; its translations are poor but real)
    """
    folder = tmp_path_factory.mktemp("models")
    (folder / "tiny_numbers.safetensors").write_bytes(toy_training.path.read_bytes())

    splits = toy_training.splits
    none_arch = {**toy_training.arch, "attention": "none"}
    none_config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0,
                              seed=0, device="cpu", max_valid=20)
    result = fit(splits["train"], splits["valid"], none_arch, none_config, record={"corpus": "toy:numbers"})
    save(folder / "tiny_numbers_none.safetensors", result.checkpoint)

    pairs = _short_hsk_pairs(320)
    zh_config = TrainConfig(epochs=3, batch_size=32, lr=5e-3, label_smoothing=0.0, char_split_prob=0.1, seed=0,
                            device="cpu", max_valid=20)
    result = fit(pairs[:300], pairs[300:], {**TINY_ARCH, "src_segmenter": "jieba", "tgt_detok": "english"},
                 zh_config, record={"corpus": "hsk"})
    save(folder / "tiny_zh_en.safetensors", result.checkpoint)
    return folder


# --- the apps' models: trained once per session, copied by each app test module ----------------------

def make_app_models(folder: Path, attentions=("additive", "dot", "none"), transformer: bool = True) -> Path:
    """Small HSK models under the shipped variants' names (``catalog.VARIANT_MODELS``), plus a corrupt file.

    ``everyday_additive`` learns the 500 shortest training sentences for 6 epochs (~5 s): its
    translations are poor but made of real words. The other RNNs get one epoch: they only need to
    exist for the attention-variants view. The Transformer (2 + 2 layers, 4 heads, 20 epochs) stands in
    for the shipped default (``catalog.DEFAULT_MODEL``, also the variants' multi-head one), as in the apps:
    the head picker, every head side by side, self-attention, the pipeline.
    """
    folder.mkdir(parents=True, exist_ok=True)
    train = [p for p in split_pairs(load_hsk().pairs)["train"] if "placeholder" not in p.en.lower()]
    short = sorted(train, key=lambda p: (len(p.zh), p.id))[:500]
    for attention in attentions:
        arch = dict(cell="gru", emb_size=32, hidden_size=64, attention=attention, dropout=0.0)
        epochs = 6 if attention == "additive" else 1
        config = TrainConfig(epochs=epochs, batch_size=32, lr=1e-2, seed=0, device="cpu", max_valid=20,
                             label_smoothing=0.0)
        result = fit(short, short[:20], arch, config, record={"corpus": "hsk"})
        result.checkpoint.record["test"] = {"greedy": {"bleu": 0.5}, "beam5": {"bleu": 0.6}}
        save(folder / f"{VARIANT_MODELS[attention]}.safetensors", result.checkpoint)
    if transformer:      # a 2 + 2-layer, 4-head Transformer (d 32), 20 epochs (~9 s): it writes real words
        config = TrainConfig(epochs=20, batch_size=32, lr=3e-3, warmup_steps=50, schedule="linear", seed=0,
                             device="cpu", max_valid=20, label_smoothing=0.0)
        result = fit(short, short[:20], TINY_TRANSFORMER, config, record={"corpus": "hsk"})
        result.checkpoint.record["test"] = {"greedy": {"bleu": 0.4}, "beam5": {"bleu": 0.5}}
        save(folder / f"{DEFAULT_MODEL}.safetensors", result.checkpoint)
    (folder / "broken.safetensors").write_bytes(b"this is not a model file")
    return folder


@pytest.fixture(scope="session")
def app_models_dir(tmp_path_factory) -> Path:
    """The models folder of the app tests (Streamlit, browser, concurrency): trained once per session.

    Never write into it: each module copies it (:func:`copy_models`), since the apps save trainings there.
    """
    return make_app_models(tmp_path_factory.mktemp("app_models"))


def copy_models(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder, dirs_exist_ok=True)
    return folder


def copy_with_a_broken_file(source: Path, folder: Path) -> Path:
    """``source``'s models copied into ``folder``, plus a corrupt ``broken.safetensors`` (every app must list it)."""
    copy_models(source, folder)
    (folder / "broken.safetensors").write_bytes(b"this is not a model file")
    return folder


def private_models(source: Path, tmp_path: Path, monkeypatch) -> Path:
    """A test's own copy of ``source`` (an app may train into it), made the app's models folder, on the CPU."""
    folder = copy_models(source, tmp_path / "models")
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("SEQ2SEQ_LAB_DEVICE", "cpu")
    return folder


def stop(process, timeout: float = 15) -> None:
    """End a server started by a test: politely, then for certain."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(process, url: str, what: str, timeout: float = 90) -> None:
    """Poll ``url`` until it answers; fail clearly if ``process`` exits or ``timeout`` seconds pass."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.5)
