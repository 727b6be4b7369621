r"""The Transformer (Vaswani et al. 2017, "Attention Is All You Need"): attention, and no recurrence.

The RNN model (:mod:`.model`) reads the sentence one word after another; the Transformer looks at all
of it at once, and only attention moves information between positions. Since attention itself ignores
word order, the position is added to each embedding::

    x_j = √d · E[w_j] + PE(j)                         token embedding, scaled, + positional encoding  (B, S, d)
    PE(j, 2i)   = sin(j / 10000^(2i/d))               each pair of dimensions is a sine/cosine of its own
    PE(j, 2i+1) = cos(j / 10000^(2i/d))               wavelength: nearby positions get similar vectors

**Encoder**: N layers, each (pre-norm, LN = layer normalisation)::

    x = x + SelfAttention(LN(x))                      every word attends to every word (not to padding)
    x = x + FFN(LN(x))                                FFN(x) = W₂ ReLU(W₁ x): position by position
    memory = LN(x)                                    after the last layer                            (B, S, d)

**Decoder**: N layers, each::

    y = y + MaskedSelfAttention(LN(y))                output position t attends to positions ≤ t only
    y = y + CrossAttention(LN(y), memory)             queries from the decoder, keys/values from the encoder
    y = y + FFN(LN(y))
    p(y_t | y_<t, x) = softmax(W_o LN(y_t) + b)       with ``tie_output``, W_o = E (the target embeddings)

Each attention is :class:`~.attention.MultiHeadAttention`: softmax(QKᵀ/√d_k)V in h heads. The
*causal mask* (:func:`causal_mask`) is what makes the decoder a left-to-right model: in training all
T positions are computed in one pass, yet position t cannot see the words after it.

**Pre-norm.** Layer normalisation goes *before* each sub-layer, inside the residual branch (Xiong et al.
2020), not after the addition as in the original paper (post-norm). The residual path stays an identity
from the embeddings to the output, so a small model trains stably with a short learning-rate warm-up.

**Decoding step by step** (:meth:`TransformerDecoder.step`) keeps a key/value cache: the keys and
values of the positions already written do not change when a word is added (the mask hides the future
from them), so a step computes one new position and attends over the cached ones — it does not re-run
the prefix. The cache is a :class:`KVCache` (batch first), reordered with the beam like the RNN state;
the encoder's keys and values for cross-attention are projected once per sentence
(:class:`TransformerMemory`). Training (:meth:`Transformer.forward`, teacher forcing, all positions at
once) and decoding call the same :class:`DecoderLayer`, so what is trained is what is decoded; the
tests check that the two give the same numbers.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .attention import MultiHeadAttention
from .model import AttentionMaps, StepOutput, step_logits

MIN_POSITIONS = 202   # the longest source (200 characters + </s>) and output (max_len 200) must have an encoding


@dataclass
class TransformerConfig:
    """Everything needed to rebuild a Transformer; stored in every checkpoint (``family`` says which)."""

    src_vocab_size: int
    tgt_vocab_size: int
    family: str = "transformer"  # fixed: tells models.config_from_dict which family a file holds
    d_model: int = 256           # d: the size of every position's vector, from embedding to output
    heads: int = 4               # h: attention heads per attention layer; d_k = d / h
    enc_layers: int = 3          # N encoder layers
    dec_layers: int = 3          # N decoder layers
    ff_size: int = 1024          # the feed-forward network's inner size (W₁: d → ff, W₂: ff → d)
    dropout: float = 0.1         # on embeddings, sub-layer outputs, attention weights and the FFN
    max_positions: int = 512     # positional encodings precomputed (sources ≤ 201 tokens, outputs ≤ 200)
    src_segmenter: str = "jieba" # how Chinese is cut: "jieba" words or single "char"s
    tgt_detok: str = "english"   # how output tokens are joined: "english" or "concat" (digits)
    attention: str = "multi_head"  # fixed: what the apps list as the model's attention
    tie_output: bool = False     # the output layer's W_out is the target embedding table E (Press & Wolf, 2017)

    def __post_init__(self):
        if self.family != "transformer" or self.attention != "multi_head":
            raise ValueError("a TransformerConfig has family 'transformer' and attention 'multi_head'")
        if not (1 <= self.heads <= self.d_model <= 4096 and 1 <= self.ff_size <= 16384):
            raise ValueError(f"need 1 ≤ heads ≤ d_model ≤ 4096 and 1 ≤ ff_size ≤ 16384, got heads {self.heads}, "
                             f"d_model {self.d_model}, ff_size {self.ff_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not (isinstance(self.max_positions, int) and MIN_POSITIONS <= self.max_positions <= 4096):
            raise ValueError(f"max_positions must be {MIN_POSITIONS}–4096 (the longest source and output), "
                             f"got {self.max_positions!r}")
        if self.d_model % self.heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and a multiple of heads ({self.heads})")
        if not (1 <= self.enc_layers <= 8 and 1 <= self.dec_layers <= 8):
            raise ValueError("encoder and decoder need 1–8 layers")
        if not isinstance(self.tie_output, bool):
            raise ValueError(f"tie_output must be true or false, got {self.tie_output!r}")
        if self.src_segmenter not in ("jieba", "char") or self.tgt_detok not in ("english", "concat"):
            raise ValueError("src_segmenter must be 'jieba' or 'char'; tgt_detok 'english' or 'concat'")

    @property
    def d_k(self) -> int:
        return self.d_model // self.heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TransformerConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def positional_encoding(positions: int, d: int) -> torch.Tensor:
    """PE (positions, d): PE(j, 2i) = sin(j / 10000^(2i/d)), PE(j, 2i+1) = cos(j / 10000^(2i/d))."""
    j = torch.arange(positions, dtype=torch.float32).unsqueeze(1)                 # (P, 1)
    inverse_wavelength = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    angles = j * inverse_wavelength                                               # (P, d/2)  j / 10000^(2i/d)
    pe = torch.zeros(positions, d)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


def causal_mask(T: int, device: torch.device | None = None) -> torch.Tensor:
    """(T, T) True on and below the diagonal: position t may attend to positions 0 … t, never later ones."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


