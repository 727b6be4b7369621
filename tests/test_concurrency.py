"""Many visitors at once: thirty students translating, and two asking to train.

Thirty students: a real ``streamlit run`` server and thirty browser sessions at
once, each speaking Streamlit's own websocket protocol (the messages a browser
sends: "run the script with these widget values"). They share what a server
shares — the models in ``st.cache_resource`` — and nothing else: every session
must get its own sentence's translation, with no error and no exception.

Two trainers: two ``AppTest`` sessions in one process share the training-job
manager; the second is told the server is busy.
"""

from __future__ import annotations

import asyncio
import html
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from seq2seq_lab.catalog import DEFAULT_MODEL
from seq2seq_lab.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))                # a folder of scripts, not a package

# isort: split
import streamlit_client

APP = str(ROOT / "demo" / "streamlit_app.py")
SENTENCES = ["我爱学习。", "他是我的老师。", "谢谢你的帮助。", "你好", "我们是同学。", "你会说中文吗?"]
STUDENTS = 30

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_dir(app_models_dir, tmp_path_factory) -> Path:
    from conftest import copy_models
    return copy_models(app_models_dir, tmp_path_factory.mktemp("models"))


@pytest.fixture
def folder(models_dir, tmp_path, monkeypatch) -> Path:
    from conftest import private_models
    return private_models(models_dir, tmp_path, monkeypatch)


# --- the students: bench/streamlit_client.py speaks Streamlit's websocket protocol as a browser does ----------

def test_thirty_students_translate_at_once(models_dir):
    from test_streamlit_app import streamlit_server
    tr = Translator.load(models_dir / f"{DEFAULT_MODEL}.safetensors", device="cpu")        # what the page opens on
    with streamlit_server(models_dir) as url:
        started = time.monotonic()
        pages = asyncio.run(streamlit_client.classroom(url, SENTENCES, STUDENTS))
        elapsed = time.monotonic() - started
    assert len(pages) == STUDENTS
    for page in pages:
        assert not page["exceptions"] and not page["errors"], page
        expected = tr.translate(page["text"], beam_size=page["beam"], n_best=page["beam"])
        assert len(page["shown"]) == 1 and html.escape(expected.best.text) in page["shown"][0], page
        assert page["heat"] is not None
        assert page["heat"]["layout"]["xaxis"]["ticktext"] == [html.escape(t, quote=False) for t in expected.src_tokens]
        assert page["heat"]["layout"]["yaxis"]["ticktext"] == [html.escape(t, quote=False)
                                                               for t in expected.best.tokens]
    print(f"{STUDENTS} concurrent sessions translated in {elapsed:.1f} s")


def test_a_translate_press_redraws_the_workspace_and_not_the_sidebar(models_dir):
    """The sentence, Translate, the banner and the tabs are one st.fragment (#12): a press that names it, as a
    browser does, reruns that part only; the sidebar and the model picker are not drawn again, and the press
    still shows the sentence's translation."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from test_streamlit_app import streamlit_server

    def widget_ids(elements) -> list[str]:
        drawn = (getattr(e, e.WhichOneof("type")) for e in elements)
        return [d.id for d in drawn if getattr(d, "id", "")]

    async def open_and_press(url: str):
        async with streamlit_client.websockets.connect(streamlit_client.stream_url(url), subprotocols=["streamlit"],
                                                       origin=url, max_size=None) as ws:
            await ws.send(streamlit_client.rerun())
            page = await streamlit_client.run_script(ws)
            translate = streamlit_client.widget_id(page, "button", "translate")
            states = [WidgetState(id=streamlit_client.widget_id(page, "text_input", "src_text"),
                                  string_value=SENTENCES[1]), WidgetState(id=translate, trigger_value=True)]
            await ws.send(streamlit_client.rerun(states, page.fragment_of(translate)))
            return page, await streamlit_client.run_script(ws), page.fragment_of(translate)

    tr = Translator.load(models_dir / f"{DEFAULT_MODEL}.safetensors", device="cpu")
    with streamlit_server(models_dir) as url:
        page, pressed, fragment = asyncio.run(open_and_press(url))
    assert fragment
    outside = [i for i in widget_ids(page) if i.endswith(("-lang", "-model", "-train_name"))]
    assert len(outside) == 3 and not any(page.fragment_of(i) for i in outside)      # drawn with the page
    assert not set(outside) & set(widget_ids(pressed))                               # not drawn by the press
    assert any(i.endswith("-translate") for i in widget_ids(pressed))
    shown = [e.markdown.body for e in pressed if e.WhichOneof("type") == "markdown" and "lab-translation" in
             e.markdown.body]
    expected = tr.translate(SENTENCES[1], beam_size=5, n_best=5).best.text
    assert len(shown) == 1 and html.escape(expected) in shown[0]


def visitor() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    return at


def test_a_second_training_is_refused_with_a_busy_message(folder):
    first, second = visitor(), visitor()
    first.selectbox(key="train_data").set_value("toy:numbers").run()
    first.session_state["train_arch"] = first.session_state["train_settings"] = True   # the folded boxes, open
    first.run()
    first.slider(key="train_epochs").set_value(30)
    first.select_slider(key="train_emb").set_value(16)
    first.select_slider(key="train_hidden").set_value(32)
    first.button(key="train_start").click().run()
    try:
        assert not first.exception and not first.error
        second.run()
        assert any("another training is running" in i.value for i in second.info)
        second.button(key="train_start").click().run()
        assert not second.exception
        assert any(e.value.startswith("Busy: 1 training(s) already running") for e in second.error)
        assert not first.button(key="train_stop").disabled                # the first one is unaffected
    finally:
        first.button(key="train_stop").click().run()
    for _ in range(600):
        first.run()
        if first.button(key="train_stop").disabled:
            break
        time.sleep(0.5)
    assert any("Stopped" in s.value for s in first.success)
    second.run()
    assert not any("another training is running" in i.value for i in second.info)
