"""Runtime settings, read from the environment in this one place.

Both apps and the CLI call :func:`load` (cheap: it reads a few variables, so tests can
point ``SEQ2SEQ_LAB_MODELS_DIR`` elsewhere between calls) and never read ``os.environ``
for these themselves.

========================== ============================================ ===========
variable                   meaning                                      default
========================== ============================================ ===========
``SEQ2SEQ_LAB_MODELS_DIR`` the models folder; models trained in an app  see below
                           go to its ``user/`` subfolder
``SEQ2SEQ_LAB_DEVICE``     ``auto`` (a CUDA GPU when there is one),     ``auto``
                           ``cpu``, ``cuda``, ``cuda:1``…
``SEQ2SEQ_LAB_LANG``       the language a new visitor sees: ``en``/``zh`` ``en``
``SEQ2SEQ_LAB_TORCH_THREADS`` torch intra-op threads per process        ``1``
``SEQ2SEQ_LAB_MAX_TRAININGS`` trainings one server runs at once         ``1``
``SEQ2SEQ_LAB_SCRIPT_TURNS`` Streamlit visitors' requests computed at   ``2``
                           once; the others wait their turn
========================== ============================================ ===========

The default models folder is the repository's ``models/`` when the package runs from a
checkout (where the shipped models are), else ``./models`` in the working directory.
A value that cannot be used (``SEQ2SEQ_LAB_TORCH_THREADS=lots``) falls back to the
default rather than stopping the app.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CHECKOUT_MODELS = Path(__file__).resolve().parent.parent / "models"
LANGS = ("en", "zh")


def default_models_dir() -> Path:
    return CHECKOUT_MODELS if CHECKOUT_MODELS.is_dir() else Path.cwd() / "models"


def _positive_int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    models_dir: Path              # shipped models; the apps' trainings in models_dir / "user"
    device: str = "auto"
    lang: str = "en"              # a new visitor's language
    torch_threads: int = 1        # one thread per op: a server already runs many things at once
    max_trainings: int = 1
    script_turns: int = 2         # Streamlit requests computed at once (present/turns.py: more is slower for all)
    max_user_models: int = 50     # models the app's trainings may keep in user_dir …
    max_user_mb: int = 500        # … and their size together, in MB (a training refuses to start beyond either)

    @property
    def user_dir(self) -> Path:
        return self.models_dir / "user"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of this process, from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    lang = env.get("SEQ2SEQ_LAB_LANG", "en")
    return Settings(models_dir=Path(env.get("SEQ2SEQ_LAB_MODELS_DIR") or default_models_dir()),
                    device=env.get("SEQ2SEQ_LAB_DEVICE") or "auto",
                    lang=lang if lang in LANGS else "en",
                    torch_threads=_positive_int(env.get("SEQ2SEQ_LAB_TORCH_THREADS"), 1),
                    max_trainings=_positive_int(env.get("SEQ2SEQ_LAB_MAX_TRAININGS"), 1),
                    script_turns=_positive_int(env.get("SEQ2SEQ_LAB_SCRIPT_TURNS"), 2),
                    max_user_models=_positive_int(env.get("SEQ2SEQ_LAB_MAX_USER_MODELS"), 50),
                    max_user_mb=_positive_int(env.get("SEQ2SEQ_LAB_MAX_USER_MB"), 500))


def apply_torch_threads(settings: Settings) -> None:
    """Set torch's intra-op threads for a server process.

    With more threads than free cores, torch's spinning workers make a training 20–40×
    slower on a busy machine (measured: 20 batches in 1.7 s with 1 thread, 75 s with 2,
    on a busy 2-core machine), and a server already runs many things at once.
    """
    import torch

    torch.set_num_threads(settings.torch_threads)
