"""The Gradio app: its JSON API through ``gradio_client`` and its page functions called directly.

The app runs on the session's tiny trained models (``tiny_models_dir`` in conftest.py), copied
into a temporary models folder that also holds a corrupt file; ``SEQ2SEQ_LAB_MODELS_DIR`` points
the app there. Every check compares the app's answer with what the core computes for the same
model and sentence, or with an invariant (attention rows sum to 1, score == teacher-forced score).
While the server runs, every socket connection and DNS lookup in this process is recorded, so the
last test can check that nothing left the machine.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import os
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from conftest import copy_with_a_broken_file

from seq2seq_lab import explain
from seq2seq_lab.i18n import t
from seq2seq_lab.present import catalogue, live, views
from seq2seq_lab.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "demo" / "gradio_app.py"
NUMBERS = "三千零五"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

pytestmark = pytest.mark.slow


def load_app():
    """Import demo/gradio_app.py as a module (it is a script, not part of the package)."""
    if "gradio_app" in sys.modules:
        return sys.modules["gradio_app"]
    spec = importlib.util.spec_from_file_location("gradio_app", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gradio_app"] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def hosts_contacted():
    """Every host this process connects to or looks up while the module's tests run."""
    seen: set[str] = set()
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if isinstance(address, tuple):
            seen.add(str(address[0]))
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        seen.add(host.decode() if isinstance(host, bytes) else str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield seen


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_models_dir):
    """A models folder: tiny_numbers, tiny_numbers_none, tiny_zh_en and a corrupt broken.safetensors."""
    return copy_with_a_broken_file(tiny_models_dir, tmp_path_factory.mktemp("gradio_models"))


@pytest.fixture(scope="module")
def app(models, hosts_contacted):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(models))
        patch.setenv("SEQ2SEQ_LAB_DEVICE", "cpu")
        yield load_app()


@pytest.fixture(scope="module")
def server(app):
    port = free_port()
    _, url, _ = app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield url
    finally:
        app.demo.close()
    with pytest.raises(httpx.ConnectError):             # closed means closed
        httpx.get(url, timeout=5)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, analytics_enabled=False, verbose=False, download_files=False)


def translator(models, name: str) -> Translator:
    return Translator.load(models / f"{name}.safetensors", device="cpu")


