"""Looking closer at one translation: coverage, attention against attribution, exposure bias.

**Coverage.** How much attention each source word received over the whole translation::

    c_j = Σ_t α_tj                          (the column sums of the heatmap)

A word with c_j near 0 was hardly looked at (often: dropped from the translation); one with c_j
well above 1 was looked at again and again (often: translated twice). The beam's coverage penalty
(Wu et al. 2016, GNMT) reads the same numbers: cp = β · Σ_j log min(c_j, 1) over the words.

**Attention against attribution.** Attention says where the model looked; it does not say what
decided the output (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019,
"Attention is not not Explanation"). Integrated Gradients (Sundararajan et al. 2017) measures what
each source word contributed to the log-probability f = log p(y_t | y_<t, x) of one output word, by
walking the source embeddings e from a baseline e' (every word replaced by the zero vector; the
closing </s> kept) to the sentence and summing the gradients on the way::

    a_tj = Σ_d (e_jd − e'_jd) · ∫₀¹ ∂f(e' + s·(e − e')) / ∂e_jd ds

Completeness: Σ_j a_tj = f(e) − f(e'), up to the error of the integral's m-point quadrature (the
``delta`` it reports). captum computes the integral; the rank correlation between α_t and |a_t| per
row says where the two pictures agree.

**Exposure bias.** A model is trained fed the reference's words (teacher forcing) but decodes fed
its own. For a reference y* the two lines are::

    teacher-forced   p(y*_t | y*_<t, x)          (Σ_t log of it is Translator.score)
    free-running     p(y*_t | ŷ_<t, x)           ŷ: the model's own greedy words

They agree until the first step where the model's own word leaves the reference; after it the
model conditions on a prefix it never saw in training.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .names import to_stand_ins
from .search import coverage_penalty
from .text import has_chinese
from .translator import Translator
from .vocab import EOS

DROPPED_BELOW = 0.3     # c_j below this: the word was hardly looked at during the whole translation
REPEATED_ABOVE = 1.8    # c_j above this: looked at well over once (a word is usually one or two output words)
IG_STEPS = 32           # quadrature points of the Integrated Gradients integral (Gauss–Legendre) to start with…
IG_MAX_STEPS = 256      # …doubled while a row's completeness gap exceeds IG_TOLERANCE, up to this many
IG_TOLERANCE = (0.05, 0.05)   # (relative, nats): |Σ_j a_tj − Δf_t| ≤ 5 % of |Δf_t| + 0.05 nats


# --- coverage -------------------------------------------------------------------------------------------------

@dataclass
class Coverage:
    src_tokens: list[str]           # the source tokens, with the closing </s>
    totals: np.ndarray              # (S,) c_j = Σ_t α_tj, the heatmap's column sums
    dropped: list[int]              # word columns with c_j < DROPPED_BELOW
    repeated: list[int]             # word columns with c_j > REPEATED_ABOVE
    log_coverage: float             # Σ_j log min(c_j, 1) over the words (0: every word fully covered)
    beta: float                     # the coverage penalty's β in the decoding options
    penalty: float                  # cp = β · log_coverage, what the beam added to this candidate's score


def coverage(src_tokens: Sequence[str], attention: np.ndarray, beta: float = 0.0) -> Coverage:
    """Coverage of the source by ``attention`` (T, S); flags are given for the words, not the closing </s>."""
    src_tokens = list(src_tokens)
    attention = np.asarray(attention, dtype=np.float64)[:, :len(src_tokens)]
    totals = attention.sum(axis=0)                                           # (S,) c_j = Σ_t α_tj
    words = len(src_tokens) - (1 if src_tokens and src_tokens[-1] == EOS else 0)
    log_coverage = coverage_penalty(attention, 1.0, words + 1)               # β = 1: Σ_j log min(c_j, 1)
    return Coverage(src_tokens, totals,
                    [j for j in range(words) if totals[j] < DROPPED_BELOW],
                    [j for j in range(words) if totals[j] > REPEATED_ABOVE],
                    log_coverage, float(beta), float(beta) * log_coverage)


# --- attention against attribution ------------------------------------------------------------------------------

@dataclass
class Attribution:
    src_tokens: list[str]           # with the closing </s>
    out_tokens: list[str]           # the output explained (its closing </s> too, if it has one)
    scores: np.ndarray              # (T, S) a_tj, in nats of log p(y_t)
    attention: np.ndarray | None    # (T, S) the heatmap's α (None: the model has no attention)
    log_prob: np.ndarray            # (T,) f(e) = log p(y_t | y_<t, x)
    baseline: np.ndarray            # (T,) f(e') with every word's embedding zeroed
    delta: np.ndarray               # (T,) Σ_j a_tj − (f(e) − f(e')): the quadrature's error
    correlation: np.ndarray         # (T,) Spearman ρ(α_t, |a_t|) over the words (nan: undefined)
    steps: int                      # quadrature points
    seconds: float


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1 … n, ties sharing their mean rank (what Spearman's ρ correlates)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranked = np.empty(len(values))
    ranked[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranked[tied] = ranked[tied].mean()
    return ranked


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation ρ; nan when either side is constant (or there are fewer than 2 values)."""
    if len(a) < 2:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def source_embedding(model: torch.nn.Module) -> torch.nn.Embedding:
    """The source-side embedding table E (an RNN's ``encoder.embedding``, a Transformer's ``…embedding.tokens``)."""
    embedding = model.encoder.embedding
    return embedding if isinstance(embedding, torch.nn.Embedding) else embedding.tokens