class Embedding(nn.Module):
    """x_j = √d · E[w_j] + PE(j), then dropout; ``start`` is the first position (a decoding step's t)."""

    def __init__(self, vocab_size: int, config: TransformerConfig):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, config.d_model, padding_idx=0)
        nn.init.normal_(self.tokens.weight, std=config.d_model ** -0.5)   # √d · E[w] then has unit scale
        with torch.no_grad():
            self.tokens.weight[0].zero_()
        self.register_buffer("pe", positional_encoding(config.max_positions, config.d_model), persistent=False)
        self.scale = math.sqrt(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def parts(self, ids: torch.Tensor, start: int = 0, rows: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(√d · E[w] (B, T, d), PE (T, d)) for ids (B, T) at positions start … start + T − 1; ``rows`` (B, T, d)
        stand in for the table's rows E[w] (Integrated Gradients walks them from a baseline)."""
        T = ids.size(1)
        if start + T > self.pe.size(0):
            raise ValueError(f"position {start + T} is beyond the model's {self.pe.size(0)} positional encodings")
        return (self.tokens(ids) if rows is None else rows) * self.scale, self.pe[start:start + T]

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        embedded, pe = self.parts(ids, start)
        return self.dropout(embedded + pe)                                        # (B, T, d)


class FeedForward(nn.Module):
    """FFN(x) = W₂ ReLU(W₁ x + b₁) + b₂, the same two-layer network at every position."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.W_1 = nn.Linear(config.d_model, config.ff_size)
        self.W_2 = nn.Linear(config.ff_size, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(self.dropout(torch.relu(self.W_1(x))))                    # (B, T, d)


class EncoderLayer(nn.Module):
    """x = x + SelfAttention(LN(x)); x = x + FFN(LN(x))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm_1, self.norm_2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.self_attention = MultiHeadAttention(config.d_model, config.heads, config.dropout)
        self.ffn = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, S, d), mask (B, 1, 1, S) → x (B, S, d) and the self-attention weights (B, h, S, S)."""
        h = self.norm_1(x)
        keys, values = self.self_attention.project_keys(h)                       # (B, h, S, d_k)
        attended, weights = self.self_attention(h, keys, values, mask)
        x = x + self.dropout(attended)
        return x + self.dropout(self.ffn(self.norm_2(x))), weights


class DecoderLayer(nn.Module):
    """y = y + MaskedSelfAttention(LN(y)); y = y + CrossAttention(LN(y), memory); y = y + FFN(LN(y))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d = config.d_model
        self.norm_1, self.norm_2, self.norm_3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attention = MultiHeadAttention(d, config.heads, config.dropout)
        self.cross_attention = MultiHeadAttention(d, config.heads, config.dropout)
        self.ffn = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, y: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None, self_mask: torch.Tensor | None,
                memory: tuple[torch.Tensor, torch.Tensor], memory_mask: torch.Tensor) -> LayerResult:
        """T new positions y (B, T, d) after the cached ``past`` keys/values (B, h, t, d_k), if any.

        Training passes all T positions with no past and the causal mask; a decoding step passes one
        position, the cache, and no mask (it may see every position so far, and no later one exists).
        """
        h = self.norm_1(y)
        keys, values = self.self_attention.project_keys(h)                       # (B, h, T, d_k) the new positions
        if past is not None:
            keys, values = torch.cat([past[0], keys], dim=2), torch.cat([past[1], values], dim=2)  # (B, h, t+T, d_k)
        attended, self_weights = self.self_attention(h, keys, values, self_mask)  # (B, h, T, t+T)
        y = y + self.dropout(attended)
        queries = self.norm_2(y)                                                 # (B, T, d) the cross-attention's X
        attended, cross_weights = self.cross_attention(queries, *memory, memory_mask)   # (B, h, T, S)
        y = y + self.dropout(attended)
        y = y + self.dropout(self.ffn(self.norm_3(y)))
        return LayerResult(y, keys, values, self_weights, cross_weights, queries)


