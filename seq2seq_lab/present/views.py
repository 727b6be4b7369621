"""What the tabs show, as values: captions, the greedy-vs-beam comparison, the n-best table,
the search tree, the pipeline panels and friendly errors.

Each function takes a result (or a translation) and a language and returns strings,
rows or plotly figures; the apps only place them. Markdown strings escape whatever came
from the visitor or a file (:func:`~.catalogue.md_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import explain, figures
from ..errors import LabError
from ..i18n import error_text, t
from ..search import PRUNED, Step
from ..translator import Candidate, Translation, detokenize
from ..vocab import EOS
from .catalogue import OpenModel, md_text
from .live import COMPARE_BEAM, LRU, Frame, Result, translate


def error_message(error: Exception, lang: str) -> str:
    """A friendly sentence for ``error`` in ``lang`` (never a traceback)."""
    if isinstance(error, LabError):
        return error_text(error, lang)
    return t("error.unexpected", lang, message=f"{type(error).__name__}: {error}")


def font_size(presenter: bool) -> int:
    return 20 if presenter else 14


HEATMAPS = LRU(512)                # built figures, shared by every visitor (a few kB each)


def pinyin_notes(src_tokens: Sequence[str], on: bool) -> tuple[str, ...] | None:
    """Pinyin under each source token (学习 → xuéxí; "" for </s>, digits, punctuation); None when switched off
    or when no token has any (a digits-only toy sentence)."""
    if not on:
        return None
    notes = tuple(explain.pinyin(token) for token in src_tokens)
    return notes if any(notes) else None


def heatmap(src_tokens, out_tokens, attention, lang: str, *, presenter: bool = False, pinyin: bool = False,
            **kwargs):
    """The attention heatmap, built once for the same picture: a class clicking one example sees the same frames,
    and building a plotly figure (~10 ms, mostly validation) was a good part of a live step's server time. The
    figure is shared, so nothing may change it (both apps only serialise it). ``pinyin``: under the source words.
    ``as_spec=True`` (passed on to ``figures.attention_heatmap``): plotly's JSON form, as the live player sends it."""
    notes = pinyin_notes(src_tokens, pinyin)
    if notes:
        kwargs["src_notes"] = notes

    def build():
        return figures.attention_heatmap(src_tokens, out_tokens, attention, lang=lang,
                                         font_size=font_size(presenter), **kwargs)

    weights = None if attention is None else np.ascontiguousarray(attention)
    try:
        key = (tuple(src_tokens), tuple(out_tokens), None if weights is None else
               (weights.shape, weights.dtype.str, weights.tobytes()), lang, presenter, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:                  # an unhashable option: build it, uncached
        return build()
    return HEATMAPS.get(key, build)


def words_width(src_tokens: Sequence[str], *, presenter: bool = False, pinyin: bool = False) -> float:
    """The plot width in px that a heatmap of these source tokens needs for them to stand apart: an app gives the
    heatmap the page's width when a column beside something else would be narrower."""
    return figures.columns_width(src_tokens, font_size(presenter), pinyin_notes(src_tokens, pinyin))


def source_width(model: OpenModel, text: str, *, shown: Result | None = None, presenter: bool = False,
                 pinyin: bool = False) -> float:
    """:func:`words_width` of the tokens ``model`` reads ``text`` as, before it is translated: those of ``shown``
    when it is this model's translation of ``text`` (a page's rerun reads the sentence once, not again), else the
    text's own analysis; 0 for text the model cannot read (the error is shown where the text is translated)."""
    if shown is not None and (shown.model_key, shown.version, shown.text) == (model.key, model.version, text):
        return words_width(shown.final.src_tokens, presenter=presenter, pinyin=pinyin)
    try:
        tokens = model.translator.analyze(text).src_tokens
    except LabError:
        return 0.0
    return words_width(tokens, presenter=presenter, pinyin=pinyin)


def next_word_bars(frame: Frame, lang: str, *, presenter: bool = False, as_spec: bool = False):
    """The live view's bars of the model's top next words at ``frame``'s step, shared like :func:`heatmap`.
    ``as_spec``: plotly's JSON form (``figures.spec_json``), as the live player sends it."""
    alternatives = tuple((a.token, float(a.prob)) for a in frame.alternatives)
    return HEATMAPS.get(("bars", alternatives, frame.token, frame.step, lang, presenter, as_spec),
                        lambda: figures.probability_bars(frame.alternatives, frame.token, lang=lang,
                                                         title=t("live.bars_title", lang, step=frame.step),
                                                         font_size=font_size(presenter), as_spec=as_spec))


# --- the result's captions -------------------------------------------------------------------

def strategy(translation: Translation, lang: str) -> str:
    k = translation.options.beam_size
    return t("strategy.greedy", lang) if k == 1 else t("strategy.beam", lang, k=k)


def names_note(translation: Translation, lang: str) -> str:
    """One line per name read through a stand-in (:mod:`seq2seq_lab.names`), Markdown; "" when there is none."""
    return "  \n".join(t("app.name_stand_in", lang, word=md_text(name.word), stand_in=md_text(name.stand_in),
                          en=md_text(name.stand_in_en), pinyin=md_text(name.pinyin))
                        for name in translation.source.names)


def result_meta(translation: Translation, lang: str) -> str:
    """"beam search (5) · log-probability -3.2 · normalised score -0.8 · 41 ms on cpu" (+ cut-off note, + a line
    for each name read through a stand-in)."""
    best = translation.best
    meta = t("app.result_meta", lang, strategy=strategy(translation, lang), score=best.score,
             norm=best.normalized_score, ms=translation.elapsed_ms, device=md_text(translation.device))
    lines = [meta] + ([] if best.finished else [t("app.not_finished", lang)]) + [names_note(translation, lang)]
    return "  \n".join(line for line in lines if line)


MOSTLY_UNKNOWN = 0.5    # the share of a sentence's tokens seen as <unk> from which its translation is flagged


def unknown_warning(translation: Translation, lang: str) -> str:
    """A warning (Markdown) when at least half of the sentence's tokens reach the model as ``<unk>``, as a
    sentence about the weather does a model trained on dates: its fluent output would otherwise pass for a
    translation. "" otherwise."""
    tokens = [token for token in translation.source.tokens if token.model_token != EOS]
    unknown = translation.source.unknown
    if not tokens or len(unknown) < MOSTLY_UNKNOWN * len(tokens):
        return ""
    return md_text(t("app.mostly_unknown", lang, unknown=len(unknown), tokens=len(tokens),
                     words=" ".join(dict.fromkeys(unknown))))


def step_caption(frame: Frame, steps: int | None, lang: str, *, plain: bool = False) -> str:
    """"Step 2 of 5: the model wrote “love” (probability 61.0%)." (``steps`` None: still running).
    Markdown, the token escaped; ``plain``: as text, for a page that sets it as text (the live player)."""
    token = frame.token if plain else md_text(frame.token)
    if steps is None:
        return t("gr.step_caption", lang, step=frame.step, token=token, prob=frame.prob)
    return t("live.step_caption", lang, step=frame.step, steps=steps, token=token, prob=frame.prob)


def text_so_far(result: Result, step: int) -> str:
    """The translation as it stands after ``step`` (1-based) of the final path: the banner while stepping.

    At the last step (or beyond) it is the finished translation; before, the words written so far and "…".
    """
    frames = result.frames
    if not frames or step >= len(frames):
        return result.final.best.text
    tokens = frames[max(1, step) - 1].tokens
    return detokenize(tokens, result.style, result.final.source.names) + " …"


def no_attention_note(tokens: Sequence[str], lang: str, *, plain: bool = False) -> str:
    """What the heatmap's place says for a model without attention (Markdown; ``plain``: text, two lines)."""
    so_far = " ".join(tokens)
    if plain:
        return t("live.no_attention", lang) + "\n" + t("live.output_so_far", lang, text=so_far)
    return t("live.no_attention", lang) + "  \n" + t("live.output_so_far", lang, text=md_text(so_far))


def score_line(candidate: Candidate, lang: str) -> str:
    return (f"{t('cmp.logprob', lang)}: **{candidate.score:.3f}** · {t('cmp.norm', lang)}: "
            f"**{candidate.normalized_score:.3f}** · {t('cand.length', lang)}: {candidate.length}")


# --- greedy against beam -----------------------------------------------------------------------

def first_divergence(a: Sequence[str], b: Sequence[str]) -> int | None:
    """The first position where two token lists differ (None if they are equal)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


@dataclass
class Comparison:
    greedy: Translation
    beam: Translation
    k: int                         # the beam size shown
    beam_added: bool               # the visitor decoded greedily: the beam was run for the comparison
    split: int | None              # first output position where they differ; None: the same output

    def note(self, lang: str) -> tuple[str, str]:
        """(kind, Markdown): kind "same" or "diverge" (the apps colour it), with the intro first."""
        intro = t("cmp.intro", lang, k=self.k)
        if self.beam_added:
            intro = t("cmp.beam1", lang) + "  \n" + intro
        if self.split is None:
            return "same", intro + "  \n" + t("cmp.same", lang)
        g, b = self.greedy.best.tokens, self.beam.best.tokens
        return "diverge", intro + "  \n" + t("cmp.diverge", lang, step=self.split + 1,
                                             greedy=md_text(g[self.split]) if self.split < len(g) else "–",
                                             beam=md_text(b[self.split]) if self.split < len(b) else "–")

    def sides(self, lang: str) -> list[tuple[str, str, Candidate]]:
        """(key, title, candidate) for the two columns."""
        return [("greedy", t("cmp.greedy", lang), self.greedy.best),
                ("beam", t("cmp.beam", lang, k=self.k), self.beam.best)]


def compare(model: OpenModel, result: Result) -> Comparison:
    """The decoding just done against the other strategy (a beam of 5 against a greedy run)."""
    options = result.options
    if options["beam_size"] > 1:
        greedy = translate(model, result.text, {**options, "beam_size": 1, "n_best": 1})
        beam, k, added = result.final, options["beam_size"], False
    else:
        greedy = result.final
        beam = translate(model, result.text, {**options, "beam_size": COMPARE_BEAM, "n_best": COMPARE_BEAM})
        k, added = COMPARE_BEAM, True
    return Comparison(greedy, beam, k, added, first_divergence(greedy.best.tokens, beam.best.tokens))


# --- the n-best list and the search tree --------------------------------------------------------

CANDIDATE_COLUMNS = ("cand.rank", "cand.text", "cand.logprob", "cand.norm", "cand.length", "cand.finished")


def candidate_rows(translation: Translation | None, lang: str) -> tuple[list[str], list[list]]:
    """(column titles, rows) of the n-best table; no rows without a translation."""
    columns = [t(key, lang) for key in CANDIDATE_COLUMNS]
    rows = [[rank, c.text, round(c.score, 3), round(c.normalized_score, 3), c.length, "✓" if c.finished else "…"]
            for rank, c in enumerate(translation.candidates if translation is not None else [], start=1)]
    return columns, rows


def candidate_frame(translation: Translation | None, lang: str):
    """The n-best table as a pandas DataFrame (what both apps' table widgets take)."""
    import pandas as pd

    columns, rows = candidate_rows(translation, lang)
    return pd.DataFrame(rows, columns=columns)


def pick_rank(translation: Translation, rank) -> int:
    """A 1-based rank inside the n-best list (anything else: 1)."""
    try:
        rank = int(rank)
    except (TypeError, ValueError):
        return 1
    return rank if 1 <= rank <= len(translation.candidates) else 1


def candidate_heatmap(result: Result, rank, lang: str, *, presenter: bool = False, pinyin: bool = False):
    """(heatmap of candidate ``rank`` or None, Markdown caption)."""
    rank = pick_rank(result.final, rank)
    chosen = result.final.candidates[rank - 1]
    if chosen.attention is None:
        return None, t("live.no_attention", lang)
    caption = t("cand.heatmap_title", lang, rank=rank, text=chosen.text)
    return heatmap(result.final.src_tokens, chosen.tokens, chosen.attention, lang, presenter=presenter,
                   pinyin=pinyin, title=caption), "**" + md_text(caption) + "**"


def tree_caption(result: Result, lang: str) -> str:
    k = result.final.options.beam_size
    return t("cand.greedy_only", lang) if k == 1 else md_text(t("tree.intro", lang, k=k))    # "</s>" as text


def beam_tree(result: Result, show_pruned: bool, lang: str, *, presenter: bool = False):
    steps = result.steps if show_pruned else [Step(s.index, [n for n in s.nodes if n.status != PRUNED])
                                              for s in result.steps]
    return figures.beam_tree(steps, best_tokens=result.final.best.tokens, lang=lang, font_size=font_size(presenter))


# --- inside the model: the pipeline panels --------------------------------------------------------

@dataclass
class Panel:
    key: str                       # a stable name: "seg", "ids", "emb", "enc", "ctx" (a Transformer: "pos",
    #                                "qkv", "scores" instead of "ctx")
    title: str
    caption: str                   # Markdown
    html: str | None = None        # token chips
    figure: object = None          # a plotly figure


LEGEND = (("word", "pipe.legend_word"), ("sub", "pipe.legend_sub"), ("char", "pipe.legend_char"),
          ("name", "pipe.legend_name"), ("unk", "pipe.legend_unk"))


def pipeline(model: OpenModel, text: str, lang: str, *, presenter: bool = False, pinyin: bool = False) -> list[Panel]:
    """The encoder's side, stage by stage: segmentation, ids, embeddings, encoder states, the start vector.

    A Transformer's path instead: segmentation, ids, the scaled embeddings √d·E[w], the positional encodings
    ("pos") and the encoder states after its N layers; its one-head trace is :func:`.heads.trace_panels`.
    """
    tr = model.translator
    encoding = tr.encode(text)
    source, config, size = encoding.source, tr.config, font_size(presenter)
    tokens = source.src_tokens
    legend = figures.legend_chips_html([(kind, t(key, lang)) for kind, key in LEGEND])
    if config.src_segmenter == "char":
        seg_caption = t("pipe.seg_char_model", lang)
    else:
        seg_caption = md_text(t("pipe.seg_help", lang)) + "  \n" + md_text(t("pipe.words", lang,
                                                                                words=" / ".join(source.words)))
    for key, words in (("gr.unknown", source.unknown), ("gr.split", source.split_words)):
        if words:                                       # the sentences say "<unk>": text, not an HTML tag
            seg_caption += "  \n" + md_text(t(key, lang, words=", ".join(words)))
    def vectors(rows, values):
        return figures.vector_heatmap(rows, values, lang=lang, font_size=size)

    panels = [
        Panel("seg", t("pipe.seg", lang), seg_caption,
              html=figures.token_chips_html(source.tokens, font_size=size + 4,
                                            notes=pinyin_notes([tok.text for tok in source.tokens], pinyin))
              + legend),
        Panel("ids", t("pipe.ids", lang), md_text(t("pipe.ids_help", lang, size=len(tr.src_vocab))),
              html=figures.token_chips_html(source.tokens, source.ids, font_size=size + 2)),
    ]
    if tr.family == "transformer":                   # its own path: √d·E[w] + PE, N layers, no summary vector
        dim = encoding.embeddings.shape[1]
        positions = [f"{j} · {token}" for j, token in enumerate(tokens)]
        return panels + [
            Panel("emb", t("pipe.emb", lang), t("pipe.emb_help_tf", lang, dim=dim, scale=dim ** 0.5),
                  figure=vectors(tokens, encoding.embeddings)),
            Panel("pos", t("pipe.pos", lang), t("pipe.pos_help", lang, dim=dim),
                  figure=vectors(positions, encoding.positional)),
            Panel("enc", t("pipe.enc_tf", lang), t("pipe.enc_help_tf", lang, layers=config.enc_layers,
                                                    heads=config.heads, dim=encoding.states.shape[1]),
                  figure=vectors(tokens, encoding.states)),
        ]
    direction = t("pipe.both_ways" if config.bidirectional else "pipe.one_way", lang)
    return panels + [
        Panel("emb", t("pipe.emb", lang), t("pipe.emb_help", lang, dim=encoding.embeddings.shape[1]),
              figure=vectors(tokens, encoding.embeddings)),
        Panel("enc", t("pipe.enc", lang), t("pipe.enc_help", lang, cell=config.cell.upper(),
                                             dim=encoding.states.shape[1], direction=direction),
              figure=vectors(tokens, encoding.states)),
        Panel("ctx", t("pipe.ctx", lang), t("pipe.ctx_help", lang, dim=encoding.summary.shape[0]),
              figure=vectors(["z"], encoding.summary[None, :])),
    ]


def pipeline_intro(model: OpenModel, lang: str) -> str:
    """The pipeline tab's first line: the RNN's five stages, or a Transformer's seven."""
    return t("pipe.intro_tf" if model.translator.family == "transformer" else "pipe.intro", lang)


# --- forcing a beginning ---------------------------------------------------------------------------

def first_choices(result: Result) -> dict[str, float]:
    """The model's top first words (token → probability), for the "what if it began with…" buttons."""
    first = result.steps[0].nodes[0].alternatives if result.steps else []
    return {a.token: a.prob for a in first if a.token not in ("</s>", "<unk>")}


def forced_cost(free: Translation, forced: Translation, lang: str) -> str:
    cost = free.best.score - forced.best.score
    if cost >= 0:
        return t("whatif.cost", lang, cost=cost, free=free.best.score, forced=forced.best.score)
    return t("whatif.better", lang, free=free.best.score, forced=forced.best.score)
