"""The presentation layer (seq2seq_lab.present), tested once and without any UI.

Everything runs on the session's tiny trained models (``tiny_models_dir`` in conftest.py),
copied into a models folder of this module that also holds a corrupt file. Each check
compares what the layer shows with what the core computes for the same model and sentence
(a Translator loaded on its own, outside the shared cache), or with an invariant.
"""

from __future__ import annotations

import ast
import dataclasses
import html
import itertools
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from conftest import copy_with_a_broken_file
from markdown_it import MarkdownIt

from seq2seq_lab import catalog, figures
from seq2seq_lab.catalog import ModelInfo
from seq2seq_lab.checkpoint import save
from seq2seq_lab.errors import InputError, LabError
from seq2seq_lab.i18n import t
from seq2seq_lab.options import LIMITS
from seq2seq_lab.present import api, catalogue, live, training, views
from seq2seq_lab.search import PRUNED
from seq2seq_lab.settings import Settings
from seq2seq_lab.translator import MAX_PASTE, Translator

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = "三千零五"
SENTENCE = "我爱学习。"


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_models_dir) -> Path:
    """tiny_numbers, tiny_numbers_none, tiny_zh_en and a corrupt broken.safetensors."""
    return copy_with_a_broken_file(tiny_models_dir, tmp_path_factory.mktemp("present_models"))


@pytest.fixture(scope="module")
def settings(models) -> Settings:
    return Settings(models_dir=models, device="cpu")


def direct(models: Path, name: str) -> Translator:
    """The core's own translator for ``name``, loaded apart from the presentation layer's cache."""
    return Translator.load(models / f"{name}.safetensors", device="cpu")


def rendered(markdown: str) -> str:
    """``markdown`` as HTML, the CommonMark way (raw HTML allowed, as Streamlit and Gradio allow it)."""
    return MarkdownIt("commonmark").render(markdown)


def tags(rendered_html: str) -> set[str]:
    return {name.lower() for name in re.findall(r"<\s*/?\s*([A-Za-z][\w-]*)", rendered_html)}


# --- the catalogue: the models folder, labels, cards, the shared model cache --------------------

def test_shelf_lists_the_readable_models_and_the_broken_file(settings):
    shelf = catalogue.shelf(settings)
    assert shelf.keys == ["tiny_numbers", "tiny_numbers_none", "tiny_zh_en"]
    assert [info.path.name for info in shelf.bad] == ["broken.safetensors"]
    assert shelf.bad[0].error.code in {"corrupt", "foreign"}
    assert shelf.default_key == "tiny_numbers"                # no everyday_transformer here: the first one
    assert shelf.corpus("tiny_zh_en") == "hsk" and shelf.corpus("tiny_numbers") == "toy:numbers"
    assert shelf.corpus("no_such_model") == shelf.corpus(None) == "hsk"
    assert catalogue.shelf(Settings(models_dir=settings.models_dir / "absent")).default_key is None


def test_open_model_takes_the_default_and_refuses_names_outside_the_folder(settings, tmp_path):
    assert catalogue.open_model("", settings).key == catalogue.open_model(None, settings).key == "tiny_numbers"
    for key, code in (("../../x", "bad_name"), ("user/../../x", "bad_name"), ("no_such_model", "missing")):
        with pytest.raises(LabError) as caught:
            catalogue.open_model(key, settings)
        assert caught.value.code == code
    with pytest.raises(LabError) as caught:
        catalogue.open_model("", Settings(models_dir=tmp_path))
    assert caught.value.code == "no_models"


def test_the_default_opens_without_listing_the_folder_and_a_broken_default_falls_back(models, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    shutil.copytree(models, folder)
    shutil.copy(folder / "tiny_zh_en.safetensors", folder / f"{catalog.DEFAULT_MODEL}.safetensors")
    settings = Settings(models_dir=folder, device="cpu")
    listed = []
    monkeypatch.setattr(catalogue, "shelf", lambda s: listed.append(s) or catalogue.Shelf(*catalog.available_models(
        s.models_dir)))
    assert catalogue.open_model("", settings).key == catalog.DEFAULT_MODEL and listed == []
    (folder / f"{catalog.DEFAULT_MODEL}.safetensors").write_bytes(b"not a model")      # replaced by a broken file
    assert catalogue.open_model("", settings).key == "tiny_numbers" and len(listed) == 1   # as the picker has it


def test_warm_up_opens_the_default_model_and_translates_its_first_example(settings, tmp_path, monkeypatch, caplog):
    """Before a server serves: the default model is loaded (shared by every visitor) and has translated its
    task's first example (a toy model's own, not a Chinese sentence); with no model the server still starts."""
    translated = []
    real = Translator.translate
    monkeypatch.setattr(Translator, "translate",
                        lambda self, text, **options: translated.append(text) or real(self, text, **options))
    catalogue._loaded.clear()
    assert catalogue.warm_up(settings) == "tiny_numbers"                     # the folder's default
    assert translated == [next(iter(catalogue.examples_for("toy:numbers")))]
    assert any(str(catalogue.open_model("", settings).path) == key[0] for key in catalogue._loaded)
    assert catalogue.warm_up(Settings(models_dir=tmp_path)) is None          # an empty folder: nothing to warm
    assert "nothing warmed" in caplog.text


def test_open_model_loads_each_file_version_once_and_keeps_few(settings, models, tmp_path, monkeypatch):
    first = catalogue.open_model("tiny_numbers", settings)
    assert catalogue.open_model("tiny_numbers", settings).translator is first.translator
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "moving.safetensors"
    shutil.copy(models / "tiny_numbers.safetensors", path)
    moving = Settings(models_dir=folder, device="cpu")
    before = catalogue.open_model("moving", moving)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))         # the file was replaced
    after = catalogue.open_model("moving", moving)
    assert after.version != before.version and after.translator is not before.translator
    monkeypatch.setattr(catalogue, "MAX_LOADED", 2)
    for key in ("tiny_numbers", "tiny_numbers_none", "tiny_zh_en"):
        catalogue.open_model(key, settings)
    assert len(catalogue._loaded) <= 2


def info(name: str, corpus: str, test: dict | None = None, **record) -> ModelInfo:
    config = {"attention": "dot", "cell": "gru", "enc_layers": 1, "bidirectional": True, "emb_size": 32,
              "hidden_size": 64}
    return ModelInfo(name, Path(f"{name}.safetensors"), config, {"corpus": corpus, "test": test or {}, **record})


