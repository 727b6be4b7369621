"""Seq2Seq Attention Lab (注意力实验室): the Gradio app and its programmatic API.

    python demo/gradio_app.py                      # then open http://127.0.0.1:7860

The page: type a Chinese sentence (or click an example), pick a model and the
decoding settings, press Translate, and watch the attention heatmap grow one
output word per step. Below it: the segmentation (unknown words and words fed as
characters marked), the translation, greedy against beam search with their
heatmaps, the n-best list and the beam search tree, and the device the model ran
on. English / 中文 switch at the top (``?lang=zh&model=toy_numbers&text=三千零五``
in the address works too).

The API (also listed under "Use via API" at the foot of the page)::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/", analytics_enabled=False)   # False: no telemetry from the client
    client.predict(api_name="/models")
    client.predict("我爱学习", "everyday_additive", api_name="/segment")
    result = client.predict("我爱学习", "everyday_additive", 5, 0.0, 0.0, 5, 0, 0, "", api_name="/translate")
    best = result["candidates"][0]
    client.predict("我爱学习", best["tokens"], "everyday_additive", api_name="/score")   # == best["score"]

``/translate(text, model="", beam_size=5, length_penalty=0.0, coverage_penalty=0.0, n_best=5, max_len=0,
no_repeat_ngram_size=0, prefix="")`` → ``{"model", "device", "text", "src_tokens", "words", "unknown",
"split_words", "strategy", "elapsed_ms", "candidates": [{"tokens", "text", "score", "normalized_score", "length",
"finished", "token_log_probs", "attention"}]}``. ``model=""`` is the default model; ``max_len=0`` means
automatic (2·source + 10); ``prefix`` forces the first English words. ``score`` is Σ log p of the tokens,
``normalized_score`` the ranking score once the length/coverage penalties apply; ``attention`` is a nested
list of shape (len(tokens), len(src_tokens)) whose rows sum to 1, or null for a model without attention.

``/segment(text, model="")`` → ``{"model", "text", "words", "tokens": [{"text", "kind", "word", "model_token",
"id"}], "unknown", "split_words"}`` with ``kind`` one of ``word`` (in the vocabulary), ``char`` (a character of a
word the vocabulary lacks), ``unk`` (unknown: the model sees ``<unk>``) and ``eos`` (the end marker ``</s>``).

``/score(text, tokens, model="")`` → ``{"model", "text", "tokens", "log_prob"}``: the teacher-forced
Σ log p(tokens + ``</s>`` | text); ``tokens`` is a list of output tokens (a candidate's ``tokens``) or an English
sentence.

``/models()`` → one entry per model file: ``{"name", "file", "ok", "default", "attention", "corpus", "test",
"architecture", "error"}`` (``test``: the checkpoint's test-split metrics, e.g. ``{"greedy": {"bleu", "chrf",
"exact"}, "beam5": {…}}``); an unreadable file has ``ok: false`` and ``error: {"code", "message"}``.

Errors: bad input never returns a traceback. ``gradio_client`` raises ``AppError`` whose message reads
``"[code] explanation"``, e.g. ``"[no_chinese] The text has no Chinese characters; …"``; the code is stable
(``empty``, ``too_long``, ``no_chinese``, ``bad_option``, ``bad_name``, ``missing``, ``corrupt``,
``unknown_output_word``, ``no_models``…).

Environment: ``SEQ2SEQ_LAB_MODELS_DIR`` (default: the repository's ``models/``; models trained in the
Streamlit app, in its ``user/`` folder, are listed as ``user/<name>``), ``SEQ2SEQ_LAB_DEVICE`` (``auto``,
``cpu``, ``cuda``), ``SEQ2SEQ_LAB_LANG`` (``en`` or ``zh``), and Gradio's own ``GRADIO_SERVER_NAME`` /
``GRADIO_SERVER_PORT``. Nothing is fetched from the internet: Gradio's and the Hugging Face hub's telemetry are
switched off before Gradio is imported.

The page is only layout and wiring; the work is done by the core (``seq2seq_lab``): ``Translator`` decodes,
``figures`` draws, ``i18n`` speaks English and Chinese. Models are shared read-only by every visitor through a
small cache; each visitor's last result lives in a ``gr.State``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # no telemetry, no version check
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import functools
import html
import json
import logging
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                     # `python demo/gradio_app.py` without installing
    sys.path.insert(0, str(ROOT))

import gradio as gr
import numpy as np
import pandas as pd

from seq2seq_lab import catalog, figures
from seq2seq_lab.errors import InputError, LabError
from seq2seq_lab.i18n import LANGUAGES, error_text, t
from seq2seq_lab.translator import MAX_CHARS, Translation, Translator

log = logging.getLogger(__name__)

MODELS_ENV = "SEQ2SEQ_LAB_MODELS_DIR"
USER_PREFIX = catalog.USER_PREFIX                  # models trained in the apps: <models>/user/
ASSETS = ROOT / "assets"
MAX_PASTE = 20_000                                # characters read at all; the model's own limit is MAX_CHARS
SPEEDS = {"slow": 0.8, "normal": 0.35, "fast": 0.1, "instant": 0.0}   # seconds between live frames
COMPARE_BEAM = 5                                  # the beam shown against greedy when the beam size is 1



T = t   # every interface string, this app's included, lives in seq2seq_lab.i18n


def error_message(error: Exception, lang: str = "en") -> str:
    """A friendly sentence for ``error`` in ``lang`` (never a traceback)."""
    if isinstance(error, LabError):
        return error_text(error, lang)
    return t("error.unexpected", lang, message=f"{type(error).__name__}: {error}")


def lang_of(value: Any) -> str:
    return value if value in LANGUAGES else "en"


DEFAULT_LANG = lang_of(os.environ.get("SEQ2SEQ_LAB_LANG", "en"))


# --- models: listed from the folder, loaded once and shared read-only ---------------------------

def models_dir() -> Path:
    """The models folder (``SEQ2SEQ_LAB_MODELS_DIR``, read on every call so tests can point it elsewhere)."""
    return Path(os.environ.get(MODELS_ENV) or catalog.MODELS_DIR)


def available_models() -> tuple[dict[str, catalog.ModelInfo], list[catalog.ModelInfo]]:
    """Readable models by key ("name", or "user/name" for the apps' trainings) and unreadable files."""
    return catalog.available_models(models_dir())


def default_model(keys: Sequence[str]) -> str | None:
    return catalog.DEFAULT_MODEL if catalog.DEFAULT_MODEL in keys else (keys[0] if keys else None)


def model_path(key: str) -> Path:
    """The file of model ``key``; refuses anything outside the models folder (``../../x``)."""
    return catalog.model_path(key, models_dir())


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float, device: str) -> Translator:
    """One Translator per file version, shared by every visitor (read-only: decoding never changes it)."""
    return Translator.load(path, device=device)