def app_error(client, *args, api_name: str) -> str:
    """The message gradio_client raises for a call that must fail."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name)
    return str(caught.value)


# --- the API through gradio_client ------------------------------------------------------------------

def test_api_has_the_four_named_endpoints_and_hides_the_page_events(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/translate", "/segment", "/score", "/models"} <= set(endpoints)
    assert not [name for name in endpoints if name.startswith("/ui_")]
    params = [p["parameter_name"] for p in endpoints["/translate"]["parameters"]]
    assert params == ["text", "model", "beam_size", "length_penalty", "coverage_penalty", "n_best", "max_len",
                      "no_repeat_ngram_size", "prefix"]


def test_models_lists_each_file_with_its_metrics_and_the_broken_one_with_its_error(client, models):
    listed = {entry["name"]: entry for entry in client.predict(api_name="/models")}
    assert set(listed) == {"tiny_numbers", "tiny_numbers_none", "tiny_zh_en", "broken"}
    numbers = listed["tiny_numbers"]
    assert numbers["ok"] and numbers["attention"] == "additive" and numbers["corpus"] == "toy:numbers"
    assert numbers["architecture"]["hidden_size"] == 64 and numbers["architecture"]["src_segmenter"] == "char"
    assert numbers["test"] == translator(models, "tiny_numbers").record.get("test", {})
    assert listed["tiny_numbers_none"]["attention"] == "none"
    broken = listed["broken"]
    assert broken["ok"] is False and broken["error"]["code"] in {"corrupt", "foreign"} and broken["error"]["message"]


def test_translate_returns_the_models_own_nbest_with_attention_rows_summing_to_one(client, models):
    result = client.predict(NUMBERS, "tiny_numbers", 4, 0.0, 0.0, 4, 0, 0, "", api_name="/translate")
    direct = translator(models, "tiny_numbers").translate(NUMBERS, beam_size=4, n_best=4)
    assert result["model"] == "tiny_numbers" and result["device"] == "cpu"
    assert result["src_tokens"] == direct.src_tokens == ["三", "千", "零", "五", "</s>"]
    assert result["strategy"] == "beam 4"
    assert [c["tokens"] for c in result["candidates"]] == [c.tokens for c in direct.candidates]
    scores = [c["normalized_score"] for c in result["candidates"]]
    assert scores == sorted(scores, reverse=True)
    for got, want in zip(result["candidates"], direct.candidates):
        assert got["text"] == want.text
        assert got["score"] == pytest.approx(want.score, abs=1e-5)
        assert got["score"] == pytest.approx(sum(got["token_log_probs"]), abs=1e-4)
        assert got["length"] == len(got["tokens"])
        attention = np.array(got["attention"])
        assert attention.shape == (len(got["tokens"]), len(result["src_tokens"]))
        np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-4)
        np.testing.assert_allclose(attention, want.attention, atol=6e-6)   # the API rounds to 5 decimals


def test_score_agrees_with_the_candidates_score(client):
    result = client.predict(NUMBERS, "tiny_numbers", 3, 0.0, 0.0, 3, 0, 0, "", api_name="/translate")
    for candidate in result["candidates"]:
        if not candidate["finished"]:
            continue
        scored = client.predict(NUMBERS, candidate["tokens"], "tiny_numbers", api_name="/score")
        assert scored["tokens"][-1] == "</s>"
        assert scored["log_prob"] == pytest.approx(candidate["score"], abs=1e-4)


def test_score_takes_an_english_sentence_too(client, models):
    tr = translator(models, "tiny_zh_en")
    best = tr.translate("我爱学习", beam_size=1).best
    scored = client.predict("我爱学习", best.text, "tiny_zh_en", api_name="/score")
    assert scored["log_prob"] == pytest.approx(tr.score("我爱学习", best.text), abs=1e-5)
    assert scored["log_prob"] == pytest.approx(best.score, abs=1e-4)


def test_segment_marks_known_split_and_unknown_tokens_with_their_ids(client, models):
    tr = translator(models, "tiny_zh_en")
    text = "我爱学习饕餮"                               # 饕餮: characters no short HSK sentence has
    result = client.predict(text, "tiny_zh_en", api_name="/segment")
    direct = tr.analyze(text)
    assert result["words"] == direct.words
    assert [tok["id"] for tok in result["tokens"]] == direct.ids
    assert result["unknown"] == direct.unknown and any("饕" in word for word in result["unknown"])
    for token in result["tokens"]:
        assert token["id"] == tr.src_vocab.encode([token["model_token"]])[0]
        if token["kind"] == "word":
            assert token["text"] in tr.src_vocab
        elif token["kind"] == "char":
            assert len(token["text"]) == 1 and token["word"] not in tr.src_vocab
        elif token["kind"] == "unk":
            assert token["model_token"] == "<unk>" and token["text"] not in tr.src_vocab
        else:
            assert token["kind"] == "eos" and token["text"] == "</s>"
    assert result["tokens"][-1]["kind"] == "eos"


def test_model_without_attention_gives_null_attention(client):
    result = client.predict(NUMBERS, "tiny_numbers_none", 2, 0.0, 0.0, 2, 0, 0, "", api_name="/translate")
    assert result["candidates"] and all(c["attention"] is None for c in result["candidates"])


def test_prefix_forces_the_first_tokens(client):
    free = client.predict(NUMBERS, "tiny_numbers", 3, 0.0, 0.0, 3, 0, 0, "", api_name="/translate")
    first = free["candidates"][0]["tokens"][0]
    forced_token = "9" if first != "9" else "8"
    forced = client.predict(NUMBERS, "tiny_numbers", 3, 0.0, 0.0, 3, 0, 0, forced_token, api_name="/translate")
    assert all(c["tokens"][0] == forced_token for c in forced["candidates"])
    assert forced["candidates"][0]["score"] < free["candidates"][0]["score"]


def test_default_model_and_keyword_call(client):
    result = client.predict(text=NUMBERS, model="tiny_numbers", beam_size=1, api_name="/translate")
    assert result["strategy"] == "greedy" and len(result["candidates"]) == 1
    # No file of this folder is catalog.DEFAULT_MODEL, so the default is the first readable model by name.
    assert client.predict(NUMBERS, api_name="/segment")["model"] == "tiny_numbers"


def test_concurrent_requests_on_the_shared_model_each_get_their_own_answer(client, models):
    requests = [("三千零五", 1), ("两万零七百一十", 2), ("九十九", 3), ("三千零五", 4), ("一百", 2), ("七", 5)]
    jobs = [client.submit(text, "tiny_numbers", beam, 0.0, 0.0, beam, 0, 0, "", api_name="/translate")
            for text, beam in requests]
    tr = translator(models, "tiny_numbers")
    for (text, beam), job in zip(requests, jobs):
        got = job.result(timeout=120)
        want = tr.translate(text, beam_size=beam, n_best=beam)
        assert got["src_tokens"] == want.src_tokens
        assert [c["tokens"] for c in got["candidates"]] == [c.tokens for c in want.candidates]


@pytest.mark.parametrize(("text", "model", "code"), [
    ("", "tiny_numbers", "empty"),
    (None, "tiny_numbers", "empty"),
    ("   ", "tiny_numbers", "empty"),
    ("hello world", "tiny_numbers", "no_chinese"),
    ("三" * 5000, "tiny_numbers", "too_long"),
    ("😀🎉", "tiny_numbers", "no_chinese"),
    ("<script>alert(1)</script>", "tiny_numbers", "no_chinese"),
    (NUMBERS, "../../x", "bad_name"),
    (NUMBERS, "user/../../x", "bad_name"),
    (NUMBERS, "no_such_model", "missing"),
    (NUMBERS, "broken", None),
])
def test_bad_input_gives_a_readable_error(client, text, model, code):
    message = app_error(client, text, model, api_name="/translate")
    assert message.startswith("[") and "Traceback" not in message and "upstream Gradio app" not in message
    if code is not None:
        assert message.startswith(f"[{code}]")
    else:
        assert message.split("]")[0].strip("[") in {"corrupt", "foreign", "incompatible"}
        assert "broken.safetensors" in message


def test_bad_options_and_unknown_prefix_give_readable_errors(client):
    assert app_error(client, NUMBERS, "tiny_numbers", 0, api_name="/translate").startswith("[bad_option]")
    assert "length_penalty" in app_error(client, NUMBERS, "tiny_numbers", 5, 99.0, api_name="/translate")
    assert "beam_size" in app_error(client, NUMBERS, "tiny_numbers", "many", api_name="/translate")
    message = app_error(client, "我爱学习", "tiny_zh_en", 3, 0.0, 0.0, 3, 0, 0, "zebra", api_name="/translate")
    assert message.startswith("[unknown_output_word]") and "zebra" in message
    assert app_error(client, NUMBERS, [], "tiny_numbers", api_name="/score").startswith("[bad_tokens]")
    assert app_error(client, "hello", ["3"], "tiny_numbers", api_name="/score").startswith("[no_chinese]")
    assert app_error(client, "", "../x", api_name="/segment").startswith("[bad_name]")


def raw_call(server: str, api_name: str, body: str) -> str:
    """Call an endpoint with a JSON body gradio_client refuses to send (NaN, Infinity); the event stream's text."""
    posted = httpx.post(f"{server.rstrip('/')}/gradio_api/call/{api_name}", content=body,
                        headers={"content-type": "application/json"}, timeout=30)
    assert posted.status_code == 200, posted.text
    event_id = posted.json()["event_id"]
    return httpx.get(f"{server.rstrip('/')}/gradio_api/call/{api_name}/{event_id}", timeout=120).text


