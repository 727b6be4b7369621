"""The HTTP API's answers as JSON-friendly values (the Gradio app exposes them as named endpoints).

Every function checks what it is given (the API can send anything) and raises a
:class:`~seq2seq_lab.errors.LabError` with a stable code for bad input; the app turns
that into ``"[code] explanation"``.
"""

from __future__ import annotations

import numpy as np

from ..catalog import DEFAULT_MODEL, ModelInfo
from ..errors import InputError
from ..options import LIMITS
from ..settings import Settings
from ..translator import Candidate, SourceAnalysis, Translation
from .catalogue import open_model, shelf

ARCHITECTURE_FIELDS = ("family", "cell", "enc_layers", "dec_layers", "bidirectional", "emb_size", "hidden_size",
                       "d_model", "heads", "ff_size", "tie_output", "src_segmenter", "tgt_detok", "scaled_scores",
                       "memory")
MAX_SCORED_TOKENS = int(LIMITS["max_len"].high)      # no output the apps can produce is longer


def source_json(source: SourceAnalysis) -> dict:
    """What the model reads: words, tokens (with kind and vocabulary id), unknown and split words, and the names
    read through a stand-in (word, pinyin, stand_in, stand_in_en)."""
    tokens = [{"text": token.text, "kind": "eos" if token.text == "</s>" else token.kind, "word": token.word,
               "model_token": token.model_token, "id": int(token_id)}
              for token, token_id in zip(source.tokens, source.ids)]
    return {"text": source.text, "words": list(source.words), "tokens": tokens,
            "src_tokens": source.src_tokens, "unknown": source.unknown, "split_words": source.split_words,
            "names": [name.to_dict() for name in source.names]}


DECIMALS = 5        # attention weights in replies: ±5e-6 (figures show 2 decimals), and a third of the JSON


def nested(array: np.ndarray | None) -> list | None:
    """A numpy array of attention weights as nested lists of floats rounded to :data:`DECIMALS` (JSON); None stays
    None."""
    return None if array is None else np.round(np.asarray(array, dtype=float), DECIMALS).tolist()


def candidate_json(candidate: Candidate, *, heads: bool = True) -> dict:
    """One candidate; ``attention`` (T, S) is the heatmap's summary, ``attention_heads`` (T, layers, heads, S)
    every cross-attention head, ``self_attention`` (layers, heads, T, T) the decoder's (a Transformer's); without
    ``heads`` those two are null."""
    return {"tokens": list(candidate.tokens), "text": candidate.text, "score": float(candidate.score),
            "normalized_score": float(candidate.normalized_score), "length": candidate.length,
            "finished": bool(candidate.finished), "token_log_probs": [float(x) for x in candidate.token_log_probs],
            "attention": nested(candidate.attention),
            "attention_heads": nested(candidate.attention_heads) if heads else None,
            "self_attention": nested(candidate.self_attention) if heads else None}


def translation_json(translation: Translation, key: str) -> dict:
    source = source_json(translation.source)
    return {"model": key, "device": translation.device, "text": source["text"], "src_tokens": source["src_tokens"],
            "words": source["words"], "unknown": source["unknown"], "split_words": source["split_words"],
            "names": source["names"],
            "strategy": translation.strategy, "elapsed_ms": float(translation.elapsed_ms),
            "encoder_attention": nested(translation.encoder_attention),
            # Every head for the best candidate only, as the apps show them: the web server walks each number of a
            # reply, and all heads of all five candidates tripled a Transformer's reply (bench/load.py).
            "candidates": [candidate_json(c, heads=i == 0) for i, c in enumerate(translation.candidates)]}


def model_json(key: str, info: ModelInfo) -> dict:
    config = info.config
    error = None if info.error is None else {"code": info.error.code, "message": info.error.message}
    return {"name": key, "file": info.path.name, "ok": info.ok, "attention": info.attention if info.ok else None,
            "family": config.get("family", "rnn") if info.ok else None,
            "corpus": info.corpus if info.ok else None, "test": info.test_metrics if info.ok else {},
            "architecture": {name: config.get(name) for name in ARCHITECTURE_FIELDS if name in config},
            "default": key == DEFAULT_MODEL, "error": error}


def translate(settings: Settings, text, model="", *, beam_size=5, length_penalty=0.0, coverage_penalty=0.0,
              n_best=5, max_len=0, no_repeat_ngram_size=0, prefix="") -> dict:
    """``/translate``: the n-best candidates with scores and attention, the tokens, the device. Requests that
    arrive together are decoded in one batch (``seq2seq_lab/batching.py``); each gets what it alone would."""
    opened = open_model(model, settings)
    translation = opened.batcher.translate(text, beam_size=beam_size, length_penalty=length_penalty,
                                           coverage_penalty=coverage_penalty, n_best=n_best, max_len=max_len,
                                           no_repeat_ngram_size=no_repeat_ngram_size, prefix=prefix)
    return translation_json(translation, opened.key)


def segment(settings: Settings, text, model="") -> dict:
    """``/segment``: jieba words, then tokens (word / sub / char / unk / eos) with vocabulary ids."""
    opened = open_model(model, settings)
    return {"model": opened.key, **source_json(opened.translator.analyze(text))}


def score(settings: Settings, text, tokens, model="") -> dict:
    """``/score``: teacher-forced Σ log p(tokens + </s> | text); ``tokens`` a token list or an English sentence."""
    opened = open_model(model, settings)
    if isinstance(tokens, (list, tuple)):
        if not all(isinstance(token, str) for token in tokens):
            raise InputError("bad_tokens", "tokens must be a list of output words")
        used = list(tokens)
    elif isinstance(tokens, str):
        used = tokens.split()
    else:
        raise InputError("bad_tokens", "tokens must be a list of output words or an English sentence")
    used = [token for token in used if token.strip() and token != "</s>"]
    if not used:
        raise InputError("bad_tokens", "tokens is empty: give the output to score")
    if len(used) > MAX_SCORED_TOKENS:
        raise InputError("bad_tokens", f"tokens has {len(used)} words; at most {MAX_SCORED_TOKENS} can be scored")
    log_prob = opened.translator.score(text, tokens if isinstance(tokens, str) else used)
    return {"model": opened.key, "text": opened.translator.analyze(text).text, "tokens": used + ["</s>"],
            "log_prob": log_prob}


def models(settings: Settings) -> list[dict]:
    """``/models``: every model file; unreadable ones with ``ok: false`` and their error."""
    found = shelf(settings)
    return [model_json(key, info) for key, info in found.good.items()] + [model_json(info.name, info)
                                                                          for info in found.bad]
