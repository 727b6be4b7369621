"""Looking closer (seq2seq_lab/explain.py, #13): coverage, Integrated Gradients, exposure bias, pinyin.

Each number is checked against the core it claims to show: coverage totals are the heatmap's column sums and
its penalty the beam's; attributions satisfy Integrated Gradients' completeness; teacher-forced probabilities
multiply to exp(Translator.score) and the free-running ones are greedy decoding's own.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from seq2seq_lab import explain
from seq2seq_lab.search import coverage_penalty

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "我爱学习中文"
MODELS = ("additive", "dot", "general", "scaled_dot", "transformer")

# Completeness: Σ_j a_tj = f(e) − f(e'), up to the integral's quadrature error. With 64 Gauss–Legendre points the
# error stays within 2 % of the change plus 0.01 nats on these models (the apps use 32 points and show the gap).
COMPLETENESS_STEPS = 64
RELATIVE, ABSOLUTE = 0.02, 0.01


# --- coverage ---------------------------------------------------------------------------------------------------

def test_coverage_totals_are_the_heatmaps_column_sums_and_flag_dropped_and_repeated_words():
    src = ["明天", "我", "去", "北京", "。", "</s>"]
    attention = np.array([[0.5, 0.4, 0.0, 0.0, 0.0, 0.1],       # T = 4 output words over S = 6 source tokens
                          [0.9, 0.0, 0.1, 0.0, 0.0, 0.0],
                          [0.8, 0.0, 0.1, 0.05, 0.05, 0.0],
                          [0.0, 0.0, 0.0, 0.0, 0.9, 0.1]])
    cov = explain.coverage(src, attention, beta=0.4)
    np.testing.assert_allclose(cov.totals, attention.sum(axis=0))
    assert cov.dropped == [2, 3]                                  # 去 0.2, 北京 0.05; </s> is never flagged
    assert cov.repeated == [0]                                    # 明天 2.2
    words = np.minimum(attention.sum(axis=0)[:5], 1.0)
    assert cov.log_coverage == pytest.approx(float(np.log(words).sum()))
    assert cov.penalty == pytest.approx(0.4 * cov.log_coverage)
    assert cov.penalty == pytest.approx(coverage_penalty(attention, 0.4, len(src)))    # what the beam adds


def test_coverage_of_a_decoded_translation_matches_the_beams_penalty(make_translator):
    tr = make_translator("additive", eos_bias=1.0)
    translation = tr.translate(SENTENCE, beam_size=3, coverage_penalty=0.3)
    best = translation.best
    cov = explain.coverage(translation.src_tokens, best.attention, 0.3)
    np.testing.assert_allclose(cov.totals, best.attention.sum(axis=0), rtol=1e-6)
    assert cov.totals.sum() == pytest.approx(len(best.tokens), rel=1e-4)             # each row sums to 1
    assert cov.penalty == pytest.approx(coverage_penalty(best.attention, 0.3, len(translation.src_tokens)))


# --- attribution ------------------------------------------------------------------------------------------------

def test_spearman_ranks_ties_and_undefined_rows():
    assert explain.spearman(np.array([1.0, 2, 3]), np.array([10.0, 20, 30])) == pytest.approx(1.0)
    assert explain.spearman(np.array([1.0, 2, 3]), np.array([3.0, 2, 1])) == pytest.approx(-1.0)
    np.testing.assert_allclose(explain.ranks(np.array([5.0, 1, 5, 2])), [3.5, 1, 3.5, 2])
    assert math.isnan(explain.spearman(np.array([1.0, 1, 1]), np.array([1.0, 2, 3])))
    assert math.isnan(explain.spearman(np.array([1.0]), np.array([2.0])))


def vivid(tr):
    """A random-init translator whose source words matter: its embedding table scaled up ×4 (at ±0.3 the sentence
    barely moves the output, and completeness would be checked on changes of a few hundredths of a nat)."""
    with torch.no_grad():
        explain.source_embedding(tr.model).weight.mul_(4.0)
    return tr


@pytest.mark.parametrize("attention", MODELS)
def test_attributions_satisfy_completeness(make_translator, attention):
    tr = vivid(make_translator(attention, eos_bias=1.0))
    tokens = tr.translate(SENTENCE, beam_size=1).best.tokens
    found = explain.attribute(tr, SENTENCE, tokens, steps=COMPLETENESS_STEPS)
    T, S = len(found.out_tokens), len(found.src_tokens)
    assert found.scores.shape == (T, S) and found.out_tokens == tokens
    change = found.log_prob - found.baseline
    np.testing.assert_allclose(found.scores.sum(axis=1), change, rtol=RELATIVE, atol=ABSOLUTE)
    np.testing.assert_allclose(found.delta, found.scores.sum(axis=1) - change, atol=1e-4)    # captum's own gap
    assert np.abs(found.scores[:, -1]).max() < 1e-6          # the source's </s> is kept in the baseline: no share
    assert np.abs(change).max() > 0.02                       # the words matter (trained models: the test below)
    # f(e) is the model's own log-probability of each output token, fed the output teacher-forced
    ids, log_probs = tr.forced_log_probs(SENTENCE, tokens)
    T = len(found.log_prob)                                   # forced_log_probs adds a </s> a cut-off output lacks
    np.testing.assert_allclose(found.log_prob, log_probs[np.arange(T), ids[:T]], atol=1e-4)


@pytest.mark.parametrize("name", ("toy_numbers", "everyday_additive", "everyday_transformer"))
def test_attributions_of_the_shipped_models_satisfy_completeness(name):
    from seq2seq_lab.translator import Translator

    tr = Translator.load(ROOT / "models" / f"{name}.safetensors", device="cpu")
    text = "三千零五" if name.startswith("toy") else "明天我要去北京。"
    best = tr.translate(text, beam_size=1).best
    found = explain.attribute(tr, text, best.tokens, steps=COMPLETENESS_STEPS)
    change = found.log_prob - found.baseline
    np.testing.assert_allclose(found.scores.sum(axis=1), change, rtol=RELATIVE, atol=ABSOLUTE)
    assert np.abs(change).max() > 1.0                         # the sentence moves the output by nats


def test_attribution_comes_with_the_heatmaps_attention_and_its_rank_correlation(make_translator):
    tr = make_translator("additive", eos_bias=1.0)
    best = tr.translate(SENTENCE, beam_size=1).best
    found = explain.attribute(tr, SENTENCE, best.tokens)
    np.testing.assert_allclose(found.attention, best.attention, atol=1e-5)            # the same α as decoding
    words = len(found.src_tokens) - 1
    for t in range(len(found.out_tokens)):
        expected = explain.spearman(found.attention[t, :words], np.abs(found.scores[t, :words]))
        assert found.correlation[t] == pytest.approx(expected, nan_ok=True)


def test_a_word_the_output_depends_on_gets_the_attribution(make_translator):
    """Changing one source word's embedding changes the output's probability by what IG gives it, roughly: the
    word with the largest |a| is the one whose removal moves log p most (a sanity check, not completeness)."""
    tr = vivid(make_translator("additive", eos_bias=1.0))
    tokens = tr.translate(SENTENCE, beam_size=1).best.tokens
    found = explain.attribute(tr, SENTENCE, tokens, steps=COMPLETENESS_STEPS)
    words = len(found.src_tokens) - 1
    analysis = tr.analyze(SENTENCE)
    ids = tr._target_ids([t for t in tokens if t != "</s>"]) + [tr.tgt_vocab.eos_id]
    src = torch.tensor([analysis.ids])
    tgt_in = torch.tensor([[tr.tgt_vocab.bos_id] + ids[:-1]])
    table = explain.source_embedding(tr.model)
    with torch.no_grad():
        rows = table(src)
        full = torch.log_softmax(tr.model(src, torch.tensor([len(analysis.ids)]), tgt_in)[0], -1)[0, 0, ids[0]]
        moves = []
        for j in range(words):
            ablated = rows.clone()
            ablated[0, j] = 0.0
            logits, _ = tr.model(src, torch.tensor([len(analysis.ids)]), tgt_in, src_rows=ablated)
            moves.append(float(full - torch.log_softmax(logits, -1)[0, 0, ids[0]]))
    assert int(np.argmax(np.abs(found.scores[0, :words]))) == int(np.argmax(np.abs(moves)))


def test_src_rows_given_equal_the_looked_up_ones(make_translator):
    """The model's ``src_rows`` door (what IG walks) computes exactly what the lookup does."""
    for attention in ("additive", "transformer"):
        tr = make_translator(attention)
        analysis = tr.analyze(SENTENCE)
        src, lengths = torch.tensor([analysis.ids]), torch.tensor([len(analysis.ids)])
        tgt_in = torch.tensor([[tr.tgt_vocab.bos_id, 4, 5]])
        with torch.no_grad():
            plain, _ = tr.model(src, lengths, tgt_in)
            given, _ = tr.model(src, lengths, tgt_in, src_rows=explain.source_embedding(tr.model)(src))
        torch.testing.assert_close(plain, given)


