r"""Attention: how the decoder decides which source words to look at.

At every output step the decoder has a *query* q (its state, shape (H,)) and the
encoder has left one *key* vector k_j per source token j (shape (S, H)). Each
attention variant below differs only in its **score** e_j = score(q, k_j); all of
them then do the same two things:

    α = softmax(e)            # attention weights: α_j ≥ 0, Σ_j α_j = 1
    c = Σ_j α_j v_j           # context vector: the weighted average of the values

The values v_j are the keys themselves, except in :class:`ScaledDotAttention`,
which projects them. Padding positions get e_j = −∞, hence α_j = 0 exactly.

Every module returns ``(context, weights)`` — attention is a value handed back to
the caller, never something stored on the module to be fished out later.

Variants (pick one by name with :func:`build_attention`):

==============  ======================================  ==========================
name            score e_j                               paper
==============  ======================================  ==========================
``dot``         qᵀ k_j                                  Luong et al. 2015
``general``     qᵀ W k_j                                Luong et al. 2015
``additive``    vᵀ tanh(W₁ q + W₂ k_j)                  Bahdanau et al. 2015
``scaled_dot``  (W_q q)ᵀ (W_k k_j) / √d, values W_v k_j Vaswani et al. 2017
``none``        no attention: the decoder only sees     Cho et al. 2014,
                the encoder's final state               Sutskever et al. 2014
==============  ======================================  ==========================

``dot`` and ``general`` may divide their score by √H (``scaled=True``, H the query's size), as
``scaled_dot`` does: e_j = qᵀ k_j / √H. Unscaled, the sum over H = 256 products grows with the vectors'
size, the softmax saturates and passes no gradient back (bench/attention_collapse.py measures it).

The Transformer (:mod:`.transformer`) uses :class:`MultiHeadAttention`: the scaled dot
product of ``scaled_dot``, for a whole sequence of queries at once and in several heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ATTENTION_TYPES = ("none", "dot", "general", "additive", "scaled_dot")


class Attention(nn.Module):
    """Base class: subclasses define :meth:`project_keys` and :meth:`score`.

    Keys are projected once per sentence (:meth:`prepare`) rather than at every
    decoding step, since they do not depend on the query.
    """

    def prepare(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """memory (B, S, H) → (keys, values) in the form :meth:`score` expects."""
        return memory, memory

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (B, H), keys (B, S, ·) → scores e (B, S)."""
        raise NotImplementedError

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(context (B, Hv), weights (B, S))``; ``mask`` (B, S) is True on real tokens."""
        scores = self.score(query, keys)                                  # (B, S)  e
        scores = scores.masked_fill(~mask, float("-inf"))                 # padding: e = −∞
        weights = torch.softmax(scores, dim=-1)                           # (B, S)  α = softmax(e)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)      # (B, Hv) c = Σ_j α_j v_j
        return context, weights


class DotAttention(Attention):
    """e_j = qᵀ k_j — no parameters; query and keys must have the same size. ``scale``: e_j = qᵀ k_j · scale."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def score(self, query, keys):
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2) * self.scale   # (B, S)  qᵀ k_j (· 1/√H)


class GeneralAttention(Attention):
    """e_j = qᵀ W k_j — a learned bilinear form (W k_j is precomputed per sentence)."""

    def __init__(self, query_size: int, key_size: int, scale: float = 1.0):
        super().__init__()
        self.W = nn.Linear(key_size, query_size, bias=False)
        self.scale = scale

    def prepare(self, memory):
        return self.W(memory), memory                                    # keys (B, S, Hq) = W k_j

    def score(self, query, keys):
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2) * self.scale   # (B, S)  qᵀ (W k_j) (· 1/√H)


class AdditiveAttention(Attention):
    """e_j = vᵀ tanh(W₁ q + W₂ k_j) — a one-hidden-layer network scores each pair."""

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.W1 = nn.Linear(query_size, attention_size, bias=False)
        self.W2 = nn.Linear(key_size, attention_size, bias=False)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def prepare(self, memory):
        return self.W2(memory), memory                                   # keys (B, S, A) = W₂ k_j

    def score(self, query, keys):
        hidden = torch.tanh(self.W1(query).unsqueeze(1) + keys)          # (B, S, A) tanh(W₁q + W₂k_j)
        return self.v(hidden).squeeze(2)                                 # (B, S)    vᵀ tanh(…)


