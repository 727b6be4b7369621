"""The classroom app, driven through ``streamlit.testing.v1.AppTest``.

The app runs on tiny models trained here (seconds) in a temporary models folder
that also holds a corrupt file. Every check compares what the page shows with what
the core computes for the same model and sentence: the heatmap's axis labels and
cells, the translation, the n-best table, the beam tree's nodes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_models, free_port, stop, wait_until_serving
from streamlit.testing.v1 import AppTest

from seq2seq_lab import explain, settings
from seq2seq_lab.catalog import DEFAULT_MODEL, VARIANT_MODELS
from seq2seq_lab.checkpoint import load, save
from seq2seq_lab.i18n import STRINGS, t
from seq2seq_lab.present import catalogue, live
from seq2seq_lab.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "demo" / "streamlit_app.py")
SENTENCE = "我爱学习。"

pytestmark = pytest.mark.slow          # each test runs the whole app script (AppTest)


@contextlib.contextmanager
def streamlit_server(models_dir: Path, **env):
    """`streamlit run demo/streamlit_app.py` on a free local port (yields its URL), stopped afterwards."""
    port = free_port()
    env = {**os.environ, "SEQ2SEQ_LAB_MODELS_DIR": str(models_dir), "SEQ2SEQ_LAB_DEVICE": "cpu", **env}
    process = subprocess.Popen(
        # Only the port and address are given: everything else comes from .streamlit/config.toml, as shipped
        # (no usage statistics, headless), so the browser test checks that configuration too.
        [sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, f"{url}/_stcore/health", "the Streamlit server")
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def models_dir(app_models_dir, tmp_path_factory) -> Path:
    """This module's copy of the session's app models (conftest.app_models_dir)."""
    return copy_models(app_models_dir, tmp_path_factory.mktemp("models"))


@pytest.fixture
def app(models_dir, toy_training, monkeypatch, tmp_path):
    """A fresh visitor, with a private copy of the models folder (training writes into it).

    Besides the HSK models it holds ``toy_numbers``: the session's tiny numbers model (conftest).
    """
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder)
    toy = load(toy_training.path)
    toy.record["test"] = {"greedy": {"bleu": 0.0, "exact": 0.75}}     # BLEU means little on "3005"
    save(folder / "toy_numbers.safetensors", toy)
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("SEQ2SEQ_LAB_DEVICE", "cpu")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    at.select_slider(key="speed").set_value("instant")
    return at


def translator(at: AppTest, name: str = DEFAULT_MODEL) -> Translator:
    return Translator.load(Path(os.environ["SEQ2SEQ_LAB_MODELS_DIR"]) / f"{name}.safetensors", device="cpu")


# --- reading the rendered page ----------------------------------------------------------------

def _array(value):
    """A plotly JSON array, plain or typed ({"dtype", "bdata", "shape"})."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(x) for x in str(value.get("shape", len(data))).split(",")]
        return data.reshape(shape)
    return np.asarray(value)


def chart(at: AppTest, key: str) -> dict:
    found = [el for el in at.get("plotly_chart") if el.key == key]
    assert found, f"no chart {key!r}; charts: {[el.key for el in at.get('plotly_chart')]}"
    return json.loads(found[-1].proto.spec)


def chart_keys(at: AppTest) -> list[str]:
    return [el.key for el in at.get("plotly_chart")]


def player_frames(at: AppTest, name: str = "heat") -> list[dict]:
    """The frames the live player ``name`` got in the last run (its second message: all of them)."""
    found = [el for el in at.get("bidi_component") if el.proto.id.endswith(f"-live_player_{name}")]
    assert found, "no live player"
    data = json.loads(found[-1].proto.json)
    return json.loads(data)["frames"] if isinstance(data, str) else data["frames"]


def live_heatmap(at: AppTest) -> dict:
    """The live tab's finished heatmap: its chart, or right after an animation the player's last frame."""
    return chart(at, "live_heat") if "live_heat" in chart_keys(at) else player_frames(at)[-1]["figure"]


def heatmap_axes(spec: dict) -> tuple[list[str], list[str], np.ndarray]:
    trace = spec["data"][0]
    layout = spec["layout"]
    return list(layout["xaxis"]["ticktext"]), list(layout["yaxis"]["ticktext"]), _array(trace["z"])


def escaped(tokens):
    return [tok.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for tok in tokens]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    return "\n".join(parts)


def open_tab(at: AppTest, name: str, lang: str = "en") -> AppTest:
    """Select tab ``name`` ("compare", "candidates", …): only the open tab's content runs (lazy tabs)."""
    at.session_state["tab"] = t(f"tab.{name}", lang)
    return at.run()


def translate(at: AppTest, text: str, *, beam: int = 1) -> AppTest:
    at.number_input(key="beam").set_value(beam)
    at.text_input(key="src_text").set_value(text)
    at.button(key="translate").click()
    return at.run()


# --- the main flows -----------------------------------------------------------------------------