def test_the_endpoints_refuse_what_the_ui_does_not_offer(client, server):
    """The API has the page's limits (options.LIMITS, api.MAX_SCORED_TOKENS, the paste limit), not wider ones."""
    widest = client.predict(NUMBERS, "tiny_numbers", 10, 2.0, 1.0, 10, 200, 4, "", api_name="/translate")
    assert len(widest["candidates"]) == 10                          # the sliders' ends are allowed…
    for option, args in (("beam_size", (11,)), ("n_best", (5, 0.0, 0.0, 64)), ("max_len", (5, 0.0, 0.0, 5, 500)),
                         ("length_penalty", (5, 1e308)), ("coverage_penalty", (5, 0.0, 1e308)),
                         ("no_repeat_ngram_size", (5, 0.0, 0.0, 5, 0, 9))):
        message = app_error(client, NUMBERS, "tiny_numbers", *args, api_name="/translate")
        assert message.startswith("[bad_option]") and option in message, (option, message)   # …one step past not
    for penalties in ("NaN, 0.0", "0.0, Infinity", "-Infinity, 0.0"):     # JSON that only a hand-made request sends
        streamed = raw_call(server, "translate",
                            f'{{"data": ["{NUMBERS}", "tiny_numbers", 5, {penalties}, 5, 0, 0, ""]}}')
        assert "event: error" in streamed and "[bad_option]" in streamed, streamed
    many = app_error(client, NUMBERS, ["3"] * 50_000, "tiny_numbers", api_name="/score")
    assert many.startswith("[bad_tokens]") and "50000" in many
    assert app_error(client, NUMBERS, " ".join(["3"] * 50_000), "tiny_numbers",
                     api_name="/score").startswith("[bad_tokens]")
    assert app_error(client, "三" * 50_000, "tiny_numbers", api_name="/segment").startswith("[too_long]")


