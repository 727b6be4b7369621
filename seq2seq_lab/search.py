"""Decoding strategies over the decoder's single step: greedy and beam search.

Both are generators. While they run they yield, for every decoding step, one
:class:`Step` per sentence: the hypotheses alive after the step, those that just
finished, and those pruned — each a :class:`Node` of the search tree with its
tokens, cumulative log-probability, the attention row that produced its last
token, and the alternatives the model considered. When they are done they
*return* the n-best :class:`Hypothesis` lists (use ``result = yield from …`` or
:func:`run`).

Beam search keeps the beams of all sentences in the batch dimension, (B·K, …):
one ``decoder.step`` call advances every beam of every sentence, and the decoder
state is reordered with ``index_select``. At the first step only beam 0 is live
(scores ``[0, −∞, …]``), so the K beams do not start as K copies. One step of the
beam, in the order :func:`beam_search` calls them:

1. :func:`_decode` — one decoder step for all B·K beams (at t = 0, one row per sentence).
2. :func:`_next_log_probs` — log-softmax, then the constraints (prefix, specials, n-gram blocking).
3. :func:`_expand` — every beam's extensions scored ``log P(y_<t) + log p(y_t)``; the 2K best kept.
4. :func:`_select` — an </s> among the K best finishes; the K best others stay alive.
5. :func:`_finish`, :func:`_advance`, :func:`_cut_off` — act on that choice (the
   :class:`BeamState` changes only here).
6. :func:`_search_is_over` — the stop rule, per sentence.

A :class:`BeamTreeRecorder` watches steps 3–4 and writes the search tree (the yielded
:class:`Step` records); it is attached only when ``options.record`` is true.

Scores. A hypothesis y has log-probability ``log P(y|x) = Σ_t log p(y_t | y_<t, x)``.
Finished hypotheses are ranked by the GNMT score (Wu et al. 2016)::

    s(y) = log P(y|x) / lp(y) + cp(y)
    lp(y) = ((5 + |y|) / 6) ** α                      # length penalty, α = length_penalty
    cp(y) = β · Σ_j log(min(Σ_t α_tj, 1))             # coverage penalty, β = coverage_penalty

The coverage sum runs over the source *words* j = 1 … |x|, as in GNMT: not over the closing
``</s>`` (a sentinel, where a trained model parks attention it does not need) nor over batch
padding (which gave every hypothesis of a short sentence in a batch a constant β·log 10⁻⁶ per
padded column). Note what cp does not do: it rewards attention mass up to 1 on every word and
never charges for more, so a repeated word ("I is a student student.") costs nothing in
coverage and can buy some on under-attended columns such as "。"; with α = 1 the length
penalty rewards the extra token as well. ``scripts/tune_decoding.py`` therefore counts an
output with a repeated word or n-gram as an error when it chooses α and β.

Which attention. α_tj above, the hypotheses' attention rows and the heatmap are all one summary,
:attr:`~.model.StepOutput.summary_attention`: the last decoder layer's cross-attention, averaged over its
heads. For an RNN (one layer, one head) that is its attention exactly; for a Transformer it is the layer
closest to the output, where the heads' average is the best single guide to which source word is being
translated (earlier layers mix in self-attention patterns). Every head of every layer is kept beside it,
in :attr:`Node.attention_heads`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .model import DecoderState, Memory, Seq2Seq, StepOutput
from .vocab import Vocab

ALIVE, FINISHED, PRUNED = "alive", "finished", "pruned"


@dataclass
class SearchOptions:
    beam_size: int = 5                 # hypotheses kept per step; 1 = greedy
    max_len: int | None = None         # output tokens at most; None → 2·source + 10
    length_penalty: float = 0.0        # GNMT α; 0 = rank by raw log-probability
    coverage_penalty: float = 0.0      # GNMT β; 0 = none
    no_repeat_ngram_size: int = 0      # forbid repeating any n-gram of this size (n ≥ 2: nor a token twice in a
    #                                    row); 0 = off
    n_best: int = 1                    # finished hypotheses returned per sentence
    prefix: Sequence[int] = ()         # token ids forced at the start of the output
    alternatives: int = 5              # top next tokens recorded per node
    record: bool = True                # yield per-step records (off for fast batch evaluation)

    def resolved_max_len(self, src_len: int) -> int:
        return self.max_len if self.max_len else min(2 * src_len + 10, 200)


@dataclass
class Alternative:
    token: str
    prob: float


@dataclass
class Node:
    """One hypothesis after one step: a node of the search tree."""

    id: int
    parent: int                  # 0 is the root (<s>)
    step: int                    # 0-based decoding step that produced ``token``
    token: str
    tokens: list[str]            # the output so far, ``token`` included
    log_prob: float              # cumulative log-probability (raw)
    token_prob: float            # p(token | parent)
    score: float                 # the ranking score (normalised once finished)
    status: str                  # "alive", "finished" or "pruned"
    attention: np.ndarray | None = None         # (S,) the weights that produced ``token``
    attention_heads: np.ndarray | None = None   # (layers, heads, S); (1, 1, S) for an RNN
    alternatives: list[Alternative] = field(default_factory=list)  # parent's top next tokens


@dataclass
class Step:
    """Everything that happened to one sentence at one decoding step."""

    index: int
    nodes: list[Node]
    final: object = None         # the finished Translation, set on the last step by Translator.steps

    def with_status(self, status: str) -> list[Node]:
        return [n for n in self.nodes if n.status == status]

    @property
    def alive(self) -> list[Node]:
        return self.with_status(ALIVE)


@dataclass
class Hypothesis:
    """A finished output sequence (ids), with its scores and attention."""

    ids: list[int]                    # output token ids, ending with </s> when finished
    score: float                      # log P(y|x), raw
    normalized_score: float           # s(y) above
    token_log_probs: list[float]
    attention: np.ndarray | None      # (len(ids), S)
    finished: bool                    # False when max_len cut it off


SearchGenerator = Generator[list[Step], None, list[list[Hypothesis]]]


def run(search: SearchGenerator) -> list[list[Hypothesis]]:
    """Drive a search generator to the end and return its n-best lists."""
    while True:
        try:
            next(search)
        except StopIteration as done:
            return done.value


def length_penalty(length: int, alpha: float) -> float:
    """lp(y) = ((5 + |y|) / 6) ** α."""
    return ((5.0 + length) / 6.0) ** alpha


def coverage_penalty(attention: np.ndarray | None, beta: float, src_len: int | None = None) -> float:
    """cp(y) = β · Σ_j log(min(Σ_t α_tj, 1)) over the source words j (``attention``: (T, S)).

    ``src_len`` counts the sentence's source tokens with its closing ``</s>`` (the rest of S is
    batch padding); the words are the first ``src_len − 1`` columns. Default: all columns but the last.
    """
    if beta == 0.0 or attention is None:
        return 0.0
    words = (src_len if src_len is not None else attention.shape[1]) - 1
    coverage = np.minimum(attention[:, :words].sum(axis=0), 1.0)               # (words,)
    return beta * float(np.log(np.maximum(coverage, 1e-6)).sum())


def normalized_score(score: float, length: int, attention: np.ndarray | None, options: SearchOptions,
                     src_len: int | None = None) -> float:
    """s(y) = log P(y|x) / lp(y) + cp(y)."""
    return (score / length_penalty(length, options.length_penalty)
            + coverage_penalty(attention, options.coverage_penalty, src_len))


# --- pieces both strategies share ---------------------------------------------------------------------------


def _banned_tokens(history: list[int], n: int) -> set[int]:
    """Tokens that would repeat an n-gram already in ``history``; for n ≥ 2 also the last token itself.

    A token right after itself ("Chinese Chinese", "now now") repeats no n-gram of size ≥ 2, yet it is
    the commonest stutter of a small model; blocking n-grams is asking for no repeats, so it goes too.
    """
    if n <= 0 or len(history) < n - 1:
        return set()
    if n == 1:
        return set(history)
    tail = tuple(history[len(history) - n + 1:])
    banned = {history[i + n - 1] for i in range(len(history) - n + 1) if tuple(history[i:i + n - 1]) == tail}
    return banned | {history[-1]} if history else banned


def _constrain(log_probs: torch.Tensor, t: int, histories: list[list[int]], options: SearchOptions
               ) -> torch.Tensor:
    """Apply the forced prefix, forbidden specials and n-gram blocking to (N, V) log-probs."""
    log_probs[:, Vocab.pad_id] = -math.inf
    log_probs[:, Vocab.bos_id] = -math.inf
    log_probs[:, Vocab.unk_id] = -math.inf                              # never write "<unk>"
    if t < len(options.prefix):
        forced = log_probs[:, options.prefix[t]].clone()
        log_probs.fill_(-math.inf)
        log_probs[:, options.prefix[t]] = forced
        return log_probs
    if t == 0:
        log_probs[:, Vocab.eos_id] = -math.inf                          # no empty translations
    if options.no_repeat_ngram_size:
        for row, history in enumerate(histories):
            banned = _banned_tokens(history, options.no_repeat_ngram_size)
            if banned:
                log_probs[row, list(banned)] = -math.inf
    return log_probs


def _next_log_probs(out: StepOutput, t: int, histories: list[list[int]], options: SearchOptions) -> torch.Tensor:
    """log p(y_t | y_<t, x) for every row, in float32, with the constraints applied: (N, V)."""
    return _constrain(torch.log_softmax(out.logits.float(), dim=-1), t, histories, options)


def _attention_rows(out: StepOutput) -> torch.Tensor | None:
    """The attention row behind each row's next token (:attr:`StepOutput.summary_attention`), (N, S)."""
    return None if out.summary_attention is None else out.summary_attention.float()