class ScaledDotAttention(Attention):
    """softmax(QKᵀ/√d)V with one head: Q = W_q q, K = W_k k_j, V = W_v k_j.

    Dividing by √d keeps the scores' variance near 1 whatever the size d, so the
    softmax does not saturate (Vaswani et al. 2017, §3.2.1).
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.W_q = nn.Linear(query_size, attention_size, bias=False)
        self.W_k = nn.Linear(key_size, attention_size, bias=False)
        self.W_v = nn.Linear(key_size, key_size, bias=False)
        self.scale = 1.0 / math.sqrt(attention_size)

    def prepare(self, memory):
        return self.W_k(memory), self.W_v(memory)                        # K (B, S, d), V (B, S, H)

    def score(self, query, keys):
        q = self.W_q(query)                                              # (B, d)  Q = W_q q
        return torch.bmm(keys, q.unsqueeze(2)).squeeze(2) * self.scale   # (B, S)  QKᵀ/√d


class MultiHeadAttention(nn.Module):
    r"""Multi-head scaled dot-product attention (Vaswani et al. 2017, §3.2), for T queries at once.

    Every query position t, key position j and head i (d_k = d_model / h)::

        Q = X W_Q,  K = M W_K,  V = M W_V          X: the queries' inputs (B, T, d); M: the keys' (B, S, d)
        Q_i, K_i, V_i = the i-th d_k columns       the head split: (B, T, d) → (B, h, T, d_k)
        e_i  = Q_i K_iᵀ / √d_k                     scores (B, h, T, S)
        e_tj = −∞ where the mask forbids t → j     padding, and the future in the decoder (the causal mask)
        α_i  = softmax(e_i)                        each row sums to 1
        head_i = α_i V_i                           (B, h, T, d_k)
        MultiHead = Concat(head_1, …, head_h) W_O  the concat: (B, h, T, d_k) → (B, T, d), then (B, T, d)

    Each head has its own W_Q, W_K, W_V columns, so each can learn its own notion of which words
    matter — one may follow word order, another the verb. :meth:`project_keys` is separate from
    :meth:`forward` so that keys and values computed once can be reused: the encoder's, projected
    once per sentence for the decoder's cross-attention, and the decoder's own, cached step by step.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of the number of heads ({heads})")
        self.heads, self.d_k = heads, d_model // heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(self.d_k)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) → (B, h, T, d_k): head i is columns i·d_k … (i+1)·d_k − 1."""
        B, T, _ = x.shape
        return x.view(B, T, self.heads, self.d_k).transpose(1, 2)

    def project_keys(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """M (B, S, d) → K, V (B, h, S, d_k): K = M W_K and V = M W_V, split into heads."""
        return self.split_heads(self.W_k(memory)), self.split_heads(self.W_v(memory))

    def scores(self, x: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Q (B, h, T, d_k) and the masked scores e = QKᵀ/√d_k (B, h, T, S); ``mask`` True where allowed."""
        q = self.split_heads(self.W_q(x))                                 # (B, h, T, d_k)  Q = X W_Q
        scores = (q @ keys.transpose(-2, -1)) * self.scale                # (B, h, T, S)    QKᵀ/√d_k
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))             # forbidden: e = −∞, α = 0
        return q, scores

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output (B, T, d), weights (B, h, T, S))``; ``mask`` broadcasts to (B, h, T, S)."""
        _, scores = self.scores(x, keys, mask)                            # (B, h, T, S)
        weights = torch.softmax(scores, dim=-1)                           # (B, h, T, S)    α = softmax(e)
        heads = self.dropout(weights) @ values                            # (B, h, T, d_k)  head_i = α_i V_i
        B, _, T, _ = heads.shape
        concat = heads.transpose(1, 2).reshape(B, T, self.heads * self.d_k)   # (B, T, d)  Concat(head_1…h)
        return self.W_o(concat), weights                                  # (B, T, d)       · W_O


def build_attention(name: str, *, query_size: int, key_size: int, attention_size: int | None = None,
                    scaled: bool = False) -> Attention | None:
    """The attention module called ``name`` (one of :data:`ATTENTION_TYPES`); None for ``"none"``.
    ``scaled``: ``dot`` and ``general`` divide their scores by √(query_size)."""
    if name not in ATTENTION_TYPES:
        raise ValueError(f"unknown attention {name!r}; choose one of {', '.join(ATTENTION_TYPES)}")
    attention_size = attention_size or query_size
    scale = 1.0 / math.sqrt(query_size) if scaled else 1.0
    if name == "none":
        return None
    if name == "dot":
        if query_size != key_size:
            raise ValueError(f"dot attention needs query size == key size, got {query_size} and {key_size}")
        return DotAttention(scale)
    if name == "general":
        return GeneralAttention(query_size, key_size, scale)
    if name == "additive":
        return AdditiveAttention(query_size, key_size, attention_size)
    return ScaledDotAttention(query_size, key_size, attention_size)
