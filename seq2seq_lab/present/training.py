"""The app's training form: its choices and defaults, the request it makes, and the job's status line.

The sidebar trains a small model in a minute or two; the big recipes run from the CLI
or ``scripts/train_models.py``. Every value the form sends is checked against the same
choices it offers (:data:`FORM`), so a hand-made request cannot ask for more.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import jobs
from ..attention import ATTENTION_TYPES
from ..errors import InputError
from ..i18n import t
from ..train import TrainConfig

DEFAULT_DATA = "toy:dates_en"
# The attention picker: the RNN's variants, and "multi_head", which trains a Transformer instead (its d_model is the
# form's hidden size, 4 heads, the form's layers in the encoder and in the decoder, a feed-forward of 2·d).
ATTENTION_CHOICES = (*ATTENTION_TYPES, "multi_head")
TRANSFORMER_WARMUP = 100           # warm-up steps of a Transformer trained from the form (then a linear decay)
PROBES = {"hsk": "我爱学习。", "toy:numbers": "三千零五", "toy:dates_iso": "二〇二四年三月五日",
          "toy:dates_en": "二〇二四年三月五日", "tsv": "我爱学习。"}


@dataclass(frozen=True)
class Field:
    choices: tuple | None = None       # a pick from these…
    low: float | None = None           # …or a number in [low, high]
    high: float | None = None
    step: float = 1
    default: object = None


FORM: dict[str, Field] = {
    "cell": Field(choices=("gru", "lstm"), default="gru"),
    "layers": Field(low=1, high=2, default=1),
    "bi": Field(choices=(True, False), default=True),                          # bidirectional encoder
    "emb": Field(choices=(16, 32, 64, 128, 256), default=64),                  # embedding size
    "hidden": Field(choices=(32, 64, 128, 256, 512), default=128),             # hidden size
    "epochs": Field(low=1, high=30, default=4),
    "batch": Field(choices=(16, 32, 64, 128), default=64),
    "lr": Field(choices=(0.0003, 0.001, 0.002, 0.003, 0.005, 0.01), default=0.003),
    "tf": Field(low=0.0, high=1.0, step=0.1, default=1.0),                     # teacher forcing
    "dropout": Field(low=0.0, high=0.5, step=0.05, default=0.1),
    "seed": Field(low=0, high=10_000, default=0),
}


def default_name(data: str) -> str:
    return "my_" + data.replace("toy:", "")


def _checked(name: str, value):
    spec = FORM[name]
    if spec.choices is not None:
        if value not in spec.choices or isinstance(value, bool) != isinstance(spec.choices[0], bool):
            raise InputError("bad_option", f"{name} must be one of {spec.choices}", option=name,
                             low=spec.choices[0], high=spec.choices[-1])
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not spec.low <= value <= spec.high:
        raise InputError("bad_option", f"{name} must be from {spec.low} to {spec.high}", option=name,
                         low=spec.low, high=spec.high)
    return value


def request(data: str, name: str, form: dict, *, attention: str, probe: str | None, pairs=None,
            source_name: str = "") -> jobs.TrainRequest:
    """The training the form asks for (``form``: values by :data:`FORM` name)."""
    values = {key: _checked(key, form.get(key, spec.default)) for key, spec in FORM.items()}
    if attention not in ATTENTION_CHOICES:
        raise InputError("bad_option", f"attention must be one of {ATTENTION_CHOICES}", option="attention",
                         low=ATTENTION_CHOICES[0], high=ATTENTION_CHOICES[-1])
    sentences = data in ("hsk", "tsv")            # label smoothing and character practice help words, not digits
    layers, transformer = int(values["layers"]), attention == "multi_head"
    if transformer:                               # the cell, direction, embedding size and teacher forcing do not apply
        arch = dict(family="transformer", d_model=values["hidden"], heads=4, enc_layers=layers, dec_layers=layers,
                    ff_size=2 * values["hidden"], dropout=float(values["dropout"]))
    else:
        arch = dict(cell=values["cell"], enc_layers=layers, dec_layers=layers, bidirectional=values["bi"],
                    attention=attention, emb_size=values["emb"], hidden_size=values["hidden"],
                    dropout=float(values["dropout"]))
    return jobs.TrainRequest(
        data=data, name=name or "model", pairs=pairs, source_name=source_name, arch=arch,
        config=TrainConfig(epochs=int(values["epochs"]), batch_size=values["batch"], lr=values["lr"],
                           teacher_forcing=1.0 if transformer else float(values["tf"]), seed=int(values["seed"]),
                           probe=probe or None, label_smoothing=0.1 if sentences else 0.0,
                           char_split_prob=0.1 if sentences else 0.0, max_valid=200,
                           warmup_steps=TRANSFORMER_WARMUP if transformer else 0,
                           schedule="linear" if transformer else "plateau"))


def seconds(value: float, lang: str) -> str:
    return t("train.seconds", lang, s=max(0.0, value))


def progress_line(job: jobs.Job, lang: str) -> tuple[float, str]:
    """(fraction done, "Epoch 2 of 5 · about 12 s left") of a running job."""
    progress = job.progress
    if progress is None:
        return 0.0, t("train.starting", lang)
    return (min(1.0, max(0.0, progress.fraction)),
            t("train.epoch_progress", lang, epoch=progress.epoch, epochs=progress.epochs,
              remaining=seconds(progress.remaining, lang)))


def busy_line(other: jobs.Job, lang: str) -> str:
    """Another visitor's training holds the server: how far it is."""
    message = t("train.busy_other", lang)
    if other.progress is not None:
        message += " " + progress_line(other, lang)[1]
    return message