TOY = info("my_dates", "toy:dates_en", {"greedy": {"exact": 0.75, "bleu": 98.1}, "beam5": {"exact": 0.8, "bleu": 98.5}})
SENTENCES = info("everyday_additive", "everyday",
                 {"greedy": {"bleu": 14.2, "exact": 0.1}, "beam5": {"bleu": 15.0, "exact": 0.12, "chrf": 40.1}},
                 tests={"tatoeba": {"beam5": {"chrf": 48.0}}})


def test_labels_show_exact_match_for_toy_tasks_and_bleu_for_sentences():
    assert catalogue.model_label("my_dates", TOY, "en") == "my_dates · dot · toy:dates_en · exact 75.0%"
    assert catalogue.model_label("everyday_additive", SENTENCES, "en") == \
        "everyday_additive · dot · everyday · BLEU 14.2"
    assert catalogue.model_label("user/my_dates", TOY, "zh").startswith(f"my_dates ({t('app.trained_here', 'zh')}) · ")
    assert catalogue.model_label("plain", info("plain", "hsk"), "en").endswith("BLEU –")


def test_scaled_dot_and_general_say_so_in_label_and_card():
    scaled = ModelInfo("hsk_dot", Path("hsk_dot.safetensors"), {**SENTENCES.config, "scaled_scores": True},
                       SENTENCES.record)
    assert catalogue.model_label("hsk_dot", scaled, "en") == "hsk_dot · dot ÷ √H · everyday · BLEU 14.2"
    assert catalogue.model_label("hsk_dot", scaled, "zh").startswith("hsk_dot · 点积 ÷ √H · ")   # the page's language
    odd = ModelInfo("odd", Path("odd.safetensors"), {**SENTENCES.config, "attention": "bilinear"}, SENTENCES.record)
    assert catalogue.attention_label(odd, "zh") == "bilinear"           # a kind this version does not know, as named
    assert "dot ÷ √H" in catalogue.model_card("hsk_dot", scaled, "zh")
    assert "√H" not in catalogue.model_card("hsk_dot", SENTENCES, "en")
    assert catalogue.variant_formula("dot", scaled, "en").startswith("dot: e_j = qᵀk_j/√H")
    assert catalogue.variant_formula("dot", SENTENCES, "en") == "dot: e_j = qᵀk_j"
    assert catalogue.variant_formula("general", None, "zh") == "一般式：e_j = qᵀWk_j"


def test_cards_show_the_same_figures_with_the_beam_and_each_test_set():
    toy_card = catalogue.model_card("my_dates", TOY, "en")
    assert "exact 75.0%" in toy_card and "exact 80.0%" in toy_card and "BLEU" not in toy_card
    card = catalogue.model_card("everyday_additive", SENTENCES, "en")
    assert "BLEU 14.2" in card and "BLEU 15.0" in card and "exact" not in card
    assert "hsk 40.1, tatoeba 48.0" in card and "GRU ×1 bi · emb 32 · hidden 64" in card
    assert "test set" not in catalogue.model_card("plain", info("plain", "hsk"), "en")


def test_a_toy_card_says_how_much_of_its_domain_is_right_and_where_its_attention_peaks():
    measured = dataclasses.replace(TOY, record={**TOY.record, "domain": {"exact": 1.0, "inputs": 100_000},
                                                "alignment": {"argmax": 0.978, "weight": 0.86, "data": "test"}})
    en, zh = catalogue.model_card("my_dates", measured, "en"), catalogue.model_card("my_dates", measured, "zh")
    assert "Right on 100.0% of its whole input domain (100,000 inputs" in en
    assert "produced the output: 97.8% of output tokens (mean weight there 0.86)" in en
    assert "100.0%（共 100,000 个" in zh and "97.8% 的输出词（平均权重 0.86）" in zh
    assert "whole input domain" not in catalogue.model_card("my_dates", TOY, "en")       # not measured: no line
    hostile = dataclasses.replace(TOY, record={**TOY.record, "domain": {"exact": "all", "inputs": 5},
                                               "alignment": ["argmax", 2]})
    card = catalogue.model_card("my_dates", hostile, "en")                                # wrong types: no line
    assert "whole input domain" not in card and "Attention peak" not in card
    assert "guided" not in en                                                             # learned, not taught


def test_a_card_says_when_the_attention_was_taught_where_to_look():
    aligned = {"alignment": {"argmax": 1.0, "weight": 1.0, "data": "test"}}
    guided = dataclasses.replace(TOY, record={**TOY.record, **aligned, "train_config": {"guided_alignment": 0.1}})
    en, zh = catalogue.model_card("toy_dates_iso", guided, "en"), catalogue.model_card("toy_dates_iso", guided, "zh")
    assert "trained to look there (guided alignment, λ = 0.1)" in en and "Look closer" in en
    assert "引导对齐，λ = 0.1" in zh
    for value in (0.0, "0.1", True, math.nan, None):                                      # none, or nonsense: no note
        other = dataclasses.replace(TOY, record={**TOY.record, **aligned, "train_config": {"guided_alignment": value}})
        assert "guided" not in catalogue.model_card("toy_dates_iso", other, "en")
    odd = dataclasses.replace(TOY, record={**TOY.record, **aligned, "train_config": ["guided_alignment"]})
    assert "guided" not in catalogue.model_card("toy_dates_iso", odd, "en")


def test_shelf_gives_the_pickers_choices_examples_and_card(settings, tmp_path):
    shelf = catalogue.shelf(settings)
    assert shelf.choices("zh") == [(catalogue.model_label(key, shelf.good[key], "zh"), key) for key in shelf.keys]
    assert shelf.examples("tiny_numbers") == list(catalogue.examples_for("toy:numbers"))
    assert shelf.examples("tiny_zh_en") == list(catalogue.examples_for("hsk"))
    card = shelf.card("tiny_zh_en", "en")
    assert card.startswith(catalogue.model_card("tiny_zh_en", shelf.good["tiny_zh_en"], "en"))
    assert card.endswith("⚠ " + catalogue.broken_file_line(shelf.bad[0], "en")) and "broken.safetensors" in card
    assert shelf.card("no_such_model", "en") == "⚠ " + catalogue.broken_file_line(shelf.bad[0], "en")
    empty = catalogue.shelf(Settings(models_dir=tmp_path))
    assert empty.card(None, "zh") == t("app.no_models", "zh") and empty.choices("en") == []
    assert empty.examples(None) == list(catalogue.examples_for("hsk"))