@dataclass
class LayerResult:
    output: torch.Tensor          # (B, T, d)
    keys: torch.Tensor            # (B, h, t+T, d_k) self-attention keys of every position so far (the new cache)
    values: torch.Tensor          # (B, h, t+T, d_k)
    self_weights: torch.Tensor    # (B, h, T, t+T)
    cross_weights: torch.Tensor   # (B, h, T, S)
    cross_queries: torch.Tensor   # (B, T, d)  LN(y), the input the cross-attention's Q is computed from


@dataclass
class TransformerEncoderOutput:
    """What the encoder hands the decoder (and what the app shows of the pipeline)."""

    embedded: torch.Tensor        # (B, S, d)  √d · E[w_j], before the positional encoding
    positional: torch.Tensor      # (S, d)     PE(j)
    states: torch.Tensor          # (B, S, d)  the memory: the last layer's output, normalised
    mask: torch.Tensor            # (B, S)     True on real tokens
    self_attention: torch.Tensor  # (B, L, h, S, S) every encoder layer's self-attention

    @property
    def summary(self) -> None:
        """The RNN's start vector z; a Transformer has none (its decoder attends to every state)."""
        return None


@dataclass
class TransformerMemory:
    """Cross-attention keys and values of every decoder layer, projected once per sentence."""

    keys: torch.Tensor            # (B, L, h, S, d_k)
    values: torch.Tensor          # (B, L, h, S, d_k)
    mask: torch.Tensor            # (B, S)

    def index_select(self, index: torch.Tensor) -> TransformerMemory:
        return TransformerMemory(self.keys.index_select(0, index), self.values.index_select(0, index),
                                 self.mask.index_select(0, index))