def attribute(translator: Translator, text: str, tokens: Sequence[str], *, steps: int = IG_STEPS,
              max_steps: int = IG_MAX_STEPS) -> Attribution:
    """Integrated Gradients of every output token's log-probability over the source embeddings.

    ``tokens``: the output to explain (the model's own translation, with its closing </s> if it has one); it is
    fed teacher-forced, so row t explains the decision the model took at step t. One captum call covers all T
    rows: the batch holds the sentence T times, copy t asking about output t. Where the integral is too coarse
    for completeness (a sharp model: its log-probability jumps along the path), the number of quadrature points
    doubles, up to ``max_steps``; ``steps`` in the result is the number used.
    """
    from captum.attr import IntegratedGradients

    started = time.perf_counter()
    model = translator.model
    analysis = translator.analyze(text)
    finished = bool(tokens) and tokens[-1] == EOS               # an output cut off by max_len has no </s> to explain
    words = translator.target_tokens(tokens)
    tokens = words + ([EOS] if finished else [])
    ids = translator._target_ids(words) + ([translator.tgt_vocab.eos_id] if finished else [])
    T, S = len(ids), len(analysis.ids)
    device = translator.device
    src = torch.tensor([analysis.ids], device=device)                                   # (1, S)
    tgt_in = torch.tensor([[translator.tgt_vocab.bos_id] + ids[:-1]], device=device)   # (1, T)
    chosen = torch.tensor(ids, device=device)                                           # (T,)
    table = source_embedding(model)
    with torch.no_grad():
        embedded = table(src).float()                                                   # (1, S, emb) e
    baseline = embedded.clone()
    baseline[:, :-1] = 0.0                                                              # e': words zeroed, </s> kept

    def forward(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """((N, T) log p(y_t | y_<t, x) of the chosen tokens, (N, T, S) attention) with the source's embedding rows
        replaced by ``points`` (N, S, emb); the ids (and so the padding mask) stay the sentence's."""
        n = points.size(0)
        logits, attention = model(src.expand(n, -1), torch.full((n,), S), tgt_in.expand(n, -1),
                                  src_rows=points.to(table.weight.dtype))              # (N, T, V), (N, T, S)
        return torch.log_softmax(logits.float(), dim=-1)[:, torch.arange(T), chosen], attention

    def log_p(points: torch.Tensor) -> torch.Tensor:
        return forward(points)[0]                                                       # (N, T): what IG integrates

    with torch.no_grad():
        at_input, summary = forward(embedded)                                           # f(e) and the heatmap's α
        at_input, at_baseline = at_input[0], log_p(baseline)[0]                         # (T,) f(e), f(e')
    allowed = IG_TOLERANCE[0] * (at_input - at_baseline).abs() + IG_TOLERANCE[1]        # (T,)
    ig = IntegratedGradients(log_p)
    while True:
        # cuDNN's RNN has no backward pass in eval mode; the plain kernels do (and give the same numbers).
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            attributions, delta = ig.attribute(embedded.expand(T, -1, -1), baselines=baseline.expand(T, -1, -1),
                                               target=list(range(T)), n_steps=steps, method="gausslegendre",
                                               return_convergence_delta=True)           # (T, S, emb), (T,)
        if bool((delta.abs() <= allowed).all()) or steps * 2 > max_steps:
            break
        steps *= 2
    scores = attributions.sum(dim=-1).detach().float().cpu().numpy()                   # (T, S) a_tj = Σ_d …
    attention = None if summary is None else summary[0].float().cpu().numpy()          # (T, S)
    words = S - 1
    correlation = np.array([spearman(attention[t, :words], np.abs(scores[t, :words])) if attention is not None
                            else float("nan") for t in range(T)])
    return Attribution(analysis.src_tokens, tokens, scores, attention,
                       at_input.cpu().numpy(), at_baseline.cpu().numpy(), delta.detach().float().cpu().numpy(),
                       correlation, steps, time.perf_counter() - started)


# --- exposure bias --------------------------------------------------------------------------------------------

@dataclass
class ExposureBias:
    reference: list[str]            # the reference's tokens, with the closing </s>
    unknown: list[str]              # reference words the model does not know (scored as <unk>)
    teacher_forced: np.ndarray      # (R,) p(y*_t | y*_<t, x)
    own: list[str]                  # the model's own greedy output, with its </s> if it finished
    own_prob: np.ndarray            # (len(own),) p(ŷ_t | ŷ_<t, x): how sure it was of its own words
    free_running: np.ndarray        # (R,) p(y*_t | ŷ_<t, x); nan past the end of the model's own output
    leaves_at: int | None           # first step (0-based) where ŷ_t ≠ y*_t; None: the model wrote the reference

    @property
    def teacher_forced_score(self) -> float:
        """Σ_t log p(y*_t | y*_<t, x), the number Translator.score gives for the reference."""
        return float(np.log(self.teacher_forced).sum())


def exposure_bias(translator: Translator, text: str, reference: str | Sequence[str]) -> ExposureBias:
    """The reference's word probabilities fed the reference (teacher forcing) and fed the model's own words.
    A name the model read through a stand-in (:mod:`.names`) is the stand-in's English in the reference too: the
    model is asked about "Tom", which it was shown as 汤姆, not about "Wang Fang"."""
    ref_tokens = to_stand_ins(translator.target_tokens(reference, unknown_ok=True), translator.analyze(text).names)
    ref_ids, forced = translator.forced_log_probs(text, ref_tokens, unknown_ok=True)     # (R,), (R, V)
    R = len(ref_ids)
    teacher_forced = np.exp(forced[np.arange(R), ref_ids])
    own = translator.translate(text, beam_size=1).best.tokens                           # ŷ, greedy
    own_ids, free = translator.forced_log_probs(text, own)                              # fed its own words
    free_running = np.full(R, np.nan)
    rows = min(R, len(free))
    free_running[:rows] = np.exp(free[np.arange(rows), ref_ids[:rows]])
    reference = ref_tokens + [EOS]
    own_prob = np.exp(free[np.arange(len(own)), own_ids[:len(own)]])
    leaves_at = next((t for t, (a, b) in enumerate(zip(own, reference)) if a != b),
                     None if len(own) == len(reference) else min(len(own), len(reference)))
    return ExposureBias(reference, [w for w in ref_tokens if w not in translator.tgt_vocab], teacher_forced,
                        own, own_prob, free_running, leaves_at)


# --- pinyin ---------------------------------------------------------------------------------------------------

def pinyin(token: str) -> str:
    """A Chinese token's pinyin with tone marks, its syllables joined as a word is written (学习 → xuéxí);
    "" for anything without Chinese characters (</s>, digits, punctuation)."""
    if not has_chinese(token):
        return ""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(token, style=Style.TONE, errors=lambda chars: list(chars)))