def _alternatives(log_probs: torch.Tensor, count: int, vocab: Vocab) -> list[list[Alternative]]:
    """Each row's ``count`` most probable next tokens, best first (a top-k, not a sort of all V)."""
    top = log_probs.topk(count, dim=-1)                                      # (N, count)
    return [[Alternative(vocab.itos[i], p) for i, p in zip(ids, probs)]
            for ids, probs in zip(top.indices.tolist(), top.values.exp().tolist())]


def _hypothesis(ids: list[int], score: float, token_log_probs: list[float], attention: np.ndarray | None, *,
                finished: bool, options: SearchOptions, src_len: int) -> Hypothesis:
    """A finished (or cut-off) output with its ranking score s(y)."""
    return Hypothesis(ids, score, normalized_score(score, len(ids), attention, options, src_len),
                      token_log_probs, attention, finished)


# --- greedy search ------------------------------------------------------------------------------------------


class _ChainRecorder:
    """Greedy search's tree is a chain: the node of step t grows from the node of step t − 1.

    An observer: ``greedy_search`` creates one only when ``options.record`` is true, and decodes the
    same with or without it.
    """

    def __init__(self, batch_size: int, vocab: Vocab, options: SearchOptions):
        self.vocab, self.options = vocab, options
        self.last_node = [0] * batch_size                   # per sentence; 0 is the root <s>

    def record(self, t: int, out: StepOutput, log_probs: torch.Tensor, attention_rows: np.ndarray | None,
               searching: list[int], histories: list[list[int]], token_log_probs: list[list[float]],
               ended: list[bool]) -> list[Step]:
        """One Step per sentence: the token just chosen, or no node once the sentence is done."""
        heads = None if out.attention is None else out.attention.float().cpu().numpy()   # (B, L, h, S)
        alternatives = _alternatives(log_probs, self.options.alternatives, self.vocab)
        steps = [Step(t, []) for _ in self.last_node]
        for b in searching:
            score = sum(token_log_probs[b])
            token = histories[b][-1]
            steps[b].nodes.append(Node(
                id=t + 1, parent=self.last_node[b], step=t, token=self.vocab.itos[token],
                tokens=self.vocab.decode(histories[b]), log_prob=score, token_prob=math.exp(token_log_probs[b][-1]),
                score=score, status=FINISHED if ended[b] else ALIVE,
                attention=None if attention_rows is None else attention_rows[b],
                attention_heads=None if heads is None else heads[b], alternatives=alternatives[b]))
            self.last_node[b] = t + 1
        return steps


