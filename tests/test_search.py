"""Greedy and beam search: invariants that hold for any model, checked on random-init ones.

The random models (see conftest.build_translator) are deterministic, and their peaked
next-token distributions make the beam's choices non-trivial. ``eos_bias`` sets how
often hypotheses end: 0 → they run to max_len, 2 → a mix of finished and cut-off ones.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import EXAMPLE_SENTENCES, MODELS
from numpy.testing import assert_allclose

from seq2seq_lab import search
from seq2seq_lab.data import pad
from seq2seq_lab.search import SearchOptions, beam_search, greedy_search

SCORED = [name for name in MODELS if name != "none"]     # every model with attention, the Transformer too


def run_strategy(tr, texts, strategy, **options):
    """Run a search strategy directly on a batch, as Translator does, and return its n-best lists."""
    analyses = [tr.analyze(t) for t in texts]
    src = pad([a.ids for a in analyses])
    lengths = torch.tensor([len(a.ids) for a in analyses])
    with torch.inference_mode():
        encoded = tr.model.encode(src, lengths)
        memory = tr.model.decoder.prepare(encoded)
        state = tr.model.decoder.init_state(encoded)
        return search.run(strategy(tr.model, memory, state, lengths, tr.tgt_vocab,
                                   SearchOptions(record=False, **options)))


def teacher_forced(tr, text, tokens):
    """Per-token log p(y_t | y_<t, x) and attention (T, S) of ``tokens`` by one forward pass."""
    analysis = tr.analyze(text)
    ids = tr.tgt_vocab.encode(tokens)
    src = torch.tensor([analysis.ids])
    tgt_in = torch.tensor([[tr.tgt_vocab.bos_id] + ids[:-1]])
    with torch.inference_mode():
        logits, attention = tr.model(src, torch.tensor([len(analysis.ids)]), tgt_in)
    log_probs = torch.log_softmax(logits[0].float(), dim=-1)
    picked = log_probs[torch.arange(len(ids)), torch.tensor(ids)].numpy()
    return picked, None if attention is None else attention[0].numpy()


def has_repeated_ngram(tokens, n):
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


# --- beam 1 == greedy ------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", MODELS)
@pytest.mark.parametrize("options", [{}, {"max_len": 4}, {"no_repeat_ngram_size": 2}, {"prefix": [6, 7]}],
                         ids=["plain", "max_len", "no_repeat", "prefix"])
def test_beam_size_1_equals_greedy(make_translator, attention, options):
    kinds = set()
    for eos_bias in (-5.0, 2.0):                 # outputs cut off by max_len, and outputs that end
        tr = make_translator(attention, eos_bias=eos_bias)
        greedy = run_strategy(tr, EXAMPLE_SENTENCES, greedy_search, beam_size=1, **options)
        beam = run_strategy(tr, EXAMPLE_SENTENCES, beam_search, beam_size=1, **options)
        for g, b in zip(greedy, beam):
            assert len(g) == len(b) == 1
            g, b = g[0], b[0]
            kinds.add(g.finished)
            assert b.ids == g.ids
            assert b.finished == g.finished
            assert b.score == pytest.approx(g.score, abs=1e-5)
            assert_allclose(b.token_log_probs, g.token_log_probs, atol=1e-5)
            if attention == "none":
                assert g.attention is None and b.attention is None
            else:
                assert_allclose(b.attention, g.attention, atol=1e-6)
    assert kinds == {True, False} or options.get("max_len")


def test_translate_with_beam_1_is_greedy(make_translator):
    tr = make_translator("additive", eos_bias=2.0)
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=1)
        [[g]] = run_strategy(tr, [text], greedy_search, beam_size=1)
        assert r.best.tokens == tr.tgt_vocab.decode(g.ids)
        assert r.strategy == "greedy"


# --- decoding agrees with the teacher-forced forward pass --------------------------------------------


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", MODELS)
@pytest.mark.parametrize("beam_size", [1, 4])
def test_decoded_log_probs_and_attention_equal_the_teacher_forced_pass(make_translator, attention, cell,
                                                                       beam_size):
    tr = make_translator(attention, cell=cell, eos_bias=2.0)
    for text in EXAMPLE_SENTENCES[:3]:
        r = tr.translate(text, beam_size=beam_size, n_best=beam_size)
        for candidate in r.candidates:
            log_probs, attention_rows = teacher_forced(tr, text, candidate.tokens)
            assert_allclose(candidate.token_log_probs, log_probs, atol=1e-5)
            assert candidate.score == pytest.approx(float(np.sum(log_probs)), abs=1e-4)
            if attention == "none":
                assert candidate.attention is None
            else:
                assert_allclose(candidate.attention, attention_rows, atol=1e-5)


@pytest.mark.parametrize("attention", MODELS)
@pytest.mark.parametrize("beam_size", [1, 3, 5])
def test_score_agrees_with_decoding(make_translator, attention, beam_size):
    tr = make_translator(attention, eos_bias=2.0)
    finished = 0
    for text in EXAMPLE_SENTENCES:
        for candidate in tr.translate(text, beam_size=beam_size, n_best=beam_size).candidates:
            if candidate.tokens[-1] == "</s>":
                finished += 1
                assert tr.score(text, candidate.tokens[:-1]) == pytest.approx(candidate.score, abs=1e-4)
                assert tr.score(text, candidate.tokens) == pytest.approx(candidate.score, abs=1e-4)
                if "<unk>" not in candidate.tokens:                      # the text re-tokenises to the tokens
                    assert tr.score(text, candidate.text) == pytest.approx(candidate.score, abs=1e-4)
    assert finished > 0, "no finished hypothesis: the check above never ran"


def test_score_of_an_unfinished_hypothesis_adds_the_end_token(make_translator):
    """score() always scores "… </s>": for a cut-off output that is its log-prob plus log p(</s>)."""
    tr = make_translator("additive")
    r = tr.translate("我爱学习中文", beam_size=3, max_len=5)
    best = r.best
    assert not best.finished and len(best.tokens) == 5
    with_end, _ = teacher_forced(tr, "我爱学习中文", best.tokens + ["</s>"])
    assert tr.score("我爱学习中文", best.tokens) == pytest.approx(float(with_end.sum()), abs=1e-4)
    assert float(with_end[:-1].sum()) == pytest.approx(best.score, abs=1e-4)


# --- batching ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", MODELS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("beam_size", [1, 4])
def test_batched_search_equals_search_per_sentence(make_translator, attention, cell, beam_size):
    tr = make_translator(attention, cell=cell, eos_bias=2.0)
    options = dict(beam_size=beam_size, n_best=beam_size, max_len=12)
    batch = tr.translate_batch(EXAMPLE_SENTENCES, batch_size=len(EXAMPLE_SENTENCES), **options)
    for text, batched in zip(EXAMPLE_SENTENCES, batch):
        alone = tr.translate(text, **options)
        assert batched.src_tokens == alone.src_tokens
        assert [c.tokens for c in batched.candidates] == [c.tokens for c in alone.candidates]
        assert_allclose([c.score for c in batched.candidates], [c.score for c in alone.candidates], atol=1e-4)
        for b, a in zip(batched.candidates, alone.candidates):
            if a.attention is not None:
                assert b.attention.shape == a.attention.shape        # the batch's padding is cut off
                assert_allclose(b.attention, a.attention, atol=1e-5)


def test_batched_search_equals_search_per_sentence_with_default_max_len(make_translator):
    tr = make_translator("additive")               # no eos bias: outputs run to max_len
    batch = tr.translate_batch(EXAMPLE_SENTENCES, beam_size=3)
    for text, batched in zip(EXAMPLE_SENTENCES, batch):
        assert batched.best.tokens == tr.translate(text, beam_size=3).best.tokens, text


def test_translate_batch_chunks_give_the_same_results(make_translator):
    tr = make_translator("general", eos_bias=2.0)
    whole = tr.translate_batch(EXAMPLE_SENTENCES, beam_size=3, max_len=10)
    chunked = tr.translate_batch(EXAMPLE_SENTENCES, beam_size=3, max_len=10, batch_size=2)
    assert [r.best.tokens for r in whole] == [r.best.tokens for r in chunked]
    assert tr.translate_batch([], beam_size=3) == []


# --- the n-best list and its scores ----------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "additive", "scaled_dot", "transformer"])
@pytest.mark.parametrize("beam_size, n_best", [(5, 5), (5, 2), (3, 10), (1, 4)])
def test_n_best_is_sorted_distinct_and_at_most_beam(make_translator, attention, beam_size, n_best):
    tr = make_translator(attention, eos_bias=2.0)
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=beam_size, n_best=n_best)
        candidates = r.candidates
        assert len(candidates) == min(n_best, beam_size)
        scores = [c.normalized_score for c in candidates]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(c.tokens) for c in candidates}) == len(candidates)
        assert r.options.n_best == min(n_best, beam_size)


@pytest.mark.parametrize("attention", ["none", "dot", "additive", "transformer"])
@pytest.mark.parametrize("beam_size", [1, 4])
def test_outputs_are_well_formed(make_translator, attention, beam_size):
    tr = make_translator(attention, eos_bias=2.0)
    for text in EXAMPLE_SENTENCES:
        for c in tr.translate(text, beam_size=beam_size, n_best=beam_size).candidates:
            assert "<pad>" not in c.tokens and "<s>" not in c.tokens
            assert c.tokens[0] != "</s>", "an empty translation"
            assert "</s>" not in c.tokens[:-1]
            assert c.finished == (c.tokens[-1] == "</s>")
            assert c.length == len(c.tokens) == len(c.token_log_probs)
            assert all(lp <= 0 for lp in c.token_log_probs)
            assert c.score == pytest.approx(sum(c.token_log_probs), abs=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
@pytest.mark.parametrize("max_len", [1, 2, 5, 9])
def test_max_len_is_respected(make_translator, beam_size, max_len):
    tr = make_translator("additive", eos_bias=2.0)
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=beam_size, n_best=beam_size, max_len=max_len)
        for c in r.candidates:
            assert len(c.tokens) <= max_len
            if not c.finished:
                assert len(c.tokens) == max_len


def test_default_max_len_is_twice_the_source_plus_ten(make_translator):
    tr = make_translator("additive")                  # never ends: runs to the limit
    r = tr.translate("我爱学习中文", beam_size=2)
    assert len(r.src_tokens) == 5
    assert [len(c.tokens) for c in r.candidates] == [2 * 5 + 10]
    assert SearchOptions().resolved_max_len(300) == 200
    assert SearchOptions(max_len=7).resolved_max_len(300) == 7


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("beam_size", [1, 4])
def test_no_repeat_ngram_size_blocks_repeats(make_translator, n, beam_size):
    tr = make_translator("additive")
    baseline = [c.tokens for t in EXAMPLE_SENTENCES
                for c in tr.translate(t, beam_size=beam_size, n_best=beam_size).candidates]
    assert any(has_repeated_ngram(tokens, n) for tokens in baseline), "the check below would prove nothing"
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=beam_size, n_best=beam_size, no_repeat_ngram_size=n)
        for c in r.candidates:
            assert not has_repeated_ngram(c.tokens, n), (n, c.tokens)
            log_probs, _ = teacher_forced(tr, text, c.tokens)       # blocked tokens are not re-scored
            assert_allclose(c.token_log_probs, log_probs, atol=1e-5)


def test_no_repeat_bigrams_also_forbids_a_token_twice_in_a_row():
    from seq2seq_lab.search import _banned_tokens

    assert _banned_tokens([5, 7], 2) == {7}                   # "Chinese Chinese" repeats no bigram, but stutters
    assert _banned_tokens([5, 7, 5], 2) == {7, 5}             # 5 7 again, or 5 5
    assert _banned_tokens([5, 7, 5], 3) == {5}                  # no trigram to repeat yet; no stutter
    assert _banned_tokens([], 2) == set()
    assert _banned_tokens([5, 7, 5], 1) == {5, 7}


@pytest.mark.parametrize("beam_size", [1, 4])
def test_no_repeat_bigrams_gives_no_stutter(make_translator, beam_size):
    tr = make_translator("additive", eos_bias=-2.0)
    stutters = lambda tokens: any(a == b for a, b in zip(tokens, tokens[1:]))   # noqa: E731
    plain = [tr.translate(t, beam_size=beam_size, max_len=12).best.tokens for t in EXAMPLE_SENTENCES]
    assert any(stutters(tokens) for tokens in plain), "the check below would prove nothing"
    for text in EXAMPLE_SENTENCES:
        assert not stutters(tr.translate(text, beam_size=beam_size, max_len=12, no_repeat_ngram_size=2).best.tokens)


@pytest.mark.parametrize("attention", ["none", "additive", "transformer"])
@pytest.mark.parametrize("beam_size", [1, 4])
@pytest.mark.parametrize("prefix", [["i"], ["the", "chinese", "is"], "he is"])
def test_forced_prefix(make_translator, attention, beam_size, prefix):
    tr = make_translator(attention, eos_bias=2.0)
    prefix_tokens = prefix.split() if isinstance(prefix, str) else prefix
    for text in EXAMPLE_SENTENCES[:3]:
        r = tr.translate(text, beam_size=beam_size, n_best=beam_size, prefix=prefix)
        for c in r.candidates:
            assert c.tokens[:len(prefix_tokens)] == prefix_tokens
            log_probs, _ = teacher_forced(tr, text, c.tokens)       # forced tokens keep their real log-probs
            assert_allclose(c.token_log_probs, log_probs, atol=1e-5)


def test_prefix_changes_the_output(make_translator):
    tr = make_translator("additive", eos_bias=2.0)
    free = tr.translate("我爱学习中文", beam_size=3)
    forced_token = next(t for t in ("he", "you", "study") if t != free.best.tokens[0])
    forced = tr.translate("我爱学习中文", beam_size=3, prefix=[forced_token])
    assert forced.best.tokens[0] == forced_token
    assert forced.best.score < free.best.score       # forcing a less likely start costs probability


# --- length and coverage penalties ------------------------------------------------------------------------


def gnmt_score(candidate, alpha, beta):
    """GNMT: log P / lp + β Σ_j log min(Σ_t α_tj, 1), j over the source words (the last column is </s>)."""
    lp = ((5 + len(candidate.tokens)) / 6) ** alpha
    cp = 0.0
    if beta and candidate.attention is not None:
        coverage = np.minimum(candidate.attention[:, :-1].astype(np.float64).sum(axis=0), 1.0)
        cp = beta * float(np.log(np.maximum(coverage, 1e-6)).sum())
    return candidate.score / lp + cp


@pytest.mark.parametrize("attention", ["none", "general", "additive", "transformer"])
@pytest.mark.parametrize("alpha, beta", [(0.0, 0.0), (0.6, 0.0), (2.0, 0.0), (0.0, 0.3), (1.0, 0.5)])
def test_normalized_score_is_the_gnmt_formula(make_translator, attention, alpha, beta):
    tr = make_translator(attention, eos_bias=2.0)
    for text in EXAMPLE_SENTENCES:
        r = tr.translate(text, beam_size=4, n_best=4, length_penalty=alpha, coverage_penalty=beta)
        for c in r.candidates:
            assert c.normalized_score == pytest.approx(gnmt_score(c, alpha, beta), abs=1e-4)
            if alpha == 0 and (beta == 0 or attention == "none"):
                assert c.normalized_score == pytest.approx(c.score, abs=1e-9)
        assert [c.normalized_score for c in r.candidates] == sorted((c.normalized_score for c in r.candidates),
                                                                    reverse=True)


def _rank(candidates, key):
    unique = {tuple(c.tokens): c for c in candidates}.values()
    return [c.tokens for c in sorted(unique, key=key, reverse=True)]


def test_length_penalty_reranks_what_the_beam_found(make_translator):
    """The beam explores by raw log-prob whatever α is; α only re-ranks the finished hypotheses.

    So both runs draw from the same pool of hypotheses: each returns the top of the pooled
    candidates by its own formula.
    """
    tr = make_translator("additive", eos_bias=3.0, sharpen=4.0)
    reranked = 0
    for text in EXAMPLE_SENTENCES:
        plain = tr.translate(text, beam_size=5, n_best=5, length_penalty=0.0)
        long = tr.translate(text, beam_size=5, n_best=5, length_penalty=2.0)
        pool = plain.candidates + long.candidates
        assert [c.tokens for c in plain.candidates] == _rank(pool, lambda c: c.score)[:len(plain.candidates)]
        assert ([c.tokens for c in long.candidates]
                == _rank(pool, lambda c: gnmt_score(c, 2.0, 0.0))[:len(long.candidates)])
        if long.best.tokens != plain.best.tokens:
            reranked += 1
            assert len(long.best.tokens) > len(plain.best.tokens)     # α > 0 favours longer outputs
    assert reranked > 0, "α never changed the ranking: the test saw no case where it matters"


def test_coverage_penalty_reranks_what_the_beam_found(make_translator):
    tr = make_translator("additive", sharpen=3.0, seed=2)      # β = 1 (the apps' largest) changes a ranking here
    changed = 0
    for text in EXAMPLE_SENTENCES:
        plain = tr.translate(text, beam_size=5, n_best=5)
        covered = tr.translate(text, beam_size=5, n_best=5, coverage_penalty=1.0)
        pool = plain.candidates + covered.candidates
        assert ([c.tokens for c in covered.candidates]
                == _rank(pool, lambda c: gnmt_score(c, 0.0, 1.0))[:len(covered.candidates)])
        changed += covered.best.tokens != plain.best.tokens
    assert changed > 0, "β never changed the ranking: the test saw no case where it matters"


def test_penalty_helpers():
    assert search.length_penalty(10, 0.0) == 1.0
    assert search.length_penalty(1, 1.0) == 1.0
    assert search.length_penalty(7, 1.0) == 2.0
    assert search.length_penalty(7, 2.0) == 4.0
    # Columns: source words …, then </s>; the </s> column never counts.
    full = np.array([[0.5, 0.3, 0.2], [0.7, 0.2, 0.1]])
    assert search.coverage_penalty(full, 1.0) == pytest.approx(math.log(0.5))   # 我 covered (1.2), 爱 0.5
    assert search.coverage_penalty(None, 1.0) == 0.0
    half = np.array([[0.5, 0.5, 0.0]])
    assert search.coverage_penalty(half, 0.2) == pytest.approx(0.2 * 2 * math.log(0.5))
    assert search.coverage_penalty(np.array([[1.0, 0.0, 0.0]]), 1.0) == pytest.approx(math.log(1e-6))
    eos_only = np.array([[0.1, 0.9], [0.9, 0.1]])                # word covered; </s> at 1.0 changes nothing
    assert search.coverage_penalty(eos_only, 1.0) == 0.0
    assert search.coverage_penalty(np.array([[0.1, 0.1]]), 1.0) == pytest.approx(math.log(0.1))


def test_coverage_penalty_skips_end_of_source_and_batch_padding():
    """With src_len, the columns past the sentence (batch padding) and its </s> do not count."""
    attention = np.array([[0.6, 0.2, 0.2, 0.0, 0.0], [0.5, 0.4, 0.1, 0.0, 0.0]])   # 2 words + </s> + 2 pads
    expected = math.log(0.6)                                                          # 我 1.1 → 0, 爱 0.6
    assert search.coverage_penalty(attention, 1.0, src_len=3) == pytest.approx(expected)
    assert search.coverage_penalty(attention[:, :3], 1.0) == pytest.approx(expected)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_batched_search_gives_the_same_normalized_scores_with_coverage(make_translator, beam_size):
    """Padding columns once cost β·log 1e-6 each in a batch; now batched and single scores agree."""
    tr = make_translator("additive", eos_bias=2.0)
    options = dict(beam_size=beam_size, n_best=beam_size, length_penalty=0.6, coverage_penalty=0.4)
    batched = tr.translate_batch(list(EXAMPLE_SENTENCES), **options)
    for text, together in zip(EXAMPLE_SENTENCES, batched):
        alone = tr.translate(text, **options)
        assert [c.tokens for c in together.candidates] == [c.tokens for c in alone.candidates]
        assert ([c.normalized_score for c in together.candidates]
                == pytest.approx([c.normalized_score for c in alone.candidates], abs=1e-4))


# --- step-by-step records -------------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "dot", "additive", "transformer"])
@pytest.mark.parametrize("beam_size", [1, 3])
def test_steps_end_with_the_same_translation_as_translate(make_translator, attention, beam_size):
    tr = make_translator(attention, eos_bias=2.0)
    for text in EXAMPLE_SENTENCES[:3]:
        steps = list(tr.steps(text, beam_size=beam_size, n_best=beam_size))
        assert [s.index for s in steps] == list(range(len(steps)))
        assert all(s.final is None for s in steps[:-1])
        final = steps[-1].final
        direct = tr.translate(text, beam_size=beam_size, n_best=beam_size)
        assert [c.tokens for c in final.candidates] == [c.tokens for c in direct.candidates]
        assert_allclose([c.score for c in final.candidates], [c.score for c in direct.candidates], atol=1e-5)
        assert final.steps == len(steps)
        assert max(len(c.tokens) for c in final.candidates) <= len(steps)


def test_greedy_steps_form_a_chain(make_translator):
    tr = make_translator("additive", eos_bias=2.0)
    steps = list(tr.steps("我爱学习中文", beam_size=1))
    best = steps[-1].final.best
    assert len(steps) == len(best.tokens)
    previous = None
    for t, step in enumerate(steps):
        [node] = step.nodes
        assert node.id == t + 1 and node.step == t
        assert node.parent == (0 if previous is None else previous.id)
        assert node.tokens == best.tokens[:t + 1] and node.token == best.tokens[t]
        assert math.log(node.token_prob) == pytest.approx(best.token_log_probs[t], abs=1e-5)
        assert node.log_prob == pytest.approx(sum(best.token_log_probs[:t + 1]), abs=1e-4)
        assert_allclose(node.attention, best.attention[t], atol=1e-6)
        assert node.status == ("finished" if node.token == "</s>" else "alive")
        probs = [a.prob for a in node.alternatives]
        assert len(node.alternatives) == 5 and probs == sorted(probs, reverse=True)
        assert node.alternatives[0].token == node.token       # greedy takes the most probable token
        previous = node


@pytest.mark.parametrize("attention", ["none", "general", "scaled_dot", "transformer"])
def test_beam_steps_form_a_consistent_tree(make_translator, attention):
    K = 3
    tr = make_translator(attention, eos_bias=2.0)
    steps = list(tr.steps("他不是我的", beam_size=K, n_best=K))
    S = len(tr.analyze("他不是我的").ids)                # 他 不 是 我 的 </s>: 不是 falls back to characters
    assert S == 6
    nodes_by_id = {}
    alive_before = {0}
    root = {"tokens": [], "log_prob": 0.0}
    compared = 0
    for step in steps:
        assert step.nodes, "a step without nodes"
        assert len(step.alive) <= K and len(step.nodes) <= 2 * K
        for node in step.nodes:
            assert node.id not in nodes_by_id
            assert node.parent in alive_before, "a node grows from a hypothesis that was not alive"
            parent = root if node.parent == 0 else vars(nodes_by_id[node.parent])
            assert node.tokens == parent["tokens"] + [node.token]
            assert node.log_prob == pytest.approx(parent["log_prob"] + math.log(node.token_prob), abs=1e-4)
            assert node.step == step.index
            if attention == "none":
                assert node.attention is None and node.attention_heads is None
            else:
                config = tr.config
                layers_heads = (1, 1) if attention != "transformer" else (config.dec_layers, config.heads)
                assert node.attention.shape == (S,) and node.attention_heads.shape == (*layers_heads, S)
                assert node.attention.sum() == pytest.approx(1.0, abs=1e-5)
                assert_allclose(node.attention_heads.sum(-1), 1.0, atol=1e-5)            # every head's row
                assert_allclose(node.attention, node.attention_heads[-1].mean(0), atol=1e-6)  # the summary
            probs = [a.prob for a in node.alternatives]
            assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-5
            for alternative in node.alternatives:       # the same distribution the node's token came from
                if alternative.token == node.token:
                    assert alternative.prob == pytest.approx(node.token_prob, rel=1e-5)
        alive_scores = [n.log_prob for n in step.alive]
        for node in step.with_status("pruned"):
            if node.token != "</s>" and len(alive_scores) == K:       # a full beam: what it dropped ranks below
                assert node.log_prob <= min(alive_scores) + 1e-6, "pruned a better hypothesis than one kept"
                compared += 1
        for node in step.with_status("finished"):
            assert node.token == "</s>" or step is steps[-1]
        nodes_by_id.update({n.id: n for n in step.nodes})
        alive_before = {n.id for n in step.alive}
    assert compared > 0, "no step pruned beside a full beam: the pruning check above never ran"

    # Following the parents back from the best finished node spells out the best candidate.
    best = steps[-1].final.best
    assert best.finished
    [end] = [n for n in nodes_by_id.values() if n.status == "finished" and n.tokens == best.tokens]
    path = []
    while end is not None:
        path.append(end)
        end = nodes_by_id.get(end.parent)
    path.reverse()
    assert [n.token for n in path] == best.tokens
    assert_allclose([math.log(n.token_prob) for n in path], best.token_log_probs, atol=1e-5)
    if attention != "none":
        assert_allclose(np.stack([n.attention for n in path]), best.attention, atol=1e-6)


def test_first_beam_step_has_no_duplicate_hypotheses(make_translator):
    """Beam scores start at [0, −∞, …]: step 0 expands one beam, so no token appears twice."""
    tr = make_translator("additive")
    first = next(iter(tr.steps("我爱学习中文", beam_size=4)))
    tokens = [n.token for n in first.nodes]
    assert len(tokens) == len(set(tokens))
    assert all(n.parent == 0 for n in first.nodes)
    assert all(n.token != "</s>" for n in first.nodes)       # no empty translations


@pytest.mark.parametrize("strategy, beam_size", [(greedy_search, 1), (beam_search, 1), (beam_search, 3)],
                         ids=["greedy", "beam_1", "beam_3"])
def test_a_batch_yields_one_step_per_sentence_every_step(make_translator, strategy, beam_size):
    """The generator protocol: each step yields B records, in batch order; a finished sentence's are empty."""
    tr = make_translator("additive", eos_bias=2.0)
    analyses = [tr.analyze(t) for t in EXAMPLE_SENTENCES]
    lengths = torch.tensor([len(a.ids) for a in analyses])
    with torch.inference_mode():
        encoded = tr.model.encode(pad([a.ids for a in analyses]), lengths)
        search_steps = strategy(tr.model, tr.model.decoder.prepare(encoded), tr.model.decoder.init_state(encoded),
                                lengths, tr.tgt_vocab, SearchOptions(beam_size=beam_size, n_best=beam_size))
        records = []
        while True:
            try:
                records.append(next(search_steps))
            except StopIteration as done:
                results = done.value
                break
    assert all(len(steps) == len(EXAMPLE_SENTENCES) for steps in records)
    assert all(step.index == t for t, steps in enumerate(records) for step in steps)
    for b, hyps in enumerate(results):
        active = [t for t, steps in enumerate(records) if steps[b].nodes]
        assert active == list(range(len(active))), "a sentence's records resume after it was done"
        if strategy is greedy_search:
            assert len(active) == len(hyps[0].ids)
    assert len({sum(1 for steps in records if steps[b].nodes) for b in range(len(results))}) > 1, \
        "every sentence took as many steps: the check above proves nothing"