def test_first_page_lists_models_and_reports_the_corrupt_file(app):
    labels = app.selectbox(key="model").options                          # as shown: name · attention · corpus
    assert app.selectbox(key="model").value == DEFAULT_MODEL           # the default model comes first
    assert "everyday_dot · dot · hsk · BLEU 0.5" in labels                 # name · attention · corpus · test figure
    assert "toy_numbers · additive · toy:numbers · exact 75.0%" in labels
    assert not any("broken" in label for label in labels)
    assert any("broken.safetensors" in w.value for w in app.warning)      # a clear message, app keeps going
    assert any("Model runs on: cpu" in c.value for c in app.caption)
    assert app.button(key="translate").label == "Translate"
    assert "live_heat" in chart_keys(app)                                 # the default sentence, already translated


def test_tuned_penalties_button_sets_the_sliders_from_the_model_record(app):
    folder = Path(os.environ["SEQ2SEQ_LAB_MODELS_DIR"])
    checkpoint = load(folder / f"{DEFAULT_MODEL}.safetensors")
    assert not [b for b in app.button if b.key == "use_tuned"]             # no recorded choice, no button
    checkpoint.record["decoding"] = {"beam_size": 5, "length_penalty": 0.6, "coverage_penalty": 0.2,
                                     "no_repeat_ngram_size": 2}
    save(folder / f"{DEFAULT_MODEL}.safetensors", checkpoint)
    app.run()
    assert app.slider(key="length_penalty").value == 0.0 and app.slider(key="coverage_penalty").value == 0.0
    assert app.number_input(key="no_repeat").value == 0
    button = next(b for b in app.button if b.key == "use_tuned")
    assert "0.6" in button.label and "0.2" in button.label and "2-grams" in button.label
    button.click().run()
    assert not app.exception
    assert app.slider(key="length_penalty").value == pytest.approx(0.6)
    assert app.slider(key="coverage_penalty").value == pytest.approx(0.2)
    assert app.number_input(key="no_repeat").value == 2
    assert not [w for w in app.warning if "Session State" in str(w.value)]


def test_a_model_starts_with_its_tuned_settings_and_a_model_without_them_with_none(app):
    folder = Path(os.environ["SEQ2SEQ_LAB_MODELS_DIR"])
    checkpoint = load(folder / f"{DEFAULT_MODEL}.safetensors")
    checkpoint.record["decoding"] = {"beam_size": 5, "length_penalty": 1.0, "coverage_penalty": 0.2,
                                     "no_repeat_ngram_size": 2}
    save(folder / f"{DEFAULT_MODEL}.safetensors", checkpoint)
    at = AppTest.from_file(APP, default_timeout=120).run()              # a new visitor
    assert not at.exception
    tuned = (at.slider(key="length_penalty").value, at.slider(key="coverage_penalty").value,
             at.number_input(key="no_repeat").value)
    assert tuned == (pytest.approx(1.0), pytest.approx(0.2), 2)
    expected = Translator.load(folder / f"{DEFAULT_MODEL}.safetensors", device="cpu").translate(
        at.text_input(key="src_text").value, beam_size=5, n_best=5, length_penalty=1.0, coverage_penalty=0.2,
        no_repeat_ngram_size=2)
    assert banner_text(at) == expected.best.text                       # the first translation used them
    at.selectbox(key="model").set_value("everyday_dot").run()                # records no choice: no penalties
    assert (at.slider(key="length_penalty").value, at.number_input(key="no_repeat").value) == (0.0, 0)
    at.selectbox(key="model").set_value(DEFAULT_MODEL).run()
    assert at.number_input(key="no_repeat").value == 2


def test_translate_greedy_draws_the_models_own_attention(app):
    at = translate(app, SENTENCE, beam=1)
    assert not at.exception and not at.error
    expected = translator(at).translate(SENTENCE, beam_size=1)
    assert any(expected.best.text in m.value and "lab-output" in m.value for m in at.markdown)
    x, y, z = heatmap_axes(chart(at, "live_heat"))
    assert x == escaped(expected.src_tokens)                           # jieba tokens, reading order
    assert y == escaped(expected.best.tokens)                          # output tokens, generation order
    np.testing.assert_allclose(z, expected.best.attention, atol=1e-5)
    layout = chart(at, "live_heat")["layout"]
    assert layout["yaxis"]["range"][0] > layout["yaxis"]["range"][1]  # first output row on top
    assert chart(at, "live_heat")["data"][0]["zmin"] == 0 and chart(at, "live_heat")["data"][0]["zmax"] == 1
    assert at.slider(key="scrub").value == len(expected.best.tokens)
    bars = chart(at, "live_bars")["data"][0]
    assert abs(max(_array(bars["x"])) - max(a.prob for a in bars_source(at, expected))) < 1e-6
    assert "Step" in texts(at)
    assert "cmp_greedy" not in chart_keys(at) and "beam_tree" not in chart_keys(at)   # closed tabs do no work
    at = open_tab(at, "candidates")
    assert "Greedy decoding keeps one hypothesis" in texts(at) and "live_heat" not in chart_keys(at)