def greedy_search(model: Seq2Seq, memory: Memory, state, src_lengths: torch.Tensor, vocab: Vocab,
                  options: SearchOptions) -> SearchGenerator:
    """Pick the single most probable next token at every step, for a batch of B sentences."""
    B = memory.mask.size(0)
    device = memory.mask.device
    max_lens = [options.resolved_max_len(int(n)) for n in src_lengths]        # per sentence, as if alone
    prev = torch.full((B,), vocab.bos_id, dtype=torch.long, device=device)   # (B,)
    histories: list[list[int]] = [[] for _ in range(B)]
    token_log_probs: list[list[float]] = [[] for _ in range(B)]
    attention_rows: list[list[np.ndarray]] = [[] for _ in range(B)]
    done, ended = [False] * B, [False] * B
    recorder = _ChainRecorder(B, vocab, options) if options.record else None
    for t in range(max(max_lens)):
        out = model.decoder.step(prev, state, memory)
        state = out.state
        log_probs = _next_log_probs(out, t, histories, options)             # (B, V)
        best_log_prob, best = log_probs.max(dim=-1)                         # (B,), (B,)
        rows = _attention_rows(out)
        rows = None if rows is None else rows.cpu().numpy()                 # (B, S)
        best_ids, best_lps = best.tolist(), best_log_prob.tolist()
        searching = [b for b in range(B) if not done[b]]
        for b in searching:
            histories[b].append(best_ids[b])
            token_log_probs[b].append(best_lps[b])
            if rows is not None:
                attention_rows[b].append(rows[b])
            ended[b] = best_ids[b] == vocab.eos_id
            done[b] = ended[b] or t + 1 >= max_lens[b]
        if recorder is not None:
            yield recorder.record(t, out, log_probs, rows, searching, histories, token_log_probs, ended)
        if all(done):
            break
        prev = best
    results = []
    for b in range(B):
        attention = np.stack(attention_rows[b]) if attention_rows[b] else None
        results.append([_hypothesis(histories[b], float(sum(token_log_probs[b])), token_log_probs[b], attention,
                                    finished=ended[b], options=options, src_len=int(src_lengths[b]))])
    return results