def test_both_apps_take_labels_cards_and_examples_from_the_catalogue():
    """No function the presentation layer owns is written again in an app file."""
    owned = {"model_label", "test_figure", "fmt", "md_text", "text_for_model", "all_examples", "example_book",
             "first_divergence", "final_path", "leading_node", "path_to", "candidate_rows", "pick_rank",
             "error_message", "tuned_decoding", "architecture"}
    for path in sorted((ROOT / "demo").glob("*.py")):
        defined = {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.FunctionDef)}
        assert not defined & owned, f"{path.name} re-implements {sorted(defined & owned)}"


# --- Markdown safety: names read from files show as literal text --------------------------------

@pytest.mark.parametrize("value", [
    "![x](http://evil/x.png)", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))", "<script>alert(1)</script>",
    "<http://evil>", "**bold**", "`code`", "~~gone~~", "_em_", "__init__", "a _b_ c", "x|y", "[a]", "\\[a](b)",
    "&lt;img src=x&gt;", "tsv:![x](http://evil/x.png)", "tiny_numbers", "my__model", "中文_好_", "_",
])
def test_md_text_renders_as_the_literal_characters(value):
    shown = rendered(catalogue.md_text(value))
    assert tags(shown) == {"p"}, shown                            # no <img>, <a>, <em>, <code>, raw tag
    assert html.unescape(shown.removeprefix("<p>").removesuffix("</p>\n")) == value


def test_a_model_file_with_markup_in_its_record_shows_no_image_or_link(tmp_path, toy_training):
    record = {"corpus": "tsv:![x](http://evil/x.png)", "attribution": "<img src=x onerror=alert(1)> [a](javascript:x)",
              "test": {"greedy": {"bleu": 1.0}, "beam5": {"bleu": 1.0, "chrf": 2.0}},
              "tests": {"[t](http://evil)": {"beam5": {"chrf": 3.0}}}}
    save(tmp_path / "evil.safetensors", dataclasses.replace(toy_training.result.checkpoint, record=record))
    (tmp_path / "![x](http:evil).safetensors").write_bytes(b"not a model")
    shelf = catalogue.shelf(Settings(models_dir=tmp_path, device="cpu"))
    model = shelf.good["evil"]
    assert model.corpus == record["corpus"]
    shown = rendered(catalogue.model_card("evil", model, "en") + "  \n" + catalogue.model_data(model, "en")
                     + "\n\n" + catalogue.broken_file_line(shelf.bad[0], "en"))
    assert not tags(shown) & {"img", "a", "script"}, shown
    assert "![x](http://evil/x.png)" in html.unescape(shown) and "&lt;img" in shown


# --- examples and the example swap on a model change --------------------------------------------

def test_examples_suit_the_model(settings):
    book = catalogue.example_book()
    numbers = list(catalogue.examples_for(catalogue.shelf(settings).corpus("tiny_numbers")))
    assert numbers == [entry["zh"] for entry in book["toy"]["numbers"]] and numbers[0] == NUMBERS
    sentences = list(catalogue.examples_for("hsk"))
    assert sentences == [entry["zh"] for entry in book["sentences"]] and sentences[0] == SENTENCE
    assert catalogue.examples_for("tsv:my_pairs.tsv") == catalogue.examples_for("hsk")
    assert catalogue.examples_for("toy:no_such_task") == {}


@pytest.mark.parametrize(("text", "corpus", "expected"), [
    ("我喜欢猫", "toy:numbers", "我喜欢猫"),                  # typed by the visitor: stays
    ("我喜欢猫", "hsk", "我喜欢猫"),
    (SENTENCE, "toy:numbers", NUMBERS),                      # a sentence example → the numbers model's first
    ("二〇二四年三月五日", "toy:numbers", NUMBERS),            # a dates example too
    (NUMBERS, "hsk", SENTENCE),                              # a numbers example → the first sentence
    (NUMBERS, "toy:dates_en", "二〇二四年三月五日"),
    ("九十九", "toy:numbers", "九十九"),                       # an example that suits the new model stays
    ("你好！", "everyday", "你好！"),
    ("", "toy:numbers", NUMBERS), (None, "hsk", SENTENCE), ("   ", "toy:dates_iso", "二〇二四年三月五日"),
])
def test_text_for_model_keeps_typed_text_and_swaps_unsuitable_examples(text, corpus, expected):
    assert catalogue.text_for_model(text, corpus) == expected


def test_example_reference_says_whether_the_model_saw_the_sentence():
    entry = next(e for e in catalogue.example_book()["sentences"] if e.get("en") and e.get("split") == "test")
    reference = catalogue.example_reference(entry["zh"], "hsk", "en")
    assert catalogue.md_text(entry["en"]) in reference and t("app.example_unseen", "en") in reference
    assert catalogue.example_reference("我喜欢猫", "hsk", "en") is None


# --- live decoding ------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "text", "beam"), [
    ("tiny_numbers", NUMBERS, 1), ("tiny_numbers", NUMBERS, 3),
    ("tiny_zh_en", SENTENCE, 1), ("tiny_zh_en", SENTENCE, 3),
])
def test_live_decoding_shows_one_frame_per_step_along_the_leading_hypothesis(settings, models, key, text, beam):
    decoding = live.LiveDecoding(catalogue.open_model(key, settings), text, {"beam_size": beam, "n_best": beam})
    frames = list(decoding)
    steps = list(direct(models, key).steps(text, beam_size=beam, n_best=beam))
    assert decoding.src_tokens == steps[-1].final.src_tokens
    assert len(frames) == len(steps) == len(decoding.result.steps)
    for number, (frame, step) in enumerate(zip(frames, steps), start=1):
        leader = max((n for n in step.nodes if n.status != PRUNED), key=lambda n: n.log_prob)
        assert frame.step == number and frame.tokens == leader.tokens and frame.token == leader.token
        assert frame.prob == pytest.approx(leader.token_prob)
        assert [a.token for a in frame.alternatives] == [a.token for a in leader.alternatives]
        assert frame.attention.shape == (number, len(decoding.src_tokens))
        np.testing.assert_allclose(frame.attention.sum(axis=1), 1.0, atol=1e-4)
        for row, earlier in enumerate(steps[:number]):             # each row: the ancestor's attention
            (ancestor,) = [n for n in earlier.nodes if n.tokens == frame.tokens[:row + 1]]
            np.testing.assert_allclose(frame.attention[row], ancestor.attention, atol=1e-6)
    best = direct(models, key).translate(text, beam_size=beam, n_best=beam).best
    assert decoding.result.final.best.tokens == best.tokens
    if beam == 1:
        assert [f.tokens for f in frames] == [best.tokens[:i] for i in range(1, len(best.tokens) + 1)]