# --- the page's functions, called directly -----------------------------------------------------------

def open_model(app, key: str):
    """The model the page uses for ``key``: the shared one, through the app's own settings."""
    return catalogue.open_model(key, app.settings.load())


def test_live_stream_grows_the_heatmap_one_row_per_step_then_fills_the_page(app, models, monkeypatch):
    monkeypatch.setitem(live.SPEEDS, "test", 1e-4)
    updates = list(app.translate_stream(NUMBERS, "tiny_numbers", 1, 0.0, 0.0, 0, 0, "test", "en"))
    direct = translator(models, "tiny_numbers").translate(NUMBERS, beam_size=1)
    frames, final = updates[:-1], updates[-1]
    assert len(frames) == len(direct.best.tokens)                # one frame per step, then the page
    for row_count, frame in enumerate(frames, start=1):
        assert set(frame) == {"message", "live_caption", "live_plot"} and frame["message"]["visible"] is False
        z = np.array(frame["live_plot"].data[0].z)
        assert z.shape == (row_count, len(direct.src_tokens))
        np.testing.assert_allclose(z, direct.best.attention[:row_count], atol=1e-6)
        assert f"“{catalogue.md_text(direct.best.tokens[row_count - 1])}”" in frame["live_caption"]
    assert isinstance(final["state"], live.Result) and final["state"].final.best.tokens == direct.best.tokens
    np.testing.assert_allclose(np.array(final["live_plot"].data[0].z), direct.best.attention, atol=1e-6)
    assert direct.best.text in final["result"] and "cpu" in final["meta"]


def test_live_stream_of_a_model_without_attention_shows_the_words_instead(app, monkeypatch):
    monkeypatch.setitem(live.SPEEDS, "test", 1e-4)
    updates = list(app.translate_stream(NUMBERS, "tiny_numbers_none", 1, 0.0, 0.0, 0, 0, "test", "zh"))
    final = updates[-1]["state"].final.best
    for count, frame in enumerate(updates[:-1], start=1):
        assert frame["live_plot"] is None
        shown = catalogue.md_text(" ".join(final.tokens[:count]))
        assert t("live.output_so_far", "zh", text=shown) in frame["live_caption"]
    assert updates[-1]["live_plot"] is None and updates[-1]["greedy_plot"] is None
    assert t("live.no_attention", "zh") in updates[-1]["live_caption"]


def test_instant_speed_sends_only_the_finished_page(app):
    updates = list(app.translate_stream(NUMBERS, "tiny_numbers", 3, 0.0, 0.0, 0, 0, "instant", "en"))
    assert len(updates) == 1 and isinstance(updates[0]["state"], live.Result)
    assert updates[0]["state"].is_for(open_model(app, "tiny_numbers"), NUMBERS,
                                      {"beam_size": 3, "n_best": 3, "max_len": 0})


def test_a_sentence_the_model_mostly_cannot_read_is_flagged_under_its_translation(app):
    """The numbers model given 今天天气很好。: the scores' line carries the warning; its own kind of input does not."""
    for text, flagged in ((NUMBERS, False), ("今天天气很好。", True)):
        page = list(app.translate_stream(text, "tiny_numbers", 1, 0.0, 0.0, 0, 0, "instant", "zh"))[-1]
        warning = views.unknown_warning(page["state"].final, "zh")
        assert bool(warning) == flagged
        assert (f"⚠ {warning}" in page["meta"]) == flagged and "cpu" in page["meta"]