# --- beam search: the state and one step's pieces -----------------------------------------------------------


@dataclass
class BeamState:
    """What the search holds between two steps: K hypotheses per sentence, flattened into (B·K, …).

    Row b·K + k is beam k of sentence b. A row whose score is −∞ holds no hypothesis (at the first step
    only beam 0 is live; later a row is empty when fewer than K continuations are allowed, or once its
    sentence is done). An empty row stays empty, since −∞ + log p = −∞, and is never finished.
    """

    scores: torch.Tensor                 # (B·K,) log P(y_≤t | x) of each beam
    tokens: torch.Tensor                 # (B·K, t) the output so far
    token_log_probs: torch.Tensor        # (B·K, t) log p of each of those tokens
    attention: torch.Tensor | None       # (B·K, t, S) the attention row behind each token; None without attention
    decoder_state: DecoderState          # s_t of each beam
    finished: list[list[Hypothesis]]     # per sentence: hypotheses that ended with </s> or reached max_len
    done: list[bool]                     # per sentence: its search is over


def _initial_beams(decoder_state: DecoderState, B: int, K: int, S: int, *, with_attention: bool,
                   device: torch.device) -> BeamState:
    """K copies of the empty hypothesis per sentence, scored [0, −∞, …, −∞].

    Only beam 0 is live: were all K at 0, each first token would be chosen K times over, and the beam
    would hold K copies of one hypothesis for the rest of the search.
    """
    scores = torch.full((B, K), -math.inf, device=device)
    scores[:, 0] = 0.0
    return BeamState(
        scores=scores.view(-1),                                                     # (B·K,)
        tokens=torch.empty((B * K, 0), dtype=torch.long, device=device),
        token_log_probs=torch.empty((B * K, 0), device=device),
        attention=torch.empty((B * K, 0, S), device=device) if with_attention else None,
        decoder_state=decoder_state.index_select(torch.arange(B, device=device).repeat_interleave(K)),
        finished=[[] for _ in range(B)], done=[False] * B)