def test_the_leader_of_a_beam_is_not_always_on_the_final_path(settings):
    """The case above is a real test of "leading": on tiny_zh_en the leader changes along the way."""
    decoding = live.LiveDecoding(catalogue.open_model("tiny_zh_en", settings), SENTENCE, {"beam_size": 3})
    frames = list(decoding)
    best = decoding.result.final.best.tokens
    assert any(frame.tokens != best[:frame.step] for frame in frames)


def test_a_request_decoded_before_is_replayed_from_the_cache(settings, monkeypatch):
    """The second visitor who presses Translate on the same sentence sees the same animation, and the model
    does no work for it; another setting is decoded live."""
    monkeypatch.setattr(live, "RESULTS", live.LRU(8))
    model = catalogue.open_model("tiny_zh_en", settings)
    first = live.LiveDecoding(model, SENTENCE, {"beam_size": 3})
    first_frames = list(first)
    assert not first.replayed and live.RESULTS.peek(first.key) is first.result

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(model.translator, "steps", no_decoding)
    again = live.LiveDecoding(model, SENTENCE, {"beam_size": 3.0})
    frames = list(again)
    assert again.replayed and again.result is first.result
    assert [f.tokens for f in frames] == [f.tokens for f in first_frames]
    for frame, before in zip(frames, first_frames, strict=True):
        np.testing.assert_array_equal(frame.attention, before.attention)
        assert frame.prob == before.prob and frame.alternatives == before.alternatives
    assert live.decode(model, SENTENCE, {"beam_size": 3}) is first.result
    with pytest.raises(AssertionError, match="decoded again"):
        list(live.LiveDecoding(model, SENTENCE, {"beam_size": 2}))


def test_final_frames_step_through_the_final_translation(settings, models):
    result = live.decode(catalogue.open_model("tiny_zh_en", settings), SENTENCE, {"beam_size": 3, "n_best": 3})
    best = result.final.best
    assert [f.step for f in result.frames] == list(range(1, len(best.tokens) + 1))
    assert result.frames[-1].tokens == best.tokens
    np.testing.assert_allclose(result.frames[-1].attention, best.attention, atol=0)
    for i, frame in enumerate(result.frames):
        assert frame.tokens == best.tokens[:i + 1]
        np.testing.assert_allclose(frame.attention, best.attention[:i + 1], atol=0)
        assert frame.prob == pytest.approx(math.exp(best.token_log_probs[i]), rel=1e-4)
        assert frame.alternatives
    assert best.tokens == direct(models, "tiny_zh_en").translate(SENTENCE, beam_size=3).best.tokens


def test_a_model_without_attention_gives_frames_without_attention(settings):
    result = live.decode(catalogue.open_model("tiny_numbers_none", settings), NUMBERS, {"beam_size": 2})
    assert result.final.best.attention is None
    assert all(frame.attention is None for frame in result.frames)
    assert all(frame.attention is None for frame in live.LiveDecoding(
        catalogue.open_model("tiny_numbers_none", settings), NUMBERS, {"beam_size": 2}))


def test_bad_input_is_refused_before_any_frame(settings):
    model = catalogue.open_model("tiny_numbers", settings)
    for text, options, code in (("hello", {}, "no_chinese"), ("", {}, "empty"), (None, {}, "empty"),
                                (NUMBERS, {"beam_size": 64}, "bad_option"),
                                (NUMBERS, {"length_penalty": math.nan}, "bad_option")):
        with pytest.raises(InputError) as caught:
            live.LiveDecoding(model, text, options)
        assert caught.value.code == code


def test_final_path_follows_the_best_translation(make_translator):
    tr = make_translator("general", eos_bias=1.5)
    for beam in (1, 3):
        steps = list(tr.steps("你好", beam_size=beam, n_best=beam))
        best = steps[-1].final.best
        path = live.final_path(steps, best.tokens)
        assert [n.token for n in path] == best.tokens
        np.testing.assert_allclose(np.stack([n.attention for n in path]), best.attention, atol=1e-6)
    assert live.final_path(steps, ["no", "such", "output"]) == []


def test_greedy_leading_node_is_the_output_so_far(make_translator):
    tr = make_translator("additive")
    steps = list(tr.steps("我爱学习", beam_size=1))
    best = steps[-1].final.best
    for i, step in enumerate(steps):
        assert live.leading_node(step).tokens == best.tokens[:i + 1]


def test_path_to_climbs_to_the_root(make_translator):
    steps = list(make_translator("dot", eos_bias=1.0).steps("我爱学习中文", beam_size=3, n_best=3))
    by_id = {n.id: n for s in steps for n in s.nodes}
    for node in steps[-1].nodes:
        path = live.path_to(node, by_id)
        assert [n.step for n in path] == list(range(node.step + 1)) and path[-1] is node
        assert all(child.parent == parent.id for parent, child in itertools.pairwise(path))


# --- the result record and the caches -----------------------------------------------------------

def test_result_is_for_the_same_request_only(settings, models, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(models / "tiny_numbers.safetensors", folder / "tiny_numbers.safetensors")
    own = Settings(models_dir=folder, device="cpu")
    model = catalogue.open_model("tiny_numbers", own)
    result = live.decode(model, NUMBERS, {"beam_size": 3, "length_penalty": 0.5})
    assert result.is_for(model, NUMBERS, {"beam_size": 3, "length_penalty": 0.5})
    assert result.is_for(model, NUMBERS, {"beam_size": 3.0, "length_penalty": 0.5, "n_best": 1, "max_len": 0})
    assert not result.is_for(model, "九十九", {"beam_size": 3, "length_penalty": 0.5})
    assert not result.is_for(model, NUMBERS, {"beam_size": 2, "length_penalty": 0.5})
    assert not result.is_for(model, NUMBERS, {"beam_size": 3, "length_penalty": 0.6})
    assert not result.is_for(model, NUMBERS, {"beam_size": 3, "length_penalty": 0.5, "n_best": 3})
    shutil.copy(models / "tiny_numbers.safetensors", folder / "other.safetensors")
    assert not result.is_for(catalogue.open_model("other", own), NUMBERS, {"beam_size": 3, "length_penalty": 0.5})
    path = folder / "tiny_numbers.safetensors"
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))       # the file was replaced
    replaced = catalogue.open_model("tiny_numbers", own)
    assert not result.is_for(replaced, NUMBERS, {"beam_size": 3, "length_penalty": 0.5})
    assert live.decode(replaced, NUMBERS, {"beam_size": 3, "length_penalty": 0.5}) is not result