def bars_source(at, expected):
    steps = list(translator(at).steps(SENTENCE, beam_size=1))
    return steps[-1].nodes[0].alternatives


def test_translate_beam_shows_candidates_tree_and_comparison(app):
    at = translate(app, SENTENCE, beam=3)
    assert not at.exception and not at.error
    tr = translator(at)
    beam = tr.translate(SENTENCE, beam_size=3, n_best=3)
    greedy = tr.translate(SENTENCE, beam_size=1)
    at = open_tab(at, "candidates")
    table = at.dataframe[0].value
    assert list(table.iloc[:, 1]) == [c.text for c in beam.candidates]
    np.testing.assert_allclose(table.iloc[:, 2], [round(c.score, 3) for c in beam.candidates])
    np.testing.assert_allclose(table.iloc[:, 3], [round(c.normalized_score, 3) for c in beam.candidates])
    assert list(table.iloc[:, 4]) == [c.length for c in beam.candidates]
    # the tree holds every node of the search, by status
    steps = list(tr.steps(SENTENCE, beam_size=3, n_best=3))
    tree = chart(at, "beam_tree")
    drawn = {trace.get("name"): len(trace["x"]) for trace in tree["data"] if trace.get("mode") == "markers+text"
             and trace.get("name")}
    for status, label in (("alive", "kept"), ("finished", "finished"), ("pruned", "pruned")):
        count = sum(n.status == status for s in steps for n in s.nodes)
        assert drawn.get(label, 0) == count
    # greedy vs beam, side by side
    at = open_tab(at, "compare")
    _, y_greedy, _ = heatmap_axes(chart(at, "cmp_greedy"))
    _, y_beam, _ = heatmap_axes(chart(at, "cmp_beam"))
    assert y_greedy == escaped(greedy.best.tokens) and y_beam == escaped(beam.best.tokens)
    if greedy.best.tokens == beam.best.tokens:
        assert "Both found the same translation." in texts(at)
    else:
        assert "They part ways at step" in texts(at)


def test_choosing_a_candidate_shows_its_heatmap(app):
    at = translate(app, SENTENCE, beam=4)
    beam = translator(at).translate(SENTENCE, beam_size=4, n_best=4)
    assert len(beam.candidates) >= 2
    at = open_tab(at, "candidates")
    at.segmented_control(key="cand_pick").set_value(2).run()
    _, y, z = heatmap_axes(chart(at, "cand_heat"))
    assert y == escaped(beam.candidates[1].tokens)
    np.testing.assert_allclose(z, beam.candidates[1].attention, atol=1e-5)


def banner_text(at: AppTest) -> str:
    shown = [m.value for m in at.markdown if "id='lab-translation'" in m.value]
    assert len(shown) == 1
    return re.sub(r"<[^>]+>", "", shown[0])


def test_one_step_on_a_newly_typed_sentence_starts_at_step_one_and_the_banner_follows(app):
    other = "你好！"                                              # not the sentence the first visit translated
    app.text_input(key="src_text").set_value(other)               # typed, not submitted: then "One step"
    at = app.button(key="one_step").click().run()
    assert not at.exception
    final = translator(at).translate(other, beam_size=5, n_best=5)
    _, y, _ = heatmap_axes(chart(at, "live_heat"))
    assert len(y) == 1 and at.slider(key="scrub").value == 1        # step 1, not the whole animation
    assert len(final.best.tokens) > 2
    assert banner_text(at) != final.best.text and banner_text(at).endswith("…")    # not the final answer yet
    assert banner_text(at).startswith(final.best.tokens[0].capitalize())
    for _ in range(len(final.best.tokens) - 1):
        at = at.button(key="one_step").click().run()
    assert at.slider(key="scrub").value == len(final.best.tokens)
    assert banner_text(at) == final.best.text                       # the last step: the finished translation


def test_one_step_button_and_scrub_slider(app):
    app.text_input(key="src_text").set_value(SENTENCE)
    at = app.button(key="one_step").click().run()
    assert not at.exception
    _, y, _ = heatmap_axes(chart(at, "live_heat"))
    assert len(y) == 1 and at.slider(key="scrub").value == 1
    at.button(key="one_step").click().run()
    _, y2, _ = heatmap_axes(chart(at, "live_heat"))
    assert len(y2) == 2 and y2[0] == y[0]
    at.slider(key="scrub").set_value(1).run()
    _, y3, _ = heatmap_axes(chart(at, "live_heat"))
    assert y3 == y


def test_settings_change_updates_results_without_pressing_translate(app):
    at = open_tab(translate(app, SENTENCE, beam=1), "candidates")
    at.number_input(key="beam").set_value(3).run()
    expected = Translator.load(Path(os.environ["SEQ2SEQ_LAB_MODELS_DIR"]) / f"{DEFAULT_MODEL}.safetensors",
                               device="cpu").translate(SENTENCE, beam_size=3, n_best=3)
    table = at.dataframe(key="cand_table").value                   # the beam-3 n-best list, without a click
    assert list(table.iloc[:, 1]) == [c.text for c in expected.candidates]


