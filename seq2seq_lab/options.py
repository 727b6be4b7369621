"""Decoding options: one schema, with the limits every front end shows and the core enforces.

The sliders and number boxes of both apps are built from :data:`LIMITS`, the CLI checks
its flags with it, and :meth:`Translator.translate <seq2seq_lab.translator.Translator>` /
``steps`` run every request through :func:`check_options` — so no door accepts a value
the interface does not offer (a beam of 64, a penalty of 1e308 or NaN), and a bad value
is an :class:`~.errors.InputError` with code ``bad_option`` that the front ends translate,
never a ``TypeError`` or a NaN score.

>>> check_options(beam_size=3, length_penalty=0.6)["beam_size"]
3
>>> check_options(beam_size=64)
Traceback (most recent call last):
...
seq2seq_lab.errors.InputError: beam_size must be a whole number from 1 to 10
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Limit:
    """The range, step and default of one numeric option, and its label's i18n key."""

    low: float
    high: float
    default: float
    step: float
    integer: bool
    label: str                     # i18n keys of the widget's label…
    help: str                      # …and of its help text

    def check(self, name: str, value) -> int | float:
        """``value`` as an int or float inside [low, high]; else ``InputError("bad_option")``."""
        kind = "a whole number" if self.integer else "a number"
        error = InputError("bad_option", f"{name} must be {kind} from {self.low:g} to {self.high:g}",
                           option=name, low=f"{self.low:g}", high=f"{self.high:g}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise error
        number = float(value)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise error
        if self.integer:
            if number != int(number):
                raise error
            return int(number)
        return number


LIMITS: dict[str, Limit] = {
    "beam_size": Limit(1, 10, 5, 1, True, "app.beam", "app.beam_help"),                        # 1 = greedy
    "n_best": Limit(1, 10, 5, 1, True, "cand.rank", "cand.intro"),             # at most beam_size are returned
    "length_penalty": Limit(0.0, 2.0, 0.0, 0.1, False, "app.length_penalty", "app.length_penalty_help"),  # GNMT α
    "coverage_penalty": Limit(0.0, 1.0, 0.0, 0.1, False, "app.coverage_penalty",                         # GNMT β
                              "app.coverage_penalty_help"),
    "max_len": Limit(0, 200, 0, 1, True, "app.max_len", "app.max_len_help"),   # 0 = automatic: 2·source + 10
    "no_repeat_ngram_size": Limit(0, 4, 0, 1, True, "app.no_repeat", "app.no_repeat_help"),       # 0 = off
}
MAX_PREFIX_WORDS = 20              # words a forced beginning may have


def check_prefix(prefix) -> list[str] | str:
    """A forced beginning: English words as one string or a list of words ("" / None / [] = none)."""
    if prefix is None:
        return ""
    if isinstance(prefix, str):
        words = prefix.split()
        prefix = prefix.strip()
    elif isinstance(prefix, Sequence) and all(isinstance(word, str) for word in prefix):
        prefix = words = [word.strip() for word in prefix if word.strip()]
    else:
        raise InputError("bad_option", "prefix must be English words", option="prefix", low="0",
                         high=str(MAX_PREFIX_WORDS))
    if len(words) > MAX_PREFIX_WORDS:
        raise InputError("bad_option", f"prefix must have at most {MAX_PREFIX_WORDS} words", option="prefix",
                         low="0", high=str(MAX_PREFIX_WORDS))
    return prefix


def check_options(*, beam_size=5, length_penalty=0.0, coverage_penalty=0.0, n_best=None, max_len=None,
                  no_repeat_ngram_size=0, prefix=None) -> dict:
    """Every decoding option checked against :data:`LIMITS`; returns them normalised.

    ``n_best`` defaults to 1 and is capped at ``beam_size`` (a beam of K ends with at most K
    hypotheses); ``max_len`` ``None`` or 0 means automatic and comes back as ``None``.
    """
    values = {"beam_size": beam_size, "length_penalty": length_penalty, "coverage_penalty": coverage_penalty,
              "n_best": 1 if n_best is None else n_best, "max_len": 0 if max_len is None else max_len,
              "no_repeat_ngram_size": no_repeat_ngram_size}
    checked = {name: LIMITS[name].check(name, value) for name, value in values.items()}
    checked["n_best"] = min(checked["n_best"], checked["beam_size"])
    checked["max_len"] = checked["max_len"] or None
    checked["prefix"] = check_prefix(prefix)
    return checked