def test_decoding_is_deterministic(make_translator):
    tr = make_translator("scaled_dot", eos_bias=2.0)
    a = tr.translate("我爱学习中文", beam_size=4, n_best=4)
    b = tr.translate("我爱学习中文", beam_size=4, n_best=4)
    assert [c.tokens for c in a.candidates] == [c.tokens for c in b.candidates]
    assert [c.score for c in a.candidates] == [c.score for c in b.candidates]


def test_trained_model_search_invariants(toy_training):
    """The same invariants on a trained model, whose outputs end by themselves."""
    tr = toy_training.translator
    texts = [p.zh for p in toy_training.splits["test"][:12]]
    greedy = run_strategy(tr, texts, greedy_search, beam_size=1)
    beam1 = run_strategy(tr, texts, beam_search, beam_size=1)
    assert [g[0].ids for g in greedy] == [b[0].ids for b in beam1]
    batch = tr.translate_batch(texts, beam_size=4, n_best=4)
    for text, r in zip(texts, batch):
        assert r.best.finished
        alone = tr.translate(text, beam_size=4, n_best=4)
        assert [c.tokens for c in r.candidates] == [c.tokens for c in alone.candidates]
        assert tr.score(text, r.best.tokens[:-1]) == pytest.approx(r.best.score, abs=1e-4)
        assert r.best.attention.shape == (len(r.best.tokens), len(r.src_tokens))
        assert_allclose(r.best.attention.sum(axis=1), 1.0, atol=1e-5)