def test_what_if_forces_the_first_word(app):
    at = open_tab(translate(app, SENTENCE, beam=1), "whatif")
    first_choices = at.pills(key="whatif_pick").options                  # shown as "word · 12%"
    assert first_choices and all(" · " in choice and choice.endswith("%") for choice in first_choices)
    second = first_choices[1].split(" · ")[0]
    at.pills(key="whatif_pick").set_value(second).run()
    assert at.text_input(key="whatif_prefix").value == second
    _, y, _ = heatmap_axes(chart(at, "whatif_forced"))
    assert y[0] == escaped([second])[0]
    expected = translator(at).translate(SENTENCE, beam_size=1, prefix=second)
    assert y == escaped(expected.best.tokens)
    at.text_input(key="whatif_prefix").set_value("qqqzzz").run()
    assert not at.exception
    assert any("does not know the output word" in e.value for e in at.error)


def test_attention_variants_side_by_side(app):
    at = open_tab(translate(app, SENTENCE, beam=1), "variants")
    at.toggle(key="variants_on").set_value(True).run()
    assert not at.exception
    keys = chart_keys(at)
    assert "variant_additive" in keys and "variant_dot" in keys and "variant_none" not in keys
    assert any("no attention" in i.value for i in at.info)
    assert any("everyday_general is not installed" in c.value for c in at.caption)
    expected = translator(at, "everyday_dot").translate(SENTENCE, beam_size=1)
    _, y, _ = heatmap_axes(chart(at, "variant_dot"))
    assert y == escaped(expected.best.tokens)


def pick_rnn(at: AppTest) -> AppTest:
    """The additive RNN (the default is a Transformer)."""
    return at.selectbox(key="model").set_value(VARIANT_MODELS["additive"]).run()


def test_pipeline_panels_use_the_encoder_values(app):
    at = open_tab(translate(pick_rnn(app), SENTENCE, beam=1), "pipeline")
    encoding = translator(at, VARIANT_MODELS["additive"]).encode(SENTENCE)
    emb = chart(at, "pipe_emb")
    np.testing.assert_allclose(_array(emb["data"][0]["z"]), encoding.embeddings, atol=1e-5)
    assert emb["layout"]["yaxis"]["ticktext"] == escaped(encoding.source.src_tokens)
    np.testing.assert_allclose(_array(chart(at, "pipe_enc")["data"][0]["z"]), encoding.states, atol=1e-5)
    np.testing.assert_allclose(_array(chart(at, "pipe_ctx")["data"][0]["z"])[0], encoding.summary, atol=1e-5)
    chips = "".join(m.value for m in at.markdown)
    for token_id in encoding.source.ids:
        assert f">{int(token_id)}</div>" in chips


def test_a_toy_model_gets_its_own_example_and_reference(app):
    at = app.selectbox(key="model").set_value("toy_numbers").run()
    assert not at.exception and not at.error
    assert at.text_input(key="src_text").value == "三千零五"                # the toy task's first example
    x, _, _ = heatmap_axes(chart(at, "live_heat"))
    assert x == ["三", "千", "零", "五", "&lt;/s&gt;"]
    assert any("Reference translation: 3005" in c.value for c in at.caption)
    assert [o.split(" · ")[-1] for o in at.pills(key="example").options] == ["三千零五", "两万零七百一十", "九十九"]


def test_a_toy_model_given_an_everyday_sentence_says_its_output_is_no_translation(app):
    """The numbers model reads 今天天气很好。 as <unk>s and still writes digits: a warning says so; its own example
    gets none."""
    at = app.selectbox(key="model").set_value("toy_numbers").run()
    assert not [w for w in at.warning if "<unk>" in w.value]
    at = translate(at, "今天天气很好。")
    assert not at.exception
    flagged = [w.value for w in at.warning if "&lt;unk&gt;" in w.value or "<unk>" in w.value]
    assert len(flagged) == 1 and "今" in flagged[0], [w.value for w in at.warning]


def test_unknown_words_are_marked_in_the_chips(app):
    at = open_tab(translate(app, "我爱犇犇。", beam=1), "pipeline")       # 犇 is in no HSK sentence
    assert not at.exception
    assert "&lt;unk&gt;" in "".join(m.value for m in at.markdown)


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "Please type a Chinese sentence"),
    ("   ", "Please type a Chinese sentence"),
    ("hello world", "no Chinese characters"),
    ("我" * 5000, "the limit is 200"),
    ("😀🎉", "no Chinese characters"),
])
def test_bad_input_gets_a_clear_message(app, text, message):
    at = translate(app, text, beam=3)
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    at = translate(at, SENTENCE, beam=1)                                # and the app keeps working
    assert not at.exception and not at.error and "live_heat" in chart_keys(at)


