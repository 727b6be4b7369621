"""Seq2Seq Attention Lab (注意力实验室): a small, readable Chinese→English NMT library.

    from seq2seq_lab import Translator
    tr = Translator.load("models/everyday_additive.safetensors")
    r = tr.translate("我爱学习", beam_size=5)
"""

from .errors import BusyError, CheckpointError, CorpusError, InputError, LabError
from .model import ModelConfig, Seq2Seq
from .search import SearchOptions, Step
from .translator import Candidate, Translation, Translator

__all__ = ["BusyError", "Candidate", "CheckpointError", "CorpusError", "InputError", "LabError", "ModelConfig",
           "SearchOptions", "Seq2Seq", "Step", "Translation", "Translator"]