# --- exposure bias ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attention", ("additive", "transformer"))
def test_teacher_forced_probabilities_multiply_to_the_score(make_translator, attention):
    tr = make_translator(attention, eos_bias=1.0)
    reference = "i love chinese ."
    found = explain.exposure_bias(tr, SENTENCE, reference)
    assert found.reference == ["i", "love", "chinese", ".", "</s>"]
    assert found.teacher_forced_score == pytest.approx(tr.score(SENTENCE, reference), abs=1e-4)


@pytest.mark.parametrize("attention", ("additive", "transformer"))
def test_free_running_is_greedy_decodings_own_distribution(make_translator, attention):
    tr = make_translator(attention, eos_bias=1.0)
    greedy = tr.translate(SENTENCE, beam_size=1).best
    reference = ["you", *[t for t in greedy.tokens if t != "</s>"]]            # leaves at once: step 0
    found = explain.exposure_bias(tr, SENTENCE, reference)
    assert found.own == greedy.tokens
    np.testing.assert_allclose(np.log(found.own_prob), greedy.token_log_probs, atol=1e-4)
    assert found.leaves_at == (0 if greedy.tokens[0] != "you" else found.leaves_at)
    # Fed its own words, p(reference word) at step t is the greedy step's distribution at that word
    ids, log_probs = tr.forced_log_probs(SENTENCE, greedy.tokens)
    rows = min(len(found.reference), len(log_probs))
    ref_ids = [tr.tgt_vocab.stoi[w] for w in found.reference[:rows]]
    np.testing.assert_allclose(found.free_running[:rows], np.exp(log_probs[np.arange(rows), ref_ids]), rtol=1e-5)
    assert np.isnan(found.free_running[rows:]).all()


