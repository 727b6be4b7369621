"""The models folder as the apps show it: picker labels, model cards, examples, a shared cache.

A model is picked by *key*: ``name`` for a shipped file, ``user/name`` for one trained in
an app. :func:`shelf` lists the folder (reading only each file's metadata);
:func:`open_model` loads a model once per file version and shares it read-only between
every visitor (decoding never changes it).
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import catalog, names
from ..batching import Batcher
from ..catalog import USER_PREFIX, ModelInfo
from ..errors import CheckpointError, LabError
from ..i18n import STRINGS, error_text, t
from ..settings import Settings
from ..translator import Translator

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
DEFAULT_TEXT = "我爱学习。"
MAX_LOADED = 8                     # models kept in memory per process (a shipped sentence model is ~50 MB)


@dataclass
class Shelf:
    """Readable models by key, and the files that cannot be read (listed with their reason)."""

    good: dict[str, ModelInfo]
    bad: list[ModelInfo]

    @property
    def keys(self) -> list[str]:
        return list(self.good)

    @property
    def default_key(self) -> str | None:
        if catalog.DEFAULT_MODEL in self.good:
            return catalog.DEFAULT_MODEL
        return next(iter(self.good), None)

    def corpus(self, key: str | None) -> str:
        info = self.good.get(key or "")
        return info.corpus if info is not None else "hsk"

    def choices(self, lang: str) -> list[tuple[str, str]]:
        """(label, key) for the model picker."""
        return [(model_label(key, info, lang), key) for key, info in self.good.items()]

    def examples(self, key: str | None) -> list[str]:
        """The example sentences that suit model ``key`` (at least the default sentence)."""
        return list(examples_for(self.corpus(key))) or [DEFAULT_TEXT]

    def card(self, key: str | None, lang: str) -> str:
        """Markdown: model ``key``'s card and its data's attribution, then a line per unreadable file."""
        lines = []
        if key in self.good:
            data = model_data(self.good[key], lang)
            lines.append(model_card(key, self.good[key], lang) + (f"  \n{data}" if data else ""))
        elif not self.good:
            lines.append(t("app.no_models", lang))
        return "\n\n".join(lines + ["⚠ " + broken_file_line(info, lang) for info in self.bad])


def shelf(settings: Settings) -> Shelf:
    return Shelf(*catalog.available_models(settings.models_dir))


@dataclass
class OpenModel:
    key: str
    path: Path
    mtime: float                   # the file's version: a replaced file is loaded again
    translator: Translator

    @property
    def version(self) -> tuple:
        """What a cached result of this model depends on."""
        return (str(self.path), self.mtime, str(self.translator.device))

    @property
    def batcher(self) -> Batcher:
        """This model's requests that arrive together are decoded together (``seq2seq_lab/batching.py``)."""
        with _load_lock:
            if self.translator not in _batchers:
                _batchers[self.translator] = Batcher(self.translator)
            return _batchers[self.translator]


_batchers: weakref.WeakKeyDictionary[Translator, Batcher] = weakref.WeakKeyDictionary()
_loaded: OrderedDict[tuple, Translator] = OrderedDict()
_load_lock = threading.Lock()


def _translator(path: Path, mtime: float, device: str) -> Translator:
    """One Translator per file version and device, shared by every visitor; at most MAX_LOADED kept."""
    key = (str(path), mtime, device)
    with _load_lock:                # thirty visitors opening the page at once load the file once
        if key not in _loaded:
            _loaded[key] = Translator.load(path, device=device)
            while len(_loaded) > MAX_LOADED:
                _loaded.popitem(last=False)
        _loaded.move_to_end(key)
        return _loaded[key]


