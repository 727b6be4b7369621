"""Training: batched, padded, masked, teacher-forced; progress through callbacks.

The loop knows nothing about any user interface. Every batch it calls
``on_progress(Progress)`` and checks ``should_stop()``; every epoch it measures the
validation set (loss, BLEU, chrF, exact match, greedy decoding) and keeps the best
weights so far, which is also what a stopped run returns. A run that finishes can also try two
averages of its weights and keeps one if validation ranks it higher than every epoch: the mean of
its last epochs' weights (``average_last``) and a moving average updated after every step
(``ema_decay``).

The loss at one target position is the cross-entropy −log p(y_t | y_<t, x)
(optionally label-smoothed), averaged over the real (non-padding) target tokens.

Under ``torchrun`` (a process group initialised by :func:`~.distributed.start`) the same loop
trains with DistributedDataParallel: each rank takes its share of every batch, the gradients are
averaged so that a step is the whole batch's step, and only rank 0 validates, reports and keeps the
best weights (:mod:`~.distributed` explains the split). Without it nothing changes.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import datetime as dt
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import sacrebleu
import torch
from torch import nn

from . import distributed
from .alignment import Gold, english_key
from .checkpoint import Checkpoint
from .corpus import Pair, toy_domain
from .data import Example, build_vocabs, make_batches, tokenize_pairs
from .errors import CorpusError
from .models import build_model, config_for
from .text import tokenize_target
from .translator import Translation, Translator, resolve_device

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}   # TrainConfig.precision → the autocast dtype of a training step


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3              # Adam learning rate; halved when validation stops improving
    warmup_steps: int = 0         # the learning rate grows linearly from 0 over this many first steps (Transformer)
    schedule: str = "plateau"     # after warm-up: "plateau" halves lr when validation stalls; "linear" decays it
    #                               linearly to lr/10 at the last step (a short run ends on small, careful steps)
    clip: float = 1.0             # gradient-norm clipping
    teacher_forcing: float = 1.0  # probability of feeding the reference token (1 = always)
    label_smoothing: float = 0.1
    char_split_prob: float = 0.1  # how often a training word is fed as its characters (fallback practice)
    min_freq: int = 1             # rarer tokens become <unk>
    seed: int = 0
    device: str = "auto"
    patience: int = 0             # stop after this many epochs without improvement; 0 = never
    stop_at_exact: float | None = None  # stop once validation exact match reaches this (toy tasks)
    select_on: str = "chrf"       # which epoch's weights to keep: best validation "chrf", or "exact" (exact match,
    #                               then chrF, then the lower validation loss: toy tasks, where exact match saturates)
    max_valid: int = 400          # validation sentences decoded per epoch
    probe: str | None = None      # a sentence translated after every epoch (the app redraws its heatmap)
    guided_alignment: float = 0.0  # λ of the alignment loss λ·(−log Σ_{j∈G_t} α_tj) towards known source tokens
    #                               (``fit(gold=…)``: the toys' exact ones, a dictionary's silver ones; Chen et al.
    #                               2016); for a Transformer α is the heatmap's: its last layer's heads averaged
    average_last: int = 0         # at the end, average the weights of the last N epochs (Vaswani et al. 2017
    #                               averaged the last checkpoints) and keep the average if validation ranks it higher
    ema_decay: float = 0.0        # d > 0: keep θ̄ ← d·θ̄ + (1 − d)·θ after every optimiser step (an exponential moving
    #                               average of the weights, Polyak & Juditsky 1992), about the last 1/(1 − d) steps;
    #                               at the end it is tried like average_last and kept if validation ranks it higher
    precision: str = "fp32"       # "bf16": the training step's matrix products in bfloat16 (autocast; the weights,
    #                               the optimiser and validation stay float32): ~1.4x the tokens a second on a CPU
    #                               with AVX512-BF16 or a recent GPU (bench/precision.py)

    def __post_init__(self):
        """Refuse settings that cannot train, before any data is read (the message names the field)."""
        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        checks = {"epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
                  "lr": number(self.lr) and 0 < self.lr <= 1, "warmup_steps": self.warmup_steps >= 0,
                  "clip": number(self.clip) and self.clip > 0,
                  "teacher_forcing": number(self.teacher_forcing) and 0 <= self.teacher_forcing <= 1,
                  "label_smoothing": number(self.label_smoothing) and 0 <= self.label_smoothing < 1,
                  "char_split_prob": number(self.char_split_prob) and 0 <= self.char_split_prob <= 1,
                  "min_freq": self.min_freq >= 1, "patience": self.patience >= 0, "max_valid": self.max_valid >= 1,
                  "average_last": self.average_last >= 0,
                  "ema_decay": number(self.ema_decay) and 0 <= self.ema_decay < 1,
                  "guided_alignment": number(self.guided_alignment) and self.guided_alignment >= 0,
                  "schedule": self.schedule in ("plateau", "linear"), "select_on": self.select_on in ("chrf", "exact"),
                  "precision": self.precision in PRECISIONS}
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            ranges = {"epochs": "≥ 1", "batch_size": "≥ 1", "lr": "in (0, 1]", "warmup_steps": "≥ 0", "clip": "> 0",
                      "teacher_forcing": "in [0, 1]", "label_smoothing": "in [0, 1)", "char_split_prob": "in [0, 1]",
                      "min_freq": "≥ 1", "patience": "≥ 0", "max_valid": "≥ 1", "average_last": "≥ 0",
                      "ema_decay": "in [0, 1)", "guided_alignment": "≥ 0", "schedule": "'plateau' or 'linear'",
                      "select_on": "'chrf' or 'exact'", "precision": "'fp32' or 'bf16'"}
            raise ValueError("; ".join(f"{name} must be {ranges[name]}, got {getattr(self, name)!r}"
                                       for name in wrong))


@dataclass
class Progress:
    event: str                    # "batch", "epoch" or "done"
    epoch: int                    # 1-based
    epochs: int
    batch: int                    # 1-based within the epoch
    batches: int
    loss: float                   # mean training loss of this epoch so far
    elapsed: float                # seconds
    remaining: float              # estimated seconds left
    valid: dict | None = None     # validation metrics (epoch events)
    probe: Translation | None = None
    history: list[dict] = field(default_factory=list)
    model: Translator | None = None   # epoch events: the model as it is now (shares the training weights;
    #                                   read it inside the callback, the next batch changes it)

    @property
    def fraction(self) -> float:
        return ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches)


@dataclass
class TrainResult:
    checkpoint: Checkpoint        # the best weights seen (an epoch's, or the average of the last epochs')
    history: list[dict]           # one entry per epoch
    best_epoch: int               # the epoch after which these weights existed (an average: its last epoch)
    stopped: bool                 # True if should_stop() ended it early
    elapsed: float


def kept_weights(record: dict) -> str:
    """Which weights a training record's model holds, in words: "epoch 7", "the average of epochs 9–12" or
    "the moving average of the weights (d = 0.999)"."""
    averaged, ema = record.get("averaged") or {}, record.get("ema") or {}
    if averaged.get("kept"):
        return f"the average of epochs {averaged['epochs'][0]}–{averaged['epochs'][-1]}"
    if ema.get("kept"):
        return f"the moving average of the weights (d = {ema['decay']})"
    return f"epoch {record.get('best_epoch')}"


def corpus_metrics(hypotheses: list[str], references: list[str]) -> dict:
    """BLEU and chrF (sacrebleu, detokenised, cased) and exact-match rate."""
    if not hypotheses:
        return {"bleu": 0.0, "chrf": 0.0, "exact": 0.0}
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
            "exact": sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(hypotheses)}


# Words a short sentence may well say twice ("I think you know what I know" would still count): pronouns,
# auxiliaries, prepositions, question words, quantifiers, and "as"/"like", which are often grammar ("as … as").
REPEATABLE = frozenset(
    "be have do i you he she it we they will not can would could should shall may might must in on at for with "
    "from by about into up out over this that these those there here what who whom which how where when why all "
    "some any no yes so too very but if than then just also only more most much many one as like".split())


def _content_word(token: str) -> str | None:
    """The key (:func:`~.alignment.english_key`) a content word is counted by; None for grammar and digits."""
    if token in REPEATABLE or not any(ch.isalpha() for ch in token):
        return None
    key = english_key(token)
    return None if key is None or key in REPEATABLE else key


def has_repeat(tokens: list[str], *, reference: list[str] | None = None, max_n: int = 4) -> bool:
    """True if an output repeats itself: a word twice in a row ("student student"), any n-gram
    of 2 … ``max_n`` words twice ("to meet … to meet"), or a content word twice anywhere ("I love
    learn to learn", "I'm a students student": inflections count as one word, :data:`REPEATABLE`
    grammar words do not). Punctuation and specials (``</s>``) are not words; punctuation between
    two equal words ("No, no!") is no repeat. With ``reference`` (its tokens) a content word the
    reference itself says twice ("I saw him, and he saw me") may come twice, and no more.
    """
    tokens = [t.lower() for t in tokens if not t.startswith("<")]
    if any(a == b and any(ch.isalnum() for ch in a) for a, b in zip(tokens, tokens[1:])):
        return True                                           # "student student" (but "No, no!" is fine)
    words = [t for t in tokens if any(ch.isalnum() for ch in t)]
    for n in range(2, max_n + 1):
        grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
        if len(set(grams)) < len(grams):
            return True
    allowed = Counter(_content_word(t.lower()) for t in reference or ())
    said = Counter(_content_word(t) for t in words)
    return any(count > max(1, allowed[key]) for key, count in said.items() if key is not None)


def evaluate(translator: Translator, pairs: list[Pair], *, beam_size: int = 1, batch_size: int = 64,
             **options) -> dict:
    """Decode ``pairs`` and score against their references (the record's metrics).

    Besides BLEU, chrF and exact match, for English output: ``repeats``, the share of outputs that repeat
    themselves (:func:`has_repeat`, a content word allowed as often as the reference says it), and
    ``chrf_repeats_wrong``, chrF with every such output counted as wrong (scored as an empty output). chrF weighs
    recall twice as much as precision, so plain chrF can *rise* when a search pads its outputs with repeated
    words; the second figure cannot.
    """
    results = translator.translate_batch([p.zh for p in pairs], beam_size=beam_size, batch_size=batch_size,
                                         **options)
    hypotheses = [r.best.text for r in results]
    references = [p.en for p in pairs]
    metrics = corpus_metrics(hypotheses, references)
    if translator.config.tgt_detok == "english":             # "3 0 0 5" repeats digits by right
        repeated = [has_repeat(r.best.tokens, reference=tokenize_target(p.en, "english"))
                    for r, p in zip(results, pairs)]
        metrics["repeats"] = sum(repeated) / max(1, len(results))
        metrics["chrf_repeats_wrong"] = corpus_metrics(["" if rep else h for h, rep in zip(hypotheses, repeated)],
                                                       references)["chrf"]
    metrics["sentences"] = len(pairs)
    return metrics


def test_figures(translator: Translator, tests: dict[str, list[Pair]], decoding: dict | None = None) -> dict:
    """{test set: {"greedy", "beam5"[, "beam5_tuned"]}}: what a model's record says about it.

    ``decoding`` holds the validation-chosen ``length_penalty``, ``coverage_penalty`` and
    ``no_repeat_ngram_size``.
    """
    figures = {}
    for name, pairs in tests.items():
        figures[name] = {"greedy": evaluate(translator, pairs, beam_size=1),
                         "beam5": evaluate(translator, pairs, beam_size=5)}
        if decoding:
            figures[name]["beam5_tuned"] = evaluate(translator, pairs, beam_size=5,
                                                    length_penalty=decoding["length_penalty"],
                                                    coverage_penalty=decoding["coverage_penalty"],
                                                    no_repeat_ngram_size=decoding.get("no_repeat_ngram_size", 0))
    return figures


def domain_figures(translator: Translator, task: str, seen: set[str]) -> dict:
    """Greedy exact match over a toy task's *whole* domain (:func:`~.corpus.toy_domain`: every number 0–99,999,
    every date 1900–2099): overall, on the inputs training never saw (``seen``: its Chinese), and by source length
    in characters (一 … 九万九千九百九十九), with the first wrong answers. A test split samples the domain;
    this checks all of it, short and round inputs included."""
    pairs = toy_domain(task)
    results = translator.translate_batch([zh for zh, _ in pairs], beam_size=1, batch_size=1024)
    right = [r.best.text == answer for (_, answer), r in zip(pairs, results)]
    unseen = [ok for (zh, _), ok in zip(pairs, right) if zh not in seen]
    by_length: dict[int, list[bool]] = {}
    for (zh, _), ok in zip(pairs, right):
        by_length.setdefault(len(zh), []).append(ok)
    wrong = [[zh, answer, r.best.text] for (zh, answer), r, ok in zip(pairs, results, right) if not ok]
    return {"inputs": len(pairs), "exact": sum(right) / len(pairs),
            "unseen": {"inputs": len(unseen), "exact": sum(unseen) / max(1, len(unseen))},
            "by_length": {str(length): sum(oks) / len(oks) for length, oks in sorted(by_length.items())},
            "wrong": len(wrong), "first_wrong": wrong[:20]}


def record_test_figures(record: dict, figures: dict) -> None:
    """The first test set goes to ``record["test"]`` (what the apps show), the others to ``record["tests"]``."""
    first = next(iter(figures))
    record["test"] = figures[first]
    others = {k: v for k, v in figures.items() if k != first}
    if others:
        record["tests"] = others


def selection_key(metrics: dict, config: TrainConfig) -> tuple[float, ...]:
    """How validation ranks epochs (larger is better): chrF for sentences; for an exact-match task (``select_on=
    "exact"``, or the older ``stop_at_exact``) exact match + chrF, and then the lower loss, so that once validation
    is perfect a later, more confident epoch still counts as better (it is, on the rare inputs validation lacks)."""
    if config.select_on == "exact":
        return metrics["exact"] * 100 + metrics["chrf"], -metrics["loss"]
    if config.stop_at_exact:
        return (metrics["exact"] * 100 + metrics["chrf"],)
    return (metrics["chrf"],)


def gold_mask(golds: Sequence[Gold], batch) -> torch.Tensor:
    """(B, T, S) with 1 where output step t of a batch row has source position j in its gold set (the rows of
    steps without one, such as ``</s>``, are all 0). ``golds`` is indexed like the examples (``batch.indices``);
    their positions count words, and a word fed as several pieces (``batch.word_starts``) is all its pieces."""
    mask = torch.zeros(*batch.tgt_out.shape, batch.src.size(1), device=batch.src.device)
    for row, index in enumerate(batch.indices):
        starts = batch.word_starts[row] if batch.word_starts is not None else None
        for t, words in enumerate(golds[index]):
            if words:
                positions = sorted(words) if starts is None else [j for w in sorted(words)
                                                                  for j in range(starts[w], starts[w + 1])]
                mask[row, t, positions] = 1.0
    return mask


def alignment_loss(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Guided alignment: the mean over the N steps that have a gold set G_t of −log Σ_{j∈G_t} α_tj, the negative
    log of the attention weight on the source tokens that produced the output (0 when all of it is there, and
    when no step has a gold set)."""
    scored = mask.any(dim=-1)                                            # (B, T)
    if not scored.any():
        return attention.new_zeros(())
    mass = (attention * mask).sum(dim=-1)[scored]                        # (N,) Σ_{j∈G_t} α_tj
    return -torch.log(mass.clamp_min(1e-6)).mean()