def open_model(key: str | None) -> tuple[str, Translator]:
    """(key, translator) for ``key``; an empty key means the default model."""
    if not key:
        key = default_model(list(available_models()[0]))
        if key is None:
            raise LabError("no_models", "There is no model in the models folder yet.")
    path = model_path(key)
    return key, _load(str(path), path.stat().st_mtime, os.environ.get("SEQ2SEQ_LAB_DEVICE", "auto"))


# --- checking what comes in (the API can send anything) -----------------------------------------

def _number(value: Any, name: str, low: float, high: float, *, integer: bool) -> int | float:
    try:
        number = float(value)
        if integer and number != int(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise InputError("bad_option", f"{name} must be a number between {low:g} and {high:g}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InputError("bad_option", f"{name} must be between {low:g} and {high:g}")
    return int(number) if integer else number


def check_text(text: Any) -> str:
    """Refuse non-text and enormous pastes before the core normalises them (the core checks the rest)."""
    if text is None or not isinstance(text, str):
        raise InputError("empty", "Please type a Chinese sentence to translate.")
    if len(text) > MAX_PASTE:
        raise InputError("too_long", f"The text has {len(text)} characters; the limit is {MAX_CHARS}. "
                         "Translate one sentence at a time.", length=len(text), limit=MAX_CHARS)
    return text


def decoding_options(beam_size: Any = 5, length_penalty: Any = 0.0, coverage_penalty: Any = 0.0, n_best: Any = 5,
                     max_len: Any = 0, no_repeat_ngram_size: Any = 0, prefix: Any = "") -> dict:
    """Validated keyword arguments for ``Translator.translate`` / ``steps`` (0 or None max_len = automatic)."""
    if prefix is None:
        prefix = ""
    if isinstance(prefix, (list, tuple)):
        if not all(isinstance(word, str) for word in prefix):
            raise InputError("bad_option", "prefix must be English words")
        prefix = [word for word in prefix if word.strip()]
    elif not isinstance(prefix, str):
        raise InputError("bad_option", "prefix must be English words")
    else:
        prefix = prefix.strip()
    max_len = 0 if max_len in (None, "") else _number(max_len, "max_len", 0, 500, integer=True)
    return {"beam_size": _number(beam_size, "beam_size", 1, 64, integer=True),
            "length_penalty": _number(length_penalty, "length_penalty", 0.0, 5.0, integer=False),
            "coverage_penalty": _number(coverage_penalty, "coverage_penalty", 0.0, 5.0, integer=False),
            "n_best": _number(n_best, "n_best", 1, 64, integer=True),
            "max_len": max_len or None,
            "no_repeat_ngram_size": _number(no_repeat_ngram_size, "no_repeat_ngram_size", 0, 10, integer=True),
            "prefix": prefix}


# --- the API: pure functions returning JSON-friendly values ---------------------------------------

def source_json(source) -> dict:
    """What the model reads: words, tokens (with kind and vocabulary id), unknown and split words."""
    tokens = [{"text": token.text, "kind": "eos" if token.text == "</s>" else token.kind, "word": token.word,
               "model_token": token.model_token, "id": int(token_id)}
              for token, token_id in zip(source.tokens, source.ids)]
    return {"text": source.text, "words": list(source.words), "tokens": tokens,
            "src_tokens": source.src_tokens, "unknown": source.unknown, "split_words": source.split_words}


def candidate_json(candidate) -> dict:
    attention = None if candidate.attention is None else np.asarray(candidate.attention, dtype=float).tolist()
    return {"tokens": list(candidate.tokens), "text": candidate.text, "score": float(candidate.score),
            "normalized_score": float(candidate.normalized_score), "length": candidate.length,
            "finished": bool(candidate.finished), "token_log_probs": [float(x) for x in candidate.token_log_probs],
            "attention": attention}


def translation_json(translation: Translation, key: str) -> dict:
    source = source_json(translation.source)
    return {"model": key, "device": translation.device, "text": source["text"], "src_tokens": source["src_tokens"],
            "words": source["words"], "unknown": source["unknown"], "split_words": source["split_words"],
            "strategy": translation.strategy, "elapsed_ms": float(translation.elapsed_ms),
            "candidates": [candidate_json(c) for c in translation.candidates]}


def model_json(key: str, info: catalog.ModelInfo) -> dict:
    config = info.config
    architecture = {name: config.get(name) for name in ("cell", "enc_layers", "dec_layers", "bidirectional",
                                                         "emb_size", "hidden_size", "src_segmenter", "tgt_detok")
                    if name in config}
    error = None if info.error is None else {"code": info.error.code, "message": info.error.message}
    return {"name": key, "file": info.path.name, "ok": info.ok, "attention": info.attention if info.ok else None,
            "corpus": info.corpus if info.ok else None, "test": info.test_metrics if info.ok else {},
            "architecture": architecture, "default": key == catalog.DEFAULT_MODEL, "error": error}


def _api_error(error: Exception) -> gr.Error:
    """The exception gradio_client shows as a readable message: "[code] explanation"."""
    if isinstance(error, LabError):
        return gr.Error(f"[{error.code}] {error_message(error, 'en')}", print_exception=False)
    log.exception("unexpected error in the API")
    return gr.Error(f"[unexpected] {error_message(error, 'en')}", print_exception=False)


def api_translate(text: str, model: str = "", beam_size: int = 5, length_penalty: float = 0.0,
                  coverage_penalty: float = 0.0, n_best: int = 5, max_len: int = 0, no_repeat_ngram_size: int = 0,
                  prefix: str = "") -> dict:
    """Translate one Chinese sentence: tokens, the n-best candidates with scores and attention, the device."""
    try:
        options = decoding_options(beam_size, length_penalty, coverage_penalty, n_best, max_len,
                                   no_repeat_ngram_size, prefix)
        key, translator = open_model(model)
        return translation_json(translator.translate(check_text(text), **options), key)
    except Exception as error:  # noqa: BLE001 — every failure becomes a readable message
        raise _api_error(error) from None


def api_segment(text: str, model: str = "") -> dict:
    """How the model reads the text: jieba words, then tokens (word / char / unk / eos) with vocabulary ids."""
    try:
        key, translator = open_model(model)
        return {"model": key, **source_json(translator.analyze(check_text(text)))}
    except Exception as error:  # noqa: BLE001
        raise _api_error(error) from None


def api_score(text: str, tokens: list[str] | str, model: str = "") -> dict:
    """Teacher-forced log-probability of an output (token list or English sentence; "</s>" is added)."""
    try:
        key, translator = open_model(model)
        text = check_text(text)
        if isinstance(tokens, (list, tuple)):
            if not all(isinstance(token, str) for token in tokens):
                raise InputError("bad_option", "tokens must be a list of output words")
            tokens = list(tokens)
        elif not isinstance(tokens, str):
            raise InputError("bad_option", "tokens must be a list of output words or an English sentence")
        if not [tok for tok in ([tokens] if isinstance(tokens, str) else tokens) if tok.strip() and tok != "</s>"]:
            raise InputError("bad_option", "tokens is empty: give the output to score")
        log_prob = translator.score(text, tokens)
        used = tokens if isinstance(tokens, list) else tokens.split()
        return {"model": key, "text": translator.analyze(text).text, "tokens": [tok for tok in used if tok != "</s>"]
                + ["</s>"], "log_prob": log_prob}
    except Exception as error:  # noqa: BLE001
        raise _api_error(error) from None


def api_models() -> list[dict]:
    """Every model file: attention type, corpus, test metrics, architecture; unreadable ones with their error."""
    good, bad = available_models()
    return [model_json(key, info) for key, info in good.items()] + [model_json(info.name, info) for info in bad]


# --- decoding for the page ---------------------------------------------------------------------------

def live_frames(translator: Translator, text: str, options: dict, clock: dict | None = None
                ) -> Iterator[tuple[list[str], np.ndarray | None, Any]]:
    """(tokens so far, attention rows so far (t, S) or None, step) after every decoding step.

    With beam search the frame follows the hypothesis leading at that step; the last
    step's ``.final`` holds the finished :class:`Translation`. ``clock["ms"]`` adds up the
    time spent decoding (without the time the caller spends between steps).
    """
    clock = {} if clock is None else clock
    clock["ms"] = 0.0
    by_id: dict = {}
    steps = translator.steps(text, **options)
    while True:
        started = time.perf_counter()
        step = next(steps, None)
        clock["ms"] += (time.perf_counter() - started) * 1000
        if step is None:
            return
        by_id.update((node.id, node) for node in step.nodes)
        leader = figures.leading_node(step)
        path = figures.path_to(leader, by_id)
        attention = None if leader.attention is None else np.stack([node.attention for node in path])
        yield list(leader.tokens), attention, step


def compare_translations(translator: Translator, text: str, options: dict, final: Translation
                         ) -> tuple[Translation, Translation, int]:
    """(greedy, beam, beam size): the decoding just done plus the other strategy."""
    if options["beam_size"] > 1:
        greedy = translator.translate(text, **{**options, "beam_size": 1, "n_best": 1})
        return greedy, final, options["beam_size"]
    beam = translator.translate(text, **{**options, "beam_size": COMPARE_BEAM, "n_best": COMPARE_BEAM})
    return final, beam, COMPARE_BEAM


def make_result(key: str, translator: Translator, text: str, options: dict, steps: list,
                decode_ms: float | None = None) -> dict:
    """What one translation leaves in the visitor's gr.State (``decode_ms``: time spent decoding)."""
    final = steps[-1].final
    if decode_ms is not None:
        final.elapsed_ms = decode_ms            # Translator.steps also counts the pauses of the animation
    greedy, beam, k = compare_translations(translator, text, options, final)
    config = translator.config
    return {"key": key, "text": text, "options": options, "steps": steps, "final": final,
            "greedy": greedy, "beam": beam, "beam_k": k, "encoding": translator.encode(text),
            "segmenter": config.src_segmenter, "cell": config.cell, "bidirectional": config.bidirectional,
            "vocab_size": len(translator.src_vocab)}


def decode(key: str | None, text: Any, options: dict) -> dict:
    """Translate without animation and return the page's result (used by tests and the language switch)."""
    key, translator = open_model(key)
    text = check_text(text)
    clock: dict = {}
    steps = [step for _, _, step in live_frames(translator, text, options, clock)]
    return make_result(key, translator, text, options, steps, clock["ms"])


# --- drawing a result (pure: result + language → values for the page) ---------------------------

def heatmap(src_tokens, out_tokens, attention, lang: str, **kwargs):
    return figures.attention_heatmap(src_tokens, out_tokens, attention, lang=lang, **kwargs)


def segmentation_html(source, segmenter: str, lang: str) -> str:
    parts = [f"<h4 style='margin:.2em 0'>{html.escape(T('gr.segmentation', lang))}</h4>"]
    if segmenter == "char":
        parts.append(f"<p>{html.escape(T('pipe.seg_char_model', lang))}</p>")
    else:
        parts.append(f"<p>{html.escape(T('pipe.words', lang, words=' / '.join(source.words)))}</p>")
    parts.append(figures.token_chips_html(source.tokens, source.ids))
    parts.append(figures.legend_chips_html([("word", T("pipe.legend_word", lang)),
                                            ("sub", T("pipe.legend_sub", lang)),
                                            ("char", T("pipe.legend_char", lang)),
                                            ("unk", T("pipe.legend_unk", lang))]))
    if source.unknown:
        parts.append(f"<p>{html.escape(T('gr.unknown', lang, words=', '.join(source.unknown)))}</p>")
    if source.split_words:
        parts.append(f"<p>{html.escape(T('gr.split', lang, words=', '.join(source.split_words)))}</p>")
    return "\n".join(parts)


def score_line(candidate, lang: str) -> str:
    return (f"{T('cmp.logprob', lang)}: **{candidate.score:.3f}** · {T('cmp.norm', lang)}: "
            f"**{candidate.normalized_score:.3f}** · {T('cand.length', lang)}: {candidate.length}")


def output_html(text: str, small: bool = False) -> str:
    size = "1.25rem" if small else "1.7rem"
    return (f"<div class='lab-output' style='font-size:{size};font-weight:600;padding:.35rem .9rem;"
            f"border-left:6px solid #1f77b4;background:rgba(31,119,180,.07);border-radius:6px;"
            f"overflow-wrap:anywhere'>{html.escape(text)}</div>")


def candidates_frame(translation: Translation | None, lang: str) -> pd.DataFrame:
    """The n-best table (an empty one with its headers when there is no translation)."""
    columns = [T(key, lang) for key in ("cand.rank", "cand.text", "cand.logprob", "cand.norm", "cand.length",
                                        "cand.finished")]
    rows = [(rank, c.text, round(c.score, 3), round(c.normalized_score, 3), c.length, "✓" if c.finished else "…")
            for rank, c in enumerate(translation.candidates if translation is not None else [], start=1)]
    return pd.DataFrame(rows, columns=columns)


def candidate_figure(result: dict, rank: Any, lang: str):
    """(heatmap of candidate ``rank`` (1-based) or None, caption)."""
    final = result["final"]
    try:
        index = min(max(int(rank), 1), len(final.candidates)) - 1
    except (TypeError, ValueError):
        index = 0
    chosen = final.candidates[index]
    if chosen.attention is None:
        return None, T("live.no_attention", lang)
    caption = "**" + html.escape(T("cand.heatmap_title", lang, rank=index + 1, text=chosen.text)) + "**"
    return heatmap(final.src_tokens, chosen.tokens, chosen.attention, lang), caption


def tree_figure(result: dict, show_pruned: bool, lang: str):
    steps = result["steps"]
    if not show_pruned:
        steps = [type(step)(step.index, [n for n in step.nodes if n.status != "pruned"]) for step in steps]
    return figures.beam_tree(steps, best_tokens=result["final"].best.tokens, lang=lang)


def live_caption(step_number: int, token: str, prob: float, lang: str) -> str:
    return T("gr.step_caption", lang, step=step_number, token=html.escape(token), prob=prob)


def pipeline(result: dict, lang: str) -> dict[str, Any]:
    """The encoder's side of the translation: ids, embeddings, encoder states, the decoder's start vector."""
    encoding = result["encoding"]
    tokens = encoding.source.src_tokens
    direction = T("pipe.both_ways" if result["bidirectional"] else "pipe.one_way", lang)
    return {"pipe_ids": f"#### {T('pipe.ids', lang)}\n\n{T('pipe.ids_help', lang, size=result['vocab_size'])}",
            "pipe_emb": f"#### {T('pipe.emb', lang)}\n\n{T('pipe.emb_help', lang, dim=encoding.embeddings.shape[1])}",
            "emb_plot": figures.vector_heatmap(tokens, encoding.embeddings, lang=lang),
            "pipe_enc": f"#### {T('pipe.enc', lang)}\n\n" + T("pipe.enc_help", lang, cell=result["cell"].upper(),
                                                               dim=encoding.states.shape[1], direction=direction),
            "enc_plot": figures.vector_heatmap(tokens, encoding.states, lang=lang),
            "pipe_ctx": f"#### {T('pipe.ctx', lang)}\n\n{T('pipe.ctx_help', lang, dim=encoding.summary.shape[0])}",
            "ctx_plot": figures.vector_heatmap(["z"], encoding.summary[None, :], lang=lang)}


def render(result: dict, lang: str, *, show_pruned: bool = True, pick: Any = 1) -> dict[str, Any]:
    """Every output of the page for ``result``, by name (the wiring maps names to components)."""
    final: Translation = result["final"]
    best = final.best
    strategy = (T("strategy.greedy", lang) if final.options.beam_size == 1
                else T("strategy.beam", lang, k=final.options.beam_size))
    meta = T("app.result_meta", lang, strategy=strategy, score=best.score, norm=best.normalized_score,
             ms=final.elapsed_ms, device=final.device)
    if not best.finished:
        meta += "\n\n" + T("app.not_finished", lang)
    out: dict[str, Any] = {"result": output_html(best.text), "meta": meta,
                           "segmentation": segmentation_html(final.source, result["segmenter"], lang),
                           **pipeline(result, lang)}
    if best.attention is None:
        out["live_plot"] = None
        out["live_caption"] = T("live.no_attention", lang) + "\n\n" + T("live.output_so_far", lang,
                                                                         text=html.escape(" ".join(best.tokens)))
    else:
        out["live_plot"] = heatmap(final.src_tokens, best.tokens, best.attention, lang)
        out["live_caption"] = T("gr.live_done", lang, steps=len(result["steps"]))
        if final.options.beam_size > 1:
            out["live_caption"] += " " + T("live.beam_note", lang)

    greedy, beam, k = result["greedy"].best, result["beam"].best, result["beam_k"]
    split = figures.first_divergence(greedy.tokens, beam.tokens)
    note = T("cmp.intro", lang, k=k)
    if final.options.beam_size == 1:
        note = T("cmp.beam1", lang) + "\n\n" + note
    if split is None:
        note += "\n\n✓ " + T("cmp.same", lang)
    else:
        note += "\n\n⚠ " + T("cmp.diverge", lang, step=split + 1,
                              greedy=html.escape(greedy.tokens[split]) if split < len(greedy.tokens) else "–",
                              beam=html.escape(beam.tokens[split]) if split < len(beam.tokens) else "–")
    out["compare_note"] = note
    for name, title, candidate in (("greedy", T("cmp.greedy", lang), greedy),
                                   ("beam", T("cmp.beam", lang, k=k), beam)):
        out[f"{name}_text"] = f"### {html.escape(title)}\n\n{output_html(candidate.text, small=True)}\n\n" + \
            score_line(candidate, lang)
        out[f"{name}_plot"] = None if candidate.attention is None else heatmap(
            final.src_tokens, candidate.tokens, candidate.attention, lang, highlight_row=split)

    out["candidates"] = candidates_frame(final, lang)
    ranks = list(range(1, len(final.candidates) + 1))
    pick = pick if pick in ranks else 1
    out["pick"] = gr.update(choices=ranks, value=pick, label=T("cand.pick", lang))
    out["candidate_plot"], out["candidate_caption"] = candidate_figure(result, pick, lang)
    out["tree_caption"] = (T("cand.greedy_only", lang) if final.options.beam_size == 1
                           else T("tree.intro", lang, k=final.options.beam_size))
    out["tree_plot"] = tree_figure(result, show_pruned, lang)
    return out


# --- the page's model list, examples and labels ----------------------------------------------------

def fmt(value: Any, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


def model_label(key: str, info: catalog.ModelInfo, lang: str) -> str:
    test = info.test_metrics.get("greedy", {})
    here = f" ({T('app.trained_here', lang)})" if key.startswith(USER_PREFIX) else ""
    label = f"{key}{here} · {info.attention} · {info.corpus} · BLEU {fmt(test.get('bleu'))}"
    if isinstance(test.get("exact"), (int, float)):
        label += f" · {T('gr.test_exact', lang, exact=test['exact'])}"
    return label


def model_card(key: str | None, lang: str) -> str:
    """The chosen model's architecture and test scores, plus any unreadable model files."""
    good, bad = available_models()
    lines = []
    if key in good:
        info = good[key]
        c = info.config
        arch = (f"{str(c.get('cell', '?')).upper()} ×{c.get('enc_layers', '?')}"
                f"{' bi' if c.get('bidirectional') else ''} · emb {c.get('emb_size', '?')} · "
                f"hidden {c.get('hidden_size', '?')}")
        card = T("app.model_card", lang, name=html.escape(key), attention=info.attention,
                 corpus=html.escape(str(info.corpus)), arch=arch)
        test = info.test_metrics
        if test:
            card += " · " + T("app.model_test", lang, greedy=fmt(test.get("greedy", {}).get("bleu")))
            if "beam5" in test:
                card += ", " + T("app.model_test_beam", lang, beam=fmt(test["beam5"].get("bleu")))
        by_set = info.test_set_chrf()
        if len(by_set) > 1:
            card += "  \n" + T("app.model_test_sets", lang, figures=html.escape(
                ", ".join(f"{name} {value:.1f}" for name, value in by_set.items())))
        if info.attribution:
            card += "  \n" + T("app.model_data", lang, attribution=html.escape(info.attribution))
        lines.append(card)
    elif not good:
        lines.append(T("app.no_models", lang))
    for info in bad:
        lines.append("⚠ " + T("app.bad_model_files", lang, name=html.escape(info.path.name),
                               reason=html.escape(error_message(info.error, lang))))
    return "\n\n".join(lines)


def model_choices(lang: str) -> list[tuple[str, str]]:
    good, _ = available_models()
    return [(model_label(key, info, lang), key) for key, info in good.items()]


@functools.lru_cache(maxsize=1)
def example_book() -> dict:
    try:
        return json.loads((ASSETS / "examples.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"sentences": [], "toy": {}}


def examples_for(key: str | None) -> list[list[str]]:
    """Example sentences that suit the model: its toy task's, else the sentence examples."""
    info = available_models()[0].get(key or "")
    corpus = info.corpus if info is not None else "hsk"
    book = example_book()
    entries = book.get("toy", {}).get(corpus[4:], []) if corpus.startswith("toy:") else book.get("sentences", [])
    return [[entry["zh"]] for entry in entries] or [["我爱学习。"]]


# --- event handlers (thin: they call the functions above) ----------------------------------------

def friendly(error: Exception, lang: str) -> str:
    """Show ``error`` as a toast and return it for the message box."""
    message = error_message(error, lang)
    if not isinstance(error, LabError):
        log.exception("unexpected error in the page")
    gr.Warning(html.escape(message), title=T("gr.message_title", lang))
    return f"⚠ **{html.escape(T('gr.message_title', lang))}:** {html.escape(message)}"


def all_examples() -> set[str]:
    book = example_book()
    return {e["zh"] for e in book.get("sentences", [])} | {e["zh"] for task in book.get("toy", {}).values() for e in task}


def text_for_model(text: str | None, key: str | None) -> str:
    """Keep what the visitor typed; swap an example (or nothing) for one that suits the new model."""
    suited = [sample[0] for sample in examples_for(key)]
    if text and (text in suited or text not in all_examples() | {"我爱学习。"}):
        return text
    return suited[0]


def on_model_change(key: str | None, text: str | None, lang: str):
    return gr.Dataset(samples=examples_for(key)), model_card(key, lang), text_for_model(text, key)


def on_refresh(key: str | None, lang: str):
    choices = model_choices(lang)
    keys = [value for _, value in choices]
    value = key if key in keys else default_model(keys)
    return gr.Dropdown(choices=choices, value=value), model_card(value, lang)


HEADER = "# {title}\n{subtitle}"


def translate_stream(text: Any, key: str | None, beam_size: Any, length_penalty: Any, coverage_penalty: Any,
                     max_len: Any, no_repeat: Any, speed: str, lang: str, show_pruned: bool = True
                     ) -> Iterator[dict[str, Any]]:
    """The Translate button: page updates by name, one per decoding step (the heatmap grows one row at a
    time), then the whole result with ``state``; or a friendly ``message`` for bad input."""
    lang = lang_of(lang)
    delay = SPEEDS.get(speed, SPEEDS["normal"])
    try:
        options = decoding_options(beam_size, length_penalty, coverage_penalty, beam_size, max_len, no_repeat)
        key, translator = open_model(key)
        text = check_text(text)
        src_tokens = translator.analyze(text).src_tokens          # bad input: a message before any drawing
        steps, clock = [], {}
        for tokens, attention, step in live_frames(translator, text, options, clock):
            steps.append(step)
            if delay and step.final is None:
                leader = figures.leading_node(step)
                frame = {"message": gr.update(visible=False),
                         "live_caption": live_caption(len(tokens), leader.token, leader.token_prob, lang)}
                if attention is None:
                    frame["live_caption"] += "\n\n" + T("live.output_so_far", lang, text=html.escape(" ".join(tokens)))
                    frame["live_plot"] = None
                else:
                    frame["live_plot"] = heatmap(src_tokens, tokens, attention, lang, highlight_row=len(tokens) - 1)
                yield frame
                time.sleep(delay)
        result = make_result(key, translator, text, options, steps, clock["ms"])
        page = render(result, lang, show_pruned=show_pruned)
    except Exception as error:  # noqa: BLE001 — bad input is a message, never a traceback
        yield {**EMPTY_PAGE, "candidates": candidates_frame(None, lang), "pick": gr.update(choices=[1], value=1),
               "message": gr.update(value=friendly(error, lang), visible=True)}
        return
    yield {**page, "state": result, "message": gr.update(visible=False)}


EMPTY_PAGE: dict[str, Any] = {  # what the page shows after bad input: no stale result from an earlier sentence
    **dict.fromkeys(("result", "meta", "segmentation", "live_caption", "compare_note", "greedy_text", "beam_text",
                     "candidate_caption", "tree_caption", "pipe_ids", "pipe_emb", "pipe_enc", "pipe_ctx"), ""),
    **dict.fromkeys(("live_plot", "greedy_plot", "beam_plot", "candidate_plot", "tree_plot", "emb_plot", "enc_plot",
                     "ctx_plot", "state"), None),
}


def rerender(result: dict | None, lang: str, show_pruned: bool, pick: Any) -> dict[str, Any]:
    """The language switch: redraw the last result (figures included) in ``lang``."""
    if result is None:
        return {}
    return render(result, lang_of(lang), show_pruned=show_pruned, pick=pick)


def on_load(request: gr.Request):
    """``?lang=zh&model=hsk_dot&text=我爱学习`` in the address."""
    params = dict(request.query_params) if request is not None else {}
    lang = lang_of(params.get("lang", DEFAULT_LANG))
    choices = model_choices(lang)
    keys = [value for _, value in choices]
    model = params.get("model")
    model = model if model in keys else default_model(keys)
    text = params.get("text") or examples_for(model)[0][0]
    return (lang, gr.Dropdown(choices=choices, value=model), text, gr.Dataset(samples=examples_for(model)),
            model_card(model, lang))


# --- the page ---------------------------------------------------------------------------------------

_first_models = model_choices(DEFAULT_LANG)
_first_model = default_model([key for _, key in _first_models])
CSS = """
.lab-output { line-height: 1.35; margin: .2rem 0 .3rem 0; }
#lab-message { border: 1px solid #e06060; background: #fde8e8; border-radius: 8px; padding: .4rem .8rem; }
"""

with gr.Blocks(title="注意力实验室 · Seq2Seq Attention Lab") as demo:
    state = gr.State(None)                        # this visitor's last result
    L = DEFAULT_LANG
    with gr.Row(equal_height=False):
        header = gr.Markdown(HEADER.format(title=T("app.title", L), subtitle=T("app.subtitle", L)))
        lang_radio = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value=L,
                              label=T("app.language", L), scale=0, min_width=200)
    with gr.Row():
        with gr.Column(scale=3):
            text_box = gr.Textbox(value=examples_for(_first_model)[0][0], label=T("app.input", L),
                                  placeholder=T("app.input_placeholder", L), info=T("app.input_help", L), lines=1,
                                  max_lines=4)
            examples = gr.Dataset(components=[text_box], samples=examples_for(_first_model),
                                  label=T("app.examples", L), samples_per_page=14)
            with gr.Row():
                translate_btn = gr.Button(T("app.translate", L), variant="primary", scale=1)
                speed_input = gr.Radio([(T(f"live.speed_{s}", L), s) for s in SPEEDS], value="fast",
                                 label=T("live.speed", L), scale=2)
        with gr.Column(scale=2):
            model_box = gr.Dropdown(_first_models, value=_first_model, label=T("app.model", L),
                                    info=T("app.model_help", L), allow_custom_value=False)
            model_info = gr.Markdown(model_card(_first_model, L))
            refresh_btn = gr.Button(T("gr.refresh", L), size="sm", variant="secondary")
            with gr.Accordion(T("app.decoding", L), open=True) as settings:
                beam_input = gr.Slider(1, 10, value=5, step=1, label=T("app.beam", L), info=T("app.beam_help", L))
                length_penalty_input = gr.Slider(0.0, 2.0, value=0.0, step=0.1, label=T("app.length_penalty", L),
                                           info=T("app.length_penalty_help", L))
                coverage_penalty_input = gr.Slider(0.0, 1.0, value=0.0, step=0.1, label=T("app.coverage_penalty", L),
                                             info=T("app.coverage_penalty_help", L))
                max_len_input = gr.Number(0, minimum=0, maximum=200, step=1, precision=0, label=T("app.max_len", L),
                                    info=T("app.max_len_help", L))
                no_repeat_input = gr.Number(0, minimum=0, maximum=4, step=1, precision=0, label=T("app.no_repeat", L),
                                      info=T("app.no_repeat_help", L))
    message = gr.Markdown(visible=False, elem_id="lab-message")
    result_html = gr.HTML()
    meta = gr.Markdown()
    segmentation = gr.HTML()
    with gr.Tabs():
        with gr.Tab(T("tab.live", L)) as tab_live:
            live_md = gr.Markdown(T("live.intro", L))
            live_caption_md = gr.Markdown()
            live_plot = gr.Plot(show_label=False)
        with gr.Tab(T("gr.tab_pipeline", L)) as tab_pipeline:
            pipe_md = gr.Markdown(T("pipe.intro", L))
            pipe_ids = gr.Markdown()
            pipe_emb = gr.Markdown()
            emb_plot = gr.Plot(show_label=False)
            pipe_enc = gr.Markdown()
            enc_plot = gr.Plot(show_label=False)
            pipe_ctx = gr.Markdown()
            ctx_plot = gr.Plot(show_label=False)
        with gr.Tab(T("tab.compare", L)) as tab_compare:
            compare_note = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    greedy_text = gr.Markdown()
                    greedy_plot = gr.Plot(show_label=False)
                with gr.Column():
                    beam_text = gr.Markdown()
                    beam_plot = gr.Plot(show_label=False)
        with gr.Tab(T("tab.candidates", L)) as tab_candidates:
            cand_md = gr.Markdown(T("cand.intro", L))
            candidates = gr.Dataframe(interactive=False, wrap=True)
            pick_input = gr.Radio([1], value=1, label=T("cand.pick", L))
            candidate_caption = gr.Markdown()
            candidate_plot = gr.Plot(show_label=False)
            tree_title = gr.Markdown(f"### {T('tree.title', L)}")
            tree_caption = gr.Markdown()
            show_pruned_input = gr.Checkbox(True, label=T("tree.pruned", L))
            tree_plot = gr.Plot(show_label=False)

    OUTPUTS = {"message": message, "result": result_html, "meta": meta, "segmentation": segmentation,
               "live_plot": live_plot, "live_caption": live_caption_md, "compare_note": compare_note,
               "greedy_text": greedy_text, "greedy_plot": greedy_plot, "beam_text": beam_text, "beam_plot": beam_plot,
               "candidates": candidates, "pick": pick_input, "candidate_plot": candidate_plot,
               "candidate_caption": candidate_caption, "tree_caption": tree_caption, "tree_plot": tree_plot,
               "pipe_ids": pipe_ids, "pipe_emb": pipe_emb, "emb_plot": emb_plot, "pipe_enc": pipe_enc,
               "enc_plot": enc_plot, "pipe_ctx": pipe_ctx, "ctx_plot": ctx_plot, "state": state}

    def to_components(named: dict[str, Any]) -> dict:
        return {OUTPUTS[name]: value for name, value in named.items()}

    def ui_translate(text, key, beam_size, lp, cp, max_length, no_repeat_size, speed_name, lang, pruned):
        for update in translate_stream(text, key, beam_size, lp, cp, max_length, no_repeat_size, speed_name, lang,
                                       pruned):
            yield to_components(update)

    LABELS = [  # (component, attribute → i18n key): what the language switch rewrites
        (lang_radio, {"label": "app.language"}),
        (text_box, {"label": "app.input", "placeholder": "app.input_placeholder", "info": "app.input_help"}),
        (examples, {"label": "app.examples"}), (translate_btn, {"value": "app.translate"}),
        (speed_input, {"label": "live.speed"}), (model_box, {"label": "app.model", "info": "app.model_help"}),
        (refresh_btn, {"value": "gr.refresh"}), (settings, {"label": "app.decoding"}),
        (beam_input, {"label": "app.beam", "info": "app.beam_help"}),
        (length_penalty_input, {"label": "app.length_penalty", "info": "app.length_penalty_help"}),
        (coverage_penalty_input, {"label": "app.coverage_penalty", "info": "app.coverage_penalty_help"}),
        (max_len_input, {"label": "app.max_len", "info": "app.max_len_help"}),
        (no_repeat_input, {"label": "app.no_repeat", "info": "app.no_repeat_help"}),
        (tab_live, {"label": "tab.live"}), (live_md, {"value": "live.intro"}), (tab_compare, {"label": "tab.compare"}),
        (tab_pipeline, {"label": "gr.tab_pipeline"}), (pipe_md, {"value": "pipe.intro"}),
        (tab_candidates, {"label": "tab.candidates"}), (cand_md, {"value": "cand.intro"}),
        (show_pruned_input, {"label": "tree.pruned"}),
    ]

    def ui_language(lang, key, result, pruned, picked):
        lang = lang_of(lang)
        updates = {component: gr.update(**{attr: T(k, lang) for attr, k in attrs.items()})
                   for component, attrs in LABELS}
        updates[speed_input] = gr.update(label=T("live.speed", lang),
                                         choices=[(T(f"live.speed_{s}", lang), s) for s in SPEEDS])
        updates[model_box] = gr.update(label=T("app.model", lang), info=T("app.model_help", lang),
                                       choices=model_choices(lang))
        updates[header] = HEADER.format(title=T("app.title", lang), subtitle=T("app.subtitle", lang))
        updates[tree_title] = f"### {T('tree.title', lang)}"
        updates[model_info] = model_card(key, lang)
        updates.update(to_components(rerender(result, lang, pruned, picked)))
        return updates

    def ui_pick(result, picked, lang):
        if result is None:
            return gr.skip(), gr.skip()
        return candidate_figure(result, picked, lang_of(lang))

    def ui_tree(result, pruned, lang):
        return gr.skip() if result is None else tree_figure(result, pruned, lang_of(lang))

    translate_inputs = [text_box, model_box, beam_input, length_penalty_input, coverage_penalty_input, max_len_input,
                        no_repeat_input, speed_input, lang_radio, show_pruned_input]
    gr.on([translate_btn.click, text_box.submit], ui_translate, inputs=translate_inputs,
          outputs=list(OUTPUTS.values()), api_name="ui_translate", api_visibility="private", concurrency_limit=8,
          show_progress="minimal")
    examples.click(lambda sample: sample[0], inputs=examples, outputs=text_box, api_name="ui_example",
                   api_visibility="private", queue=False).then(
        ui_translate, inputs=translate_inputs, outputs=list(OUTPUTS.values()), api_name="ui_example_translate",
        api_visibility="private", concurrency_limit=8, show_progress="minimal")
    model_box.change(on_model_change, inputs=[model_box, text_box, lang_radio],
                     outputs=[examples, model_info, text_box],
                     api_name="ui_model", api_visibility="private")
    refresh_btn.click(on_refresh, inputs=[model_box, lang_radio], outputs=[model_box, model_info],
                      api_name="ui_refresh", api_visibility="private")
    lang_radio.change(ui_language, inputs=[lang_radio, model_box, state, show_pruned_input, pick_input],
                      outputs=[c for c, _ in LABELS] + [header, tree_title, model_info] + list(OUTPUTS.values()),
                      api_name="ui_language", api_visibility="private")
    def ui_row(event: gr.SelectData):
        return event.index[0] + 1 if isinstance(event.index, (list, tuple)) else gr.skip()

    candidates.select(ui_row, inputs=None, outputs=pick_input, api_name="ui_row", api_visibility="private")
    pick_input.change(ui_pick, inputs=[state, pick_input, lang_radio], outputs=[candidate_plot, candidate_caption],
                      api_name="ui_pick", api_visibility="private")
    show_pruned_input.change(ui_tree, inputs=[state, show_pruned_input, lang_radio], outputs=tree_plot,
                             api_name="ui_tree", api_visibility="private")
    demo.load(on_load, inputs=None, outputs=[lang_radio, model_box, text_box, examples, model_info],
              api_name="ui_load", api_visibility="private")

    # The programmatic API (JSON in, JSON out; see the module docstring).
    gr.api(api_translate, api_name="translate", concurrency_limit=8)
    gr.api(api_segment, api_name="segment", concurrency_limit=8)
    gr.api(api_score, api_name="score", concurrency_limit=8)
    gr.api(api_models, api_name="models", concurrency_limit=8)

demo.queue(default_concurrency_limit=8)


if __name__ == "__main__":
    demo.launch(css=CSS, footer_links=["api", "settings"])