def open_model(key: str | None, settings: Settings) -> OpenModel:
    """The model of picker key ``key`` (empty: the default model); refuses names outside the folder."""
    if not key:
        try:                            # the usual case, without listing the folder on every API request
            return open_model(catalog.DEFAULT_MODEL, settings)
        except (OSError, CheckpointError):
            pass                        # absent or unreadable: the first readable model, as the picker has it
        key = shelf(settings).default_key
        if key is None:
            raise LabError("no_models", "There is no model in the models folder yet.")
    path = catalog.model_path(key, settings.models_dir)
    mtime = path.stat().st_mtime
    return OpenModel(key, path, mtime, _translator(path, mtime, settings.device))


def warm_up(settings: Settings) -> str | None:
    """Before a server takes requests: open the default model and translate its first example, so the first
    visitors do not pay for reading the file, jieba's dictionary and name tagger, and torch's first calls (with the
    Gradio API, 40 users arriving together at a cold server waited 4.2–4.7 s for their first answer, then ~1–2 s).
    The key of the model warmed; None (and the reason logged) when there is none to warm: the server starts anyway."""
    try:
        opened = open_model("", settings)
        opened.translator.translate(shelf(settings).examples(opened.key)[0], beam_size=1)
        names.is_person_name("王芳", "叫")     # jieba's part-of-speech tables (~1 s), read on the first name
        return opened.key
    except (OSError, LabError) as error:
        log.warning("nothing warmed before serving: %s", error)
        return None


# --- labels and cards ----------------------------------------------------------------------

# What can turn text into a link, an image, HTML, code or emphasis. Without "[" no link or image can form, so
# "(" and ")" stay as they are: escaped, a GFM renderer would put the backslash into a bare URL it links
# ("https://example.org\)"). ``_`` between two letters or digits ("tiny_numbers") cannot open or close emphasis
# in CommonMark; any other ``_`` can ("_draft_", "__init__"), so _LOOSE_UNDERSCORE escapes those.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*[]!|~"})
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def md_text(value) -> str:
    """``value`` as literal text inside Markdown: no link, image, emphasis or HTML can come out of it.

    Model names, corpus names and attributions are read from files anyone can drop into the models
    folder (or name through an upload): ``![x](http://…)`` must show as those characters.
    """
    return _LOOSE_UNDERSCORE.sub(r"\\_", html.escape(str(value), quote=False).translate(_MARKDOWN))


