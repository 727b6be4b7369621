"""Beam search against brute force: on a vocabulary small enough to list every output, a wide beam is exact.

The decoder here is a fake one: its next-token distribution (and attention row) is drawn at random,
once, for every (sentence, prefix), so the output space is a real tree with no structure to exploit.
With W words and max_len L there are W + W² + … + W^(L−1) outputs that end with </s> and W^L that
max_len cuts off, and at most W^(L−1)·(W + 1) candidates at any step. A beam that wide never prunes,
so its n-best list must be the true n best under the GNMT score: what is left to go wrong is the
ranking, and the stop rule, which must not stop before the n-best list is final. Narrower beams are
checked one step at a time: each step must keep the K best extensions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from seq2seq_lab.model import Memory, StepOutput
from seq2seq_lab.search import SearchOptions, beam_search
from seq2seq_lab.vocab import Vocab

SRC_LENS = (3, 5, 4)             # three sentences: 2, 4 and 3 source words + </s>; the batch pads to 5


@dataclass
class PrefixState:
    """The fake decoder's state: which sentence each row belongs to, and the tokens it has read."""

    sentence: torch.Tensor       # (N,)
    tokens: torch.Tensor         # (N, t)

    def index_select(self, index: torch.Tensor) -> PrefixState:
        return PrefixState(self.sentence[index], self.tokens[index])


