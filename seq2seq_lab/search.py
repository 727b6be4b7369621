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
(scores ``[0, −∞, …]``), so the K beams do not start as K copies.

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
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .model import Memory, Seq2Seq, StepOutput
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
    node_ids = [0] * B
    for t in range(max(max_lens)):
        out = model.decoder.step(prev, state, memory)
        state = out.state
        log_probs = _constrain(torch.log_softmax(out.logits.float(), dim=-1), t, histories, options)
        best_log_prob, best = log_probs.max(dim=-1)                         # (B,), (B,)
        attention = None if out.attention is None else out.attention.float().cpu().numpy()  # (B, L, h, S)
        rows = None if out.attention is None else out.attention[:, -1].mean(1).float().cpu().numpy()
        #                                                                   # (B, S) last layer, mean of heads
        best_ids, best_lps = best.tolist(), best_log_prob.tolist()
        if options.record:                                                  # the few best, not a full sort
            top_log_probs, top_ids = log_probs.topk(options.alternatives, dim=-1)   # (B, A)
            top_probs, top_ids = top_log_probs.exp().tolist(), top_ids.tolist()
        steps = []
        for b in range(B):
            if done[b]:
                continue
            histories[b].append(best_ids[b])
            token_log_probs[b].append(best_lps[b])
            row_attention = None if rows is None else rows[b]                # (S,)
            if row_attention is not None:
                attention_rows[b].append(row_attention)
            finished = ended[b] = best_ids[b] == vocab.eos_id
            done[b] = finished or t + 1 >= max_lens[b]
            if options.record:
                score = sum(token_log_probs[b])
                nodes = [Node(id=t + 1, parent=node_ids[b], step=t, token=vocab.itos[best_ids[b]],
                              tokens=vocab.decode(histories[b]), log_prob=score,
                              token_prob=math.exp(best_lps[b]), score=score,
                              status=FINISHED if finished else ALIVE,
                              attention=row_attention,
                              attention_heads=None if attention is None else attention[b],
                              alternatives=[Alternative(vocab.itos[i], p)
                                            for i, p in zip(top_ids[b], top_probs[b])])]
                node_ids[b] = t + 1
                steps.append(Step(t, nodes))
        if options.record:
            yield steps
        if all(done):
            break
        prev = best
    results = []
    for b in range(B):
        attention = np.stack(attention_rows[b]) if attention_rows[b] else None
        score = float(sum(token_log_probs[b]))
        results.append([Hypothesis(histories[b], score,
                                   normalized_score(score, len(histories[b]), attention, options,
                                                    int(src_lengths[b])),
                                   token_log_probs[b], attention, ended[b])])
    return results