def test_html_and_script_tags_are_shown_as_text(app):
    text = "<script>alert(1)</script><b>我爱学习</b>"
    at = translate(app, text, beam=2)
    assert not at.exception and not at.error
    for element in [*at.markdown, *at.caption]:
        assert "<script>" not in element.value and "<b>" not in element.value
    x, _, _ = heatmap_axes(chart(at, "live_heat"))
    assert any("&lt;" in tick for tick in x)                              # drawn literally by plotly


def test_emoji_inside_a_sentence_is_translated(app):
    at = translate(app, "我爱学习😀", beam=1)
    assert not at.exception and not at.error
    assert "live_heat" in chart_keys(at)


def test_model_name_from_the_url_cannot_leave_the_models_folder(models_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "../../x"
    at.run()
    assert not at.exception
    assert any("Not a valid model name" in e.value for e in at.error)
    assert at.selectbox(key="model").value == DEFAULT_MODEL


def test_a_model_opened_from_the_url_starts_on_its_own_example(app):
    """?model=toy_numbers opens the numbers model on a number (a sentence would be all <unk>); ?text= still wins."""
    opened = {}
    for query in ({"model": "toy_numbers"}, {"model": "toy_numbers", "text": "三千零五"}):
        at = AppTest.from_file(APP, default_timeout=120)         # a new visitor, in the app fixture's folder
        at.query_params.update(query)
        at.run()
        assert not at.exception and at.selectbox(key="model").value == "toy_numbers"
        opened[len(query)] = at.text_input(key="src_text").value
    assert opened == {1: next(iter(catalogue.examples_for("toy:numbers"))), 2: "三千零五"}


def test_a_model_file_that_breaks_after_listing_gets_a_message(app):
    folder = Path(os.environ["SEQ2SEQ_LAB_MODELS_DIR"])
    (folder / "everyday_dot.safetensors").write_bytes(b"garbage")           # replaced behind the app's back
    at = app.run()
    assert not at.exception
    assert any("everyday_dot.safetensors" in w.value for w in at.warning)
    assert not any(label.startswith("everyday_dot") for label in at.selectbox(key="model").options)


# --- the interface language and presenter mode ------------------------------------------------------

def test_chinese_interface(app):
    app.segmented_control(key="lang").set_value("zh").run()
    at = translate(app, "hello", beam=1)
    assert not at.exception
    assert at.button(key="translate").label == "翻译"
    assert any("没有汉字" in e.value for e in at.error)
    at = translate(at, SENTENCE, beam=1)
    assert "<div class='lab-title'>注意力实验室" in texts(at)
    assert chart(at, "live_heat")["layout"]["xaxis"]["title"]["text"] == t("fig.source_axis", "zh")


def test_presenter_mode_enlarges_figures(app):
    at = translate(app, SENTENCE, beam=1)
    small = chart(at, "live_heat")["layout"]["font"]["size"]
    at.toggle(key="presenter").set_value(True).run()
    assert chart(at, "live_heat")["layout"]["font"]["size"] > small


def test_export_format_reaches_the_modebar(app):
    at = translate(app, SENTENCE, beam=1)
    at.segmented_control(key="export_fmt").set_value("svg").run()
    element = [el for el in at.get("plotly_chart") if el.key == "live_heat"][-1]
    config = json.loads(element.proto.config)
    assert config["toImageButtonOptions"]["format"] == "svg"


def test_every_interface_string_exists_in_both_languages():
    used = set()
    for path in (ROOT / "demo" / "streamlit_app.py", ROOT / "seq2seq_lab" / "figures.py"):
        used |= set(re.findall(r"""\bT?t?\(\s*f?["']([a-z_]+\.[a-z_.:]+)["']""", path.read_text(encoding="utf-8")))
    used = {key for key in used if "{" not in key}
    missing = sorted(key for key in used if key not in STRINGS)
    assert not missing
    for key, entry in STRINGS.items():
        assert entry.get("en") and entry.get("zh"), key
        assert set(re.findall(r"{(\w+)", entry["en"])) == set(re.findall(r"{(\w+)", entry["zh"])), key


def test_every_error_code_of_the_core_is_translated():
    codes = set()
    for path in (ROOT / "seq2seq_lab").glob("*.py"):
        codes |= set(re.findall(r"(?:Input|Checkpoint|Corpus|Busy|Lab)Error\(\s*\"(\w+)\"", path.read_text("utf-8")))
    assert codes
    assert not sorted(code for code in codes if f"error.{code}" not in STRINGS)


# --- training in the sidebar ---------------------------------------------------------------------------

def wait_for_training(at: AppTest, timeout: float = 300) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception
        if at.button(key="train_stop").disabled:                     # the job has ended
            return at
        time.sleep(0.5)
    raise AssertionError("training did not finish")


def start_toy_training(at: AppTest, *, epochs: int = 1, name: str = "../../tiny numbers",
                       attention: str = "additive") -> AppTest:
    at.selectbox(key="train_data").set_value("toy:numbers").run()
    at.session_state["train_arch"] = at.session_state["train_settings"] = True    # the form's folded boxes, open
    at.run()
    at.selectbox(key="train_attention").set_value(attention)
    at.text_input(key="train_name").set_value(name)
    at.select_slider(key="train_emb").set_value(16)
    at.select_slider(key="train_hidden").set_value(32)
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_lr").set_value(0.01)
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    return at


def test_training_a_toy_model_to_completion(app):
    at = start_toy_training(app)
    assert at.button(key="train_stop").disabled is False
    at = wait_for_training(at)
    assert any("saved as “tiny_numbers”" in s.value for s in at.success), [s.value for s in at.success]
    assert "tiny_numbers (trained here) · additive · toy:numbers" in " ".join(at.selectbox(key="model").options)
    assert "train_curves" in chart_keys(open_tab(at, "training"))
    at = open_tab(at, "live")
    at.button(key="train_use").click().run()
    assert at.selectbox(key="model").value == "user/tiny_numbers"
    at = translate(at, "三千零五", beam=2)
    assert not at.exception and not at.error
    x, _, _ = heatmap_axes(chart(at, "live_heat"))
    assert x == ["三", "千", "零", "五", "&lt;/s&gt;"]                     # a character-level model


def test_training_a_transformer_in_the_sidebar(app):
    """Attention "multi-head" in the form trains a Transformer, listed and usable at once."""
    at = start_toy_training(app, name="tiny transformer", attention="multi_head")
    at = wait_for_training(at)
    assert any("saved as “tiny_transformer”" in s.value for s in at.success), [s.value for s in at.success]
    label = next(o for o in at.selectbox(key="model").options if o.startswith("tiny_transformer (trained here)"))
    assert "Transformer (4 heads)" in label
    at.button(key="train_use").click().run()
    at = translate(at, "三千零五", beam=2)
    assert not at.exception and not at.error
    x, _, _ = heatmap_axes(chart(at, "live_heat"))
    assert x == ["三", "千", "零", "五", "&lt;/s&gt;"]


def test_a_model_trained_here_can_be_deleted_from_its_card(app, tmp_path):
    """#12: the card of a model trained in the app has a Delete button; a shipped model's has none."""
    assert not at_buttons(app, "model_delete")
    at = wait_for_training(start_toy_training(app, name="to delete"))
    at.button(key="train_use").click().run()
    assert at.selectbox(key="model").value == "user/to_delete"
    path = tmp_path / "models" / "user" / "to_delete.safetensors"
    assert path.is_file()
    at.button(key="model_delete").click().run()
    assert not at.exception and not at.error
    assert not path.exists()
    assert at.selectbox(key="model").value != "user/to_delete"
    assert not any(o.startswith("to_delete") for o in at.selectbox(key="model").options)
    assert any("Deleted the model “to_delete”" in t.value for t in at.toast)


def at_buttons(at: AppTest, key: str) -> list:
    return [b for b in at.button if b.key == key]


def test_stopping_a_training_saves_the_best_weights_so_far(app):
    at = start_toy_training(app, epochs=30, name="stopped")
    at.button(key="train_stop").click().run()
    at = wait_for_training(at)
    assert any("Stopped" in s.value and "stopped" in s.value for s in at.success)
    assert any(label.startswith("stopped (trained here)") for label in at.selectbox(key="model").options)


def test_uploads_that_cannot_be_trained_on(app):
    at = app
    at.selectbox(key="train_data").set_value("tsv").run()
    cases = [
        (b"just one column\nand another", "no usable sentence pair"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        ("\n".join(f"我爱你{i}\tI love you {i}" for i in range(5)).encode(), "only 5 usable sentence pairs"),
        (b"a" * 5_000_001, "the limit is 5 MB"),
    ]
    for data, message in cases:
        at.file_uploader(key="train_tsv").set_value(("data.tsv", data, "text/tab-separated-values"))
        at.run()
        assert not at.exception
        assert any(message in e.value for e in at.error), (message, [e.value for e in at.error])
    good = ("\n".join(f"我有{i}本书\tI have {i} books" for i in range(40)) + "\nno tab here").encode()
    at.file_uploader(key="train_tsv").set_value(("books.tsv", good, "text/tab-separated-values"))
    at.run()
    assert any("40 usable sentence pairs in books.tsv" in s.value for s in at.success)
    assert any("Skipped 1 line(s), e.g. line 41: expected 2 or 3" in c.value for c in at.caption)


# --- a Transformer --------------------------------------------------------------------------------------

def pick_transformer(at: AppTest) -> AppTest:
    at.selectbox(key="model").set_value("everyday_transformer").run()
    return translate(at, SENTENCE, beam=1)


def test_a_transformers_heatmap_follows_the_layer_and_head_picked(app):
    at = pick_transformer(app)
    assert not at.exception
    expected = translator(at, "everyday_transformer").translate(SENTENCE, beam_size=1).best
    picker = at.selectbox(key="head_pick")
    assert picker.value == "mean" and len(picker.options) == 1 + 2 * 4                # the summary, then 2 × 4
    assert picker.options[0] == t("heads.summary", "en")
    _, y, z = heatmap_axes(chart(at, "live_heat"))
    assert y == escaped(expected.tokens)
    np.testing.assert_allclose(z, expected.attention, atol=1e-5)                      # last layer, mean of heads
    at.selectbox(key="head_pick").set_value("0.2").run()
    assert not at.exception
    _, _, z = heatmap_axes(chart(at, "live_heat"))
    np.testing.assert_allclose(z, expected.attention_heads[:, 0, 2], atol=1e-5)       # layer 1, head 3 alone
    assert not np.allclose(z, expected.attention, atol=1e-3)


def test_a_transformers_heads_side_by_side_and_its_self_attention(app):
    at = pick_transformer(app)
    translation = translator(at, "everyday_transformer").translate(SENTENCE, beam_size=1)
    assert not {"heads_grid", "self_encoder", "self_decoder"} & set(chart_keys(at))   # folded: not even built
    at.session_state["heads_grid_open"] = at.session_state["heads_self_open"] = True  # what opening them does
    at.run()
    assert not at.exception
    grid = chart(at, "heads_grid")                                                    # the last layer by default
    panels = [trace for trace in grid["data"] if trace["type"] == "heatmap"]
    assert len(panels) == 4
    for h, panel in enumerate(panels):
        np.testing.assert_allclose(_array(panel["z"]), translation.best.attention_heads[:, 1, h], atol=1e-5)
    at.segmented_control(key="grid_layer").set_value("all").run()
    assert len([tr for tr in chart(at, "heads_grid")["data"] if tr["type"] == "heatmap"]) == 2 * 4
    decoder = chart(at, "self_decoder")
    weights = [tr for tr in decoder["data"] if tr.get("name") != "masked"]
    T = len(translation.best.tokens)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    for h, trace in enumerate(weights):
        z = np.array(_array(trace["z"]), dtype=float)                                 # null = masked
        assert np.isnan(z[future]).all()
        np.testing.assert_allclose(z[~future], translation.best.self_attention[1, h][~future], atol=1e-5)
    assert len([tr for tr in decoder["data"] if tr.get("name") == "masked"]) == 4
    encoder = [tr for tr in chart(at, "self_encoder")["data"] if tr["type"] == "heatmap"]
    np.testing.assert_allclose(_array(encoder[0]["z"]), translation.encoder_attention[1, 0], atol=1e-5)
    assert any("Grey cells are the future" in c.value for c in at.caption)


def test_an_rnn_page_has_no_head_picker_and_no_head_views(app):
    at = translate(pick_rnn(app), SENTENCE, beam=1)
    assert not at.exception
    assert not [s for s in at.selectbox if s.key == "head_pick"]
    assert not {"heads_grid", "self_encoder", "self_decoder"} & set(chart_keys(at))
    at = open_tab(at, "pipeline")
    assert "pipe_ctx" in chart_keys(at) and not {"pipe_pos", "pipe_qkv", "pipe_scores"} & set(chart_keys(at))


def test_a_transformers_pipeline_traces_one_head_through_one_step(app):
    at = open_tab(pick_transformer(app), "pipeline")
    assert not at.exception
    tr = translator(at, "everyday_transformer")
    keys = chart_keys(at)
    assert {"pipe_emb", "pipe_pos", "pipe_enc", "pipe_qkv", "pipe_scores"} <= set(keys) and "pipe_ctx" not in keys
    np.testing.assert_allclose(_array(chart(at, "pipe_pos")["data"][0]["z"]), tr.encode(SENTENCE).positional,
                               atol=1e-5)
    at.selectbox(key="trace_layer").set_value("1")
    at.selectbox(key="trace_head").set_value("3")
    at.selectbox(key="trace_step").set_value("2").run()
    assert not at.exception
    best = tr.translate(SENTENCE, beam_size=1).best
    traced = tr.trace_cross_attention(SENTENCE, best.tokens, layer=0, head=2)
    before, after = chart(at, "pipe_scores")["data"]
    np.testing.assert_allclose(_array(before["y"]), traced["scores"][1], atol=1e-4)
    np.testing.assert_allclose(_array(after["y"]), best.attention_heads[1, 0, 2], atol=1e-4)
    np.testing.assert_allclose(_array(chart(at, "pipe_qkv")["data"][0]["z"])[0], traced["q"][1], atol=1e-4)


def test_the_transformer_among_the_attention_variants_and_its_card(app):
    at = open_tab(translate(app, SENTENCE, beam=1), "variants")
    at.toggle(key="variants_on").set_value(True).run()
    assert not at.exception
    expected = translator(at, "everyday_transformer").translate(SENTENCE, beam_size=1)
    _, y, z = heatmap_axes(chart(at, "variant_multi_head"))
    assert y == escaped(expected.best.tokens)
    np.testing.assert_allclose(z, expected.best.attention, atol=1e-5)
    assert any(t("var.formula.multi_head", "en") in m.value for m in at.markdown)
    at = pick_transformer(at)
    assert any("Transformer · 2+2 layers · 4 heads · d 32 · FFN 64" in c.value for c in at.caption)
    options = at.selectbox(key="model").options
    assert any(o.startswith("everyday_transformer · Transformer (4 heads) · hsk ·") for o in options)


# --- look closer (#13) ---------------------------------------------------------------------------

OWN_SENTENCE = "我也爱学习。"               # typed, not an example: it brings no reference

@pytest.mark.parametrize("section, keys", [("coverage", ["closer_coverage_0", "closer_coverage_1"]),
                                           ("attribution", ["closer_attribution_0", "closer_attribution_1"]),
                                           ("exposure", ["closer_exposure_0"])])
def test_look_closer_tab_draws_each_view_of_the_translation_on_screen(app, section, keys):
    assert OWN_SENTENCE not in catalogue.all_examples()
    translate(app, OWN_SENTENCE, beam=3)
    app.session_state["closer_pick"] = section
    open_tab(app, "closer")
    assert not app.exception
    if section == "exposure":                            # a typed sentence brings no reference: the box asks
        assert "closer_exposure_0" not in chart_keys(app)
        assert t("closer.no_reference", "en") in texts(app)
        app.text_input(key="closer_reference").set_value("I love studying.").run()
    assert set(keys) <= set(chart_keys(app)), chart_keys(app)
    result = app.session_state["result"]
    if section == "coverage":
        bars = chart(app, "closer_coverage_1")["data"][0]
        np.testing.assert_allclose(_array(bars["y"]), result.final.best.attention.sum(axis=0), rtol=1e-5)
    if section == "exposure":
        line = _array(chart(app, "closer_exposure_0")["data"][0]["y"])
        found = explain.exposure_bias(translator(app), OWN_SENTENCE, "I love studying.")
        np.testing.assert_allclose(line, found.teacher_forced, rtol=1e-5)


def test_an_examples_reference_fills_the_exposure_box_and_a_new_sentence_replaces_it(app):
    example = next(e for e in catalogue.examples_for("hsk").values() if e.get("en"))
    translate(app, example["zh"])
    app.session_state["closer_pick"] = "exposure"
    open_tab(app, "closer")
    assert app.text_input(key="closer_reference").value == example["en"]
    assert "closer_exposure_0" in chart_keys(app)


def test_pinyin_switch_puts_the_reading_under_the_source_words(app):
    translate(app, SENTENCE)
    x_ticks = heatmap_axes(chart(app, "live_heat"))[0]
    assert not any("xuéxí" in tick for tick in x_ticks)
    app.toggle(key="pinyin").set_value(True).run()
    x_ticks = heatmap_axes(chart(app, "live_heat"))[0]
    assert any(tick.startswith("学习") and "xuéxí" in tick for tick in x_ticks), x_ticks
    open_tab(app, "pipeline")
    assert "xuéxí" in texts(app) or any("xuéxí" in str(el.proto) for el in app.get("markdown"))


def test_a_one_step_translation_plays_without_an_error(app):
    """``max_len`` 1 (the popover allows it): the animation's first step is its only one, so the player gets one
    message, not two under the same key (which Streamlit refuses with an exception)."""
    app.select_slider(key="speed").set_value("fast").run()                # animated, as a class sees it
    app.number_input(key="max_len").set_value(1).run()
    app.text_input(key="src_text").set_value("我是学生。")
    app.button(key="translate").click().run()
    assert not app.exception
    _, y, _ = heatmap_axes(chart(app, "live_heat"))
    assert len(y) == 1


def test_the_player_ends_on_the_finished_translation_and_it_is_not_drawn_again(app):
    """A beam search often ends on another hypothesis than the one leading at its last step (a shorter one that
    finished earlier): the player's last frame is then the finished translation's, captioned as the finished view,
    and the run draws no chart on top of it (#12)."""
    app.select_slider(key="speed").set_value("fast").run()                # animated, as a class sees it
    differed = 0
    for text in ["我爱学习中文", "我是学生。", "你好！", "他是我的老师。", "我们去北京。", "今天天气很好。"]:
        translate(app, text, beam=5)
        assert not app.exception
        result = app.session_state["result"]
        model = catalogue.open_model(result.model_key, settings.load())
        leaders = list(live.LiveDecoding(model, text, result.options))      # replayed: the frames the run sent
        frames = player_frames(app)
        final = result.frames[-1]
        differed += leaders[-1].tokens != final.tokens
        assert len(frames) == len(leaders) + (leaders[-1].tokens != final.tokens)
        _, y, _ = heatmap_axes(frames[-1]["figure"])
        assert y == escaped(final.tokens)
        assert frames[-1]["caption"].startswith(f"Step {len(final.tokens)} of {len(final.tokens)}:")
        assert "live_heat" not in chart_keys(app) and "live_bars" not in chart_keys(app)
    assert differed, "no sentence ended off its last leader: this test checked nothing"
    app.slider(key="scrub").set_value(1).run()                             # scrubbing draws the chart again
    assert "live_heat" in chart_keys(app)
