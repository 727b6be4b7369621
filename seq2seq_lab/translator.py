"""The public API: load a model file, translate, watch the decoding step by step.

>>> tr = Translator.load("models/everyday_additive.safetensors")       # doctest: +SKIP
>>> r = tr.translate("我爱学习", beam_size=5, n_best=5)                # doctest: +SKIP
>>> r.src_tokens, r.best.tokens, r.best.text                          # doctest: +SKIP
(['我', '爱', '学习', '</s>'], ['i', 'love', 'studying', '.', '</s>'], 'I love studying.')

Everything a front end needs comes from here; the front ends never touch torch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from . import int8_linear
from .data import pad
from .errors import InputError
from .names import Name, find_names, to_stand_ins, write_back
from .options import LIMITS, check_options
from .search import SearchOptions, Step, beam_search, greedy_search, run
from .text import SourceToken, detokenize_target, has_chinese, map_to_vocab, normalize_zh, segment_zh, tokenize_target
from .vocab import EOS, SPECIALS, Vocab

MAX_CHARS = 200  # the models were trained on sentences of at most ~40 characters
MAX_PASTE = 20_000  # characters read at all (normalising a pasted book first would be wasted work)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → the first CUDA GPU when there is one, else the CPU; ``"cuda"`` → the current GPU by its index
    (``cuda:0``), so that what a translation reports names the GPU it ran on."""
    if str(device) == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError("bad_device", f"{device!r} is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError("bad_device", f"{device} is not a device this lab runs on: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("no_cuda", "CUDA was asked for, but this machine has no usable GPU")
        index = torch.cuda.current_device() if device.index is None else device.index   # "cuda" names one GPU
        if index >= torch.cuda.device_count():
            raise InputError("bad_device", f"{device} is not on this machine: it has {torch.cuda.device_count()} "
                                           f"GPU(s), cuda:0 … cuda:{torch.cuda.device_count() - 1}")
        device = torch.device("cuda", index)
    return device


def device_name(device: torch.device) -> str:
    """"cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)"."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def detokenize(tokens: Sequence[str], style: str, names: Sequence[Name] = ()) -> str:
    """Output tokens as text, "</s>" dropped and each stand-in name written back as its name (:mod:`.names`)."""
    tokens = [t for t in tokens if t != EOS]
    return detokenize_target(write_back(tokens, names) if names else tokens, style)


@dataclass
class SourceAnalysis:
    """The input as the model sees it: normalised text → words → tokens → ids."""

    text: str                      # NFKC-normalised input
    words: list[str]               # jieba words (or characters for a char-level model)
    tokens: list[SourceToken]      # after the vocabulary's character fallback, + </s>
    ids: list[int]
    names: list[Name] = field(default_factory=list)   # people's names read through a stand-in (王芳 → 汤姆)

    @property
    def src_tokens(self) -> list[str]:
        return [t.model_token for t in self.tokens]

    @property
    def unknown(self) -> list[str]:
        """Words (or characters) the model sees as <unk>."""
        return [t.text for t in self.tokens if t.kind == "unk"]

    @property
    def split_words(self) -> list[str]:
        """Words the vocabulary lacks, fed to the model as known sub-words and characters."""
        return list(dict.fromkeys(t.word for t in self.tokens if t.kind in ("sub", "char")))


@dataclass
class Candidate:
    """One output hypothesis."""

    tokens: list[str]              # output tokens, ending with "</s>" if the model ended the sentence
    text: str                      # detokenised, stand-in names written back (汤姆's "Tom" → "Wang Fang")
    score: float                   # Σ log p(token), raw
    normalized_score: float        # the ranking score once length/coverage penalties apply
    attention: np.ndarray | None   # (len(tokens), len(src_tokens)); rows sum to 1; None without attention.
    #                                The heatmap's summary: the last layer's cross-attention, mean of its heads
    token_log_probs: list[float]
    finished: bool                 # False if max_len cut it off
    attention_heads: np.ndarray | None = None   # (len(tokens), layers, heads, len(src_tokens)) every layer and
    #                                head of cross-attention, rows summing to 1; (T, 1, 1, S) for an RNN
    self_attention: np.ndarray | None = None    # (layers, heads, len(tokens), len(tokens)) the decoder's masked
    #                                self-attention (a Transformer's; None for an RNN): zero above the diagonal

    @property
    def length(self) -> int:
        return len(self.tokens)


@dataclass
class Translation:
    source: SourceAnalysis
    candidates: list[Candidate]    # the n-best list, best first
    device: str
    options: SearchOptions
    elapsed_ms: float
    steps: int = 0
    encoder_attention: np.ndarray | None = None  # (layers, heads, S, S) the encoder's self-attention (Transformer)

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    @property
    def src_tokens(self) -> list[str]:
        return self.source.src_tokens

    @property
    def strategy(self) -> str:
        return "greedy" if self.options.beam_size == 1 else f"beam {self.options.beam_size}"


@dataclass
class Encoding:
    """The pipeline's intermediate values for one sentence (what the app draws)."""

    source: SourceAnalysis
    embeddings: np.ndarray         # (S, emb)  one embedding vector per source token (a Transformer's: √d · E[w])
    states: np.ndarray             # (S, H·dirs) encoder states (a Transformer's: the last layer's output)
    summary: np.ndarray | None     # (H,)      the vector an RNN decoder starts from; None for a Transformer
    positional: np.ndarray | None = None       # (S, d) a Transformer's positional encodings PE(j)
    self_attention: np.ndarray | None = None   # (layers, heads, S, S) a Transformer encoder's self-attention


class Translator:
    """A loaded model plus everything needed to turn text into a translation."""

    def __init__(self, checkpoint: ckpt.Checkpoint, *, device: str | torch.device = "auto",
                 name: str = "model", names: bool = True):
        """``names``: read people's names the vocabulary lacks through a stand-in and write them back in
        pinyin (:mod:`.names`); False measures the model alone (training's validation does)."""
        self.device = resolve_device(device)
        self.names = names
        self.model = checkpoint.model.to(self.device).eval()
        self.src_vocab: Vocab = checkpoint.src_vocab
        self.tgt_vocab: Vocab = checkpoint.tgt_vocab
        self.record = checkpoint.record
        self.name = name

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "auto", names: bool = True) -> Translator:
        """A model from its file. On the CPU its int8-stored weights decode from packed 16-bit integers
        (:mod:`.int8_linear`: the same numbers, in half to two thirds of the time); training it unpacks them."""
        translator = cls(ckpt.load(path), device=device, name=Path(path).stem, names=names)
        if translator.device.type == "cpu":
            int8_linear.pack(translator.model)
        return translator

    @property
    def config(self):
        return self.model.config

    @property
    def attention_type(self) -> str:
        return self.config.attention

    @property
    def family(self) -> str:
        """"rnn" or "transformer"."""
        return self.config.family

    @property
    def device_label(self) -> str:
        return device_name(self.device)

    # --- input -----------------------------------------------------------------------

    def analyze(self, text: str | None) -> SourceAnalysis:
        """Validate, normalise and segment; raises :class:`InputError` with a readable message."""
        if text is None or not isinstance(text, str):
            raise InputError("empty", "Please type a Chinese sentence to translate.")
        if len(text) > MAX_PASTE:
            raise InputError("too_long", f"The text has {len(text)} characters; the limit is {MAX_CHARS}. "
                             "Translate one sentence at a time.", length=len(text), limit=MAX_CHARS)
        normalized = normalize_zh(text)
        if not normalized:
            raise InputError("empty", "Please type a Chinese sentence to translate.")
        if len(normalized) > MAX_CHARS:
            raise InputError("too_long", f"The text has {len(normalized)} characters; the limit is {MAX_CHARS}. "
                             "Translate one sentence at a time.", length=len(normalized), limit=MAX_CHARS)
        if not has_chinese(normalized):
            raise InputError("no_chinese", "The text has no Chinese characters; this model translates Chinese.")
        words = segment_zh(normalized, mode=self.config.src_segmenter)
        reads_names = self.names and self.config.src_segmenter == "jieba" and self.config.tgt_detok == "english"
        names = find_names(words, self.src_vocab, self.tgt_vocab) if reads_names else {}
        tokens = map_to_vocab(words, self.src_vocab, names) + [SourceToken(EOS, "word", EOS)]
        return SourceAnalysis(normalized, words, tokens, self.src_vocab.encode(t.model_token for t in tokens),
                              list(names.values()))

    def _target_ids(self, tokens: Sequence[str] | str) -> list[int]:
        if isinstance(tokens, str):
            tokens = tokenize_target(tokens, self.config.tgt_detok)
        special = [t for t in tokens if t in SPECIALS]
        if special:
            raise InputError("special_token", f"{special[0]} is a special token and cannot be forced into the output")
        unknown = [t for t in tokens if t not in self.tgt_vocab]
        if unknown:
            raise InputError("unknown_output_word", f"The model does not know the output word(s): "
                             f"{', '.join(unknown[:5])}", words=unknown)
        return self.tgt_vocab.encode(tokens)

    def _options(self, *, record: bool = True, **options) -> SearchOptions:
        """The request's options checked against :data:`~.options.LIMITS`, the prefix as token ids."""
        checked = check_options(**options)
        prefix_ids = self._target_ids(checked["prefix"]) if checked["prefix"] else []
        if checked["max_len"] is not None and len(prefix_ids) >= checked["max_len"]:
            raise InputError("bad_option", "the forced prefix is as long as max_len", option="prefix",
                             low="0", high=str(checked["max_len"] - 1))
        return SearchOptions(beam_size=checked["beam_size"], max_len=checked["max_len"],
                             length_penalty=checked["length_penalty"], coverage_penalty=checked["coverage_penalty"],
                             no_repeat_ngram_size=checked["no_repeat_ngram_size"], n_best=checked["n_best"],
                             prefix=prefix_ids, record=record)

    def _batch(self, analyses: list[SourceAnalysis]):
        src = pad([a.ids for a in analyses]).to(self.device)                          # (B, S)
        lengths = torch.tensor([len(a.ids) for a in analyses])                        # (B,)
        return src, lengths

    # --- decoding ----------------------------------------------------------------------

    @torch.inference_mode()
    def _search(self, analyses: list[SourceAnalysis], options: SearchOptions):
        src, lengths = self._batch(analyses)
        encoded = self.model.encode(src, lengths)
        memory = self.model.decoder.prepare(encoded)
        state = self.model.decoder.init_state(encoded)
        strategy = greedy_search if options.beam_size == 1 else beam_search
        return (yield from strategy(self.model, memory, state, lengths, self.tgt_vocab, options))

    def _candidate(self, hyp, source: SourceAnalysis) -> Candidate:
        tokens, n_src = self.tgt_vocab.decode(hyp.ids), len(source.ids)
        attention = None if hyp.attention is None else hyp.attention[:, :n_src].astype(np.float32)
        heads = None if attention is None or self.family != "rnn" else attention[:, None, None, :]   # (T, 1, 1, S)
        return Candidate(tokens, detokenize(tokens, self.config.tgt_detok, source.names), hyp.score,
                         hyp.normalized_score, attention, list(hyp.token_log_probs), hyp.finished, heads)

    @torch.inference_mode()
    def _add_attention_maps(self, translations: Sequence[Translation], rows: int = 256) -> list[Translation]:
        """Every head of every layer for Transformers' n-best lists: teacher-forced passes over the candidates of
        all the translations together, ``rows`` candidates at a time, each source read once (causal masking makes
        each equal to what the decoding steps computed; padding gets weight 0). One pass per sentence instead cost a
        batch of 32 as much again as its search."""
        if self.family == "rnn":
            return list(translations)
        jobs = [(translation, candidate) for translation in translations for candidate in translation.candidates]
        for start in range(0, len(jobs), rows):
            part = jobs[start:start + rows]
            sources = list({id(translation): translation for translation, _ in part}.values())   # each read once
            row_of = {id(translation): j for j, translation in enumerate(sources)}
            ids = [self.tgt_vocab.encode(candidate.tokens) for _, candidate in part]
            src, lengths = self._batch([translation.source for translation in sources])
            tgt_in = pad([[self.tgt_vocab.bos_id] + x[:-1] for x in ids]).to(self.device)    # (n, T)
            which = torch.tensor([row_of[id(translation)] for translation, _ in part], device=self.device)
            maps = self.model.attention_maps(src, lengths, tgt_in, rows=which)
            cross, decoder = maps.cross.float().cpu().numpy(), maps.decoder.float().cpu().numpy()
            encoder = maps.encoder.float().cpu().numpy()
            for i, ((translation, candidate), x) in enumerate(zip(part, ids)):
                j = row_of[id(translation)]
                T, S = len(x), int(lengths[j])
                candidate.attention_heads = cross[i, :T, :, :, :S]                       # (T, L, h, S)
                candidate.self_attention = decoder[i, :, :, :T, :T]                      # (L, h, T, T)
            for j, translation in enumerate(sources):
                S = int(lengths[j])
                translation.encoder_attention = encoder[j, :, :, :S, :S]                 # (L, h, S, S)
        return list(translations)

    def steps(self, text: str, *, attention_maps: bool = True, **options) -> Iterator[Step]:
        """Decode live: one :class:`~.search.Step` per decoding step; the last carries ``.final``, with every
        layer's and head's attention unless ``attention_maps`` is False (then :meth:`with_attention_maps` adds
        them when a view needs them: a Transformer's pass costs a fifth of its search)."""
        analysis = self.analyze(text)
        search_options = self._options(**options, record=True)
        search = self._search([analysis], search_options)
        last, count, decoding_seconds = None, 0, 0.0          # time spent decoding, not waiting on the caller
        while True:
            started = time.perf_counter()
            try:
                steps = next(search)
            except StopIteration as done:
                results = done.value
                decoding_seconds += time.perf_counter() - started
                break
            decoding_seconds += time.perf_counter() - started
            if last is not None:
                yield last
            last, count = steps[0], count + 1
        translation = Translation(analysis, [self._candidate(h, analysis) for h in results[0]],
                                  self.device_label, search_options, decoding_seconds * 1000, count)
        last.final = self._add_attention_maps([translation])[0] if attention_maps else translation
        yield last

    def with_attention_maps(self, translation: Translation) -> Translation:
        """A copy of ``translation`` (from this model) with every layer's and head's attention, as from
        :meth:`translate`; ``translation`` itself is not changed (it may be shared)."""
        copy = replace(translation, candidates=[replace(candidate) for candidate in translation.candidates])
        return self._add_attention_maps([copy])[0]

    def translate(self, text: str, **options) -> Translation:
        """Translate one sentence (options as in :class:`~.search.SearchOptions`, ``prefix`` as words), with
        every layer's and head's attention."""
        return self.translate_batch([text], attention_maps=True, **options)[0]

    def translate_batch(self, texts: Sequence[str], *, batch_size: int = 64, attention_maps: bool = False,
                        **options) -> list[Translation]:
        """Translate many sentences, ``batch_size`` at a time (no per-step records: fast). A Transformer's
        candidates have ``attention_heads`` / ``self_attention`` only with ``attention_maps`` (as from
        :meth:`translate`: one more pass per sentence)."""
        search_options = self._options(**options, record=False)
        analyses = [self.analyze(t) for t in texts]
        out: list[Translation] = []
        for start in range(0, len(analyses), batch_size):
            chunk = analyses[start:start + batch_size]
            started = time.perf_counter()
            results = run(self._search(chunk, search_options))
            elapsed = (time.perf_counter() - started) * 1000 / len(chunk)
            for analysis, hyps in zip(chunk, results):
                out.append(Translation(analysis, [self._candidate(h, analysis) for h in hyps],
                                       self.device_label, search_options, elapsed, len(hyps[0].ids)))
        return self._add_attention_maps(out) if attention_maps else out

    def score(self, text: str, tokens: Sequence[str] | str) -> float:
        """Teacher-forced Σ log p of ``tokens`` followed by "</s>" (the same number decoding reports)."""
        ids, log_probs = self.forced_log_probs(text, tokens)
        return float(log_probs[np.arange(len(ids)), ids].sum())

    def target_tokens(self, tokens: Sequence[str] | str, *, unknown_ok: bool = False) -> list[str]:
        """Output tokens (a string is tokenised the model's way) without "</s>", checked against the limits;
        ``unknown_ok``: words the model lacks stay (they are scored as <unk>) instead of raising."""
        if isinstance(tokens, str):
            tokens = tokenize_target(tokens, self.config.tgt_detok)
        tokens = [t for t in tokens if t != EOS]
        longest = int(LIMITS["max_len"].high)                 # no output the apps can produce is longer
        if len(tokens) > longest:
            raise InputError("bad_tokens", f"{len(tokens)} output tokens to score; at most {longest}",
                             count=len(tokens), limit=longest)
        if unknown_ok:
            self._target_ids([t for t in tokens if t in self.tgt_vocab])          # specials still refused
        return tokens

    @torch.inference_mode()
    def forced_log_probs(self, text: str, tokens: Sequence[str] | str, *, unknown_ok: bool = False
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Teacher forcing on ``tokens`` + "</s>": (their ids (T,), log p(· | y_<t, x) over the vocabulary at each
        of the T steps (T, V)). Row t is what the model predicts after being fed the first t tokens. A name the
        model read through a stand-in is scored as the stand-in's English ("Wang Fang" as "Tom")."""
        analysis = self.analyze(text)
        tokens = to_stand_ins(self.target_tokens(tokens, unknown_ok=unknown_ok), analysis.names)   # Wang Fang → Tom
        vocab = self.tgt_vocab
        ids = ([vocab.stoi.get(t, vocab.unk_id) for t in tokens] if unknown_ok else self._target_ids(tokens))
        ids = ids + [vocab.eos_id]
        src, lengths = self._batch([analysis])
        tgt_in = torch.tensor([[vocab.bos_id] + ids[:-1]], device=self.device)            # (1, T)
        logits, _ = self.model(src, lengths, tgt_in)                                       # (1, T, V)
        log_probs = torch.log_softmax(logits.float(), dim=-1)[0]                           # (T, V)
        return np.array(ids), log_probs.cpu().numpy()

    @torch.inference_mode()
    def encode(self, text: str) -> Encoding:
        """Run the encoder alone and return embeddings, states and the summary vector."""
        analysis = self.analyze(text)
        src, lengths = self._batch([analysis])
        encoded = self.model.encode(src, lengths)

        def numpy(x: torch.Tensor | None) -> np.ndarray | None:
            return None if x is None else x.float().cpu().numpy()

        if self.family == "rnn":
            return Encoding(analysis, numpy(encoded.embedded[0]), numpy(encoded.states[0]), numpy(encoded.summary[0]))
        return Encoding(analysis, numpy(encoded.embedded[0]), numpy(encoded.states[0]), None,
                        numpy(encoded.positional), numpy(encoded.self_attention[0]))

    @torch.inference_mode()
    def trace_cross_attention(self, text: str, tokens: Sequence[str], *, layer: int, head: int
                              ) -> dict[str, np.ndarray]:
        """A Transformer's cross-attention head ``head`` of decoder layer ``layer`` for the output ``tokens``:
        Q (T, d_k), K and V (S, d_k), the scores QKᵀ/√d_k before and after the softmax (T, S), and the
        source's √d · E[w] and PE (S, d) — the pipeline tab's numbers."""
        if self.family != "transformer":
            raise ValueError("only a Transformer has query/key/value heads")
        c = self.config
        if not (0 <= layer < c.dec_layers and 0 <= head < c.heads):
            raise InputError("bad_option", f"layer must be 0–{c.dec_layers - 1} and head 0–{c.heads - 1}",
                             option="layer", low="0", high=str(c.dec_layers - 1))
        analysis = self.analyze(text)
        ids = self._target_ids([t for t in tokens if t != EOS]) + [self.tgt_vocab.eos_id]
        src, _ = self._batch([analysis])
        tgt_in = torch.tensor([[self.tgt_vocab.bos_id] + ids[:-1]], device=self.device)  # (1, T)
        trace = self.model.trace_cross_attention(src, tgt_in, layer, head)
        return {name: value.float().cpu().numpy() for name, value in trace.items()}