def _decode(model: Seq2Seq, beams: BeamState, memory: Memory, t: int, K: int, bos_id: int) -> StepOutput:
    """One decoder step for all B·K beams: y_{t−1} (B·K,) → logits (B·K, V).

    Only rows that can still change the result are decoded, then copied to fill the B·K rows (the same
    numbers, less work: the output layer, a (V × H) product per row, is most of a step's time):

    * at t = 0 the K beams of a sentence are the same empty hypothesis: one row per sentence (beam 0);
    * a sentence whose search is over keeps its rows in the batch (at −∞) until every sentence is done;
      its rows are filled with a copy of a live row, whose values nothing reads.
    """
    B = len(beams.done)
    device = beams.scores.device
    live = [b for b in range(B) if not beams.done[b]]
    if t > 0 and len(live) == B:
        return model.decoder.step(beams.tokens[:, -1], beams.decoder_state, memory)
    if t == 0:
        rows = torch.arange(B, device=device) * K                                # (B,) row of beam 0
        tokens = torch.full((B,), bos_id, dtype=torch.long, device=device)
        copies = torch.arange(B, device=device).repeat_interleave(K)             # (B·K,) row of `rows` each copies
    else:
        rows = torch.tensor([b * K + k for b in live for k in range(K)], device=device)   # (live·K,)
        tokens = beams.tokens[rows, -1]
        position = {b: i for i, b in enumerate(live)}
        copies = torch.tensor([position.get(b, 0) * K + k for b in range(B) for k in range(K)], device=device)
    out = model.decoder.step(tokens, beams.decoder_state.index_select(rows), memory.index_select(rows))
    return StepOutput(out.logits.index_select(0, copies), out.state.index_select(copies),
                      None if out.attention is None else out.attention.index_select(0, copies),
                      out.context.index_select(0, copies))


@dataclass
class Candidates:
    """Each sentence's 2K best one-token extensions of its beams, best first."""

    scores: torch.Tensor     # (B, 2K) log P of the extended hypothesis
    rows: torch.Tensor       # (B, 2K) the (B·K) row of the beam it extends
    tokens: torch.Tensor     # (B, 2K) the token it adds
    is_eos: torch.Tensor     # (B, 2K) the token is </s>: the extension ends the sentence


def _expand(beams: BeamState, log_probs: torch.Tensor, K: int, eos_id: int) -> Candidates:
    """Score every one-token extension of every beam, log P(y_<t) + log p(y_t), and keep the 2K best.

    Why 2K are enough: a beam has exactly one </s> extension, so at most K of a sentence's K·V
    candidates end it; among the 2K best, at least K continue it, and K are all the next step keeps.
    """
    BK, V = log_probs.shape
    B = BK // K
    extended = (beams.scores.unsqueeze(1) + log_probs).view(B, K * V)             # (B, K·V)
    scores, index = extended.topk(2 * K, dim=1)                                   # (B, 2K)
    beam, token = index // V, index % V                                           # (B, 2K)
    rows = (torch.arange(B, device=index.device) * K).unsqueeze(1) + beam         # (B, 2K)
    return Candidates(scores, rows, token, token == eos_id)