class FakeDecoder:
    """Logits and an attention row drawn at random for every (sentence, prefix), the same every time."""

    def __init__(self, vocab_size: int, *, seed: int, with_attention: bool):
        self.vocab_size, self.seed = vocab_size, seed
        self.has_attention = with_attention                       # the search only asks whether there is one
        self.attention = object() if with_attention else None
        self.table: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def draw(self, sentence: int, prefix: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """(V,) logits and (S,) attention after ``prefix`` (the output so far, <s> excluded)."""
        key = (sentence, prefix)
        if key not in self.table:
            rng = np.random.default_rng([self.seed, sentence, len(prefix), *prefix])
            logits = 2.0 * rng.standard_normal(self.vocab_size)
            logits[Vocab.eos_id] += 2.0 * len(prefix) - 1.0         # longer outputs grow likelier to end
            n = SRC_LENS[sentence]
            weights = np.zeros(max(SRC_LENS))
            weights[:n] = np.exp(2.0 * rng.standard_normal(n))
            self.table[key] = (torch.tensor(logits, dtype=torch.float32),
                               torch.tensor(weights / weights.sum(), dtype=torch.float32))
        return self.table[key]

    def step(self, prev_tokens: torch.Tensor, state: PrefixState, memory: Memory) -> StepOutput:
        tokens = torch.cat([state.tokens, prev_tokens.unsqueeze(1)], dim=1)   # (N, t+1), <s> first
        drawn = [self.draw(int(b), tuple(row[1:])) for b, row in zip(state.sentence, tokens.tolist())]
        logits = torch.stack([d[0] for d in drawn])                              # (N, V)
        attention = torch.stack([d[1] for d in drawn])[:, None, None, :] if self.attention is not None else None
        return StepOutput(logits, PrefixState(state.sentence, tokens), attention, torch.zeros(len(drawn), 1))


@dataclass
class FakeModel:
    decoder: FakeDecoder


def make_model(n_words: int, *, seed: int, with_attention: bool) -> tuple[FakeModel, Vocab]:
    vocab = Vocab([f"w{i}" for i in range(n_words)])
    return FakeModel(FakeDecoder(len(vocab), seed=seed, with_attention=with_attention)), vocab


def search(model: FakeModel, vocab: Vocab, **options):
    """Run the beam over the three sentences; return the n-best lists and the per-step records."""
    B, S = len(SRC_LENS), max(SRC_LENS)
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(SRC_LENS).unsqueeze(1)     # (B, S)
    memory = Memory(None, None, mask, torch.zeros(B, 1))
    state = PrefixState(torch.arange(B), torch.empty((B, 0), dtype=torch.long))
    generator = beam_search(model, memory, state, torch.tensor(SRC_LENS), vocab, SearchOptions(**options))
    steps = []
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as done:
            return done.value, steps


def gnmt(log_prob: float, length: int, attention: np.ndarray | None, src_len: int, alpha: float,
         beta: float) -> float:
    """s(y) = log P / ((5 + |y|) / 6)^α + β Σ_j log min(Σ_t α_tj, 1), j over the source words."""
    coverage = 0.0
    if beta and attention is not None:
        covered = np.minimum(attention[:, :src_len - 1].astype(np.float64).sum(axis=0), 1.0)
        coverage = beta * float(np.log(np.maximum(covered, 1e-6)).sum())
    return log_prob / ((5 + length) / 6) ** alpha + coverage


def every_output(model: FakeModel, vocab: Vocab, sentence: int, max_len: int, alpha: float, beta: float):
    """All outputs the search may return for one sentence, best first: (score, ids, log P).

    The search never writes <pad>, <s> or <unk>, nor </s> first; an output either ends with </s>
    within max_len tokens or is cut off at max_len without one.
    """
    words = range(4, len(vocab))
    outputs = [(*prefix, vocab.eos_id) for n in range(1, max_len) for prefix in itertools.product(words, repeat=n)]
    outputs += list(itertools.product(words, repeat=max_len))
    scored = []
    for ids in outputs:
        log_prob, rows = 0.0, []
        for t, token in enumerate(ids):
            logits, attention = model.decoder.draw(sentence, ids[:t])
            log_prob += float(torch.log_softmax(logits, dim=-1)[token])
            rows.append(attention.numpy())
        attention = np.stack(rows) if model.decoder.attention is not None else None
        scored.append((gnmt(log_prob, len(ids), attention, SRC_LENS[sentence], alpha, beta), list(ids), log_prob))
    return sorted(scored, key=lambda s: s[0], reverse=True)


WIDE = [(3, 4), (4, 3)]          # (words, max_len): 120 and 84 outputs
PENALTIES = [(0.0, 0.0), (0.6, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, 0.2), (1.0, 0.2)]


@pytest.mark.parametrize("n_words, max_len", WIDE)
@pytest.mark.parametrize("alpha, beta, with_attention",
                         [(alpha, beta, True) for alpha, beta in PENALTIES] + [(0.0, 0.0, False), (1.0, 0.0, False)])
@pytest.mark.parametrize("n_best", [1, 3, None], ids=["best", "3_best", "all"])
def test_a_beam_that_never_prunes_returns_the_true_n_best(n_words, max_len, alpha, beta, with_attention, n_best):
    K = n_words ** (max_len - 1) * (n_words + 1)          # the most candidates any step can have: nothing pruned
    n = K if n_best is None else n_best
    for seed in range(4):
        model, vocab = make_model(n_words, seed=seed, with_attention=with_attention)
        results, _ = search(model, vocab, beam_size=K, n_best=n, max_len=max_len, length_penalty=alpha,
                            coverage_penalty=beta, record=False)
        for b, hyps in enumerate(results):
            truth = every_output(model, vocab, b, max_len, alpha, beta)
            assert [h.ids for h in hyps] == [ids for _, ids, _ in truth[:n]], (seed, b)
            assert [h.normalized_score for h in hyps] == pytest.approx([s for s, _, _ in truth[:n]], abs=1e-4)
            assert [h.score for h in hyps] == pytest.approx([lp for _, _, lp in truth[:n]], abs=1e-4)
            assert all(h.finished == (h.ids[-1] == vocab.eos_id) for h in hyps)


@pytest.mark.parametrize("n_best", [1, 3])
def test_the_cases_above_put_the_stop_rule_to_the_test(n_best):
    """Without penalties the search may stop before max_len; the cases above must be ones where that matters.

    Some searches stop early, and some true n-best lists hold an output longer than the first length at
    which n outputs have ended (where a search that stops once n hypotheses finish would stop).
    """
    stopped_early = ended_later = 0
    for (n_words, max_len), seed in itertools.product(WIDE, range(4)):
        K = n_words ** (max_len - 1) * (n_words + 1)
        naive_length = next(length for length in range(2, max_len + 1)
                            if sum(n_words ** words for words in range(1, length)) >= n_best)
        model, vocab = make_model(n_words, seed=seed, with_attention=False)
        _, steps = search(model, vocab, beam_size=K, n_best=n_best, max_len=max_len)
        for b in range(len(SRC_LENS)):
            truth = every_output(model, vocab, b, max_len, 0.0, 0.0)
            stopped_early += sum(1 for step in steps if step[b].nodes) < max_len
            ended_later += max(len(ids) for _, ids, _ in truth[:n_best]) > naive_length
    assert stopped_early > 0, "the exact stop never fired before max_len: it went untested"
    assert ended_later > 0, "every true n-best list ended early: a hasty stop would pass"


@pytest.mark.parametrize("beam_size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("alpha, beta", [(0.0, 0.0), (1.0, 0.2), (2.0, 0.0)])
def test_a_narrow_beam_returns_real_outputs_with_their_true_scores(beam_size, alpha, beta):
    """Narrow beams prune, so they may miss the best; but what they return is scored exactly."""
    n_words, max_len = 3, 4
    for seed in range(4):
        model, vocab = make_model(n_words, seed=seed, with_attention=True)
        results, _ = search(model, vocab, beam_size=beam_size, n_best=beam_size, max_len=max_len,
                            length_penalty=alpha, coverage_penalty=beta, record=False)
        for b, hyps in enumerate(results):
            truth = {tuple(ids): (s, lp) for s, ids, lp in every_output(model, vocab, b, max_len, alpha, beta)}
            best = max(s for s, _ in truth.values())
            for h in hyps:
                assert tuple(h.ids) in truth, "not an output the search may return"
                assert h.normalized_score == pytest.approx(truth[tuple(h.ids)][0], abs=1e-4)
                assert h.score == pytest.approx(truth[tuple(h.ids)][1], abs=1e-4)
                assert h.normalized_score <= best + 1e-4
            scores = [h.normalized_score for h in hyps]
            assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("beam_size", [2, 3, 5])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_each_step_keeps_the_k_best_extensions(beam_size, alpha):
    """One step, by brute force: of all one-token extensions of the live beams, an </s> among the K best
    finishes and the K best others stay alive, so the beam stays full while there are K to keep."""
    K, n_words, max_len = beam_size, 3, 4
    full_steps = 0
    for seed in range(4):
        model, vocab = make_model(n_words, seed=seed, with_attention=False)
        _, steps = search(model, vocab, beam_size=K, n_best=K, max_len=max_len, length_penalty=alpha)
        for b in range(len(SRC_LENS)):
            alive = [((), 0.0)]                                   # (tokens, log P): the root
            for t, step in enumerate(steps):
                if not step[b].nodes:
                    break                                         # this sentence's search is over
                extensions = []
                for tokens, log_prob in alive:
                    ids = tuple(vocab.encode(tokens))
                    log_probs = torch.log_softmax(model.decoder.draw(b, ids)[0], dim=-1)
                    allowed = [*range(4, len(vocab))] + ([vocab.eos_id] if t > 0 else [])
                    extensions += [((*tokens, vocab.itos[y]), log_prob + float(log_probs[y])) for y in allowed]
                extensions.sort(key=lambda e: e[1], reverse=True)
                ended = {e[0] for e in extensions[:K] if e[0][-1] == "</s>"}
                kept = [e for e in extensions if e[0][-1] != "</s>"][:K]
                by_status = {status: {tuple(n.tokens) for n in step[b].nodes if n.status == status}
                             for status in ("alive", "finished")}
                if t == max_len - 1:                              # max_len: what stays alive is cut off
                    assert by_status["finished"] == ended | {e[0] for e in kept} and not by_status["alive"]
                else:
                    assert by_status["finished"] == ended, (seed, b, t)
                    assert by_status["alive"] == {e[0] for e in kept}, (seed, b, t)
                    full_steps += len(kept) == K and bool(ended)
                alive = [(tuple(n.tokens), n.log_prob) for n in step[b].nodes if n.status == "alive"]
    assert full_steps > 0, "no step had an </s> among the K best: the beam never had to refill"


@pytest.mark.parametrize("beam_size", [2, 5, 40])
@pytest.mark.parametrize("options", [{}, {"no_repeat_ngram_size": 1}, {"prefix": [5]}, {"length_penalty": 1.0}],
                         ids=["plain", "no_repeat", "prefix", "alpha"])
def test_finished_hypotheses_are_distinct_without_a_dedup(beam_size, options):
    """Why search._n_best needs no dedup: no sentence ever finishes the same output twice.

    The records list every hypothesis the search finishes (status "finished"), not only the n best
    it returns. Beams wider than the allowed continuations (40 here; any K with a forced prefix, which
    allows one) hold empty −∞ rows with whatever token histories: those must never finish.
    """
    finished_any = 0
    for seed in range(4):
        model, vocab = make_model(3, seed=seed, with_attention=True)
        results, steps = search(model, vocab, beam_size=beam_size, n_best=beam_size, max_len=4, **options)
        for b, hyps in enumerate(results):
            finished = [tuple(node.tokens) for step in steps for node in step[b].nodes if node.status == "finished"]
            finished_any += len(finished)
            assert len(finished) == len(set(finished)), (seed, b, finished)
            assert len({tuple(h.ids) for h in hyps}) == len(hyps)
            assert {tuple(vocab.decode(h.ids)) for h in hyps} <= set(finished)
            assert all(math.isfinite(h.score) for h in hyps)
    assert finished_any > 0