def test_the_page_fills_every_output_it_wires(app):
    """What a result draws and what bad input clears are exactly the components the page wires."""
    (page,) = app.translate_stream(NUMBERS, "tiny_numbers", 2, 0.0, 0.0, 0, 0, "instant", "en")
    (cleared,) = app.translate_stream("hello", "tiny_numbers", 2, 0.0, 0.0, 0, 0, "instant", "en")
    assert set(page) == set(cleared) == set(app.OUTPUTS)
    assert set(app.render(page["state"], "en")) == set(app.OUTPUTS) - {"state", "message"}


def test_bad_input_pops_up_nothing_over_the_language_switch(app, monkeypatch):
    """In 中文 an English "Warning" toast used to cover the language switch: the message box says it all."""
    import gradio as gr

    toasts = []
    for kind in ("Warning", "Info"):
        monkeypatch.setattr(gr, kind, lambda *args, **kwargs: toasts.append((args, kwargs)))
    (page,) = list(app.translate_stream("hello", "tiny_numbers", 3, 0.0, 0.0, 0, 0, "instant", "zh"))
    assert page["message"]["visible"] is True and t("error.no_chinese", "zh") in page["message"]["value"]
    assert toasts == []


@pytest.mark.parametrize(("text", "model", "options", "lang", "key"), [
    ("hello", "tiny_numbers", (3, 0.0, 0.0, 0, 0), "zh", "error.no_chinese"),
    ("", "tiny_numbers", (3, 0.0, 0.0, 0, 0), "en", "error.empty"),
    (None, "tiny_numbers", (3, 0.0, 0.0, 0, 0), "zh", "error.empty"),
    ("三" * 5000, "tiny_numbers", (3, 0.0, 0.0, 0, 0), "en", None),
    (NUMBERS, "../../x", (3, 0.0, 0.0, 0, 0), "zh", "error.bad_name"),
    (NUMBERS, "tiny_numbers", (64, 0.0, 0.0, 0, 0), "zh", None),            # a hand-made request
])
def test_bad_input_on_the_page_clears_it_and_is_a_message_in_the_current_language(app, text, model, options, lang,
                                                                                   key):
    updates = list(app.translate_stream(text, model, *options, "instant", lang))
    assert len(updates) == 1
    (page,) = updates
    cleared = [name for name in app.OUTPUTS if name not in ("message", "candidates", "pick")]
    assert cleared and all(page[name] in ("", None) for name in cleared)          # no stale result
    assert page["candidates"].empty and t("cand.text", lang) in page["candidates"].columns
    assert page["message"]["visible"] is True
    shown = page["message"]["value"]
    assert t("gr.message_title", lang) in shown and "Traceback" not in shown
    if key is not None:
        assert catalogue.md_text(t(key, lang)) in shown
    elif options[0] == 64:
        assert "beam_size" in shown and "10" in shown
    else:
        assert "5000" in shown and "200" in shown


def test_corrupt_model_on_the_page_is_a_message_naming_the_file(app):
    (page,) = app.translate_stream(NUMBERS, "broken", 3, 0.0, 0.0, 0, 0, "instant", "en")
    assert page["state"] is None and "broken.safetensors" in page["message"]["value"]


def test_greedy_vs_beam_tab_draws_both_translations(app, models):
    (page,) = app.translate_stream("我爱学习", "tiny_zh_en", 1, 0.0, 0.0, 0, 0, "instant", "en")
    tr = translator(models, "tiny_zh_en")
    greedy = tr.translate("我爱学习", beam_size=1).best
    beam = tr.translate("我爱学习", beam_size=live.COMPARE_BEAM, n_best=live.COMPARE_BEAM).best
    assert t("cmp.beam1", "en") in page["compare_note"]
    np.testing.assert_allclose(np.array(page["greedy_plot"].data[0].z), greedy.attention, atol=1e-6)
    np.testing.assert_allclose(np.array(page["beam_plot"].data[0].z), beam.attention, atol=1e-6)
    assert html.escape(greedy.text) in page["greedy_text"] and html.escape(beam.text) in page["beam_text"]
    assert page["compare_note"].startswith("✓" if greedy.tokens == beam.tokens else "⚠")
    assert len(page["candidates"]) == 1                               # greedy: the n-best list is one line