@dataclass
class Selection:
    """What one step keeps of the candidates; positions index the 2K columns of :class:`Candidates`."""

    ended: list[tuple[int, int]]    # (sentence, position) of each </s> among the K best: it finishes
    alive: torch.Tensor             # (B, K) positions of the K best that do not end, best first
    alive_scores: torch.Tensor      # (B, K) their scores; −∞ where fewer than K were allowed


def _select(candidates: Candidates, K: int) -> Selection:
    """Split the candidates into the hypotheses that finish and the K that stay alive.

    A step keeps the K best hypotheses, ended or not, as a beam of K would: an </s> among the K best
    finishes (it leaves the beam, and the next best continuing candidate takes its place); an </s>
    ranked below K is dropped, since K better hypotheses outrank it. The alive are the K best
    candidates that do not end; by the argument in :func:`_expand`, the 2K hold at least K of them.
    """
    rank = torch.arange(candidates.scores.size(1), device=candidates.scores.device).unsqueeze(0)   # (1, 2K)
    ended = (candidates.is_eos & (rank < K) & torch.isfinite(candidates.scores)).nonzero().tolist()
    alive_scores, alive = candidates.scores.masked_fill(candidates.is_eos, -math.inf).topk(K, dim=1)  # (B, K)
    return Selection([(b, k) for b, k in ended], alive, alive_scores)


def _finish(beams: BeamState, candidates: Candidates, selection: Selection, log_probs: torch.Tensor,
            step_attention: torch.Tensor | None, *, eos_id: int, options: SearchOptions,
            src_lens: list[int]) -> None:
    """Move each </s> among the K best into its sentence's finished list (unless that search is over)."""
    for b, k in selection.ended:
        if beams.done[b]:
            continue
        row = int(candidates.rows[b, k])
        attention = None
        if beams.attention is not None:
            attention = torch.cat([beams.attention[row], step_attention[row].unsqueeze(0)]).cpu().numpy()  # (t+1, S)
        beams.finished[b].append(_hypothesis(
            beams.tokens[row].tolist() + [eos_id], float(candidates.scores[b, k]),
            beams.token_log_probs[row].tolist() + [float(log_probs[row, eos_id])], attention,
            finished=True, options=options, src_len=src_lens[b]))


def _advance(beams: BeamState, candidates: Candidates, selection: Selection, log_probs: torch.Tensor,
             step_attention: torch.Tensor | None, decoder_state: DecoderState) -> None:
    """The alive candidates become the beams: every per-beam tensor is reordered by its parent row."""
    parents = candidates.rows.gather(1, selection.alive).view(-1)                 # (B·K,) parent of each new beam
    tokens = candidates.tokens.gather(1, selection.alive).view(-1)                # (B·K,) the token it adds
    beams.token_log_probs = torch.cat([beams.token_log_probs[parents],
                                       log_probs[parents, tokens].unsqueeze(1)], dim=1)   # (B·K, t+1)
    beams.tokens = torch.cat([beams.tokens[parents], tokens.view(-1, 1)], dim=1)           # (B·K, t+1)
    if beams.attention is not None:
        beams.attention = torch.cat([beams.attention[parents], step_attention[parents].unsqueeze(1)], dim=1)
    beams.decoder_state = decoder_state.index_select(parents)
    beams.scores = selection.alive_scores.view(-1)                                # (B·K,)


def _cut_off(beams: BeamState, b: int, K: int, *, options: SearchOptions, src_len: int) -> None:
    """max_len reached: sentence b's live hypotheses join its finished list, marked unfinished."""
    for row in range(b * K, (b + 1) * K):
        score = float(beams.scores[row])
        if math.isfinite(score):
            attention = None if beams.attention is None else beams.attention[row].cpu().numpy()   # (t, S)
            beams.finished[b].append(_hypothesis(beams.tokens[row].tolist(), score,
                                                 beams.token_log_probs[row].tolist(), attention,
                                                 finished=False, options=options, src_len=src_len))


