"""The reference the benchmarks compare against: the classic PyTorch-tutorial loops.

This is how the well-known PyTorch tutorial ("NLP From Scratch: Translation with a
Sequence to Sequence Network and Attention") decodes and trains, applied to *our*
modules and *our* trained weights, so that the only difference from
:mod:`seq2seq_lab.search` and :mod:`seq2seq_lab.train` is the way the loops are
written:

* batch of one: one sentence, one hypothesis per decoder call;
* a new ``torch.tensor([[token]])`` is built for every decoder input;
* beam search is a Python list of beams, and every beam calls the decoder on
  its own at every step;
* the attention keys are projected again at every step (the tutorial's
  attention module recomputes them from the encoder outputs);
* gradients are only switched off with ``torch.no_grad`` (no ``inference_mode``);
* training updates the weights after every single sentence pair, adding the loss
  of one target position at a time.

Because it runs the same weights with the same rules (no ``<pad>``/``<s>``/``<unk>`` output,
no ``</s>`` as the first token, a hypothesis ends at ``</s>``, the same ``max_len``),
its greedy output must equal :class:`seq2seq_lab.Translator`'s; ``tests/test_bench.py``
checks that. Its beam search follows the same rules as :func:`seq2seq_lab.search.beam_search`
(the K best finish or go on, stop once K have finished), so it normally agrees there too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seq2seq_lab.model import Seq2Seq
from seq2seq_lab.vocab import Vocab


@dataclass
class ReferenceOutput:
    ids: list[int]                 # output token ids, ending with </s> when finished
    score: float                   # Σ log p(token)
    attention: list[torch.Tensor]  # one (S,) row per output token; empty without attention
    steps: int                     # search steps (output positions tried)
    decoder_calls: int             # calls to the decoder: = steps for greedy, up to K per step for beam


def init_hidden(model: Seq2Seq, summary: torch.Tensor):
    """s_0 = z in every decoder layer (a zero cell as well for an LSTM)."""
    hidden = summary.unsqueeze(0).repeat(model.config.dec_layers, 1, 1).contiguous()   # (L, 1, H)
    return (hidden, torch.zeros_like(hidden)) if model.config.cell == "lstm" else hidden


def encode(model: Seq2Seq, src_ids: list[int]):
    """Run the encoder over one sentence: (encoder outputs (1, S, H), mask (1, S), summary (1, H))."""
    src = torch.tensor([src_ids], dtype=torch.long, device=model.device)                  # (1, S)
    lengths = torch.tensor([len(src_ids)])
    encoded = model.encoder(src, lengths)
    return encoded.memory, encoded.mask, encoded.summary, encoded.embedded


def decoder_forward(model: Seq2Seq, decoder_input: torch.Tensor, hidden, encoder_outputs: torch.Tensor,
                    mask: torch.Tensor, summary: torch.Tensor, src_embedded: torch.Tensor):
    """The tutorial's ``AttnDecoderRNN.forward`` over our decoder's layers, one token, batch of one.

    Returns (log-probabilities (1, V), new hidden, attention weights (1, S) or None).
    """
    decoder = model.decoder
    embedded = decoder.dropout(decoder.embedding(decoder_input).view(1, -1))              # (1, emb)
    if decoder.attention is None:
        context, weights = summary, None                                                  # (1, H)
    else:
        keys, values = decoder.attention.prepare(encoder_outputs)                         # every step, as the tutorial
        query = (hidden[0] if isinstance(hidden, tuple) else hidden)[-1]                  # (1, H)
        context, weights = decoder.attention(query, keys, values, mask)                   # (1, H), (1, S)
    output, hidden = decoder.rnn(torch.cat([embedded, context], dim=1).unsqueeze(1), hidden)  # (1, 1, H)
    output = output[:, 0]                                                                 # (1, H)
    features = torch.tanh(decoder.pre_output(torch.cat([output, context, embedded], dim=1)))
    logits = decoder.generator(decoder.dropout(features))                                 # (1, V)
    if getattr(decoder, "lexical_out", None) is not None:                                # the lexical shortcut
        f = torch.tanh(torch.mm(weights, src_embedded[0]))                                # (1, emb)
        logits = logits + decoder.lexical_out(decoder.dropout(torch.tanh(decoder.lexical_ffn(f)) + f))
    log_probs = F.log_softmax(logits.float(), dim=1)                                      # (1, V)
    return log_probs, hidden, weights


def _forbid(log_probs: torch.Tensor, step: int) -> torch.Tensor:
    """The output rules shared with seq2seq_lab.search: never <pad>, <s> or <unk>; no empty translation."""
    log_probs = log_probs.clone()
    log_probs[0, Vocab.pad_id] = -math.inf
    log_probs[0, Vocab.bos_id] = -math.inf
    log_probs[0, Vocab.unk_id] = -math.inf
    if step == 0:
        log_probs[0, Vocab.eos_id] = -math.inf
    return log_probs


def max_length(src_len: int) -> int:
    """The same default as SearchOptions.resolved_max_len."""
    return min(2 * src_len + 10, 200)


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src_ids: list[int], *, max_len: int | None = None) -> ReferenceOutput:
    """Tutorial greedy decoding: feed back the arg-max token until </s>."""
    model.eval()
    encoder_outputs, mask, summary, src_embedded = encode(model, src_ids)
    hidden = init_hidden(model, summary)
    decoder_input = torch.tensor([[Vocab.bos_id]], device=model.device)                  # (1, 1)
    ids, attention, score = [], [], 0.0
    for step in range(max_len or max_length(len(src_ids))):
        log_probs, hidden, weights = decoder_forward(model, decoder_input, hidden, encoder_outputs, mask, summary,
                                                         src_embedded)
        log_probs = _forbid(log_probs, step)
        topv, topi = log_probs.topk(1)
        token = topi.item()
        score += topv.item()
        ids.append(token)
        if weights is not None:
            attention.append(weights[0].detach())
        if token == Vocab.eos_id:
            break
        decoder_input = torch.tensor([[token]], device=model.device)                     # a new tensor per token
    return ReferenceOutput(ids, score, attention, len(ids), len(ids))


@dataclass
class _Beam:
    score: float
    ids: list[int]
    hidden: object
    attention: list[torch.Tensor]


@torch.no_grad()
def beam_decode(model: Seq2Seq, src_ids: list[int], *, beam_size: int = 5,
                max_len: int | None = None) -> ReferenceOutput:
    """Tutorial-style beam search: a list of beams, each calling the decoder on its own.

    At each step every beam proposes its 2K best next tokens; of all proposals the K best
    that end in </s> among the overall K best finish, and the K best others go on.
    Search stops once K hypotheses have finished; the best by log-probability wins.
    """
    model.eval()
    K = beam_size
    encoder_outputs, mask, summary, src_embedded = encode(model, src_ids)
    beams = [_Beam(0.0, [], init_hidden(model, summary), [])]
    finished: list[_Beam] = []
    limit = max_len or max_length(len(src_ids))
    calls = 0
    for step in range(limit):
        proposals = []                                                 # (score, beam, token, hidden, weights)
        for beam in beams:
            decoder_input = torch.tensor([[beam.ids[-1] if beam.ids else Vocab.bos_id]], device=model.device)
            log_probs, hidden, weights = decoder_forward(model, decoder_input, beam.hidden, encoder_outputs,
                                                         mask, summary, src_embedded)
            calls += 1
            log_probs = _forbid(log_probs, step)
            topv, topi = log_probs.topk(min(2 * K, log_probs.size(1)))
            for value, token in zip(topv[0].tolist(), topi[0].tolist()):
                if math.isfinite(value):
                    proposals.append((beam.score + value, beam, token, hidden, weights))
        proposals.sort(key=lambda p: p[0], reverse=True)
        proposals = proposals[:2 * K]
        next_beams = []
        for rank, (score, beam, token, hidden, weights) in enumerate(proposals):
            attention = beam.attention + ([] if weights is None else [weights[0].detach()])
            new = _Beam(score, beam.ids + [token], hidden, attention)
            if token == Vocab.eos_id:
                if rank < K:
                    finished.append(new)
            elif len(next_beams) < K:
                next_beams.append(new)
        beams = next_beams
        if len(finished) >= K or not beams:
            break
        if step == limit - 1:
            finished.extend(beams)                                     # cut off by max_len
    best = max(finished, key=lambda b: b.score)
    return ReferenceOutput(best.ids, best.score, best.attention, step + 1, calls)


def train_sentences(model: Seq2Seq, pairs: list[tuple[list[int], list[int]]], optimizer: torch.optim.Optimizer,
                    *, clip: float = 1.0) -> int:
    """Tutorial training: one optimiser step per sentence pair, the loss summed one position at a time.

    ``pairs`` are (source ids ending in </s>, target ids without </s>). Teacher forcing
    throughout. Returns the number of target tokens trained on (</s> included).
    """
    model.train()
    tokens = 0
    for src_ids, tgt_ids in pairs:
        optimizer.zero_grad()
        encoder_outputs, mask, summary, src_embedded = encode(model, src_ids)
        hidden = init_hidden(model, summary)
        target = tgt_ids + [Vocab.eos_id]
        decoder_input = torch.tensor([[Vocab.bos_id]], device=model.device)
        loss = 0.0
        for token in target:
            log_probs, hidden, _ = decoder_forward(model, decoder_input, hidden, encoder_outputs, mask, summary,
                                                         src_embedded)
            loss = loss + F.nll_loss(log_probs, torch.tensor([token], device=model.device))
            decoder_input = torch.tensor([[token]], device=model.device)                 # teacher forcing
        (loss / len(target)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        tokens += len(target)
    return tokens
