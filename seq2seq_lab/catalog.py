"""The models folder: which model files exist, what they are, and safe names for new ones.

Front ends list models through :func:`list_models` (reads only each file's metadata)
and never open a path built from user input without :func:`resolve_model`, which
refuses anything outside the folder (``../../x``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .checkpoint import read_metadata
from .errors import CheckpointError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# The shipped default: the Transformer trained on HSK + Tatoeba + dictionary. It translates better than the RNN
# on every test split, and its heatmap's peaks are on the right word for 86 % of the probe's links.
DEFAULT_MODEL = "everyday_transformer"
# The attention variants, all trained on the default's data (HSK + Tatoeba + dictionary): one RNN per score, with
# the same recipe, and the default Transformer itself (its attention: multi-head).
VARIANT_MODELS = {name: f"everyday_{name}" for name in ("none", "dot", "general", "additive", "scaled_dot")}
VARIANT_MODELS["multi_head"] = DEFAULT_MODEL
SUFFIX = ".safetensors"
USER_PREFIX = "user/"                    # models trained in an app live in <models>/user/, keyed "user/<name>"
_SAFE = re.compile(r"[^\w\-]+")


@dataclass
class ModelInfo:
    name: str                       # file stem, e.g. "everyday_additive"
    path: Path
    config: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    error: CheckpointError | None = None   # set when the file cannot be read

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def attention(self) -> str:
        return self.config.get("attention", "?")

    @property
    def corpus(self) -> str:
        return self.record.get("corpus", "?")

    @property
    def test_metrics(self) -> dict:
        return self.record.get("test", {})

    @property
    def attribution(self) -> str:
        """Where the training data came from and under which licences (empty if the file does not say)."""
        value = self.record.get("attribution", "")
        return value if isinstance(value, str) else ""

    def test_set_chrf(self) -> dict[str, float]:
        """Beam-5 chrF on each test set the file records: {"hsk": 41.2, "tatoeba": 48.0, "everyday": …}."""
        sets = {"hsk" if self.corpus in ("hsk", "everyday") else self.corpus: self.test_metrics}
        extra = self.record.get("tests", {})
        sets.update(extra if isinstance(extra, dict) else {})
        return {name: figures["beam5"]["chrf"] for name, figures in sets.items()
                if isinstance(figures, dict) and isinstance(figures.get("beam5"), dict)
                and isinstance(figures["beam5"].get("chrf"), (int, float))}


def sanitize_name(name: str, *, max_length: int = 48) -> str:
    """A file-system-safe model name: letters (any script), digits, ``_`` and ``-`` only."""
    cleaned = _SAFE.sub("_", name.strip()).strip("_-.")[:max_length]
    if not cleaned:
        raise CheckpointError("bad_name", "A model name needs at least one letter or digit.")
    return cleaned


def resolve_model(name: str, models_dir: Path | str = MODELS_DIR) -> Path:
    """The path of model ``name`` inside ``models_dir``; refuses names that leave the folder."""
    models_dir = Path(models_dir).resolve()
    if (not isinstance(name, str) or not name or "\x00" in name or name != Path(name).name
            or name in (".", "..") or "/" in name or "\\" in name):
        raise CheckpointError("bad_name", f"{name!r} is not a model name.")
    stem = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else name
    path = (models_dir / f"{stem}{SUFFIX}").resolve()
    if path.parent != models_dir:
        raise CheckpointError("bad_name", f"{name!r} is not a model name.")
    if not path.is_file():
        raise CheckpointError("missing", f"There is no model called {stem!r}.", path=str(path))
    return path


@lru_cache(maxsize=256)
def _info(path: Path, mtime_ns: int, size: int) -> ModelInfo:
    """One file's entry, read once per version of the file: the metadata holds the vocabularies, and
    parsing the JSON of every file on every page view cost a visitor a quarter of a second."""
    try:
        meta = read_metadata(path)
    except CheckpointError as error:
        return ModelInfo(path.stem, path, error=error)
    return ModelInfo(path.stem, path, meta.get("config", {}), meta.get("record", {}))


def list_models(models_dir: Path | str = MODELS_DIR) -> list[ModelInfo]:
    """Every ``*.safetensors`` in the folder, readable ones first (default model at the top).

    The entries are shared between callers (they come from a cache): read them, never change them.
    """
    infos = []
    for path in sorted(Path(models_dir).glob(f"*{SUFFIX}")):
        try:
            stat = path.stat()
        except OSError as error:                   # removed between the listing and now
            infos.append(ModelInfo(path.stem, path, error=CheckpointError("missing", str(error), path=str(path))))
            continue
        infos.append(_info(path, stat.st_mtime_ns, stat.st_size))
    return sorted(infos, key=lambda m: (not m.ok, m.name != DEFAULT_MODEL, m.name))


def available_models(models_dir: Path | str = MODELS_DIR) -> tuple[dict[str, ModelInfo], list[ModelInfo]]:
    """Readable models by picker key (shipped: ``name``; trained in an app: ``user/name``) and unreadable files."""
    models_dir = Path(models_dir)
    good, bad = {}, []
    for prefix, folder in (("", models_dir), (USER_PREFIX, models_dir / "user")):
        if not folder.is_dir():
            continue
        for info in list_models(folder):
            if info.ok:
                good[prefix + info.name] = info
            else:
                bad.append(info)
    return good, bad


def model_path(key: str, models_dir: Path | str = MODELS_DIR) -> Path:
    """The file of picker key ``key`` (``name`` or ``user/name``); refuses anything else (``../../x``)."""
    if not isinstance(key, str):
        raise CheckpointError("bad_name", f"{key!r} is not a model name.")
    if key.startswith(USER_PREFIX):
        return resolve_model(key[len(USER_PREFIX):], Path(models_dir) / "user")
    return resolve_model(key, models_dir)