def beam_search(model: Seq2Seq, memory: Memory, state, src_lengths: torch.Tensor, vocab: Vocab,
                options: SearchOptions) -> SearchGenerator:
    """Keep the K best partial hypotheses per sentence; all B·K beams move in one batch."""
    B, S = memory.mask.shape
    K = options.beam_size
    V = model.config.tgt_vocab_size
    device = memory.mask.device
    max_lens = [options.resolved_max_len(int(n)) for n in src_lengths]        # per sentence, as if alone
    n_best = min(max(options.n_best, 1), K)
    # Without length or coverage penalties a hypothesis' score only falls as it grows, so once the
    # n-th best finished one beats every live beam, the n-best list cannot change any more.
    can_stop_early = options.length_penalty == 0.0 and options.coverage_penalty == 0.0

    flat = torch.arange(B, device=device).repeat_interleave(K)                # (B·K,) sentence of each beam
    first_memory, memory = memory, memory.index_select(flat)
    scores = torch.full((B, K), -math.inf, device=device)
    scores[:, 0] = 0.0                                                         # [0, −∞, …]: one live beam
    scores = scores.view(-1)                                                   # (B·K,)
    prev = torch.full((B * K,), vocab.bos_id, dtype=torch.long, device=device)
    history = torch.empty((B * K, 0), dtype=torch.long, device=device)        # (B·K, t)
    history_lp = torch.empty((B * K, 0), device=device)                        # (B·K, t)
    history_attn = None if model.decoder.attention is None else torch.empty((B * K, 0, S), device=device)
    node_ids = [0] * (B * K)                                                  # tree node of each beam
    next_node = 1
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    beam_base = (torch.arange(B, device=device) * K).unsqueeze(1)              # (B, 1)

    def finalize(b: int, row: int, token: int, token_lp: float, total: float, step_attn, is_eos: bool):
        ids = history[row].tolist() + [token]
        lps = history_lp[row].tolist() + [token_lp]
        attention = None
        if history_attn is not None:
            attention = torch.cat([history_attn[row], step_attn[row].unsqueeze(0)]).cpu().numpy()
        finished[b].append(Hypothesis(ids, total, normalized_score(total, len(ids), attention, options,
                                                                   int(src_lengths[b])),
                                      lps, attention, is_eos))

    for t in range(max(max_lens)):
        if t == 0:                      # one live beam per sentence: decode B rows, then copy them K times
            out = model.decoder.step(prev[::K], state, first_memory)
            out = StepOutput(out.logits.index_select(0, flat), out.state.index_select(flat),
                             None if out.attention is None else out.attention.index_select(0, flat),
                             out.context.index_select(0, flat))
        else:
            out = model.decoder.step(prev, state, memory)
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)            # (B·K, V)
        log_probs = _constrain(log_probs, t, history.tolist() if options.no_repeat_ngram_size else [], options)
        step_attn = None if out.attention is None else out.attention[:, -1].mean(1).float()  # (B·K, S)
        candidates = (scores.unsqueeze(1) + log_probs).view(B, K * V)         # (B, K·V)
        top_scores, top_index = candidates.topk(2 * K, dim=1)                 # (B, 2K)
        top_beam, top_token = top_index // V, top_index % V                   # (B, 2K)
        is_eos = top_token == vocab.eos_id
        last_step = [t == n - 1 for n in max_lens]                            # per sentence

        # Finished: </s> among the K best candidates.
        rank = torch.arange(2 * K, device=device).unsqueeze(0)
        eos_hits = (is_eos & (rank < K) & torch.isfinite(top_scores)).nonzero().tolist()
        # Alive: the K best candidates that do not end the sentence.
        alive_scores, alive_pos = top_scores.masked_fill(is_eos, -math.inf).topk(K, dim=1)  # (B, K)
        alive_beam = top_beam.gather(1, alive_pos)
        alive_token = top_token.gather(1, alive_pos)
        source_rows = (beam_base + alive_beam).view(-1)                      # (B·K,) parent of each new beam

        records: list[list[Node]] = [[] for _ in range(B)]
        if options.record:
            top_alt = log_probs.topk(options.alternatives, dim=1)             # (B·K, A) the few best, no full sort
            alt_ids, alt_probs = top_alt.indices.tolist(), top_alt.values.exp().tolist()
            # A beam's alternatives and attention are the same for all its candidates: build them once per beam.
            row_alternatives = [[Alternative(vocab.itos[i], p) for i, p in zip(ids, ps)]
                                for ids, ps in zip(alt_ids, alt_probs)]
            heads_np = None if out.attention is None else out.attention.float().cpu().numpy()  # (B·K, L, h, S)
            attn_np = None if step_attn is None else step_attn.cpu().numpy()                   # (B·K, S)
            scores_list, beams_list, tokens_list = top_scores.tolist(), top_beam.tolist(), top_token.tolist()
            history_list = history.tolist()
            rows = beam_base + top_beam                                      # (B, 2K) parent row of each candidate
            token_lps = log_probs[rows.view(-1), top_token.view(-1)].view(B, 2 * K).tolist()
            chosen = {(b, k) for b in range(B) for k in alive_pos[b].tolist()} | {(b, k) for b, k in eos_hits}
            id_at = {}                                                        # (b, candidate) → node id
            for b in range(B):
                if done[b]:
                    continue
                for k in range(2 * K):
                    total = scores_list[b][k]
                    if not math.isfinite(total):
                        continue
                    row = b * K + beams_list[b][k]
                    token = tokens_list[b][k]
                    if (b, k) in chosen:
                        status = FINISHED if token == vocab.eos_id or last_step[b] else ALIVE
                    else:
                        status = PRUNED
                    ids = history_list[row] + [token]
                    heads = None if heads_np is None else heads_np[row]
                    attn = None if attn_np is None else attn_np[row]
                    records[b].append(Node(
                        id=next_node, parent=node_ids[row], step=t, token=vocab.itos[token],
                        tokens=vocab.decode(ids), log_prob=total, token_prob=math.exp(token_lps[b][k]),
                        score=total, status=status, attention=attn, attention_heads=heads,
                        alternatives=list(row_alternatives[row])))
                    id_at[(b, k)] = next_node
                    next_node += 1

        for b, k in eos_hits:
            if done[b]:
                continue
            row = b * K + int(top_beam[b, k])
            finalize(b, row, vocab.eos_id, float(log_probs[row, vocab.eos_id]), float(top_scores[b, k]),
                     step_attn, True)

        # Advance the live beams: reorder every per-beam tensor by its parent row.
        new_token_lp = log_probs[source_rows, alive_token.view(-1)]          # (B·K,)
        history = torch.cat([history[source_rows], alive_token.view(-1, 1)], dim=1)
        history_lp = torch.cat([history_lp[source_rows], new_token_lp.unsqueeze(1)], dim=1)
        if history_attn is not None:
            history_attn = torch.cat([history_attn[source_rows], step_attn[source_rows].unsqueeze(1)], dim=1)
        state = out.state.index_select(source_rows)
        scores = alive_scores.view(-1)
        prev = alive_token.view(-1)
        if options.record:
            node_ids = [id_at.get((b, k), 0) for b in range(B) for k in alive_pos[b].tolist()]

        for b in range(B):
            if done[b]:
                continue
            if last_step[b]:                                                 # max_len: keep what is alive
                for k in range(K):
                    row = b * K + k
                    if math.isfinite(float(scores[row])):
                        ids = history[row].tolist()
                        attention = None if history_attn is None else history_attn[row].cpu().numpy()
                        total = float(scores[row])
                        finished[b].append(Hypothesis(ids, total, normalized_score(total, len(ids), attention,
                                                                                   options, int(src_lengths[b])),
                                                      history_lp[row].tolist(), attention, False))
            done[b] = last_step[b] or len(finished[b]) >= K or (
                can_stop_early and len(finished[b]) >= n_best
                and sorted(h.score for h in finished[b])[-n_best] >= float(alive_scores[b].max()))
            if done[b]:
                scores[b * K:(b + 1) * K] = -math.inf
        if options.record:
            yield [Step(t, records[b]) for b in range(B)]
        if all(done):
            break

    results = []
    for b in range(B):
        ranked = sorted(finished[b], key=lambda h: h.normalized_score, reverse=True)
        distinct, seen = [], set()
        for hyp in ranked:
            if tuple(hyp.ids) not in seen:
                seen.add(tuple(hyp.ids))
                distinct.append(hyp)
        results.append(distinct[:n_best])
    return results