def test_lru_keeps_the_most_recently_used():
    cache, computed = live.LRU(2), []

    def compute(name):
        return lambda: computed.append(name) or [name]

    a = cache.get("a", compute("a"))
    assert cache.get("a", compute("a")) is a and computed == ["a"]
    cache.get("b", compute("b"))
    cache.get("a", compute("a"))                                # a is now the most recent
    cache.get("c", compute("c"))                                # so b goes
    assert len(cache) == 2 and computed == ["a", "b", "c"]
    assert cache.get("a", compute("a")) is a and computed == ["a", "b", "c"]
    cache.get("b", compute("b"))
    assert computed == ["a", "b", "c", "b"]
    cache.clear()
    assert len(cache) == 0


def test_decode_and_translate_are_cached_and_bounded(settings, models, monkeypatch):
    monkeypatch.setattr(live, "RESULTS", live.LRU(2))
    monkeypatch.setattr(live, "TRANSLATIONS", live.LRU(2))
    model = catalogue.open_model("tiny_numbers", settings)
    first = live.decode(model, NUMBERS, {"beam_size": 2})
    assert live.decode(model, NUMBERS, {"beam_size": 2.0, "max_len": 0}) is first
    assert live.decode(model, NUMBERS, {"beam_size": 3}) is not first
    for text in ("九十九", "一百"):
        live.decode(model, text, {"beam_size": 2})
    assert len(live.RESULTS) == 2
    assert live.decode(model, NUMBERS, {"beam_size": 2}) is not first       # evicted, decoded again
    translation = live.translate(model, NUMBERS, {"beam_size": 3, "n_best": 3})
    assert live.translate(model, NUMBERS, {"beam_size": 3, "n_best": 3}) is translation
    want = direct(models, "tiny_numbers").translate(NUMBERS, beam_size=3, n_best=3)
    assert [c.tokens for c in translation.candidates] == [c.tokens for c in want.candidates]
    for text in ("九十九", "一百", "七"):
        live.translate(model, text, {})
    assert len(live.TRANSLATIONS) == 2


# --- views: greedy against beam, the n-best table, the tree, the pipeline ------------------------

def first_difference(a, b):
    """A plain restatement of "the first output position where they differ"."""
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or a[i] != b[i]:
            return i
    return None


@pytest.mark.parametrize(("key", "text"), [("tiny_zh_en", SENTENCE), ("tiny_numbers", NUMBERS)])
def test_compare_runs_the_other_strategy(settings, models, key, text):
    model, tr = catalogue.open_model(key, settings), direct(models, key)
    beamed = live.decode(model, text, {"beam_size": 3, "n_best": 3, "length_penalty": 0.4})
    comparison = views.compare(model, beamed)
    assert comparison.beam is beamed.final and comparison.k == 3 and not comparison.beam_added
    greedy = tr.translate(text, beam_size=1, length_penalty=0.4)
    assert comparison.greedy.best.tokens == greedy.best.tokens
    assert comparison.greedy.options.length_penalty == 0.4
    assert comparison.split == first_difference(greedy.best.tokens, beamed.final.best.tokens)

    greedily = live.decode(model, text, {"beam_size": 1})
    comparison = views.compare(model, greedily)
    assert comparison.greedy is greedily.final and comparison.k == live.COMPARE_BEAM and comparison.beam_added
    beam = tr.translate(text, beam_size=live.COMPARE_BEAM, n_best=live.COMPARE_BEAM)
    assert comparison.beam.options.beam_size == live.COMPARE_BEAM
    assert [c.tokens for c in comparison.beam.candidates] == [c.tokens for c in beam.candidates]
    assert comparison.split == first_difference(greedily.final.best.tokens, beam.best.tokens)
    kind, note = comparison.note("en")
    assert t("cmp.beam1", "en") in note and kind == ("same" if comparison.split is None else "diverge")
    assert [side for side, _, _ in comparison.sides("en")] == ["greedy", "beam"]


def test_compare_names_the_first_differing_words(settings):
    model = catalogue.open_model("tiny_zh_en", settings)
    comparison = views.compare(model, live.decode(model, SENTENCE, {"beam_size": 3}))
    assert comparison.split is not None                        # tiny_zh_en: greedy and beam differ here
    g, b = comparison.greedy.best.tokens, comparison.beam.best.tokens
    kind, note = comparison.note("en")
    assert kind == "diverge" and t("cmp.diverge", "en", step=comparison.split + 1,
                                   greedy=catalogue.md_text(g[comparison.split]),
                                   beam=catalogue.md_text(b[comparison.split])) in note
    assert t("cmp.beam1", "en") not in note


@pytest.mark.parametrize(("a", "b", "expected"), [
    (["i", "love", "</s>"], ["i", "love", "</s>"], None),
    (["i", "love", "</s>"], ["i", "like", "</s>"], 1),
    (["he", "</s>"], ["i", "</s>"], 0),
    (["i", "</s>"], ["i", "</s>", "x"], 2),
    ([], ["x"], 0),
])
def test_first_divergence(a, b, expected):
    assert views.first_divergence(a, b) == expected == first_difference(a, b)


def test_candidate_rows_are_the_nbest_list(settings, models):
    model = catalogue.open_model("tiny_numbers", settings)
    result = live.decode(model, NUMBERS, {"beam_size": 4, "n_best": 4})
    columns, rows = views.candidate_rows(result.final, "zh")
    assert columns == [t(key, "zh") for key in views.CANDIDATE_COLUMNS]
    want = direct(models, "tiny_numbers").translate(NUMBERS, beam_size=4, n_best=4).candidates
    assert len(rows) == len(want) == 4
    for rank, (row, candidate) in enumerate(zip(rows, want), start=1):
        assert row[:2] == [rank, candidate.text]
        assert row[2:4] == pytest.approx([candidate.score, candidate.normalized_score], abs=1e-3)
        assert row[4:] == [len(candidate.tokens), "✓" if candidate.finished else "…"]
    assert views.candidate_rows(None, "en") == ([t(key, "en") for key in views.CANDIDATE_COLUMNS], [])