def fmt(value, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def test_figure(info: ModelInfo, lang: str, decoding: str = "greedy") -> str:
    """The model's headline test figure: exact match for a toy task (BLEU means little on a one-token output
    like "3005"), BLEU for sentences."""
    metrics = info.test_metrics.get(decoding, {})
    metrics = metrics if isinstance(metrics, dict) else {}
    if info.corpus.startswith("toy:") and isinstance(metrics.get("exact"), (int, float)):
        return t("app.metric_exact", lang, value=f"{metrics['exact']:.1%}")
    return t("app.metric_bleu", lang, value=fmt(metrics.get("bleu")))


def model_label(key: str, info: ModelInfo, lang: str) -> str:
    """The picker's line for a model: "everyday_additive · additive · everyday · BLEU 14.2"
    ("my_dates (trained here) · …" for a model trained in the app, key ``user/my_dates``)."""
    here = f" ({t('app.trained_here', lang)})" if key.startswith(USER_PREFIX) else ""
    return f"{info.name}{here} · {attention_label(info, lang)} · {info.corpus} · {test_figure(info, lang)}"


def is_transformer(config: dict) -> bool:
    return config.get("family") == "transformer"


def attention_label(info: ModelInfo, lang: str) -> str:
    """The model's attention as the picker names it, in the page's language: "additive" / "加性", "dot ÷ √H" /
    "点积 ÷ √H", … or "Transformer (4 heads)"; a kind this version does not know, as its file names it."""
    if is_transformer(info.config):
        return t("app.transformer_kind", lang, heads=info.config.get("heads", "?"))
    return attention_name(info, lang)


def is_scaled(config: dict) -> bool:
    """dot or general attention with scores ÷ √H (model.ModelConfig.scaled_scores)."""
    return config.get("scaled_scores") is True


def attention_name(info: ModelInfo, lang: str | None = None) -> str:
    """"additive", "dot", … and "dot ÷ √H" for dot or general with scaled scores: the kind as the model's file
    names it, or with ``lang`` in that language's words ("加性", "点积 ÷ √H"; a kind without any, as named)."""
    key = f"attn.{info.attention}"
    name = t(key, lang) if lang is not None and key in STRINGS else str(info.attention)
    return f"{name} ÷ √H" if is_scaled(info.config) else name


def variant_formula(attention: str, info: ModelInfo | None, lang: str) -> str:
    """The variants tab's line for one attention: "dot: e_j = qᵀk_j", or "dot: e_j = qᵀk_j/√H" where the
    installed model scales its scores."""
    scaled = info is not None and is_scaled(info.config)
    return t(f"var.formula.{attention}_scaled" if scaled else f"var.formula.{attention}", lang)


def architecture(config: dict, lang: str = "en") -> str:
    """"GRU ×2 bi · emb 256 · hidden 512", or "Transformer · 3+3 layers · 4 heads · d 256 · FFN 512"."""
    if is_transformer(config):
        return t("app.transformer_arch", lang, **{name: config.get(field, "?") for name, field in (
            ("enc", "enc_layers"), ("dec", "dec_layers"), ("heads", "heads"), ("d", "d_model"), ("ff", "ff_size"))})
    return (f"{str(config.get('cell', '?')).upper()} ×{config.get('enc_layers', '?')}"
            f"{' bi' if config.get('bidirectional') else ''} · emb {config.get('emb_size', '?')}"
            f" · hidden {config.get('hidden_size', '?')}")


def model_card(key: str, info: ModelInfo, lang: str) -> str:
    """Markdown: the model's attention, corpus, architecture, test figures and chrF per test set.

    Everything read from the file (names, corpus, attribution) goes through :func:`md_text`.
    """
    card = t("app.model_card", lang, name=md_text(key), attention=md_text(attention_name(info)),
             corpus=md_text(info.corpus), arch=md_text(architecture(info.config, lang)))
    if info.test_metrics:
        card += " · " + t("app.model_test", lang, greedy=test_figure(info, lang, "greedy"))
        if "beam5" in info.test_metrics:
            card += ", " + t("app.model_test_beam", lang, beam=test_figure(info, lang, "beam5"))
    by_set = info.test_set_chrf()
    if len(by_set) > 1:
        card += "  \n" + t("app.model_test_sets", lang, figures=md_text(
            ", ".join(f"{name} {value:.1f}" for name, value in by_set.items())))
    for line in (domain_line(info.record, lang), alignment_line(info.record, lang)):
        if line:
            card += "  \n" + line
    return card


def _share(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def domain_line(record: dict, lang: str) -> str | None:
    """"Right on 100.0 % of its whole domain (100,000 inputs)" for a toy model whose record measured it."""
    domain = record.get("domain") if isinstance(record, dict) else None
    if not (isinstance(domain, dict) and _share(domain.get("exact")) and isinstance(domain.get("inputs"), int)):
        return None
    return t("app.model_domain", lang, exact=f"{domain['exact']:.1%}", inputs=f"{domain['inputs']:,}")


def alignment_line(record: dict, lang: str) -> str | None:
    """"Attention peak on the producing token: 97.8 % of outputs (mean weight 0.86)" (#13's alignment score)."""
    alignment = record.get("alignment") if isinstance(record, dict) else None
    if not (isinstance(alignment, dict) and _share(alignment.get("argmax")) and _share(alignment.get("weight"))):
        return None
    line = t("app.model_alignment", lang, argmax=f"{alignment['argmax']:.1%}", weight=f"{alignment['weight']:.2f}")
    config = record.get("train_config")
    guided = config.get("guided_alignment") if isinstance(config, dict) else None     # taught where to look?
    if isinstance(guided, (int, float)) and not isinstance(guided, bool) and 0 < guided < math.inf:
        line += t("app.model_alignment_guided", lang, weight=f"{guided:g}")
    return line


def model_data(info: ModelInfo, lang: str) -> str | None:
    """Where the training data came from and under which licences (None if the file does not say)."""
    return t("app.model_data", lang, attribution=md_text(info.attribution)) if info.attribution else None


NO_PENALTIES = {"length_penalty": 0.0, "coverage_penalty": 0.0, "no_repeat_ngram_size": 0}


def tuned_decoding(info: ModelInfo) -> dict | None:
    """The decoding settings chosen on the model's validation split, if the file records them."""
    tuned = info.record.get("decoding")
    if not isinstance(tuned, dict):
        return None
    try:
        return {"length_penalty": float(tuned["length_penalty"]), "coverage_penalty": float(tuned["coverage_penalty"]),
                "no_repeat_ngram_size": int(tuned.get("no_repeat_ngram_size", 0))}
    except (KeyError, TypeError, ValueError):
        return None


def starting_decoding(info: ModelInfo | None) -> dict:
    """The penalties and n-gram blocking a visitor starts with on a model: its tuned ones (chosen on its
    validation split, so the default shows no repeats), else none."""
    return (tuned_decoding(info) if info is not None else None) or dict(NO_PENALTIES)


def tuned_label(tuned: dict, lang: str) -> str:
    return t("app.use_tuned", lang, alpha=tuned["length_penalty"], beta=tuned["coverage_penalty"],
             n=tuned["no_repeat_ngram_size"])


def broken_file_line(info: ModelInfo, lang: str) -> str:
    """"Skipped model file x: why" (``info.error`` is the file's CheckpointError)."""
    return t("app.bad_model_files", lang, name=md_text(info.path.name), reason=md_text(error_text(info.error, lang)))


# --- examples --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def example_book() -> dict:
    """assets/examples.json (a missing or broken file gives no examples, never a crash)."""
    try:
        book = json.loads((ASSETS / "examples.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"sentences": [], "toy": {}}
    return book if isinstance(book, dict) else {"sentences": [], "toy": {}}


def examples_for(corpus: str) -> dict[str, dict]:
    """The examples that suit a model trained on ``corpus``, by Chinese text: its toy task's, else the sentences."""
    book = example_book()
    entries = book.get("toy", {}).get(corpus[4:], []) if corpus.startswith("toy:") else book.get("sentences", [])
    return {entry["zh"]: entry for entry in entries if isinstance(entry, dict) and "zh" in entry}


def example_source(entry: dict) -> str:
    """Where an example comes from, for its button: "HSK2", "Tatoeba", "everyday" (or nothing)."""
    return f"HSK{entry['level']}" if "level" in entry else str(entry.get("source", ""))


def example_label(entry: dict) -> str:
    source = example_source(entry)
    return f"{source} · {entry['zh']}" if source else entry["zh"]


def all_examples() -> set[str]:
    book = example_book()
    toy = [e for task in book.get("toy", {}).values() for e in task]
    return {e["zh"] for e in book.get("sentences", []) + toy if isinstance(e, dict) and "zh" in e} | {DEFAULT_TEXT}


def text_for_model(text: str | None, corpus: str) -> str:
    """The text to show after switching to a model trained on ``corpus``.

    What the visitor typed stays. An example (or an empty box) that does not suit the
    new model — a date for a sentence model, a sentence for the numbers model — becomes
    the new model's first example.
    """
    suitable = examples_for(corpus)
    text = text or ""
    if suitable and text not in suitable and (text in all_examples() or not text.strip()):
        return next(iter(suitable))
    return text


def example_reference(text: str, corpus: str, lang: str) -> str | None:
    """"Reference translation: … (the model never saw this sentence)" for an example, else None."""
    example = examples_for(corpus).get(text)
    if not example or not example.get("en"):
        return None
    seen = {"train": " " + t("app.example_seen", lang), "test": " " + t("app.example_unseen", lang)}
    return t("app.example_reference", lang, en=md_text(example["en"])) + seen.get(example.get("split"), "")
