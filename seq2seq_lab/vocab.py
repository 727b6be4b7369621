"""Vocabulary: the two-way map between tokens and the integer ids the model embeds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocab:
    """Tokens ↔ ids. Ids 0–3 are the specials ``<pad> <unk> <s> </s>``.

    >>> v = Vocab(["我", "爱"])
    >>> v.encode(["我", "爱", "猫"])
    [4, 5, 1]
    >>> v.decode([4, 5, 3])
    ['我', '爱', '</s>']
    """

    pad_id, unk_id, bos_id, eos_id = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str] = ()):
        self.itos: list[str] = list(SPECIALS)
        self.stoi: dict[str, int] = {token: i for i, token in enumerate(self.itos)}
        for token in tokens:
            if token not in self.stoi:
                self.stoi[token] = len(self.itos)
                self.itos.append(token)

    @classmethod
    def build(cls, counts: Counter, *, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Most frequent tokens first (ties alphabetical, so builds are repeatable)."""
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                        key=lambda t: (-counts[t], t))
        return cls(ranked[:max_size] if max_size else ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(token, self.unk_id) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        itos = list(data["itos"])
        if tuple(itos[:4]) != SPECIALS or len(set(itos)) != len(itos):
            raise ValueError("vocabulary must start with <pad> <unk> <s> </s> and have no duplicates")
        return cls(itos[4:])