@pytest.mark.parametrize(("rank", "expected"), [
    (1, 1), (2, 2), ("3", 3), (4, 4), (5, 1), (0, 1), (-1, 1), (None, 1), ("x", 1), (2.9, 2), ([2], 1),
])
def test_pick_rank_stays_inside_the_nbest_list(settings, rank, expected):
    result = live.decode(catalogue.open_model("tiny_numbers", settings), NUMBERS, {"beam_size": 4, "n_best": 4})
    assert len(result.final.candidates) == 4
    assert views.pick_rank(result.final, rank) == expected


def test_candidate_heatmap_draws_the_picked_candidate(settings):
    result = live.decode(catalogue.open_model("tiny_numbers", settings), NUMBERS, {"beam_size": 4, "n_best": 4})
    figure, caption = views.candidate_heatmap(result, 2, "en")
    second = result.final.candidates[1]
    np.testing.assert_allclose(np.asarray(figure.data[0].z), second.attention, atol=0)
    assert catalogue.md_text(t("cand.heatmap_title", "en", rank=2, text=second.text)) in caption
    figure, _ = views.candidate_heatmap(result, 99, "en")             # out of range: the best
    np.testing.assert_allclose(np.asarray(figure.data[0].z), result.final.best.attention, atol=0)
    none = live.decode(catalogue.open_model("tiny_numbers_none", settings), NUMBERS, {"beam_size": 2})
    assert views.candidate_heatmap(none, 1, "en") == (None, t("live.no_attention", "en"))


def drawn_nodes(figure, lang: str) -> dict[str, int]:
    return {status: sum(len(trace.x) for trace in figure.data
                        if trace.mode == "markers+text" and trace.name == t(f"fig.{status}", lang))
            for status in ("alive", "finished", "pruned")}


def test_beam_tree_hides_pruned_nodes_on_request_and_changes_no_shared_result(settings):
    result = live.decode(catalogue.open_model("tiny_numbers", settings), NUMBERS, {"beam_size": 3, "n_best": 3})
    nodes = [n for step in result.steps for n in step.nodes]
    count = {status: sum(n.status == status for n in nodes) for status in ("alive", "finished", "pruned")}
    assert count["pruned"] > 0
    assert drawn_nodes(views.beam_tree(result, True, "zh"), "zh") == count
    assert drawn_nodes(views.beam_tree(result, False, "zh"), "zh") == {**count, "pruned": 0}
    assert [n for step in result.steps for n in step.nodes] == nodes       # the cached result is untouched
    caption = rendered(views.tree_caption(result, "en"))
    assert tags(caption) == {"p"} and html.unescape(caption) == f"<p>{t('tree.intro', 'en', k=3)}</p>\n"
    greedy = live.decode(catalogue.open_model("tiny_numbers", settings), NUMBERS, {"beam_size": 1})
    assert views.tree_caption(greedy, "en") == t("cand.greedy_only", "en")


@pytest.mark.parametrize("key", ["tiny_zh_en", "tiny_numbers"])
def test_pipeline_panels_draw_the_encoders_own_arrays(settings, models, key):
    text = "我爱学习饕餮" if key == "tiny_zh_en" else NUMBERS
    panels = views.pipeline(catalogue.open_model(key, settings), text, "en")
    assert [p.key for p in panels] == ["seg", "ids", "emb", "enc", "ctx"]
    assert all(p.title and p.caption for p in panels)
    assert all(p.html and p.figure is None for p in panels[:2])
    encoding = direct(models, key).encode(text)
    for panel, values in zip(panels[2:], (encoding.embeddings, encoding.states, encoding.summary[None, :])):
        assert panel.html is None
        np.testing.assert_allclose(np.asarray(panel.figure.data[0].z), values, atol=1e-6)
    assert str(encoding.embeddings.shape[1]) in panels[2].caption
    assert str(encoding.states.shape[1]) in panels[3].caption and str(encoding.summary.shape[0]) in panels[4].caption
    ids = [str(i) for i in encoding.source.ids]
    assert all(f">{i}</div>" in panels[1].html for i in ids)
    if key == "tiny_numbers":
        assert panels[0].caption.startswith(t("pipe.seg_char_model", "en"))
    else:
        assert catalogue.md_text(" / ".join(encoding.source.words)) in panels[0].caption
        assert "饕" in panels[0].caption and encoding.source.unknown


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pipeline_shows_markup_and_special_tokens_as_text(settings, lang):
    panels = views.pipeline(catalogue.open_model("tiny_zh_en", settings), "我爱<b>饕餮</b>", lang)
    assert "<b>" not in panels[0].html and "&lt;" in panels[0].html        # each character its own chip
    for panel in panels:                                  # the captions say "<unk>" and "</s>": text, not tags
        assert tags(rendered(panel.caption)) <= {"p", "br"}, panel.caption
    shown = html.unescape(rendered(panels[0].caption))
    assert t("gr.unknown", lang, words="").rstrip() in shown
    assert t("pipe.seg_help", lang) in shown


def test_first_choices_and_the_cost_of_forcing_a_beginning(settings, models):
    model = catalogue.open_model("tiny_zh_en", settings)
    result = live.decode(model, SENTENCE, {"beam_size": 3})
    choices = views.first_choices(result)
    first = result.steps[0].nodes[0].alternatives
    assert choices == {a.token: a.prob for a in first if a.token not in ("</s>", "<unk>")} and choices
    free = live.translate(model, SENTENCE, {"beam_size": 3})
    word = min(choices, key=choices.get)                        # the least likely of the top first words
    forced = live.translate(model, SENTENCE, {"beam_size": 3, "prefix": word})
    assert forced.best.tokens[0] == word
    cost = free.best.score - forced.best.score
    key = "whatif.cost" if cost >= 0 else "whatif.better"
    assert views.forced_cost(free, forced, "en") == t(key, "en", cost=cost, free=free.best.score,
                                                      forced=forced.best.score)
    assert forced.best.tokens == direct(models, "tiny_zh_en").translate(SENTENCE, beam_size=3, prefix=word).best.tokens