def test_candidates_tab_table_pick_and_tree(app):
    result = live.decode(open_model(app, "tiny_numbers"), NUMBERS, {"beam_size": 4, "n_best": 4})
    page = app.render(result, "zh", show_pruned=False, pick=2)
    columns, rows = views.candidate_rows(result.final, "zh")
    assert list(page["candidates"].columns) == columns and page["candidates"].values.tolist() == rows
    assert page["pick"]["choices"] == [1, 2, 3, 4] and page["pick"]["value"] == 2
    z = np.array(page["candidate_plot"].data[0].z)
    np.testing.assert_allclose(z, result.final.candidates[1].attention, atol=1e-6)
    tree_points = sum(len(trace.x) for trace in page["tree_plot"].data if trace.mode == "markers+text")
    kept = sum(1 for step in result.steps for node in step.nodes if node.status != "pruned")
    assert tree_points == kept + 1                                     # + the root <s>
    assert t("strategy.beam", "zh", k=4) in page["meta"]
    assert app.render(result, "zh", pick=99)["pick"]["value"] == 1


def test_segmentation_on_the_page_escapes_the_visitors_markup(app):
    (page,) = app.translate_stream("我爱学习<b>饕餮</b>", "tiny_zh_en", 1, 0.0, 0.0, 0, 0, "instant", "en")
    assert "<b>" not in page["seg_view"] and "&lt;" in page["seg_view"] and "饕" in page["seg_view"]
    assert "<b>" not in page["pipe_seg"] and "饕餮" in page["pipe_seg"]
    assert html.escape(t("pipe.legend_unk", "en")) in page["seg_view"]
    assert page["pipe_seg"].startswith(f"#### {t('pipe.seg', 'en')}")


def test_model_list_card_and_examples_come_from_the_catalogue(app):
    found = app.shelf()
    assert [key for _, key in found.choices("en")] == ["tiny_numbers", "tiny_numbers_none", "tiny_zh_en"]
    assert found.choices("en")[0][0] == catalogue.model_label("tiny_numbers", found.good["tiny_numbers"], "en")
    assert app.examples_for("tiny_numbers")[0] == [NUMBERS] and ["我爱学习。"] in app.examples_for("tiny_zh_en")
    dataset, card, text, *penalties = app.on_model_change("tiny_numbers", "我爱学习。", "zh")
    assert dataset.raw_samples == app.examples_for("tiny_numbers") and text == NUMBERS
    assert penalties == [0.0, 0.0, 0]                     # the model records no tuned decoding: none
    assert "tiny_numbers" in card and "additive" in card and "broken.safetensors" in card
    assert app.on_model_change("tiny_zh_en", "我喜欢猫", "en")[2] == "我喜欢猫"        # typed text stays
    dropdown, card = app.on_refresh("gone_model", "en")
    assert dropdown.value == found.default_key and card == found.card(found.default_key, "en")


def test_address_parameters_pick_language_model_and_text(app):
    query = SimpleNamespace(query_params={"lang": "zh", "model": "tiny_zh_en", "text": "我爱学习"})
    lang, dropdown, text, dataset, card = app.on_load(query)
    assert (lang, dropdown.value, text) == ("zh", "tiny_zh_en", "我爱学习")
    assert dataset.raw_samples == app.examples_for("tiny_zh_en") and card == app.shelf().card("tiny_zh_en", "zh")
    lang, dropdown, text, _, _ = app.on_load(SimpleNamespace(query_params={"lang": "xx", "model": "../x"}))
    assert (lang, dropdown.value, text) == ("en", "tiny_numbers", NUMBERS)


def test_models_are_loaded_once_and_reloaded_when_the_file_changes(app, models):
    first = open_model(app, "tiny_numbers")
    assert first.path == (models / "tiny_numbers.safetensors").resolve()
    assert open_model(app, "tiny_numbers").translator is first.translator
    path = models / "tiny_numbers.safetensors"
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    try:
        reloaded = open_model(app, "tiny_numbers")
        assert reloaded.translator is not first.translator and reloaded.version != first.version
        (page,) = app.translate_stream(NUMBERS, "tiny_numbers", 2, 0.0, 0.0, 0, 0, "instant", "en")
        assert page["state"].version == reloaded.version
    finally:
        os.utime(path, (stat.st_atime, stat.st_mtime))


