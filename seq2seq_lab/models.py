"""``build_model(config)``: the one place that knows which model families exist.

Checkpoints, training and the tests build a model from its config through
:func:`build_model` and rebuild a stored config through :func:`config_from_dict`; they
never name a model class. A family is a config dataclass and an ``nn.Module`` with the
encoder / ``decoder.step`` contract of :class:`~.model.Seq2Seq`; the config's
``family`` field says which (a file written before the field existed is an RNN).
"""

from __future__ import annotations

from torch import nn

from .model import ModelConfig, Seq2Seq
from .transformer import Transformer, TransformerConfig

FAMILIES: dict[str, tuple[type, type[nn.Module]]] = {
    "rnn": (ModelConfig, Seq2Seq),                   # recurrent encoder–decoder with one attention module (model.py)
    "transformer": (TransformerConfig, Transformer),  # attention only: multi-head self- and cross-attention
}


def config_from_dict(data: dict):
    """The config stored in a checkpoint, as its family's dataclass (unknown fields ignored)."""
    if not isinstance(data, dict):
        raise ValueError(f"the model config is a {type(data).__name__}, not a mapping")
    family = data.get("family", "rnn")
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[family][0].from_dict(data)


def config_for(arch: dict, *, src_vocab_size: int, tgt_vocab_size: int):
    """The config of a model to train: ``arch`` (a family's fields, ``family`` among them or "rnn") and the
    vocabulary sizes the data gives."""
    return config_from_dict({**arch, "src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size})


def build_model(config) -> nn.Module:
    """A freshly initialised model of ``config``'s family."""
    for config_type, model_type in FAMILIES.values():
        if isinstance(config, config_type):
            return model_type(config)
    raise TypeError(f"no model family has config type {type(config).__name__}")
