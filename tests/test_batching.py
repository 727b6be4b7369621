"""Requests that arrive together are decoded together (seq2seq_lab/batching.py), and each gets what it alone would.

The batches are made deterministic without timing: the first request's decoding is held at a gate until the
others are queued, so what forms the next batch is known.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import EXAMPLE_SENTENCES, MODELS

from seq2seq_lab.batching import Batcher
from seq2seq_lab.errors import InputError

PATIENCE = 60          # seconds: reached only if something hangs
SENTENCES = [*EXAMPLE_SENTENCES, "我爱你", "他是学生", "你好吗", "我不学习中文"]


class Gated:
    """``translator`` whose first ``translate_batch`` waits until ``release`` is set (and says when it started)."""

    def __init__(self, translator):
        self.translator, self.started, self.release, self.calls = translator, threading.Event(), threading.Event(), 0

    def __getattr__(self, name):
        return getattr(self.translator, name)

    def translate_batch(self, texts, **options):
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.release.wait(PATIENCE)
        return self.translator.translate_batch(texts, **options)


def ask(batcher, text, results, index, **options):
    def run():
        try:
            results[index] = batcher.translate(text, **options)
        except Exception as error:               # the test looks at what each request got
            results[index] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def queued(batcher, n):
    for _ in range(PATIENCE * 100):
        with batcher._changed:
            if len(batcher._pending) == n:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{n} requests never queued")


def assert_same(alone, batched):
    assert [c.tokens for c in alone.candidates] == [c.tokens for c in batched.candidates]
    assert alone.src_tokens == batched.src_tokens
    for a, b in zip(alone.candidates, batched.candidates):
        assert b.score == pytest.approx(a.score, abs=1e-4)
        for name in ("attention", "attention_heads", "self_attention"):
            if getattr(a, name) is None:
                assert getattr(b, name) is None
            else:
                np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_requests_that_arrive_together_form_one_batch_and_get_what_they_alone_would(make_translator, model):
    translator = make_translator(model)
    gated = Gated(translator)
    batcher = Batcher(gated)
    options = dict(beam_size=3, n_best=3, length_penalty=0.5)
    results: list = [None] * len(SENTENCES)
    threads = [ask(batcher, SENTENCES[0], results, 0, **options)]
    assert gated.started.wait(PATIENCE)                       # the first is decoded at once, alone
    threads += [ask(batcher, text, results, i, **options) for i, text in enumerate(SENTENCES[1:], start=1)]
    queued(batcher, len(SENTENCES) - 1)
    gated.release.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert list(batcher.batches) == [1, len(SENTENCES) - 1]         # the others, together
    for text, result in zip(SENTENCES, results):
        assert_same(translator.translate(text, **options), result)


def test_a_batch_shares_its_options_and_is_capped(make_translator):
    translator = make_translator()
    gated = Gated(translator)
    batcher = Batcher(gated, max_batch=2)
    results: list = [None] * 6
    threads = [ask(batcher, "我", results, 0, beam_size=2)]
    assert gated.started.wait(PATIENCE)
    beams = [1, 5, 1, 1, 5]                                   # queued in this order while the first decodes
    for i, beam in enumerate(beams, start=1):
        threads.append(ask(batcher, SENTENCES[i], results, i, beam_size=beam))
        queued(batcher, i)
    gated.release.set()
    for thread in threads:
        thread.join(PATIENCE)
    # the oldest waiting request's options first, at most two a batch: beam 1 ×2, beam 5 ×2, beam 1
    assert list(batcher.batches) == [1, 2, 2, 1]
    for i, beam in enumerate(beams, start=1):
        assert results[i].options.beam_size == beam
        assert_same(translator.translate(SENTENCES[i], beam_size=beam), results[i])


def test_a_bad_sentence_gets_its_own_error_and_the_rest_of_its_batch_their_translations(make_translator):
    translator = make_translator()
    gated = Gated(translator)
    batcher = Batcher(gated)
    results: list = [None] * 4
    threads = [ask(batcher, "我", results, 0)]
    assert gated.started.wait(PATIENCE)
    for i, text in enumerate(["你好", "   ", "他是学生"], start=1):
        threads.append(ask(batcher, text, results, i))
    queued(batcher, 3)
    gated.release.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert isinstance(results[2], InputError)
    with pytest.raises(InputError) as alone:
        translator.translate("   ")
    assert results[2].code == alone.value.code
    for i in (0, 1, 3):
        assert_same(translator.translate(["我", "你好", None, "他是学生"][i]), results[i])


def test_one_request_alone_is_decoded_at_once_in_its_own_thread(make_translator):
    translator = make_translator("transformer")
    batcher = Batcher(translator)
    assert_same(translator.translate("我爱学习中文", beam_size=2, n_best=2),
                batcher.translate("我爱学习中文", beam_size=2, n_best=2))
    assert list(batcher.batches) == [1]
    with pytest.raises(ValueError):
        Batcher(translator, max_batch=0)
