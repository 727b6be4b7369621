"""The decoding-option schema: the limits the apps show are the limits the core enforces."""

from __future__ import annotations

import math

import pytest

from seq2seq_lab.errors import InputError
from seq2seq_lab.i18n import error_text, t
from seq2seq_lab.options import LIMITS, MAX_PREFIX_WORDS, check_options


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_limit_accepts_its_range_and_refuses_just_outside(name):
    limit = LIMITS[name]
    for value in (limit.low, limit.high, limit.default):
        wide = {"beam_size": 10} if name == "n_best" else {}             # n_best is capped at the beam size
        expected = None if name == "max_len" and value == 0 else value
        assert check_options(**{name: value}, **wide)[name] == expected
    outside = (limit.low - limit.step, limit.high + limit.step)
    for value in outside + (math.nan, math.inf, -math.inf, 1e308, "1", None if name != "max_len" else "x", True):
        if value is None:
            continue
        with pytest.raises(InputError) as caught:
            check_options(**{name: value})
        assert caught.value.code == "bad_option"
        assert caught.value.details["option"] == name


def test_whole_number_options_refuse_fractions_and_return_ints():
    assert check_options(beam_size=3.0)["beam_size"] == 3 and isinstance(check_options(beam_size=3.0)["beam_size"], int)
    for name in ("beam_size", "n_best", "max_len", "no_repeat_ngram_size"):
        with pytest.raises(InputError):
            check_options(**{name: 1.5})


def test_defaults_and_normalisation():
    checked = check_options()
    assert checked == {"beam_size": 5, "length_penalty": 0.0, "coverage_penalty": 0.0, "n_best": 1, "max_len": None,
                       "no_repeat_ngram_size": 0, "prefix": ""}
    assert check_options(beam_size=3, n_best=10)["n_best"] == 3            # a beam of 3 ends with 3 at most
    assert check_options(max_len=0)["max_len"] is None
    assert check_options(prefix="  i love ")["prefix"] == "i love"
    assert check_options(prefix=["i", " ", "love"])["prefix"] == ["i", "love"]
    with pytest.raises(InputError):
        check_options(prefix=" ".join(["a"] * (MAX_PREFIX_WORDS + 1)))
    with pytest.raises(InputError):
        check_options(prefix=[1, 2])


def test_the_error_reads_well_in_both_languages():
    with pytest.raises(InputError) as caught:
        check_options(length_penalty=math.nan)
    assert error_text(caught.value, "en") == "A decoding setting is out of range: length_penalty must be from 0 to 2."
    assert error_text(caught.value, "zh") == "解码设置超出范围：length_penalty 应在 0 到 2 之间。"


def test_every_limit_has_a_label():
    for limit in LIMITS.values():
        for key in (limit.label, limit.help):
            assert t(key, "en") != key and t(key, "zh") != key