def _search_is_over(finished: list[Hypothesis], best_alive: float, *, last_step: bool, K: int, n_best: int,
                    exact_stop: bool) -> bool:
    """The stop rule for one sentence, after a step.

    * At max_len the live hypotheses were just cut off: nothing is left to search.
    * K hypotheses have finished: as many as a beam of K returns (fairseq's rule). A heuristic, since a
      live beam might still finish better; but with α or β there is no exact stop (a longer hypothesis
      may always score better), and this is what ends the search before max_len.
    * Exact stop, when α = β = 0 (``exact_stop``): s(y) = log P(y|x), which only falls as y grows. Once
      the n-th best finished score is at least the best live beam's, no live beam can still finish
      above it, so the n-best list is final.
    """
    if last_step or len(finished) >= K:
        return True
    if not exact_stop or len(finished) < n_best:
        return False
    return heapq.nlargest(n_best, (h.score for h in finished))[-1] >= best_alive


def _n_best(finished: list[Hypothesis], n: int) -> list[Hypothesis]:
    """The n best finished hypotheses of one sentence by s(y), best first.

    There is nothing to deduplicate: one sentence's finished hypotheses are always distinct. Its live
    beams are distinct (one live beam at t = 0, then each step's beams are different one-token extensions
    of different beams), a finished hypothesis is one live beam plus </s> (or, at max_len, the beam
    itself, without </s>), hypotheses finished at different steps differ in length, and an empty (−∞)
    row is never finished. A repeat could only come from live copies of one hypothesis, which
    :func:`_initial_beams` rules out by starting the beams at [0, −∞, …] (without it every output would
    come K times). tests/test_search_optimal.py checks that no sentence finishes an output twice.
    """
    return sorted(finished, key=lambda h: h.normalized_score, reverse=True)[:n]


class BeamTreeRecorder:
    """Writes down the search tree while the beam search runs: every candidate of every step as a Node.

    An observer: ``beam_search`` creates one only when ``options.record`` is true, hands it each step's
    candidates and selection before acting on them, and searches the same with or without it. A
    candidate is *finished* if it is an </s> among the K best (or alive at max_len), *alive* if it is one
    of the K beams kept, and *pruned* otherwise. Node ids count up across the whole batch.
    """

    def __init__(self, batch_size: int, beam_size: int, vocab: Vocab, options: SearchOptions):
        self.vocab, self.options = vocab, options
        self.node_of_row = [0] * (batch_size * beam_size)    # tree node of each beam row; 0 is the root <s>
        self.next_id = 1

    def record(self, t: int, out: StepOutput, log_probs: torch.Tensor, step_attention: torch.Tensor | None,
               beams: BeamState, candidates: Candidates, selection: Selection, last_step: list[bool]) -> list[Step]:
        B = len(beams.done)
        # A beam's alternatives and attention are the same for all its candidates: built once per row.
        alternatives = _alternatives(log_probs, self.options.alternatives, self.vocab)
        heads = None if out.attention is None else out.attention.float().cpu().numpy()      # (B·K, L, h, S)
        rows_attention = None if step_attention is None else step_attention.cpu().numpy()   # (B·K, S)
        scores, rows, tokens = candidates.scores.tolist(), candidates.rows.tolist(), candidates.tokens.tolist()
        token_lps = log_probs[candidates.rows.view(-1), candidates.tokens.view(-1)].view(B, -1).tolist()
        histories = beams.tokens.tolist()
        alive = selection.alive.tolist()
        ended = set(selection.ended)
        node_at: dict[tuple[int, int], int] = {}                 # (sentence, position) → node id
        steps = []
        for b in range(B):
            nodes: list[Node] = []
            kept = set(alive[b])
            for k, score in enumerate(scores[b]):
                if beams.done[b] or not math.isfinite(score):
                    continue
                row, token = rows[b][k], tokens[b][k]
                if (b, k) in ended:
                    status = FINISHED
                elif k in kept and token != self.vocab.eos_id:   # an </s> is only a filler of a short list
                    status = FINISHED if last_step[b] else ALIVE
                else:
                    status = PRUNED
                nodes.append(Node(
                    id=self.next_id, parent=self.node_of_row[row], step=t, token=self.vocab.itos[token],
                    tokens=self.vocab.decode(histories[row] + [token]), log_prob=score,
                    token_prob=math.exp(token_lps[b][k]), score=score, status=status,
                    attention=None if rows_attention is None else rows_attention[row],
                    attention_heads=None if heads is None else heads[row], alternatives=list(alternatives[row])))
                node_at[b, k] = self.next_id
                self.next_id += 1
            steps.append(Step(t, nodes))
        self.node_of_row = [node_at.get((b, k), 0) for b in range(B) for k in alive[b]]
        return steps