def test_render_switches_the_language_of_text_and_figures(app):
    result = live.decode(open_model(app, "tiny_numbers"), NUMBERS, {"beam_size": 2, "n_best": 2})
    en, zh = app.render(result, "en"), app.render(result, "zh")
    assert t("strategy.beam", "en", k=2) in en["meta"] and t("strategy.beam", "zh", k=2) in zh["meta"]
    assert en["live_plot"].layout.xaxis.title.text == t("fig.source_axis", "en")
    assert zh["live_plot"].layout.xaxis.title.text == t("fig.source_axis", "zh")
    assert en["tree_caption"] != zh["tree_caption"] and en["pipe_seg"] != zh["pipe_seg"]


def test_look_closer_tab_draws_each_section_for_the_result(app, models):
    import gradio_closer

    result = live.decode(open_model(app, "tiny_zh_en"), "我爱学习", {"beam_size": 3, "n_best": 3})
    caption, left, right, box = gradio_closer.view(result, "coverage", "", "en", False)
    np.testing.assert_allclose(np.array(right["value"].data[0].y), result.final.best.attention.sum(axis=0), rtol=1e-5)
    assert box["visible"] is False and "Coverage" in caption
    caption, left, right, _ = gradio_closer.view(result, "attribution", "", "zh", True)
    assert right["visible"] and "积分梯度" in caption
    assert any("xuéxí" in tick for tick in right["value"].layout.xaxis.ticktext)      # pinyin under the words
    caption, left, right, box = gradio_closer.view(result, "exposure", "", "en", False)
    assert left is None and box["visible"] and t("closer.no_reference", "en") in caption
    caption, left, right, _ = gradio_closer.view(result, "exposure", "I love studying .", "en", False)
    found = explain.exposure_bias(translator(models, "tiny_zh_en"), "我爱学习", "I love studying .")
    np.testing.assert_allclose(np.array(left.data[0].y), found.teacher_forced, rtol=1e-5)
    caption, left, _, _ = gradio_closer.view(result, "exposure", "x" * 1000, "en", False)
    assert left is None and caption.startswith("⚠")                                  # a message, not a traceback


def test_pinyin_reaches_every_heatmap_and_the_segmentation(app):
    result = live.decode(open_model(app, "tiny_zh_en"), "我爱学习", {"beam_size": 3, "n_best": 3})
    plain, with_pinyin = app.render(result, "en"), app.render(result, "en", picks={"pinyin": True})
    for name in ("live_plot", "greedy_plot", "beam_plot", "candidate_plot"):
        assert not any("xuéxí" in tick for tick in plain[name].layout.xaxis.ticktext)
        assert any("xuéxí" in tick for tick in with_pinyin[name].layout.xaxis.ticktext), name
    assert "xuéxí" in with_pinyin["seg_view"] and "xuéxí" not in plain["seg_view"]


def test_nothing_but_this_machine_was_contacted(client, hosts_contacted):
    client.predict(NUMBERS, "tiny_numbers", api_name="/segment")      # at least one real round trip
    assert hosts_contacted, "the recorder saw no connection at all"
    assert hosts_contacted <= LOOPBACK, f"outbound connections: {hosts_contacted - LOOPBACK}"
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"
    with contextlib.suppress(AttributeError):
        assert load_app().demo.analytics_enabled is False


# --- a Transformer ----------------------------------------------------------------------------------------

@pytest.fixture
def transformer_models(app, app_models_dir, tmp_path, monkeypatch) -> Path:
    """The app pointed at the app models (conftest.make_app_models), which hold the tiny everyday_transformer."""
    from conftest import copy_models

    folder = copy_models(app_models_dir, tmp_path / "models")
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(folder))
    return folder


SENTENCE = "我爱学习。"


def test_a_transformers_live_heatmap_follows_the_head_picked(app, transformer_models, monkeypatch):
    monkeypatch.setitem(live.SPEEDS, "test", 1e-4)
    direct = translator(transformer_models, "everyday_transformer").translate(SENTENCE, beam_size=1).best
    updates = list(app.translate_stream(SENTENCE, "everyday_transformer", 1, 0.0, 0.0, 0, 0, "test", "en", True,
                                        {"head": "1.3"}))
    frames, page = updates[:-1], updates[-1]
    for rows, frame in enumerate(frames, start=1):                   # grows step by step, head 4 of layer 2
        np.testing.assert_allclose(np.array(frame["live_plot"].data[0].z), direct.attention_heads[:rows, 1, 3],
                                   atol=1e-5)
    np.testing.assert_allclose(np.array(page["live_plot"].data[0].z), direct.attention_heads[:, 1, 3], atol=1e-5)
    summary = app.render(page["state"], "en")                        # no pick: the last layer's mean
    np.testing.assert_allclose(np.array(summary["live_plot"].data[0].z), direct.attention, atol=1e-5)
    assert not np.allclose(direct.attention, direct.attention_heads[:, 1, 3], atol=1e-3)


