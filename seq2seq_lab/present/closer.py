"""The "look closer" tab: coverage, attention against attribution, exposure bias.

Each view takes the translation on screen (a :class:`~.live.Result`) and returns the figures and a short
Markdown explanation for students; the numbers come from :mod:`seq2seq_lab.explain`. Attributions and
exposure curves are kept in small caches shared by every visitor, like the decodings: a class looking at
the same example pays for them once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import explain, figures
from ..errors import InputError
from ..i18n import t
from .catalogue import OpenModel, examples_for, md_text
from .live import LRU, Result
from .views import font_size, heatmap, pinyin_notes

SECTIONS = ("coverage", "attribution", "exposure")
MAX_REFERENCE = 300                # characters of a typed reference (the longest output the apps allow fits)

ATTRIBUTIONS = LRU(32)             # explain.Attribution, a few kB each
EXPOSURES = LRU(64)


# --- coverage ---------------------------------------------------------------------------------------------------

@dataclass
class View:
    figures: list                   # plotly figures, left to right
    caption: str                    # Markdown: what the figures show, and the numbers
    kind: str = "info"              # "info", or "warning" when the view found something to point at


def coverage_view(result: Result, lang: str, *, presenter: bool = False, pinyin: bool = False) -> View:
    """The translation's heatmap beside its coverage bars, the dropped and repeated words, the penalty's value."""
    final = result.final
    best = final.best
    if best.attention is None:
        return View([], t("live.no_attention", lang))
    src = final.src_tokens
    cov = explain.coverage(src, best.attention, final.options.coverage_penalty)
    notes = pinyin_notes(src, pinyin)
    bars = figures.coverage_bars(src, cov.totals, dropped=cov.dropped, repeated=cov.repeated, lang=lang,
                                 font_size=font_size(presenter), src_notes=notes,
                                 title=t("closer.coverage_title", lang))
    lines = [t("closer.coverage_help", lang, low=explain.DROPPED_BELOW, high=explain.REPEATED_ABOVE)]
    if cov.dropped:
        lines.append(t("closer.dropped", lang, words=md_text(", ".join(src[j] for j in cov.dropped))))
    if cov.repeated:
        lines.append(t("closer.repeated", lang, words=md_text(", ".join(src[j] for j in cov.repeated))))
    lines.append(t("closer.penalty", lang, beta=cov.beta, log=cov.log_coverage, penalty=cov.penalty))
    return View([heatmap(src, best.tokens, best.attention, lang, presenter=presenter, pinyin=pinyin), bars],
                "  \n".join(lines), "warning" if cov.dropped or cov.repeated else "info")


# --- attention against attribution ----------------------------------------------------------------------------

def attribution(model: OpenModel, result: Result) -> explain.Attribution:
    """Integrated Gradients for the translation on screen, computed once per model, sentence and output."""
    tokens = tuple(result.final.best.tokens)
    return ATTRIBUTIONS.get((model.version, result.text, tokens),
                            lambda: explain.attribute(model.translator, result.text, tokens))


def shares(scores: np.ndarray) -> np.ndarray:
    """Each row of attributions as shares of its total magnitude: a_tj / Σ_j |a_tj| (−1 … 1; 0 for a zero row)."""
    total = np.abs(scores).sum(axis=1, keepdims=True)
    return np.divide(scores, total, out=np.zeros_like(scores, dtype=float), where=total > 0)


def attribution_view(model: OpenModel, result: Result, lang: str, *, presenter: bool = False,
                     pinyin: bool = False) -> View:
    """Attention (left) and Integrated Gradients (right) for every output word, with their rank correlation."""
    found = attribution(model, result)
    src, notes = found.src_tokens, pinyin_notes(found.src_tokens, pinyin)
    size = font_size(presenter)
    left = (None if found.attention is None else
            heatmap(src, found.out_tokens, found.attention, lang, presenter=presenter, pinyin=pinyin,
                    title=t("closer.attention_title", lang)))
    right = figures.attribution_heatmap(src, found.out_tokens, shares(found.scores), found.correlation, lang=lang,
                                        font_size=size, src_notes=notes, title=t("closer.attribution_title", lang))
    rho = found.correlation[np.isfinite(found.correlation)]
    gap = float(np.abs(found.delta).max(initial=0.0))
    lines = [t("closer.attribution_help", lang),
             t("closer.attribution_numbers", lang, rho=f"{float(rho.mean()):+.2f}" if rho.size else "–",
               gap=gap, steps=found.steps, seconds=found.seconds)]
    return View([fig for fig in (left, right) if fig is not None], "  \n".join(lines))


# --- exposure bias ----------------------------------------------------------------------------------------------

def default_reference(result: Result, corpus: str) -> str:
    """The example's reference translation, or "" for a sentence the visitor typed."""
    return str(examples_for(corpus).get(result.text, {}).get("en", ""))


def exposure(model: OpenModel, text: str, reference: str) -> explain.ExposureBias:
    if len(reference) > MAX_REFERENCE:
        raise InputError("too_long", f"The reference has {len(reference)} characters; the limit is {MAX_REFERENCE}.",
                         length=len(reference), limit=MAX_REFERENCE)
    return EXPOSURES.get((model.version, text, reference),
                         lambda: explain.exposure_bias(model.translator, text, reference))


def exposure_view(model: OpenModel, result: Result, reference: str | None, lang: str, *,
                  presenter: bool = False) -> View:
    """Teacher-forced against free-running probabilities of the reference's words (raises InputError on a
    reference that is too long; an empty one asks for one)."""
    reference = (reference or "").strip()
    if not reference:
        return View([], t("closer.no_reference", lang))
    found = exposure(model, result.text, reference)
    chart = figures.exposure_chart(found.reference, found.teacher_forced, found.free_running, found.own,
                                   found.leaves_at, lang=lang, font_size=font_size(presenter),
                                   title=t("closer.exposure_title", lang))
    lines = [t("closer.exposure_help", lang)]
    if found.leaves_at is None:
        lines.append(t("closer.same_as_reference", lang))
    else:
        step = found.leaves_at
        own = found.own[step] if step < len(found.own) else "–"
        ref = found.reference[step] if step < len(found.reference) else "–"
        lines.append(t("closer.leaves", lang, step=step + 1, own=md_text(own), ref=md_text(ref)))
    lines.append(t("closer.forced_score", lang, score=found.teacher_forced_score))
    if found.unknown:
        lines.append(t("closer.unknown_reference", lang, words=md_text(", ".join(found.unknown))))
    return View([chart], "  \n".join(lines), "info" if found.leaves_at is None else "warning")
