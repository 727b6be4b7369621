"""Model files: safetensors weights plus JSON metadata, in one file, no pickle.

The metadata (under the key ``seq2seq_lab``) holds the :class:`~.model.ModelConfig`,
both vocabularies and the training record (corpus, split, epochs, metrics, date),
so a file alone rebuilds a working model. Saving writes a temporary file next to
the target and renames it into place, so a crash mid-save never leaves a broken
model where a good one was.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .errors import CheckpointError
from .model import ModelConfig
from .models import build_model, config_from_dict
from .vocab import Vocab

FORMAT = "seq2seq_lab/1"
META_KEY = "seq2seq_lab"


@dataclass
class Checkpoint:
    model: torch.nn.Module          # built by models.build_model from the stored config
    src_vocab: Vocab
    tgt_vocab: Vocab
    record: dict = field(default_factory=dict)   # how it was trained and how well it did

    @property
    def config(self) -> ModelConfig:
        return self.model.config


SCALE_PREFIX = "__scale__."   # int8 storage: the per-row scale of weight matrix NAME is stored as __scale__.NAME
INT8_MIN_SIZE = 65_536        # only matrices at least this large are worth quantising


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: w ≈ q · s with s = max_j |w_ij| / 127 for each row i."""
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0   # (rows, 1)
    q = torch.round(weight / scale).clamp(-127, 127).to(torch.int8)           # (rows, cols)
    return q, scale.to(torch.float16)


MAX_HEADER_BYTES = 16 * 10**6  # the JSON header (metadata, vocabularies, tensor index): ~1 MB for the largest model
STALE_TEMP_SECONDS = 3600      # a save takes seconds; a temp file this old was left by a killed process


def remove_stale_temp_files(folder: str | Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temporary files a save leaves when its process is killed mid-write: ours,
    ``.<name>.safetensors.<random>.tmp``, and safetensors' own ``.tmp<random>`` (it writes one and renames it
    onto ours). Only those older than ``older_than`` seconds, so a save in progress is left alone."""
    removed = []
    cutoff = time.time() - older_than
    folder = Path(folder)
    for tmp in [*folder.glob(".*.safetensors.*.tmp"), *folder.glob(".tmp??????")]:
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except OSError:                # gone already, or not ours to delete: nothing to do
            continue
    return removed


def check_writable(path: str | Path) -> Path:
    """Make sure a model can be saved at ``path`` (its folder created if need be) before hours of training do;
    raises :class:`CheckpointError` ("unwritable") naming the path."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError("unwritable", f"{path} is a folder; give the model file's name", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise CheckpointError("unwritable", f"cannot write {path}: {error.strerror or error}",
                              path=str(path)) from None
    return path


def save(path: str | Path, checkpoint: Checkpoint, *, half: bool = False, int8: bool = False) -> Path:
    """Write atomically.

    ``half=True`` stores float weights as float16 (half the size); ``int8=True`` also
    stores the large weight matrices (embeddings, output layers) as int8 with one
    scale per row (a quarter of the size), which changes test scores by a hair —
    the shipped models record the figures of the weights as stored.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half or int8 else torch.float32
    tensors = {}
    for name, t in checkpoint.model.state_dict().items():
        t = t.detach().cpu()
        if int8 and t.is_floating_point() and t.dim() == 2 and t.numel() >= INT8_MIN_SIZE:
            tensors[name], tensors[SCALE_PREFIX + name] = quantize_rows(t.float())
        else:
            tensors[name] = t.to(dtype) if t.is_floating_point() else t
    # A tied weight (the Transformer's output layer and target embeddings, ``tie_output``) is one tensor under
    # two names; safetensors stores tensors, not aliases, so each name gets its own copy (loading ties them again).
    tensors = {name: t.contiguous().clone() for name, t in tensors.items()}
    meta = {"format": FORMAT, "config": checkpoint.config.to_dict(),
            "src_vocab": checkpoint.src_vocab.to_dict(), "tgt_vocab": checkpoint.tgt_vocab.to_dict(),
            "record": checkpoint.record}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(meta, ensure_ascii=False)})
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)                      # mkstemp makes it 0600; a model is for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: str | Path) -> dict:
    """The JSON metadata alone (cheap: no weights are read)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("missing", f"model file {path.name} does not exist", path=str(path))
    try:
        with open(path, "rb") as handle:             # safetensors starts with its header's length (u64, LE)
            header = int.from_bytes(handle.read(8), "little")
        if header > MAX_HEADER_BYTES:
            raise CheckpointError("corrupt", f"{path.name} has a {header / 1e6:.0f} MB header; a model's is well "
                                  f"under {MAX_HEADER_BYTES // 10**6} MB", path=str(path))
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(META_KEY)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError("corrupt", f"{path.name} is not a readable model file ({error})",
                              path=str(path)) from None
    if raw is None:
        raise CheckpointError("foreign", f"{path.name} is a safetensors file but not a Seq2Seq Attention Lab model",
                              path=str(path))
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError("corrupt", f"{path.name} has unreadable metadata", path=str(path)) from None
    if not isinstance(meta, dict):
        raise CheckpointError("corrupt", f"{path.name} has unreadable metadata", path=str(path))
    if meta.get("format") != FORMAT:
        raise CheckpointError("foreign", f"{path.name} has format {meta.get('format')!r}, expected {FORMAT}",
                              path=str(path))
    for key, kind in (("config", dict), ("record", dict), ("src_vocab", dict), ("tgt_vocab", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise CheckpointError("corrupt", f"{path.name} has unreadable metadata: {key!r} is a "
                                  f"{type(meta[key]).__name__}", path=str(path))
    return meta


def load(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild model and vocabularies; raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        config = config_from_dict(meta["config"])
        src_vocab, tgt_vocab = Vocab.from_dict(meta["src_vocab"]), Vocab.from_dict(meta["tgt_vocab"])
        if (config.src_vocab_size, config.tgt_vocab_size) != (len(src_vocab), len(tgt_vocab)):
            raise ValueError(f"the config's vocabulary sizes ({config.src_vocab_size}, {config.tgt_vocab_size}) "
                             f"are not the stored vocabularies' ({len(src_vocab)}, {len(tgt_vocab)})")
        with torch.device("meta"):                  # the config's model, without allocating its weights
            expected = {name: tuple(t.shape) for name, t in build_model(config).state_dict().items()}
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()
                      if not name.startswith(SCALE_PREFIX)}
            if shapes != expected:                  # a config that asks for more than the file holds: refused
                raise ValueError("the stored weights do not match the config (missing, extra or reshaped: "
                                 f"{', '.join(sorted(set(shapes) ^ set(expected)) or ['shapes'])[:200]})")
            model = build_model(config)
            stored = {name: handle.get_tensor(name) for name in handle.keys()}
        state = {name: t for name, t in stored.items() if not name.startswith(SCALE_PREFIX)}
        for name, t in state.items():
            if t.dtype == torch.int8 and SCALE_PREFIX + name in stored:             # w = q · s, row by row
                state[name] = t.float() * stored[SCALE_PREFIX + name].float()
        expected = model.state_dict()
        state = {name: t.to(expected[name].dtype) if name in expected else t for name, t in state.items()}
        model.load_state_dict(state, strict=True)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, SafetensorError) as error:
        raise CheckpointError("incompatible", f"{path.name} cannot be loaded as a model: {error}",
                              path=str(path)) from None
    model.to(device).eval()
    return Checkpoint(model, src_vocab, tgt_vocab, meta.get("record", {}))