def test_the_models_own_output_as_reference_never_leaves_it(make_translator):
    tr = make_translator("additive", eos_bias=3.0)
    greedy = tr.translate(SENTENCE, beam_size=1).best
    assert greedy.finished
    found = explain.exposure_bias(tr, SENTENCE, greedy.tokens)
    assert found.leaves_at is None
    np.testing.assert_allclose(found.teacher_forced, found.free_running, rtol=1e-5)


def test_exposure_bias_leaves_at_the_first_different_word(make_translator):
    tr = make_translator("additive", eos_bias=1.0)
    own = [t for t in tr.translate(SENTENCE, beam_size=1).best.tokens if t != "</s>"]
    assert len(own) >= 2
    other = next(w for w in ("good", "not", "the") if w != own[1])
    found = explain.exposure_bias(tr, SENTENCE, [own[0], other, *own[2:]])
    assert found.leaves_at == 1
    assert found.teacher_forced[0] == pytest.approx(found.free_running[0])           # same prefix: same number


def test_unknown_reference_words_are_scored_as_unknown_and_listed(make_translator):
    tr = make_translator("additive")
    found = explain.exposure_bias(tr, SENTENCE, "i love physics .")
    assert found.unknown == ["physics"]
    ids, log_probs = tr.forced_log_probs(SENTENCE, ["i", "love", "physics", "."], unknown_ok=True)
    assert ids[2] == tr.tgt_vocab.unk_id
    assert found.teacher_forced[2] == pytest.approx(math.exp(log_probs[2, tr.tgt_vocab.unk_id]), rel=1e-5)


def test_a_special_token_in_the_reference_is_refused(make_translator):
    from seq2seq_lab.errors import InputError

    with pytest.raises(InputError):
        explain.exposure_bias(make_translator("additive"), SENTENCE, ["i", "<s>", "love"])


# --- pinyin -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token, expected", [("学习", "xuéxí"), ("我", "wǒ"), ("银行", "yínháng"), ("行走", "xíngzǒu"),
                                             ("</s>", ""), ("12", ""), ("。", ""), ("<unk>", "")])
def test_pinyin_reads_words_with_tones_and_leaves_other_tokens_blank(token, expected):
    assert explain.pinyin(token) == expected
