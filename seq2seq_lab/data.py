"""From sentence pairs to padded id tensors: tokenising, vocabularies and batches."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import torch

from .corpus import Pair
from .text import fallback_pieces, map_to_vocab, segment_zh, tokenize_target
from .vocab import Vocab


def is_tag(token: str) -> bool:
    """Tag tokens such as ``<dict>`` are atomic: never split into characters."""
    return token.startswith("<") and token.endswith(">") and len(token) > 2


@dataclass
class Example:
    """One pair as the model trains on it."""

    src_words: list[str]     # segmented Chinese
    tgt_tokens: list[str]    # tokenised English
    reference: str           # the English as written, for BLEU/chrF


def tokenize_pairs(pairs: list[Pair], segmenter: str, tgt_style: str = "english") -> list[Example]:
    """Segment and tokenise; a tagged pair (``Pair.tag``) starts with its tag token, e.g. ``<dict>``."""
    return [Example(([f"<{p.tag}>"] if p.tag else []) + segment_zh(p.zh, mode=segmenter),
                    tokenize_target(p.en, tgt_style), p.en) for p in pairs]


def build_vocabs(examples: list[Example], *, min_freq: int = 1) -> tuple[Vocab, Vocab]:
    """Source vocabulary of words *and* their characters (for the character fallback); target of tokens."""
    src_counts, tgt_counts = Counter(), Counter()
    for example in examples:
        for word in example.src_words:
            src_counts[word] += 1
            if len(word) > 1 and not is_tag(word):
                src_counts.update(word)
        tgt_counts.update(example.tgt_tokens)
    return Vocab.build(src_counts, min_freq=min_freq), Vocab.build(tgt_counts, min_freq=min_freq)


def source_pieces(words: list[str], vocab: Vocab, *, rng: random.Random | None = None,
                  char_split_prob: float = 0.0) -> list[list[str]]:
    """Each word's model tokens: itself, or its fallback pieces, as at translation time (:func:`text.map_to_vocab`).

    In training, a known word of several characters is sometimes fed as if it were unknown
    (cut into its known sub-words and characters), so the model also learns the pieces it
    falls back to for words it has never seen."""
    pieces: list[list[str]] = []
    for word in words:
        if is_tag(word):
            pieces.append([word])
        elif word in vocab and rng is not None and len(word) > 1 and rng.random() < char_split_prob:
            pieces.append(fallback_pieces(word, vocab))
        else:
            pieces.append([token.model_token for token in map_to_vocab([word], vocab)])
    return pieces


def source_ids(words: list[str], vocab: Vocab, *, rng: random.Random | None = None,
               char_split_prob: float = 0.0) -> list[int]:
    """Word ids + </s> (:func:`source_pieces`)."""
    return pieces_ids(source_pieces(words, vocab, rng=rng, char_split_prob=char_split_prob), vocab)


def pieces_ids(pieces: list[list[str]], vocab: Vocab) -> list[int]:
    """The ids of the words' tokens, in order, + </s>."""
    return vocab.encode([token for word in pieces for token in word]) + [vocab.eos_id]


def word_starts(pieces: list[list[str]]) -> list[int]:
    """Where each word's tokens begin in the source, then where </s> begins and ends: word w is the tokens
    ``starts[w]:starts[w + 1]`` (and w = number of words is </s>)."""
    starts = [0]
    for word in pieces:
        starts.append(starts[-1] + len(word))
    return starts + [starts[-1] + 1]


@dataclass
class Batch:
    src: torch.Tensor          # (B, S) padded source ids, each ending in </s>
    src_lengths: torch.Tensor  # (B,)
    tgt_in: torch.Tensor       # (B, T) <s> y_1 … y_n   (padded)
    tgt_out: torch.Tensor      # (B, T) y_1 … y_n </s> (padded)
    references: list[str]
    indices: list[int]         # positions of these examples in the input list
    word_starts: list[list[int]] | None = None   # per row, :func:`word_starts` (a word fed as pieces spans several)

    @property
    def n_tokens(self) -> int:
        return int((self.tgt_out != 0).sum())

    def select(self, rows: slice) -> Batch:
        """The examples ``rows`` of this batch as a batch of their own, trimmed to their own longest
        source and target (a distributed rank's share: :func:`~.distributed.shard_rows`)."""
        src_lengths = self.src_lengths[rows]
        tgt_lengths = (self.tgt_out[rows] != 0).sum(dim=1)              # real target tokens, </s> included
        src_width, tgt_width = int(src_lengths.max()), int(tgt_lengths.max())
        return Batch(self.src[rows, :src_width], src_lengths, self.tgt_in[rows, :tgt_width],
                     self.tgt_out[rows, :tgt_width], self.references[rows], self.indices[rows],
                     None if self.word_starts is None else self.word_starts[rows])

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.src.to(device), self.src_lengths, self.tgt_in.to(device), self.tgt_out.to(device),
                     self.references, self.indices, self.word_starts)


def pad(sequences: list[list[int]], value: int = 0) -> torch.Tensor:
    width = max(len(s) for s in sequences)
    return torch.tensor([s + [value] * (width - len(s)) for s in sequences], dtype=torch.long)


def make_batches(examples: list[Example], src_vocab: Vocab, tgt_vocab: Vocab, *, batch_size: int,
                 shuffle: bool = False, rng: random.Random | None = None, char_split_prob: float = 0.0,
                 device: torch.device | str = "cpu", min_batch: int = 1) -> list[Batch]:
    """Batches of similar length (less padding), shuffled between epochs when asked.

    Sorted by source length, then target length: the encoder skips source padding anyway (packed
    sequences), but the decoder and the output layer do work for every padded target position.
    On the HSK training split this fills 94 % of the target slots of a batch of 32, not 72 %.

    A last batch of fewer than ``min_batch`` examples joins the one before it (distributed training
    splits every batch over its ranks, and each rank needs at least one example).
    """
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].src_words), len(examples[i].tgt_tokens)))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) < min_batch:
        chunks[-2:] = [chunks[-2] + chunks[-1]]
    if shuffle:
        (rng or random).shuffle(chunks)
    batches = []
    for chunk in chunks:
        pieces = [source_pieces(examples[i].src_words, src_vocab, rng=rng if shuffle else None,
                                char_split_prob=char_split_prob) for i in chunk]
        src = [pieces_ids(p, src_vocab) for p in pieces]
        tgt = [tgt_vocab.encode(examples[i].tgt_tokens) for i in chunk]
        batches.append(Batch(
            src=pad(src).to(device),
            src_lengths=torch.tensor([len(s) for s in src]),
            tgt_in=pad([[tgt_vocab.bos_id] + t for t in tgt]).to(device),
            tgt_out=pad([t + [tgt_vocab.eos_id] for t in tgt]).to(device),
            references=[examples[i].reference for i in chunk],
            indices=chunk,
            word_starts=[word_starts(p) for p in pieces]))
    return batches