def test_a_sentence_mostly_unknown_to_the_model_is_flagged(make_translator):
    """Half or more of the sentence's tokens read as <unk> (a weather sentence given to a dates model): a warning
    that names the unknown words and counts them; a sentence the model knows, or mostly knows, gets none."""
    tr = make_translator("additive")
    known = tr.translate("我爱学习中文", beam_size=1)                    # 我 / 爱 / 学习 / 中文: all known
    assert views.unknown_warning(known, "en") == ""
    one_of_four = tr.translate("我爱学习猫", beam_size=1)               # 猫 unknown: 1 of 4
    assert one_of_four.source.unknown == ["猫"] and views.unknown_warning(one_of_four, "en") == ""
    weather = tr.translate("今天天气很好", beam_size=1)                 # none of 今 天 气 很 is known; 好 is
    unknown = weather.source.unknown
    tokens = len(weather.source.tokens) - 1                            # without </s>
    assert len(unknown) >= tokens / 2 and "好" not in unknown
    for lang in ("en", "zh"):
        warning = views.unknown_warning(weather, lang)
        assert warning == catalogue.md_text(t("app.mostly_unknown", lang, unknown=len(unknown), tokens=tokens,
                                                words=" ".join(dict.fromkeys(unknown))))
        assert "&lt;unk&gt;" in warning                               # shown as text, not taken for an HTML tag


def test_captions_name_the_strategy_and_the_cut_off(settings):
    model = catalogue.open_model("tiny_numbers", settings)
    short = live.decode(model, NUMBERS, {"beam_size": 3, "max_len": 2})
    assert not short.final.best.finished
    meta = views.result_meta(short.final, "zh")
    assert t("strategy.beam", "zh", k=3) in meta and "cpu" in meta and t("app.not_finished", "zh") in meta
    done = live.decode(model, NUMBERS, {"beam_size": 1})
    assert done.final.best.finished and t("app.not_finished", "en") not in views.result_meta(done.final, "en")
    assert views.strategy(done.final, "en") == t("strategy.greedy", "en")
    frame = done.frames[0]
    assert views.step_caption(frame, None, "en") == t("gr.step_caption", "en", step=1, token=frame.token,
                                                      prob=frame.prob)
    assert views.step_caption(frame, 5, "en") == t("live.step_caption", "en", step=1, steps=5, token=frame.token,
                                                   prob=frame.prob)


def test_error_message_is_a_sentence_in_the_visitors_language():
    assert views.error_message(InputError("empty", "x"), "zh") == t("error.empty", "zh")
    message = views.error_message(RuntimeError("boom"), "en")
    assert message == t("error.unexpected", "en", message="RuntimeError: boom") and "Traceback" not in message


# --- the HTTP API's answers ---------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {"beam_size": 64}, {"beam_size": 11}, {"beam_size": 0}, {"n_best": 64}, {"max_len": 500},
    {"length_penalty": math.nan}, {"length_penalty": 1e308}, {"coverage_penalty": -math.inf},
    {"beam_size": True}, {"beam_size": "5"}, {"no_repeat_ngram_size": 9},
])
def test_api_translate_refuses_what_the_ui_does_not_offer(settings, options):
    with pytest.raises(InputError) as caught:
        api.translate(settings, NUMBERS, "tiny_numbers", **options)
    assert caught.value.code == "bad_option" and caught.value.details["option"] in options


def test_api_translate_is_the_translators_nbest(settings, models):
    got = api.translate(settings, NUMBERS, "", beam_size=3, n_best=3)
    want = direct(models, "tiny_numbers").translate(NUMBERS, beam_size=3, n_best=3)
    assert got["model"] == "tiny_numbers" and got["strategy"] == "beam 3" and got["device"] == "cpu"
    assert [c["tokens"] for c in got["candidates"]] == [c.tokens for c in want.candidates]
    for candidate, expected in zip(got["candidates"], want.candidates):
        np.testing.assert_allclose(candidate["attention"], expected.attention, atol=6e-6)   # rounded to 5 decimals


def test_api_attention_is_rounded_to_its_documented_decimals():
    weights = np.array([[0.123456789, 0.876543211], [1 / 3, 2 / 3]], dtype=np.float32)
    assert api.nested(weights) == [[0.12346, 0.87654], [0.33333, 0.66667]]
    assert api.nested(None) is None


def test_api_score_takes_up_to_max_scored_tokens_of_words(settings, models):
    tr = direct(models, "tiny_numbers")
    longest = ["3"] * api.MAX_SCORED_TOKENS
    scored = api.score(settings, NUMBERS, longest, "tiny_numbers")
    assert scored["tokens"] == longest + ["</s>"]
    assert scored["log_prob"] == pytest.approx(tr.score(NUMBERS, longest), abs=1e-4)
    assert api.score(settings, NUMBERS, "3 0 0 5", "tiny_numbers")["log_prob"] == pytest.approx(
        tr.score(NUMBERS, ["3", "0", "0", "5"]), abs=1e-5)
    assert api.MAX_SCORED_TOKENS == LIMITS["max_len"].high


@pytest.mark.parametrize("tokens", [
    ["3"] * (api.MAX_SCORED_TOKENS + 1), " ".join(["3"] * 50_000), [3, 0], ["3", None], [["3"]], {"3": 1}, 3005,
    [], "", ["</s>"], None,
])
def test_api_score_refuses_bad_or_too_many_tokens(settings, tokens):
    with pytest.raises(InputError) as caught:
        api.score(settings, NUMBERS, tokens, "tiny_numbers")
    assert caught.value.code == "bad_tokens"


def test_api_segment_and_models(settings, models):
    segmented = api.segment(settings, "我爱学习饕餮", "tiny_zh_en")
    analysis = direct(models, "tiny_zh_en").analyze("我爱学习饕餮")
    assert [token["id"] for token in segmented["tokens"]] == analysis.ids and segmented["unknown"] == analysis.unknown
    with pytest.raises(InputError) as caught:
        api.segment(settings, "三" * (MAX_PASTE + 1), "tiny_zh_en")
    assert caught.value.code == "too_long"
    listed = {entry["name"]: entry for entry in api.models(settings)}
    assert set(listed) == {"tiny_numbers", "tiny_numbers_none", "tiny_zh_en", "broken"}
    assert listed["broken"]["ok"] is False and listed["broken"]["error"]["code"] in {"corrupt", "foreign"}
    assert listed["tiny_numbers"]["architecture"]["src_segmenter"] == "char"


# --- the training form ----------------------------------------------------------------------------

