"""The sequence-to-sequence model: an RNN encoder and an attention decoder.

Reading a sentence (the encoder)::

    x_1 … x_S            source token ids                           (B, S)
    e_j = E[x_j]          embeddings                                 (B, S, emb)
    h_j = RNN(e_j, h_j−1) encoder states, both directions if bidirectional
    k_j = W_m h_j         the "memory" the decoder attends over      (B, S, H)
          (or tanh(W_m h_j) with memory="tanh": every component in (−1, 1), as an RNN's state is)
    z   = tanh(W_z [→h_S; ←h_1])   a summary of the whole sentence   (B, H)

Writing the translation, one token per step (the decoder, :meth:`Decoder.step`)::

    q_t = s_{t−1}                           the query is the previous decoder state
          (or [s_{t−1}; E'[y_{t−1}]] with query="state+token": it also knows the word just written)
    c_t, α_t = attention(q_t, k_1…k_S)      context vector and attention weights
    s_t = RNN([E'[y_{t−1}]; c_t], s_{t−1})  new decoder state   (s_0 = z)
    p(y_t | y_<t, x) = softmax(W_o tanh(W_p [s_t; c_t; E'[y_{t−1}]]))

With ``lexical=True`` (Nguyen & Chiang 2018, "Improving Lexical Choice in NMT") the
attention also averages the source *embeddings*, and that goes straight to the output,
so a word can be translated by "looking it up" without passing through the RNNs::

    f_t = tanh(Σ_j α_tj e_j)                  lexical context           (B, emb)
    h_t = tanh(W_f f_t) + f_t
    p(y_t | …) = softmax(W_o tanh(W_p […]) + W_ℓ h_t)

This helps small corpora most, where many words are seen only a few times.

With ``attend_eos=False`` the source's closing ``</s>`` is masked out of the attention
(α over x_1 … x_S only). Otherwise a model can park the weight of an output that no single
word produces on ``</s>`` — the trailing zeros of 三千 → 3000 land there instead of on 千.

With ``memory="tanh"`` the memory is bounded as Luong et al. (2015) had it (their keys were the
encoder LSTM's outputs, o ⊙ tanh(c)), so |qᵀk_j| ≤ H for a GRU query in (−1, 1). Measured on ``dot``
(bench/attention_collapse.py): the weight leaves the sentence's end, but the softmax still saturates —
H = 256 allows hundreds of nats. What keeps unscaled scores in the softmax's working range is dividing
them by √H (``scaled_scores``, :mod:`.attention`), which the shipped ``dot`` and ``general`` do.

Without attention (``attention="none"``) the context is the fixed summary,
c_t = z at every step: the whole sentence must squeeze through one vector.

Training (teacher forcing, :meth:`Seq2Seq.forward`) and decoding (:mod:`.search`)
both call the same :meth:`Decoder.step`, so what is trained is what is decoded.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import int8_linear
from .attention import ATTENTION_TYPES, build_attention

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
QUERIES = ("state", "state+token")
MEMORIES = ("linear", "tanh")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored in every checkpoint."""

    family = "rnn"               # (a class constant, not stored: a file without "family" holds an RNN)
    src_vocab_size: int
    tgt_vocab_size: int
    emb_size: int = 128          # size of one token's embedding vector
    hidden_size: int = 256       # size of encoder memory and decoder state (H)
    cell: str = "gru"            # recurrent cell: "gru" or "lstm"
    enc_layers: int = 1          # stacked encoder RNN layers (1–2)
    dec_layers: int = 1          # stacked decoder RNN layers (1–2)
    bidirectional: bool = True   # read the source both ways
    attention: str = "additive"  # one of attention.ATTENTION_TYPES
    dropout: float = 0.2         # on embeddings, between layers and before the output layer
    src_segmenter: str = "jieba" # how Chinese is cut: "jieba" words or single "char"s
    tgt_detok: str = "english"   # how output tokens are joined: "english" or "concat" (digits)
    lexical: bool = False        # add a lexical shortcut from attended source embeddings to the output
    attend_eos: bool = True      # attention may rest on the source's </s>; False: only on the sentence's own tokens
    query: str = "state"         # the attention query: "state" s_{t−1}; "state+token" [s_{t−1}; E'[y_{t−1}]]
    memory: str = "linear"       # the memory k_j: "linear" W_m h_j; "tanh" tanh(W_m h_j), bounded
    scaled_scores: bool = False  # dot and general: e_j = qᵀk_j/√H instead of qᵀk_j (attention.py)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if self.attention not in ATTENTION_TYPES:
            raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {self.attention!r}")
        if not (1 <= self.enc_layers <= 4 and 1 <= self.dec_layers <= 4):
            raise ValueError("encoder and decoder need 1–4 layers")
        if self.src_segmenter not in ("jieba", "char") or self.tgt_detok not in ("english", "concat"):
            raise ValueError("src_segmenter must be 'jieba' or 'char'; tgt_detok 'english' or 'concat'")
        if not (1 <= self.emb_size <= 4096 and 1 <= self.hidden_size <= 4096):
            raise ValueError(f"emb_size and hidden_size must be 1–4096, got {self.emb_size} and {self.hidden_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.query not in QUERIES:
            raise ValueError(f"query must be one of {QUERIES}, got {self.query!r}")
        if self.scaled_scores and self.attention not in ("dot", "general"):
            raise ValueError(f"scaled_scores is for dot and general attention, not {self.attention!r}")
        if self.memory not in MEMORIES:
            raise ValueError(f"memory must be one of {MEMORIES}, got {self.memory!r}")
        if self.query != "state" and self.attention == "dot":
            raise ValueError("dot attention compares the query with the keys directly: it needs query='state'")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class EncoderOutput:
    """What the encoder hands the decoder (and what the app shows of the pipeline)."""

    embedded: torch.Tensor  # (B, S, emb)   the source embeddings
    states: torch.Tensor    # (B, S, H·dirs) top-layer encoder states
    memory: torch.Tensor    # (B, S, H)     what attention looks at
    mask: torch.Tensor      # (B, S)        True on real tokens, False on padding
    summary: torch.Tensor   # (B, H)        z: the sentence summary the decoder starts from
    final: torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # last states of every layer


@dataclass
class Memory:
    """The encoder output in the form one decoder step needs; beams reorder it."""

    keys: torch.Tensor | None    # (B, S, ·) attention keys, projected once per sentence
    values: torch.Tensor | None  # (B, S, H) attention values
    mask: torch.Tensor           # (B, S)
    summary: torch.Tensor        # (B, H)
    embedded: torch.Tensor | None = None  # (B, S, emb) source embeddings, for the lexical shortcut

    def index_select(self, index: torch.Tensor) -> Memory:
        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.index_select(0, index)

        return Memory(pick(self.keys), pick(self.values), pick(self.mask), pick(self.summary), pick(self.embedded))


@dataclass
class DecoderState:
    """The decoder's recurrent state: (layers, B, H), plus the cell for an LSTM."""

    hidden: torch.Tensor
    cell: torch.Tensor | None = None

    @property
    def query(self) -> torch.Tensor:
        return self.hidden[-1]                                         # (B, H) top layer

    def rnn_state(self):
        return self.hidden if self.cell is None else (self.hidden, self.cell)

    def index_select(self, index: torch.Tensor) -> DecoderState:
        cell = None if self.cell is None else self.cell.index_select(1, index)
        return DecoderState(self.hidden.index_select(1, index), cell)


def step_logits(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` = x Wᵀ + b for a decoding step's few rows x (N, d) and a vocabulary-sized W (V, d), computed
    as (W xᵀ)ᵀ + b: the same product (up to rounding), laid out so that MKL's matrix multiply takes its fast path.
    The largest part of a decoding step is this product, and 3–5 rows times a tall matrix's transpose cost MKL 2–3×
    more than this layout (8,171 words, one core): a beam-3 search takes 0.72× the time, beam 5 0.86×, greedy the
    same (``bench/step_logits.py``). Other shapes (training's (B, T, d), many rows) go through the layer, and so
    does a layer decoding from packed int8 rows (:mod:`.int8_linear`: fewer bytes again, in any layout)."""
    if x.dim() != 2 or x.size(0) > STEP_ROWS or int8_linear.is_packed(layer):
        return layer(x)
    return torch.addmm(layer.bias.unsqueeze(1), layer.weight, x.t()).t()         # (V, N) → (N, V)


STEP_ROWS = 10     # up to this many rows the tall-first product is the faster (0.3–0.8× the time for 2–10 rows,
#                    1.1–1.3× for 12–15, cold, 8,171 words: MKL's own path wins there); beam ≤ 10 is ≤ 10 rows


@dataclass
class StepOutput:
    """One decoder step for a batch of hypotheses."""

    logits: torch.Tensor             # (B, V) unnormalised next-token scores
    state: DecoderState              # the new decoder state s_t
    attention: torch.Tensor | None   # (B, layers, heads, S); (B, 1, 1, S) for an RNN decoder
    context: torch.Tensor            # (B, H) c_t

    @property
    def summary_attention(self) -> torch.Tensor | None:
        """The (B, S) row the heatmap shows: the last layer's weights, averaged over its heads.

        For an RNN decoder (one layer, one head) that is its attention exactly; a many-headed model's
        cross-attention is summarised the same way everywhere (training, search, the apps).
        """
        return None if self.attention is None else self.attention[:, -1].mean(1)


@dataclass
class AttentionMaps:
    """Every attention weight of a teacher-forced pass (what the apps draw head by head)."""

    cross: torch.Tensor | None          # (B, T, L, h, S) decoder → encoder; (B, T, 1, 1, S) for an RNN
    encoder: torch.Tensor | None        # (B, L, h, S, S) encoder self-attention; None for an RNN
    decoder: torch.Tensor | None        # (B, L, h, T, T) masked decoder self-attention; None for an RNN


@dataclass
class Recurrence:
    """What one decoder step computes before its output layer."""

    output: torch.Tensor             # (B, H) s_t, the top RNN layer's output
    context: torch.Tensor            # (B, H) c_t
    embedded: torch.Tensor           # (B, emb) E'[y_{t−1}]
    weights: torch.Tensor | None     # (B, S) α_t
    state: DecoderState


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        directions = 2 if c.bidirectional else 1
        self.embedding = nn.Embedding(c.src_vocab_size, c.emb_size, padding_idx=0)
        self.rnn = CELLS[c.cell](c.emb_size, c.hidden_size, num_layers=c.enc_layers, batch_first=True,
                                 bidirectional=c.bidirectional, dropout=c.dropout if c.enc_layers > 1 else 0.0)
        self.to_memory = nn.Linear(directions * c.hidden_size, c.hidden_size)
        self.to_summary = nn.Linear(directions * c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.dropout)
        self.config = c

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, rows: torch.Tensor | None = None) -> EncoderOutput:
        """``rows`` (B, S, emb): the source's embedding rows E[x_j] to use instead of looking them up."""
        B, S = src.shape
        mask = src != 0                                                  # (B, S)
        embedded = self.embedding(src) if rows is None else rows         # (B, S, emb)
        packed = pack_padded_sequence(self.dropout(embedded), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        packed_states, final = self.rnn(packed)
        states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=S)  # (B, S, H·dirs)
        memory = self.to_memory(states)                                  # (B, S, H)  k_j = W_m h_j
        if self.config.memory == "tanh":
            memory = torch.tanh(memory)                                  # (B, S, H)  k_j = tanh(W_m h_j)
        last = final[0] if isinstance(final, tuple) else final           # (layers·dirs, B, H)
        directions = 2 if self.config.bidirectional else 1
        top = last.view(self.config.enc_layers, directions, B, -1)[-1]   # (dirs, B, H) top layer
        summary = torch.tanh(self.to_summary(torch.cat(list(top), dim=-1)))  # (B, H) z
        return EncoderOutput(embedded, states, memory, mask, summary, final)


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        H = c.hidden_size
        self.embedding = nn.Embedding(c.tgt_vocab_size, c.emb_size, padding_idx=0)
        query_size = H + (c.emb_size if c.query == "state+token" else 0)
        self.attention = build_attention(c.attention, query_size=query_size, key_size=H, attention_size=H,
                                         scaled=c.scaled_scores)
        self.rnn = CELLS[c.cell](c.emb_size + H, H, num_layers=c.dec_layers, batch_first=True,
                                 dropout=c.dropout if c.dec_layers > 1 else 0.0)
        self.pre_output = nn.Linear(H + H + c.emb_size, H)
        self.generator = nn.Linear(H, c.tgt_vocab_size)
        self.dropout = nn.Dropout(c.dropout)
        self.config = c
        if c.lexical and self.attention is not None:
            self.lexical_ffn = nn.Linear(c.emb_size, c.emb_size, bias=False)
            self.lexical_out = nn.Linear(c.emb_size, c.tgt_vocab_size)

    @property
    def has_attention(self) -> bool:
        """False for the "none" model: its steps return no attention weights."""
        return self.attention is not None

    def prepare(self, encoded: EncoderOutput) -> Memory:
        """Project the attention keys once per sentence (they do not depend on the step); without
        ``attend_eos`` the mask also hides each sentence's last real token, its </s>."""
        keys, values = (None, None) if self.attention is None else self.attention.prepare(encoded.memory)
        lexical = self.config.lexical and self.attention is not None
        mask = encoded.mask                                                    # (B, S) True on real tokens
        if not self.config.attend_eos:
            eos = mask.sum(dim=1) - 1                                          # (B,) position of each </s>
            mask = mask.clone()
            mask[torch.arange(mask.size(0), device=mask.device), eos] = False
        return Memory(keys, values, mask, encoded.summary, encoded.embedded if lexical else None)

    def init_state(self, encoded: EncoderOutput) -> DecoderState:
        """s_0 = z in every decoder layer (and a zero cell for an LSTM)."""
        hidden = encoded.summary.unsqueeze(0).repeat(self.config.dec_layers, 1, 1).contiguous()  # (L, B, H)
        return DecoderState(hidden, torch.zeros_like(hidden) if self.config.cell == "lstm" else None)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """E'[y] for target token ids of any shape: (…) → (…, emb)."""
        return self.dropout(self.embedding(tokens))

    def advance(self, embedded: torch.Tensor, state: DecoderState, memory: Memory) -> Recurrence:
        """Attention and the RNN for one step: E'[y_{t−1}] (B, emb) and s_{t−1} → c_t, α_t, s_t."""
        if self.attention is None:
            context, weights = memory.summary, None                      # (B, H)    c_t = z
        else:
            query = state.query                                          # (B, H)    q_t = s_{t−1}
            if self.config.query == "state+token":
                query = torch.cat([query, embedded], dim=-1)             # (B, H+emb) [s_{t−1}; E'[y_{t−1}]]
            context, weights = self.attention(query, memory.keys, memory.values, memory.mask)
            #                                                            # (B, H), (B, S)
        rnn_input = torch.cat([embedded, context], dim=-1).unsqueeze(1)  # (B, 1, emb+H)
        output, rnn_state = self.rnn(rnn_input, state.rnn_state())       # (B, 1, H)  s_t
        new_state = (DecoderState(*rnn_state) if isinstance(rnn_state, tuple)
                     else DecoderState(rnn_state))
        return Recurrence(output.squeeze(1), context, embedded, weights, new_state)

    def attended_embeddings(self, weights: torch.Tensor | None, memory: Memory) -> torch.Tensor | None:
        """Σ_j α_tj e_j, the attention-weighted source embeddings (B, T, emb); None without the lexical shortcut."""
        if memory.embedded is None:
            return None
        return torch.bmm(weights, memory.embedded)                       # (B, T, S) · (B, S, emb)

    def output_layer(self, output: torch.Tensor, context: torch.Tensor, embedded: torch.Tensor,
                     attended: torch.Tensor | None) -> torch.Tensor:
        """Next-token logits, position by position: (…, ·) → (…, V) for any leading shape."""
        features = torch.tanh(self.pre_output(torch.cat([output, context, embedded], dim=-1)))  # (…, H)
        logits = step_logits(self.generator, self.dropout(features))    # (…, V)
        if attended is not None:                                         # the lexical shortcut
            f = torch.tanh(attended)                                     # (…, emb) f_t = tanh(Σ_j α_tj e_j)
            h = torch.tanh(self.lexical_ffn(f)) + f                      # (…, emb) h_t
            logits = logits + step_logits(self.lexical_out, self.dropout(h))   # (…, V)   + W_ℓ h_t
        return logits

    def step(self, prev_tokens: torch.Tensor, state: DecoderState, memory: Memory) -> StepOutput:
        """One decoding step for a batch: y_{t−1} (B,) and s_{t−1} → logits for y_t."""
        r = self.advance(self.embed(prev_tokens), state, memory)
        attended = None if r.weights is None else self.attended_embeddings(r.weights.unsqueeze(1), memory)
        logits = self.output_layer(r.output, r.context, r.embedded,
                                   None if attended is None else attended.squeeze(1))  # (B, V)
        attention = None if r.weights is None else r.weights[:, None, None, :]  # (B, 1, 1, S)
        return StepOutput(logits, r.state, attention, r.context)


class Seq2Seq(nn.Module):
    """Encoder + decoder. ``forward`` is the teacher-forced pass used in training."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, src: torch.Tensor, lengths: torch.Tensor, rows: torch.Tensor | None = None) -> EncoderOutput:
        return self.encoder(src, lengths, rows)

    def attention_maps(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor):
        """The attention of a teacher-forced pass as :class:`AttentionMaps`: one layer, one head
        of cross-attention (B, T, 1, 1, S); an RNN has no self-attention."""
        _, attention = self.forward(src, src_lengths, tgt_in)                    # (B, T, S) or None
        return AttentionMaps(None if attention is None else attention[:, :, None, None, :], None, None)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, *,
                teacher_forcing: float = 1.0, rng: random.Random | None = None,
                positions: torch.Tensor | None = None, src_rows: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V) and attention (B, T, S) for decoder inputs ``tgt_in`` = <s> y_1 … y_{T−1}.

        ``positions`` (B, T), a boolean mask, asks for the logits of those positions only:
        (N, V) in row-major order, N = positions.sum(). Training passes the real (non-padding)
        target positions, so the output layer — the largest matrix product — skips the padding.

        With probability ``1 − teacher_forcing`` a step is fed the model's own previous
        prediction instead of the reference token (scheduled-sampling style).

        ``src_rows`` (B, S, emb) are the source's embedding rows, given instead of looked up: Integrated
        Gradients (:func:`~.explain.attribute`) walks them from a baseline.
        """
        encoded = self.encode(src, src_lengths, src_rows)
        memory = self.decoder.prepare(encoded)
        state = self.decoder.init_state(encoded)
        rng = rng or random
        if teacher_forcing >= 1.0:
            # Every input token is known in advance: embed them all at once (one embedding
            # gradient per batch, not one per step), run the recurrence step by step, then the
            # output layer once over all steps (the same arithmetic as step(), in one batch).
            embedded = self.decoder.embed(tgt_in)                        # (B, T, emb)
            steps = []
            for t in range(tgt_in.size(1)):
                r = self.decoder.advance(embedded[:, t], state, memory)
                state = r.state
                steps.append(r)
            def stack(name: str) -> torch.Tensor:
                return torch.stack([getattr(r, name) for r in steps], dim=1)               # (B, T, ·)

            attention = None if steps[0].weights is None else stack("weights")            # (B, T, S)
            features = [stack("output"), stack("context"), embedded,
                        None if attention is None else self.decoder.attended_embeddings(attention, memory)]
            if positions is not None:
                features = [None if x is None else x[positions] for x in features]     # (N, ·)
            return self.decoder.output_layer(*features), attention                     # (B, T, V) or (N, V)
        prev = tgt_in[:, 0]                                              # (B,) <s>
        all_logits, all_attention = [], []
        for t in range(tgt_in.size(1)):
            out = self.decoder.step(prev, state, memory)
            state = out.state
            all_logits.append(out.logits)
            if out.attention is not None:
                all_attention.append(out.summary_attention)              # (B, S)
            if t + 1 < tgt_in.size(1):
                use_reference = rng.random() < teacher_forcing
                prev = tgt_in[:, t + 1] if use_reference else out.logits.argmax(-1)
        logits = torch.stack(all_logits, dim=1)                          # (B, T, V)
        attention = torch.stack(all_attention, dim=1) if all_attention else None  # (B, T, S)
        return (logits if positions is None else logits[positions]), attention