def test_a_transformers_page_shows_its_heads_self_attention_and_trace(app, transformer_models):
    (page,) = app.translate_stream(SENTENCE, "everyday_transformer", 1, 0.0, 0.0, 0, 0, "instant", "en")
    assert set(page) == set(app.OUTPUTS)
    result = page["state"]
    final = live.MAPS.peek(result.request)                             # the maps the page's views computed
    assert final is not None and final.best.tokens == result.final.best.tokens
    best = final.best
    grid = [tr for tr in page["grid_plot"].data if tr.type == "heatmap"]
    assert len(grid) == 4                                           # the last layer's four heads
    np.testing.assert_allclose(np.asarray(grid[2].z, dtype=float), best.attention_heads[:, 1, 2], atol=1e-5)
    decoder = [tr for tr in page["dec_plot"].data if tr.name != "masked"]
    future = np.triu(np.ones((len(best.tokens),) * 2, dtype=bool), k=1)
    assert all(np.isnan(np.asarray(tr.z, dtype=float)[future]).all() for tr in decoder)
    assert "Grey cells" in page["dec_caption"] and "layer 2" in page["enc_caption"]
    np.testing.assert_allclose(np.asarray(page["enc_plot"].data[0].z, dtype=float), final.encoder_attention[1, 0],
                               atol=1e-5)
    assert page["pipe_pos"].startswith(f"#### {t('pipe.pos', 'en')}") and page["pipe_ctx"] == ""
    assert page["pipe_qkv"].startswith(f"#### {t('pipe.qkv', 'en')}") and page["scores_view"] is not None
    picked = app.render(result, "zh", picks={"grid_layer": "all", "dec_layer": "1", "trace_layer": "1",
                                             "trace_head": "2", "trace_step": "2"})
    assert len([tr for tr in picked["grid_plot"].data if tr.type == "heatmap"]) == 2 * 4
    first_head = next(tr for tr in picked["dec_plot"].data if tr.name != "masked")
    np.testing.assert_allclose(np.asarray(first_head.z, dtype=float)[~future],
                               best.self_attention[0, 0][~future], atol=1e-5)
    np.testing.assert_allclose(np.asarray(picked["scores_view"].data[1].y), best.attention_heads[1, 0, 1], atol=1e-5)
    assert t("pipe.qkv", "zh") in picked["pipe_qkv"]


def test_the_pickers_appear_for_a_transformer_only(app, transformer_models):
    import gradio_heads

    (page,) = app.translate_stream(SENTENCE, "everyday_transformer", 1, 0.0, 0.0, 0, 0, "instant", "en")
    model = catalogue.open_model("everyday_transformer", app.settings.load())
    shown = gradio_heads.control_updates(model, page["state"], "en", {"head": "0.1", "trace_step": "99"})
    assert shown["head"]["visible"] is True and shown["head"]["value"] == "0.1"       # a choice it offers stays
    assert [value for _, value in shown["head"]["choices"]][:2] == ["mean", "0.0"]
    assert len(shown["head"]["choices"]) == 1 + 2 * 4
    assert shown["trace_step"]["value"] == "1"                                         # one it does not: the first
    assert all(shown[box]["visible"] for box in ("grid_box", "self_box", "trace_box", "pos_box"))
    assert shown["ctx_box"]["visible"] is False
    (rnn_page,) = app.translate_stream(SENTENCE, "everyday_additive", 1, 0.0, 0.0, 0, 0, "instant", "en")
    rnn = catalogue.open_model("everyday_additive", app.settings.load())
    hidden = gradio_heads.control_updates(rnn, rnn_page["state"], "en", {})
    assert not any(hidden[box]["visible"] for box in ("head", "grid_box", "self_box", "trace_box", "pos_box"))
    assert hidden["ctx_box"]["visible"] is True
    assert rnn_page["grid_plot"] is None and rnn_page["pipe_pos"] == "" and rnn_page["pipe_ctx"]