@dataclass
class KVCache:
    """The decoder's state between steps: the self-attention keys and values of the t positions written."""

    keys: torch.Tensor            # (B, L, h, t, d_k)
    values: torch.Tensor          # (B, L, h, t, d_k)

    @property
    def length(self) -> int:
        return self.keys.size(3)

    def index_select(self, index: torch.Tensor) -> KVCache:
        return KVCache(self.keys.index_select(0, index), self.values.index_select(0, index))


class TransformerEncoder(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.embedding = Embedding(config.src_vocab_size, config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.enc_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor | None = None,
                rows: torch.Tensor | None = None) -> TransformerEncoderOutput:
        """``rows`` (B, S, d): the source's embedding-table rows E[w] to use instead of looking them up."""
        mask = src != 0                                                          # (B, S)
        embedded, positional = self.embedding.parts(src, rows=rows)              # (B, S, d), (S, d)
        x = self.embedding.dropout(embedded + positional)                        # (B, S, d)
        weights = []
        for layer in self.layers:
            x, w = layer(x, mask[:, None, None, :])                              # padding is never attended to
            weights.append(w)
        return TransformerEncoderOutput(embedded, positional, self.norm(x), mask, torch.stack(weights, dim=1))


class TransformerDecoder(nn.Module):
    has_attention = True           # search: every step returns cross-attention weights

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.embedding = Embedding(config.tgt_vocab_size, config)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.dec_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.generator = nn.Linear(config.d_model, config.tgt_vocab_size)
        if config.tie_output:           # logits = top Eᵀ + b: a word's output row is its input row (one table)
            self.generator.weight = self.embedding.tokens.weight

    def prepare(self, encoded: TransformerEncoderOutput) -> TransformerMemory:
        """K = memory W_K and V = memory W_V of every layer's cross-attention, once per sentence."""
        projected = [layer.cross_attention.project_keys(encoded.states) for layer in self.layers]
        return TransformerMemory(torch.stack([k for k, _ in projected], dim=1),      # (B, L, h, S, d_k)
                                 torch.stack([v for _, v in projected], dim=1), encoded.mask)

    def init_state(self, encoded: TransformerEncoderOutput) -> KVCache:
        """An empty cache: nothing written yet."""
        c = self.config
        empty = encoded.states.new_zeros(encoded.states.size(0), c.dec_layers, c.heads, 0, c.d_k)
        return KVCache(empty, empty)

    def run(self, tgt: torch.Tensor, cache: KVCache | None, memory: TransformerMemory, *, start: int = 0
            ) -> tuple[torch.Tensor, list[LayerResult]]:
        """The decoder stack over positions start … start + T − 1 of ``tgt`` (B, T): the normalised output
        (B, T, d) and each layer's result. Without a cache the causal mask hides each position's future."""
        y = self.embedding(tgt, start)                                           # (B, T, d)
        self_mask = None if cache is not None else causal_mask(tgt.size(1), tgt.device)
        memory_mask = memory.mask[:, None, None, :]                              # (B, 1, 1, S)
        results = []
        for i, layer in enumerate(self.layers):
            past = None if cache is None else (cache.keys[:, i], cache.values[:, i])
            result = layer(y, past, self_mask, (memory.keys[:, i], memory.values[:, i]), memory_mask)
            y = result.output
            results.append(result)
        return self.norm(y), results

    def step(self, prev_tokens: torch.Tensor, state: KVCache, memory: TransformerMemory) -> StepOutput:
        """One decoding step for a batch: y_{t−1} (B,) at position t = cache length → logits for y_t."""
        output, results = self.run(prev_tokens.unsqueeze(1), state, memory, start=state.length)
        cache = KVCache(torch.stack([r.keys for r in results], dim=1),               # (B, L, h, t+1, d_k)
                        torch.stack([r.values for r in results], dim=1))
        cross = torch.stack([r.cross_weights[:, :, 0] for r in results], dim=1)      # (B, L, h, S)
        top = output[:, 0]                                                            # (B, d)
        return StepOutput(step_logits(self.generator, top), cache, cross, top)      # (B, V) = top W_outᵀ + b


class Transformer(nn.Module):
    """Encoder + decoder with the same contract as :class:`~.model.Seq2Seq` (``encode``,
    ``decoder.prepare / init_state / step``, teacher-forced ``forward``)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.encoder = TransformerEncoder(config)
        self.decoder = TransformerDecoder(config)
        for name, p in self.named_parameters():                 # Glorot for the projections, as in the paper's code
            if p.dim() == 2 and "embedding" not in name:
                nn.init.xavier_uniform_(p)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, src: torch.Tensor, lengths: torch.Tensor | None = None,
               rows: torch.Tensor | None = None) -> TransformerEncoderOutput:
        return self.encoder(src, lengths, rows)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, *,
                teacher_forcing: float = 1.0, rng: random.Random | None = None,
                positions: torch.Tensor | None = None, src_rows: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) — or (N, V) at ``positions`` (B, T) — and the summary cross-attention (B, T, S),
        all T positions of ``tgt_in`` = <s> y_1 … y_{T−1} in one pass (teacher forcing). ``src_rows`` (B, S, d):
        the source's embedding rows E[w], given instead of looked up (:func:`~.explain.attribute`)."""
        if teacher_forcing < 1.0:
            raise ValueError("the Transformer trains with teacher forcing only (teacher_forcing = 1)")
        encoded = self.encode(src, src_lengths, src_rows)
        output, results = self.decoder.run(tgt_in, None, self.decoder.prepare(encoded))   # (B, T, d)
        summary = results[-1].cross_weights.mean(dim=1)                          # (B, T, S) last layer, mean of heads
        if positions is not None:
            output = output[positions]                                           # (N, d)
        return self.decoder.generator(output), summary

    def attention_maps(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                       rows: torch.Tensor | None = None) -> AttentionMaps:
        """Every layer's and head's attention for the outputs ``tgt_in`` predicts (teacher forcing). ``rows`` (N,):
        the source each of the N outputs translates (default: the i-th source the i-th output), so that a source is
        read once for all its candidates; ``encoder`` is then one map per source."""
        encoded = self.encode(src, src_lengths)
        memory = self.decoder.prepare(encoded)
        _, results = self.decoder.run(tgt_in, None, memory if rows is None else memory.index_select(rows))
        cross = torch.stack([r.cross_weights for r in results], dim=1)           # (B, L, h, T, S)
        return AttentionMaps(cross.permute(0, 3, 1, 2, 4), encoded.self_attention,
                             torch.stack([r.self_weights for r in results], dim=1))

    def trace_cross_attention(self, src: torch.Tensor, tgt_in: torch.Tensor, layer: int, head: int) -> dict:
        """For one sentence (batch of 1): Q, K, V of one cross-attention head and its scores before and
        after the softmax, for every output position — the numbers the pipeline tab shows."""
        encoded = self.encode(src)
        memory = self.decoder.prepare(encoded)
        _, results = self.decoder.run(tgt_in, None, memory)
        attention = self.decoder.layers[layer].cross_attention
        q, scores = attention.scores(results[layer].cross_queries, memory.keys[:, layer],
                                     memory.mask[:, None, None, :])               # (1, h, T, d_k), (1, h, T, S)
        return {"q": q[0, head], "k": memory.keys[0, layer, head], "v": memory.values[0, layer, head],
                "scores": scores[0, head], "weights": torch.softmax(scores[0, head], dim=-1),
                "embedded": encoded.embedded[0], "positional": encoded.positional}