# --- beam search --------------------------------------------------------------------------------------------


def beam_search(model: Seq2Seq, memory: Memory, state, src_lengths: torch.Tensor, vocab: Vocab,
                options: SearchOptions) -> SearchGenerator:
    """Keep the K best partial hypotheses per sentence; all B·K beams move in one batch.

    Each step: decode → constrain → expand (2K best extensions) → select (finished / alive) →
    finish → advance → cut off at max_len → stop rule; the tree recorder, if any, watches.
    """
    B, S = memory.mask.shape
    K = options.beam_size
    device = memory.mask.device
    max_lens = [options.resolved_max_len(int(n)) for n in src_lengths]        # per sentence, as if alone
    src_lens = [int(n) for n in src_lengths]
    n_best = min(max(options.n_best, 1), K)
    exact_stop = options.length_penalty == 0.0 and options.coverage_penalty == 0.0
    memory = memory.index_select(torch.arange(B, device=device).repeat_interleave(K))   # (B·K, …)
    beams = _initial_beams(state, B, K, S, with_attention=model.decoder.has_attention, device=device)
    recorder = BeamTreeRecorder(B, K, vocab, options) if options.record else None

    for t in range(max(max_lens)):
        out = _decode(model, beams, memory, t, K, vocab.bos_id)
        log_probs = _next_log_probs(out, t, beams.tokens.tolist() if options.no_repeat_ngram_size else [],
                                    options)                                   # (B·K, V)
        step_attention = _attention_rows(out)                                  # (B·K, S)
        candidates = _expand(beams, log_probs, K, vocab.eos_id)
        selection = _select(candidates, K)
        last_step = [t == n - 1 for n in max_lens]                             # per sentence
        if recorder is not None:
            steps = recorder.record(t, out, log_probs, step_attention, beams, candidates, selection, last_step)

        _finish(beams, candidates, selection, log_probs, step_attention, eos_id=vocab.eos_id, options=options,
                src_lens=src_lens)
        _advance(beams, candidates, selection, log_probs, step_attention, out.state)
        best_alive = selection.alive_scores.max(dim=1).values.tolist()        # (B,)
        for b in range(B):
            if beams.done[b]:
                continue
            if last_step[b]:
                _cut_off(beams, b, K, options=options, src_len=src_lens[b])
            beams.done[b] = _search_is_over(beams.finished[b], best_alive[b], last_step=last_step[b], K=K,
                                            n_best=n_best, exact_stop=exact_stop)
            if beams.done[b]:
                beams.scores[b * K:(b + 1) * K] = -math.inf                    # its beams stop growing
        if recorder is not None:
            yield steps
        if all(beams.done):
            break
    return [_n_best(finished, n_best) for finished in beams.finished]
