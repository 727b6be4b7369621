"""The public Translator API: bad input gives InputError with a readable message; results are consistent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from seq2seq_lab import InputError, LabError, Translator
from seq2seq_lab.text import SourceToken
from seq2seq_lab.translator import MAX_CHARS, device_name, resolve_device

# Every public entry point that takes a sentence.
ENTRY_POINTS = {
    "translate": lambda tr, text: tr.translate(text, beam_size=2),
    "translate_batch": lambda tr, text: tr.translate_batch(["我爱学习", text], beam_size=2),
    "steps": lambda tr, text: list(tr.steps(text, beam_size=2)),
    "score": lambda tr, text: tr.score(text, ["i"]),
    "encode": lambda tr, text: tr.encode(text),
    "analyze": lambda tr, text: tr.analyze(text),
}

BAD_INPUTS = [
    pytest.param(None, "empty", id="None"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   \n\t\u3000", "empty", id="whitespace"),
    pytest.param("Hello, world!", "no_chinese", id="english"),
    pytest.param("12345 ...", "no_chinese", id="digits"),
    pytest.param("😀🎉", "no_chinese", id="emoji-only"),
    pytest.param("。！？", "no_chinese", id="chinese-punctuation-only"),
    pytest.param("<b></b>", "no_chinese", id="markup-only"),
    pytest.param("我" * (MAX_CHARS + 1), "too_long", id="too-long"),
    pytest.param("我爱学习。" * 60, "too_long", id="paragraph"),
    pytest.param(42, "empty", id="int"),
    pytest.param(["我爱学习"], "empty", id="list"),
]


@pytest.fixture(scope="module")
def tr():
    from conftest import build_translator
    return build_translator("additive", eos_bias=2.0)


@pytest.mark.parametrize("text, code", BAD_INPUTS)
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_bad_input_raises_input_error_with_a_readable_message(tr, entry, text, code):
    with pytest.raises(InputError) as caught:
        ENTRY_POINTS[entry](tr, text)
    error = caught.value
    assert isinstance(error, LabError) and isinstance(error, ValueError)
    assert error.code == code
    assert error.message == str(error)
    assert 10 < len(error.message) < 200 and error.message[0].isupper() and error.message.endswith(".")
    assert "Traceback" not in error.message and "tensor" not in error.message.lower()


def test_too_long_message_gives_the_numbers(tr):
    with pytest.raises(InputError) as caught:
        tr.translate("我" * 250)
    assert "250" in caught.value.message and str(MAX_CHARS) in caught.value.message
    assert caught.value.details == {"length": 250, "limit": MAX_CHARS}


@pytest.mark.parametrize("text, unknown", [
    ("😀我爱你😀", ["😀", "😀"]),
    ("<b>我爱学习</b>", ["<", "b", ">", "<", "/", "b", ">"]),
    ("我爱学习 hello", ["hello"]),
    ("學習中文", ["學習"]),                           # traditional characters this vocabulary lacks
])
def test_mixed_input_gives_a_translation_with_unknowns_marked(tr, text, unknown):
    r = tr.translate(text, beam_size=3)
    assert r.source.unknown == unknown
    assert r.best.tokens and r.best.text
    assert r.src_tokens.count("<unk>") == len(unknown)
    assert r.best.attention.shape == (len(r.best.tokens), len(r.src_tokens))


def test_longest_allowed_input_translates_within_the_length_cap(tr):
    r = tr.translate("我爱学习" * (MAX_CHARS // 4), beam_size=2)
    assert len(r.source.text) == MAX_CHARS
    assert len(r.best.tokens) <= 200


def test_normalisation_makes_equivalent_inputs_equal(tr):
    reference = tr.translate("我爱学习,你好", beam_size=3)
    for variant in ("  我爱学习，你好  ", "我爱学习，\n你好", "我爱学习，你好"):
        r = tr.translate(variant, beam_size=3)
        assert r.src_tokens == reference.src_tokens, variant
        assert r.best.tokens == reference.best.tokens


def test_attention_shape_and_rows(tr):
    r = tr.translate("我爱学习中文", beam_size=4, n_best=4)
    assert r.src_tokens == ["我", "爱", "学习", "中文", "</s>"]
    for c in r.candidates:
        assert c.attention.dtype == np.float32
        assert c.attention.shape == (len(c.tokens), len(r.src_tokens))
        assert_allclose(c.attention.sum(axis=1), 1.0, atol=1e-5)
        assert (c.attention >= 0).all()


def test_no_attention_model_reports_none(make_translator):
    tr = make_translator("none", eos_bias=2.0)
    r = tr.translate("我爱学习", beam_size=3, n_best=3)
    assert tr.attention_type == "none"
    assert all(c.attention is None for c in r.candidates)
    for step in tr.steps("我爱学习", beam_size=2):
        assert all(node.attention is None for node in step.nodes)


def test_char_fallback_in_analysis(make_translator):
    """学习 is not in this vocabulary but 学 and 习 are; 龘 and 猫 are not known at all."""
    tr = make_translator(src_words=("我", "爱", "学", "习", "中文"))
    analysis = tr.analyze("我爱学习")
    assert analysis.words == ["我", "爱", "学习"]
    assert analysis.tokens == [SourceToken("我", "word", "我"), SourceToken("爱", "word", "爱"),
                               SourceToken("学", "char", "学习"), SourceToken("习", "char", "学习"),
                               SourceToken("</s>", "word", "</s>")]
    assert analysis.src_tokens == ["我", "爱", "学", "习", "</s>"]
    assert analysis.ids == tr.src_vocab.encode(["我", "爱", "学", "习", "</s>"])
    assert analysis.split_words == ["学习"] and analysis.unknown == []

    unknown = tr.analyze("龘")
    assert unknown.tokens[0] == SourceToken("龘", "unk", "龘")
    assert unknown.src_tokens == ["<unk>", "</s>"] and unknown.unknown == ["龘"]
    assert unknown.ids == [tr.src_vocab.unk_id, tr.src_vocab.eos_id]

    r = tr.translate("我爱学习", beam_size=2)
    assert r.src_tokens == ["我", "爱", "学", "习", "</s>"]
    assert r.best.attention.shape[1] == 5


def test_char_level_model_segments_into_characters(make_translator):
    tr = make_translator(src_words=tuple("零一二三四五六七八九十百千万"), segmenter="char", tgt_detok="concat",
                         tgt_words=tuple("0123456789"))
    r = tr.translate("三千零五", beam_size=2, max_len=6)
    assert r.source.words == ["三", "千", "零", "五"]
    assert r.best.text == "".join(t for t in r.best.tokens if t != "</s>")      # digits glued together


def test_options_are_validated(tr):
    out_of_range = [dict(beam_size=0), dict(beam_size=11), dict(max_len=201), dict(max_len=-1), dict(n_best=11),
                    dict(length_penalty=2.01), dict(coverage_penalty=-0.1), dict(no_repeat_ngram_size=5),
                    dict(prefix=["i"], max_len=1)]
    not_numbers = [dict(length_penalty=math.nan), dict(coverage_penalty=-math.inf), dict(length_penalty=1e308),
                   dict(beam_size="5"), dict(beam_size=True), dict(beam_size=2.5), dict(max_len=None, n_best=[1]),
                   dict(prefix=3), dict(prefix=["i"] * 21)]
    for options in out_of_range + not_numbers:
        for method in (tr.translate, tr.steps, tr.translate_batch):
            with pytest.raises(InputError) as caught:
                result = method(["我爱学习"] if method == tr.translate_batch else "我爱学习", **options)
                list(result) if method == tr.steps else result
            assert caught.value.code == "bad_option", options
    for options in (dict(prefix=["zebra"]), dict(prefix="i love zebras")):
        with pytest.raises(InputError) as caught:
            tr.translate("我爱学习", **options)
        assert caught.value.code == "unknown_output_word", options
    automatic = tr.translate("我爱学习", max_len=None)                   # 0 = automatic, as the apps' boxes say
    assert tr.translate("我爱学习", max_len=0).best.tokens == automatic.best.tokens
    assert automatic.steps == 2 * 4 + 10 or automatic.best.finished
    with pytest.raises(InputError) as caught:
        tr.translate("我爱学习", prefix=["zebra", "i"])
    assert caught.value.code == "unknown_output_word" and "zebra" in caught.value.message
    assert caught.value.details == {"words": ["zebra"]}


@pytest.mark.parametrize("beam_size", [1, 3])
@pytest.mark.parametrize("prefix", [["<pad>"], ["<s>"], ["</s>"], ["i", "</s>", "love"]])
def test_prefix_with_special_tokens_is_an_input_error(tr, prefix, beam_size):
    with pytest.raises(InputError):
        tr.translate("我爱学习", beam_size=beam_size, prefix=prefix)


def test_score_rejects_unknown_output_words(tr):
    with pytest.raises(InputError) as caught:
        tr.score("我爱学习", "i love zebras")
    assert caught.value.code == "unknown_output_word"


def test_score_is_a_log_probability(tr):
    short, longer = tr.score("我爱学习", "i"), tr.score("我爱学习", "i love")
    assert short < 0 and longer < 0
    assert tr.score("我爱学习", []) < 0          # just p(</s> | <s>)


def test_n_best_is_capped_by_beam_size(tr):
    r = tr.translate("我爱学习", beam_size=3, n_best=10)
    assert r.options.n_best == 3 and len(r.candidates) <= 3
    assert r.strategy == "beam 3"


def test_translation_metadata(tr):
    r = tr.translate("我爱学习", beam_size=2)
    assert r.device == "cpu" and tr.device_label == "cpu"
    assert r.source.text == "我爱学习"
    assert r.best is r.candidates[0]


def test_encode_returns_the_encoders_values(tr):
    enc = tr.encode("我爱学习中文")
    S, config = 5, tr.config
    assert enc.source.src_tokens == ["我", "爱", "学习", "中文", "</s>"]
    assert enc.embeddings.shape == (S, config.emb_size)
    assert enc.states.shape == (S, config.hidden_size * 2)
    assert enc.summary.shape == (config.hidden_size,)
    with torch.inference_mode():
        encoded = tr.model.encode(torch.tensor([enc.source.ids]), torch.tensor([S]))
    assert_allclose(enc.embeddings, encoded.embedded[0].numpy())
    assert_allclose(enc.states, encoded.states[0].numpy())
    assert_allclose(enc.summary, encoded.summary[0].numpy())


def test_load_and_translate_a_saved_model(toy_training):
    tr = Translator.load(toy_training.path, device="cpu")
    assert tr.name == "tiny_numbers"
    assert tr.config.src_segmenter == "char" and tr.config.tgt_detok == "concat"
    r = tr.translate("三千零五", beam_size=3)
    assert r.best.finished and r.best.text.isdigit()
    assert tr.record["corpus"] == "toy:numbers"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device_name(torch.device("cpu")) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_asking_for_cuda_without_a_gpu_is_an_input_error():
    with pytest.raises(InputError) as caught:
        resolve_device("cuda")
    assert caught.value.code == "no_cuda"


def test_cuda_names_the_gpu_by_its_index(monkeypatch):
    """"cuda" resolves to the current GPU's index, so a translation reports "cuda:0 (…)" as documented (on the lent
    H200 it said "cuda (NVIDIA H200)"); an index the machine lacks is an input error, not a CUDA crash later."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(InputError) as caught:
        resolve_device("cuda:2")
    assert caught.value.code == "bad_device" and "2 GPU(s)" in str(caught.value)


class FakeClock:
    """time.perf_counter that moves only when told: decoding costs 1 ms per decoder step, a pause 10 s."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_elapsed_time_counts_the_decoding_and_not_the_callers_pauses(tr, monkeypatch):
    import seq2seq_lab.translator as translator_module

    clock = FakeClock()
    monkeypatch.setattr(translator_module, "time", clock)
    real_step, calls = tr.model.decoder.step, []

    def timed_step(*args, **kwargs):
        calls.append(1)
        clock.now += 0.001
        return real_step(*args, **kwargs)

    monkeypatch.setattr(tr.model.decoder, "step", timed_step)
    steps = []
    for step in tr.steps("我爱学习", beam_size=3, n_best=3):
        steps.append(step)
        clock.now += 10.0                                  # the app pausing between frames of the animation
    assert steps[-1].final.elapsed_ms == pytest.approx(len(calls) * 1.0)
    calls.clear()
    assert tr.translate("我爱学习", beam_size=3).elapsed_ms == pytest.approx(len(calls) * 1.0)
    assert len(calls) > 0