def test_training_request_from_the_forms_defaults():
    request = training.request("toy:numbers", "my_numbers", {}, attention="dot", probe=None)
    defaults = {name: spec.default for name, spec in training.FORM.items()}
    assert request.arch == {"cell": defaults["cell"], "enc_layers": defaults["layers"],
                            "dec_layers": defaults["layers"], "bidirectional": defaults["bi"], "attention": "dot",
                            "emb_size": defaults["emb"], "hidden_size": defaults["hidden"],
                            "dropout": defaults["dropout"]}
    assert (request.config.epochs, request.config.batch_size, request.config.lr) == \
        (defaults["epochs"], defaults["batch"], defaults["lr"])
    assert request.config.label_smoothing == 0.0 and request.config.probe is None
    sentences = training.request("hsk", "", {"layers": 2, "tf": 0.0, "bi": False}, attention="additive", probe="我")
    assert sentences.name == "model" and sentences.config.label_smoothing == 0.1
    assert sentences.arch["enc_layers"] == 2 and sentences.arch["bidirectional"] is False
    assert sentences.config.teacher_forcing == 0.0 and sentences.config.probe == "我"


@pytest.mark.parametrize("form", [
    {"layers": 3}, {"layers": 0}, {"epochs": 31}, {"epochs": 0}, {"epochs": math.nan}, {"emb": 48}, {"emb": True},
    {"hidden": "128"}, {"batch": 1024}, {"lr": 0.1}, {"tf": 1.5}, {"dropout": -0.1}, {"dropout": math.inf},
    {"seed": 10_001}, {"seed": True}, {"bi": 1}, {"bi": "yes"}, {"cell": "transformer"},
])
def test_training_request_refuses_values_outside_the_form(form):
    with pytest.raises(InputError) as caught:
        training.request("toy:numbers", "x", form, attention="dot", probe=None)
    assert caught.value.code == "bad_option" and caught.value.details["option"] in form


def test_a_model_starts_with_its_tuned_decoding_or_none(tmp_path):
    tuned = ModelInfo("m", tmp_path / "m.safetensors", record={"decoding": {
        "beam_size": 5, "length_penalty": 1.0, "coverage_penalty": 0.2, "no_repeat_ngram_size": 2}})
    assert catalogue.starting_decoding(tuned) == {"length_penalty": 1.0, "coverage_penalty": 0.2,
                                                  "no_repeat_ngram_size": 2}
    for plain in (ModelInfo("p", tmp_path / "p.safetensors"), None,
                  ModelInfo("b", tmp_path / "b.safetensors", record={"decoding": {"length_penalty": "x"}})):
        assert catalogue.starting_decoding(plain) == {"length_penalty": 0.0, "coverage_penalty": 0.0,
                                                      "no_repeat_ngram_size": 0}
    start = catalogue.starting_decoding(None)
    start["length_penalty"] = 2.0                                        # a copy: the default stays untouched
    assert catalogue.NO_PENALTIES["length_penalty"] == 0.0


def test_heatmaps_and_bars_are_built_once_for_the_same_picture():
    """The figures cache (#12): equal inputs give the very same figure, equal to a fresh build; any difference
    in the tokens, weights, highlight, language or presenter mode gives another."""
    from seq2seq_lab import figures
    from seq2seq_lab.search import Alternative

    src, out = ["我", "爱", "学习", "</s>"], ["i", "love", "studying", "</s>"]
    weights = np.full((4, 4), 0.25)
    first = views.heatmap(src, out, weights, "en", highlight_row=1)
    assert views.heatmap(list(src), list(out), weights.copy(), "en", highlight_row=1) is first
    assert first.to_json() == figures.attention_heatmap(src, out, weights, lang="en", highlight_row=1).to_json()
    changed = weights.copy()
    changed[0, 0] += 1e-6
    for other in (views.heatmap(src, out, changed, "en", highlight_row=1),
                  views.heatmap(src, out, weights, "en", highlight_row=2),
                  views.heatmap(src, out, weights, "zh", highlight_row=1),
                  views.heatmap(src, out, weights, "en", presenter=True, highlight_row=1),
                  views.heatmap(src, ["i", "love", "it", "</s>"], weights, "en", highlight_row=1)):
        assert other is not first
    frame = live.Frame(2, ["i", "love"], weights[:2], [Alternative("love", 0.7), Alternative("like", 0.2)], 0.7)
    bars = views.next_word_bars(frame, "en")
    assert views.next_word_bars(live.Frame(2, ["i", "love"], None, list(frame.alternatives), 0.7), "en") is bars
    assert views.next_word_bars(frame, "zh") is not bars
    assert list(bars.data[0].x) == pytest.approx([0.7, 0.2, 0.1])           # + what the other words hold
    # the live player's specs are cached apart from the Figures: asking for one never returns the other
    for spec, fig in ((views.next_word_bars(frame, "en", as_spec=True), bars),
                      (views.heatmap(src, out, weights, "en", highlight_row=1, as_spec=True), first)):
        assert isinstance(spec, dict) and isinstance(fig, go.Figure)
    assert isinstance(views.next_word_bars(frame, "en"), go.Figure)


def test_source_width_measures_the_words_the_model_reads_and_is_zero_for_text_it_cannot(settings):
    model = catalogue.open_model("tiny_zh_en", settings)
    tokens = model.translator.analyze("我爱学习。").src_tokens
    assert views.source_width(model, "我爱学习。") == pytest.approx(figures.columns_width(tokens, 14))
    assert views.source_width(model, "我爱学习。", presenter=True) == pytest.approx(figures.columns_width(tokens, 20))
    assert views.source_width(model, "我爱学习。", pinyin=True) == pytest.approx(
        figures.columns_width(tokens, 14, views.pinyin_notes(tokens, True)))
    longer = "我每天早上七点和妈妈一起去公园跑步。"
    assert views.source_width(model, longer) > views.source_width(model, "我爱学习。")
    assert views.source_width(model, "") == views.source_width(model, "hello") == 0.0


def test_source_width_reads_a_shown_translation_of_the_same_text_instead_of_analysing_it_again(settings,
                                                                                               monkeypatch):
    model = catalogue.open_model("tiny_zh_en", settings)
    result = live.decode(model, "我爱学习。", {"beam_size": 2})
    width = views.source_width(model, "我爱学习。")

    def refuse(text):
        raise AssertionError("analysed again")

    monkeypatch.setattr(model.translator, "analyze", refuse)
    assert views.source_width(model, "我爱学习。", shown=result) == pytest.approx(width)
    with pytest.raises(AssertionError, match="analysed again"):            # another sentence is analysed
        views.source_width(model, "我爱猫。", shown=result)