def _loss(model: nn.Module, batch, criterion, *, teacher_forcing=1.0, rng=None,
          guide: tuple[Sequence[Gold], float] | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(loss to minimise, cross-entropy part, real target tokens); ``guide`` = (golds, λ) adds λ·alignment_loss."""
    real = batch.tgt_out != 0                                            # (B, T) target tokens, not padding
    logits, attention = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=teacher_forcing,
                              rng=rng, positions=real)                   # (N, V): no logits for padding
    cross_entropy = criterion(logits, batch.tgt_out[real])               # mean over the N real tokens
    if guide is None:
        return cross_entropy, cross_entropy, batch.n_tokens
    golds, weight = guide
    if attention is None:
        raise ValueError("guided_alignment needs a model with attention")
    return cross_entropy + weight * alignment_loss(attention, gold_mask(golds, batch)), cross_entropy, batch.n_tokens


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3     # mallopt parameters, from glibc's malloc.h
_KEEPING_FREED_MEMORY = False


def keep_freed_memory() -> bool:
    """Let this process reuse freed memory instead of handing large blocks back to the OS.

    Every training step allocates and frees the same large tensors: the dense gradients of the
    embedding tables (6,492 × 256 floats for the HSK source), the (N, V) logits and their
    gradients. glibc returns blocks above its mmap threshold to the kernel on ``free``, so the
    next step page-faults them in again. Raising the thresholds keeps them for reuse: on the HSK
    recipe, minor page faults per batch fell from 658 to 142 and a batch from 53.7 to 50.3 ms.
    (PyTorch's CPU tuning guide suggests a caching allocator such as jemalloc for the same
    reason; this is glibc's own switch.) Process-wide and idempotent; False where there is no glibc.
    """
    global _KEEPING_FREED_MEMORY
    if not _KEEPING_FREED_MEMORY:
        try:
            libc = ctypes.CDLL("libc.so.6")
            _KEEPING_FREED_MEMORY = bool(libc.mallopt(_M_MMAP_THRESHOLD, 64 * 2**20)
                                         and libc.mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))
        except (OSError, AttributeError):     # not Linux/glibc: keep the default allocator
            return False
    return _KEEPING_FREED_MEMORY


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; ``fused`` updates every parameter in one kernel instead of a dozen per tensor."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def warmup_length(config: TrainConfig, total_steps: int) -> int:
    """``warmup_steps``, but at most a fifth of the run: a short run must still reach its learning rate."""
    return min(config.warmup_steps, max(1, total_steps // 5)) if config.warmup_steps else 0


def scheduled_lr(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (1-based) of ``total_steps``: a linear warm-up from 0 to
    ``lr`` over ``warmup_steps`` (a Transformer's first updates are unstable at the full rate), then ``lr``
    ("plateau": the plateau rule lowers it from there) or a linear decay to lr/10 at the last step ("linear")."""
    warmup = warmup_length(config, total_steps)
    if step <= warmup:
        return config.lr * step / warmup
    if config.schedule != "linear":
        return config.lr
    progress = (step - warmup) / max(1, total_steps - warmup)
    return config.lr * (1.0 - 0.9 * min(1.0, progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_criterion(label_smoothing: float) -> nn.Module:
    """Cross-entropy over real target tokens (id 0, ``<pad>``, is ignored), optionally smoothed."""
    return nn.CrossEntropyLoss(ignore_index=0, label_smoothing=label_smoothing)


def train_step(model: nn.Module, batch, optimizer: torch.optim.Optimizer, criterion, *, clip: float,
               teacher_forcing: float = 1.0, rng: random.Random | None = None,
               loss_scale: float = 1.0, guide: tuple[Sequence[Gold], float] | None = None,
               autocast: torch.dtype | None = None) -> tuple[float, int]:
    """One optimiser step on one batch: loss, backward, clip the gradient norm, update.

    Returns (mean loss over the batch's real target tokens, number of those tokens).
    ``fit`` runs this, and so does the training benchmark, so the benchmark times the real loop.
    ``loss_scale`` multiplies the loss before ``backward`` (a distributed rank's share:
    :func:`~.distributed.loss_scale`); the returned loss is unscaled. ``guide`` = (gold alignments indexed like
    the examples, λ) adds the guided-alignment term to what is minimised; the returned loss is the cross-entropy.
    ``autocast`` (e.g. ``torch.bfloat16``) runs the forward pass under :func:`torch.autocast`: matrix products in
    that type, the cross-entropy in float32 (autocast's own op lists decide); the backward follows the forward.
    """
    with torch.autocast(batch.src.device.type, dtype=autocast) if autocast else contextlib.nullcontext():
        loss, cross_entropy, n_tokens = _loss(model, batch, criterion, teacher_forcing=teacher_forcing, rng=rng,
                                              guide=guide)
    optimizer.zero_grad(set_to_none=True)
    (loss * loss_scale if loss_scale != 1.0 else loss).backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return cross_entropy.item(), n_tokens


def average_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several state dicts of one model: θ̄ = (1/N) Σ_i θ_i (integer buffers from the last)."""
    last = states[-1]
    return {name: (torch.stack([state[name].float() for state in states]).mean(0).to(tensor.dtype)
                   if tensor.is_floating_point() else tensor.clone())
            for name, tensor in last.items()}


def moving_average(model: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """A copy of ``model`` whose ``update_parameters(model)`` sets θ̄ ← d·θ̄ + (1 − d)·θ for every parameter
    (the first call copies θ). Its weights weigh step t−k by (1 − d)·d^k: the recent steps, without one epoch's
    noise. The buffers stay the copy's (a Transformer's are its fixed sinusoids)."""
    return torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay))


def _validate(model: nn.Module, snapshot: Translator, valid_batches, valid_pairs: list[Pair], nll) -> dict:
    """Validation metrics of the model as it is: loss (no smoothing) and greedy decoding's BLEU, chrF, exact."""
    model.eval()
    with torch.inference_mode():
        valid_nll = sum(float(nll(model(b.src, b.src_lengths, b.tgt_in)[0].reshape(-1, len(snapshot.tgt_vocab)),
                                  b.tgt_out.reshape(-1))) for b in valid_batches)
        valid_tokens = sum(b.n_tokens for b in valid_batches)
    metrics = evaluate(snapshot, valid_pairs, beam_size=1) if valid_pairs else corpus_metrics([], [])
    metrics["loss"] = valid_nll / max(1, valid_tokens)
    return metrics


def fit(train_pairs: list[Pair], valid_pairs: list[Pair], arch: dict, config: TrainConfig, *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None, record: dict | None = None,
        gold: Callable[[Pair], Gold] | None = None) -> TrainResult:
    """Build vocabularies and a model from ``arch`` (a family's config fields: ModelConfig for an RNN, or
    ``family="transformer"`` and TransformerConfig fields) and train it.

    In a distributed run every rank calls this with the same arguments; ``on_progress`` is called on rank 0
    only, and only rank 0's result holds the best weights (the others return their last ones).

    ``gold`` gives a training pair's gold alignment (:func:`~.alignment.toy_gold`): with
    ``config.guided_alignment`` > 0 the attention is trained towards it as well."""
    if not train_pairs:
        raise CorpusError("no_pairs", "There are no training pairs (a small file may have all its lines in "
                          "the validation/test split).")
    if config.guided_alignment and gold is None:
        raise ValueError("guided_alignment needs the training pairs' gold alignments (fit(gold=…))")
    if arch.get("family") == "transformer" and config.teacher_forcing != 1.0:
        raise ValueError("the Transformer trains with teacher forcing only (teacher_forcing = 1)")
    ctx = distributed.current()
    if config.batch_size < ctx.world_size:
        raise ValueError(f"batch_size ({config.batch_size}) must be at least the number of processes "
                         f"({ctx.world_size}): every process trains on its share of each batch")
    if not ctx.is_main:
        on_progress = None                                    # one progress report: rank 0's
    started = time.perf_counter()
    keep_freed_memory()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)       # batching and its shuffle: the same on every rank
    segmenter, tgt_style = arch.get("src_segmenter", "jieba"), arch.get("tgt_detok", "english")
    train_examples: list[Example] = tokenize_pairs(train_pairs, segmenter, tgt_style)
    src_vocab, tgt_vocab = build_vocabs(train_examples, min_freq=config.min_freq)
    model_config = config_for(arch, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab))
    model = build_model(model_config).to(device)
    step_rng = rng                         # teacher-forcing draws
    if ctx.is_distributed:                 # each rank its own dropout masks and draws (the weights are rank 0's)
        torch.manual_seed(config.seed + 7919 * ctx.rank)
        step_rng = random.Random(config.seed + 7919 * ctx.rank + 1)
    trainer = distributed.wrap(model, ctx, device)            # what the training step runs: DDP or the model
    guide = ([gold(pair) for pair in train_pairs], config.guided_alignment) if config.guided_alignment else None
    valid_pairs = valid_pairs[:config.max_valid]
    valid_batches = make_batches(tokenize_pairs(valid_pairs, segmenter, tgt_style), src_vocab, tgt_vocab,
                                 batch_size=128, device=device)
    optimizer = make_optimizer(model, config.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=2)
    criterion = make_criterion(config.label_smoothing)
    nll = nn.CrossEntropyLoss(ignore_index=0, reduction="sum")
    history: list[dict] = []
    best_state, best_key, best_epoch, stopped = None, None, 0, False
    recent: list[dict[str, torch.Tensor]] = []    # the last epochs' weights, for average_last
    ema = moving_average(model, config.ema_decay) if config.ema_decay and ctx.is_main else None
    finals: dict[str, dict] = {}                  # what the averages tried at the end scored: "averaged", "ema"
    snapshot = Translator(Checkpoint(model, src_vocab, tgt_vocab), device=device, names=False)   # the model alone
    stale = 0
    total_batches = None
    steps_done = 0
    epochs_validated = 0

    for epoch in range(1, config.epochs + 1):
        batches = make_batches(train_examples, src_vocab, tgt_vocab, batch_size=config.batch_size, shuffle=True,
                               rng=rng, char_split_prob=config.char_split_prob if segmenter == "jieba" else 0.0,
                               device="cpu" if ctx.is_distributed else device, min_batch=ctx.world_size)
        total_batches = len(batches)
        model.train()
        loss_sum, token_sum = 0.0, 0
        for i, batch in enumerate(batches, start=1):
            if distributed.any_rank(should_stop is not None and should_stop(), ctx, device):
                stopped = True
                break
            steps_done += 1
            if steps_done <= warmup_length(config, config.epochs * total_batches) or config.schedule == "linear":
                set_lr(optimizer, scheduled_lr(config, steps_done, config.epochs * total_batches))
            scale = 1.0
            if ctx.is_distributed:                                # this rank's rows of the batch
                batch_tokens = batch.n_tokens
                batch = batch.select(distributed.shard_rows(len(batch.indices), ctx)).to(device)
                scale = distributed.loss_scale(batch.n_tokens, batch_tokens, ctx)
            loss, n_tokens = train_step(trainer, batch, optimizer, criterion, clip=config.clip,
                                        teacher_forcing=config.teacher_forcing, rng=step_rng, loss_scale=scale,
                                        guide=guide, autocast=PRECISIONS[config.precision])
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss * n_tokens
            token_sum += n_tokens
            if on_progress is not None:                           # (distributed: rank 0's share's loss so far)
                elapsed = time.perf_counter() - started
                done = (epoch - 1) * total_batches + i
                on_progress(Progress("batch", epoch, config.epochs, i, total_batches, loss_sum / token_sum, elapsed,
                                     elapsed / done * (config.epochs * total_batches - done), history=list(history)))
        if stopped and epochs_validated:
            break
        loss_sum, token_sum = distributed.total([loss_sum, token_sum], ctx, device)   # the whole epoch's
        epochs_validated += 1
        if not ctx.is_main:                   # rank 0 validates; the others wait for its decisions
            lr, finish = distributed.from_main([0.0, 0.0], ctx, device)
            set_lr(optimizer, lr)
            if finish:
                break
            continue

        metrics = _validate(model, snapshot, valid_batches, valid_pairs, nll)
        entry = {"epoch": epoch, "train_loss": loss_sum / max(1, token_sum), "valid_loss": metrics["loss"],
                 "valid_bleu": metrics["bleu"], "valid_chrf": metrics["chrf"], "valid_exact": metrics["exact"],
                 "lr": optimizer.param_groups[0]["lr"], "elapsed": time.perf_counter() - started}
        history.append(entry)
        key = selection_key(metrics, config)
        if best_key is None or key > best_key:
            best_key, best_epoch, stale = key, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if config.average_last:
            recent = [*recent, copy.deepcopy(model.state_dict())][-config.average_last:]
        if config.schedule == "plateau":
            scheduler.step(key[0])
        probe = None
        if config.probe:
            try:
                probe = snapshot.translate(config.probe, beam_size=1)
            except Exception:  # a probe the vocabulary cannot handle must not end training
                probe = None
        elapsed = time.perf_counter() - started
        if on_progress is not None:
            on_progress(Progress("epoch", epoch, config.epochs, total_batches, total_batches, entry["train_loss"],
                                 elapsed, elapsed / epoch * (config.epochs - epoch), valid=metrics, probe=probe,
                                 history=list(history), model=snapshot))
        finish = (stopped or (config.stop_at_exact is not None and metrics["exact"] >= config.stop_at_exact)
                  or bool(config.patience and stale >= config.patience))
        distributed.from_main([optimizer.param_groups[0]["lr"], float(finish)], ctx, device)
        if finish:
            break

    candidates: dict[str, tuple[dict, dict]] = {}          # rank 0 only: the others keep no epochs
    if len(recent) >= 2 and not stopped:
        candidates["averaged"] = (average_weights(recent), {"epochs": [e["epoch"] for e in history[-len(recent):]]})
    if ema is not None and not stopped and history:
        candidates["ema"] = (ema.module.state_dict(), {"decay": config.ema_decay})
    winner = None
    for name, (state, about) in candidates.items():
        model.load_state_dict(state)
        metrics = _validate(model, snapshot, valid_batches, valid_pairs, nll)
        finals[name] = {**about, "kept": False, **{k: metrics[k] for k in ("loss", "bleu", "chrf", "exact")}}
        if selection_key(metrics, config) > best_key:
            best_key, winner, best_state = selection_key(metrics, config), name, copy.deepcopy(model.state_dict())
    if winner is not None:
        finals[winner]["kept"] = True
        best_epoch = history[-1]["epoch"]                    # both averages end with the last epoch
    model.load_state_dict(best_state if best_state is not None else model.state_dict())
    model.eval()
    elapsed = time.perf_counter() - started
    best = history[best_epoch - 1] if best_epoch else {}
    full_record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "train_config": asdict(config), "epochs_run": len(history), "best_epoch": best_epoch,
        "stopped": stopped, "elapsed_s": round(elapsed, 1),
        "pairs": {"train": len(train_pairs), "valid": len(valid_pairs)},
        "valid": ({k: finals[winner][k] for k in ("loss", "bleu", "chrf", "exact")} if winner
                  else {k.removeprefix("valid_"): v for k, v in best.items() if k.startswith("valid_")}),
        **finals,
        "history": history, **ctx.record(), **(record or {})}
    if on_progress is not None:
        on_progress(Progress("done", len(history), config.epochs, total_batches or 0, total_batches or 0,
                             best.get("train_loss", float("nan")), elapsed, 0.0, valid=full_record["valid"],
                             history=list(history)))
    return TrainResult(Checkpoint(model.cpu() if device.type != "cpu" else model, src_vocab, tgt_vocab,
                                  full_record), history, best_epoch, stopped, elapsed)
