"""The app in a real browser: Debian's Chromium driven by Playwright, the server started here.

Checks what a student sees: the heatmap's axis labels are the jieba tokens and the
output words, the beam candidates appear, nothing leaves the machine, and the
page works in Chinese too, and every tab draws without an error. Screenshots go
to the test's temporary folder, or to ``SEQ2SEQ_LAB_SCREENSHOT_DIR`` when it is set.

The app runs on tiny models trained here; ``SEQ2SEQ_LAB_BROWSER_MODELS_DIR=models``
runs it on the shipped models instead (that is how the README's screenshots are made):

    SEQ2SEQ_LAB_BROWSER_MODELS_DIR=models SEQ2SEQ_LAB_SCREENSHOT_DIR=assets/screenshots \
        python -m pytest tests/test_browser.py
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from seq2seq_lab.catalog import DEFAULT_MODEL, ModelInfo
from seq2seq_lab.present import catalogue
from seq2seq_lab.translator import Translator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "demo" / "streamlit_app.py"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SENTENCE = "他是我的老师。"

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, request) -> Path:
    if os.environ.get("SEQ2SEQ_LAB_BROWSER_MODELS_DIR"):
        return Path(os.environ["SEQ2SEQ_LAB_BROWSER_MODELS_DIR"]).resolve()
    from conftest import copy_models  # the same tiny models as the AppTest suite
    return copy_models(request.getfixturevalue("app_models_dir"), tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def server(models_dir):
    from test_streamlit_app import streamlit_server
    with streamlit_server(models_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")   # a projector
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("websocket", lambda ws: page.requests.append(ws.url))
    yield page
    context.close()


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SEQ2SEQ_LAB_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def wait_for_ticks(page, key: str, axis: str, count: int, timeout: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ticks = texts(page, f".st-key-{key} .{axis}tick text")
        if len(ticks) == count:
            return ticks
        time.sleep(0.3)
    raise AssertionError(f"{key}: {axis} ticks {texts(page, f'.st-key-{key} .{axis}tick text')}, wanted {count}")


def finished_player_ticks(page, axis: str, timeout: float = 90) -> list[str]:
    """The live heatmap's ``axis`` ticks once the player shows its last frame: the finished view after an
    animation (a beam's earlier frames may have as many rows, other words), and the page's run has ended."""
    player = ".st-key-live_player_heat .lab-player"
    page.wait_for_function(f"""() => {{ const r = document.querySelector({player!r});
        return r && r.dataset.step !== undefined && r.dataset.step === r.dataset.steps }}""", timeout=timeout * 1000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')",   # the run has ended:
                           timeout=timeout * 1000)                                           # the banner is drawn
    return texts(page, f"{player} .{axis}tick text")


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".st-key-translate button", timeout=90_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)


def no_exceptions(page) -> None:
    shown = texts(page, "[data-testid=stException]")
    assert not shown, shown


def test_translate_in_the_browser(page, server, models_dir, tmp_path):
    default = Translator.load(models_dir / f"{DEFAULT_MODEL}.safetensors", device="cpu")
    start = catalogue.starting_decoding(ModelInfo(DEFAULT_MODEL, models_dir, record=default.record))
    expected = default.translate(SENTENCE, beam_size=5, n_best=5, **start)       # what the app starts with
    open_app(page, server)
    page.locator(".st-key-src_text input").fill(SENTENCE)
    page.locator(".st-key-translate button").click()

    x_ticks = finished_player_ticks(page, "x")              # the animation's last frame: the finished view
    y_ticks = finished_player_ticks(page, "y")
    assert x_ticks == expected.src_tokens                   # 他 是 我 的 老师 。 </s>: jieba's words, in order
    assert y_ticks == expected.best.tokens                  # the output words, in the order they were written
    assert expected.best.text in page.locator("#lab-translation").inner_text()
    page.screenshot(path=screenshot_dir(tmp_path) / "main.png")                # the README's first picture

    page.get_by_role("tab", name="Beam candidates").click()
    page.wait_for_selector(".st-key-cand_table [role=gridcell]", state="attached", timeout=30_000)
    cells = texts(page, ".st-key-cand_table [role=gridcell]")
    for candidate in expected.candidates:
        assert candidate.text in cells
    wait_for_ticks(page, "cand_heat", "y", len(expected.best.tokens))

    foreign = {urlparse(url).hostname for url in page.requests if urlparse(url).scheme in ("http", "https", "ws",
                                                                                          "wss")} - LOCAL_HOSTS
    assert not foreign, f"requests left the machine: {foreign}"
    assert page.requests, "the request log recorded nothing"


def settled(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)


def test_the_heatmap_grows_in_the_browser_one_row_a_step(page, server, models_dir):
    """The live player (demo/live_player.js): every frame it shows is the heatmap after that many steps of the
    model's own search, and its last frame, which stays as the finished view, has every row. Greedy, so the
    leader at step k is the final output's first k words; the slow speed leaves 0.8 s a frame to look at one
    before the last."""
    default = Translator.load(models_dir / f"{DEFAULT_MODEL}.safetensors", device="cpu")
    start = catalogue.starting_decoding(ModelInfo(DEFAULT_MODEL, models_dir, record=default.record))
    expected = default.translate(SENTENCE, beam_size=1, **start).best.tokens
    open_app(page, server)
    page.locator(".st-key-beam input").fill("1")
    page.locator(".st-key-beam input").press("Enter")
    settled(page)
    page.locator(".st-key-speed input[type=range]").press("ArrowLeft")                   # normal → slow
    settled(page)
    page.locator(".st-key-src_text input").fill(SENTENCE)
    page.locator(".st-key-translate button").click()

    player = ".st-key-live_player_heat .lab-player"
    page.wait_for_selector(player, timeout=90_000)
    seen = {}                                                        # step shown → the heatmap's rows then
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = page.evaluate(f"""() => {{ const r = document.querySelector({player!r});
            return r && r.dataset.step ? [r.dataset.step, r.dataset.steps,
                                          [...r.querySelectorAll('.ytick text')].map(e => e.textContent)] : null }}""")
        if state and state[2]:
            seen[int(state[0])] = (int(state[1]), state[2])
            if state[0] == state[1]:
                break                                                # the last frame: the finished view
        time.sleep(0.1)
    settled(page)
    final = wait_for_ticks(page, "live_player_heat", "y", len(expected))     # it stays: not drawn again
    assert not page.locator(".st-key-live_heat").count()
    assert page.locator(".st-key-live_player_heat .modebar").count()          # exportable, as every chart
    assert seen and min(seen) < len(expected), seen                   # a frame before the last was on screen
    for step, (steps, rows) in seen.items():
        assert steps == len(expected) and rows == expected[:step], (step, rows)
    assert final == expected
    page.locator(".st-key-scrub input[type=range]").press("ArrowLeft")          # one step back: a chart again
    assert wait_for_ticks(page, "live_heat", "y", len(expected) - 1) == expected[:-1]
    no_exceptions(page)


def test_the_player_says_so_for_a_model_without_attention(page, server):
    """A model without attention has no heatmap to grow: the player shows the note and the output so far, in the
    box the finished view shows it in (the player's own styles reach it: a line break between the two)."""
    from seq2seq_lab.catalog import VARIANT_MODELS
    open_app(page, server + f"/?model={VARIANT_MODELS['none']}")
    page.locator(".st-key-speed input[type=range]").press("ArrowLeft")                   # normal → slow
    settled(page)
    page.locator(".st-key-src_text input").fill(SENTENCE)
    page.locator(".st-key-translate button").click()
    note = page.locator("[class*=st-key-live_player_heat] .lab-player-note").first
    note.wait_for(state="visible", timeout=90_000)
    shown = note.inner_text()
    assert shown.startswith("This model has no attention") and "\nOutput so far: " in shown, shown
    assert note.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-line"
    assert not page.locator("[class*=st-key-live_player_heat] .main-svg").count()       # no chart drawn
    no_exceptions(page)


def test_chinese_interface_and_bad_input_in_the_browser(page, server, tmp_path):
    open_app(page, server + "/?lang=zh")
    assert page.locator(".st-key-translate button").inner_text().strip() == "翻译"
    page.locator(".st-key-src_text input").fill("<script>window.__hacked = 1</script> hello")
    page.locator(".st-key-translate button").click()
    page.wait_for_selector("text=这段文字里没有汉字", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    time.sleep(1)
    assert page.evaluate("() => window.__hacked === undefined")
    page.screenshot(path=screenshot_dir(tmp_path) / "bad_input_zh.png")


TABS = [("Pipeline", "pipeline", "pipe_enc"), ("Greedy vs beam", "greedy_vs_beam", "cmp_beam"),
        ("Beam candidates", "candidates_tree", "beam_tree"), ("What if", "what_if", "whatif_free"),
        ("Attention variants", "variants", None), ("Live decoding", "live_decoding", "live_heat")]


def test_every_tab_draws_without_errors(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        open_app(page, server)
        page.locator(".st-key-src_text input").fill("他是我的老师。")
        page.locator(".st-key-translate button").click()
        assert len(finished_player_ticks(page, "x")) == 7               # 他 是 我 的 老师 。 </s>
        for tab, name, chart in TABS:
            page.get_by_role("tab", name=tab).click()
            if name == "what_if":
                page.locator(".st-key-whatif_pick button").nth(1).click()
            if name == "variants":
                page.locator(".st-key-variants_on label").click()
                chart = "variant_additive"
            page.wait_for_selector(f".st-key-{chart} .main-svg", timeout=60_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
            time.sleep(1)
            no_exceptions(page)
            page.screenshot(path=screenshot_dir(tmp_path) / f"{name}.png")
    finally:
        context.close()


def test_look_closer_draws_its_three_views_with_pinyin(browser, server, tmp_path):
    """The "look closer" tab: coverage, attention vs attribution, exposure bias (an example brings its reference),
    with pinyin switched on; screenshots closer_<section>.png (the README's)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        open_app(page, f"{server}/?text=我爱学习。")
        page.locator(".st-key-pinyin label").click()
        page.locator(".st-key-translate button").click()
        page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)
        page.get_by_role("tab", name="Look closer").click()
        for index, section in enumerate(("coverage", "attribution", "exposure")):
            page.locator(".st-key-closer_pick button").nth(index).click()
            page.wait_for_selector(f".st-key-closer_{section}_0 .main-svg", timeout=90_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)
            time.sleep(1)
            no_exceptions(page)
            if section != "exposure":                 # the source words carry their pinyin
                ticks = texts(page, f".st-key-closer_{section}_0 .xtick text")
                assert any(tick == "我wǒ" for tick in ticks), ticks       # 我 over wǒ: two lines of one tick
            page.screenshot(path=screenshot_dir(tmp_path) / f"closer_{section}.png")
    finally:
        context.close()


# --- projector first: the sentence, the translation and the whole heatmap on one screen -----------------

TEN_WORDS = "我每天早上七点和妈妈一起去公园跑步。"        # 我/每天/早上/七点/和/妈妈/一起/去/公园/跑步/。


@pytest.fixture(scope="module")
def shipped_server():
    """The app on the shipped models (read only): their translations have a real sentence's length."""
    from test_streamlit_app import streamlit_server
    with streamlit_server(ROOT / "models") as url:
        yield url


@pytest.mark.parametrize("lang, names", [("en", ("Decoding", "Examples")), ("zh", ("解码", "例句"))])
def test_the_first_row_takes_clicks_under_streamlits_header(browser, shipped_server, lang, names):
    """The model picker and the Decoding and Examples popovers share the page's first row with Streamlit's
    see-through header (on the shipped models the row starts at the top): a real click (Playwright's, which first
    checks that the element itself would receive it) reaches each, and each opens. The header's toolbar, as wide
    as the page, once took these clicks."""
    def reachable(locator) -> bool:                 # the element at its own centre is it, or inside it
        found = locator.bounding_box()
        return locator.evaluate("(el, [x, y]) => el.contains(document.elementFromPoint(x, y))",
                                [found["x"] + found["width"] / 2, found["y"] + found["height"] / 2])

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        open_app(page, f"{shipped_server}/?lang={lang}")
        picker = page.locator(".st-key-model [data-testid=stSelectbox] [role=group]")
        assert reachable(picker), "the model picker is under something else"
        picker.click(timeout=10_000)
        page.wait_for_selector("[role=listbox] [role=option]", timeout=10_000)      # the model list is open
        page.keyboard.press("Escape")
        for name, inside in zip(names, (".st-key-length_penalty", ".st-key-example")):
            button = page.locator("[data-testid=stPopover] button").filter(has_text=name)
            assert reachable(button), f"the {name} button is under something else"
            button.click(timeout=10_000)
            page.wait_for_selector(inside, timeout=10_000)                         # its contents are shown
            page.keyboard.press("Escape")
            page.wait_for_selector(inside, state="hidden", timeout=10_000)
        no_exceptions(page)
    finally:
        context.close()


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not on the page"
    return found


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_the_heatmap_of_a_ten_word_sentence_fits_a_projector_screen(browser, shipped_server, width, height,
                                                                    presenter, lang, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{shipped_server}/?lang={lang}&text={TEN_WORDS}")
        page.wait_for_selector("#lab-translation", timeout=90_000)
        if presenter:
            page.locator(".st-key-presenter label").click()
            page.wait_for_function("() => getComputedStyle(document.documentElement).fontSize !== '16px'",
                                   timeout=30_000)
        page.wait_for_selector(".st-key-live_heat .main-svg", timeout=60_000)
        page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
        time.sleep(1)
        no_exceptions(page)
        rows = texts(page, ".st-key-live_heat .ytick text")
        assert len(rows) >= 8, rows                                     # a real sentence's translation
        for name, selector in (("sentence", ".st-key-src_text input"), ("translation", "#lab-translation"),
                               ("heatmap", ".st-key-live_heat .main-svg")):
            found = box(page, selector)
            assert found["y"] >= 0 and found["y"] + found["height"] <= height, (name, found, height)
            assert found["x"] >= 0 and found["x"] + found["width"] <= width, (name, found, width)
        # The source words stand apart: each tick label ends before the next begins (in the 3/5 column beside
        # the bars, 每天 早上 七点 ran together as 每天早上七点 at 1366 px)
        columns = page.eval_on_selector_all(".st-key-live_heat .xtick text", """els => els.map(e => {
            const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; })""")
        assert len(columns) == 12, columns                              # 11 tokens and </s>
        for (word, _, right), (after, left, _) in zip(columns, columns[1:]):
            assert right <= left, (word, after, right, left)
        tab_bar = box(page, "[data-testid='stMain'] [role='tablist']")
        last_tab = page.locator("[data-testid='stMain'] [role='tab']").last.bounding_box()
        assert last_tab["x"] + last_tab["width"] <= tab_bar["x"] + tab_bar["width"] + 1, "tab ⑦ overflows"
        assert last_tab["x"] + last_tab["width"] <= width
        page.screenshot(path=screenshot_dir(tmp_path) / f"projector_{width}x{height}_"
                        f"{'presenter' if presenter else 'normal'}_{lang}.png")
    finally:
        context.close()


def test_greedy_and_beam_stack_where_a_long_sentences_words_would_run_together(browser, shipped_server):
    """Tab ③ at 1366×768: the two heatmaps sit side by side for a short sentence, one above the other for the
    10-word one, whose 12 source words ran together in half the page's width."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        placed = {}
        for text in ("他是我的老师。", TEN_WORDS):
            page.goto(f"{shipped_server}/?text={text}")
            page.wait_for_selector("#lab-translation", timeout=90_000)
            page.get_by_role("tab", name="Greedy vs beam").click()
            page.wait_for_selector(".st-key-cmp_beam .main-svg", timeout=60_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
            no_exceptions(page)
            greedy, beam = box(page, ".st-key-cmp_greedy .main-svg"), box(page, ".st-key-cmp_beam .main-svg")
            placed[text] = "beside" if abs(greedy["y"] - beam["y"]) < 1 else "below"
            for side in ("greedy", "beam"):
                columns = page.eval_on_selector_all(f".st-key-cmp_{side} .xtick text", """els => els.map(e => {
                    const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; })""")
                for (word, _, right), (after, left, _) in zip(columns, columns[1:]):
                    assert right <= left, (text, side, word, after, right, left)
        assert placed == {"他是我的老师。": "beside", TEN_WORDS: "below"}
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_variants_cards_make_room_for_a_sentences_words(browser, shipped_server, lang):
    """Tab ⑥ at 1366×768: the variants' heatmaps three to a row for a short sentence, fewer and wider where the
    words would run together in a third of the page (the 10-word sentence: one to a row), their source words
    apart in every card."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        per_row = {}
        for text in ("我爱学习。", TEN_WORDS):
            page.goto(f"{shipped_server}/?lang={lang}&text={text}")
            page.wait_for_selector("#lab-translation", timeout=90_000)
            page.locator("[role=tab]").nth(5).click()
            page.locator(".st-key-variants_on label").click()
            page.wait_for_selector(".st-key-variant_scaled_dot .main-svg", timeout=90_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)
            no_exceptions(page)
            lefts = {round(box(page, f".st-key-variant_{name}")["x"]) for name in ("dot", "general", "additive",
                                                                                   "scaled_dot")}
            per_row[text] = len(lefts)                  # the cards go round the columns: one left edge a column
            for name in ("dot", "general", "additive", "scaled_dot"):
                columns = page.eval_on_selector_all(f".st-key-variant_{name} .xtick text", """els => els.map(e => {
                    const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; })""")
                assert len(columns) >= 4, (text, name, columns)
                for (word, _, right), (after, left, _) in zip(columns, columns[1:]):
                    assert right <= left, (text, name, word, after, right, left)
        assert per_row == {"我爱学习。": 3, TEN_WORDS: 1}
    finally:
        context.close()


def test_look_closers_two_heatmaps_stack_where_a_long_sentences_words_would_run_together(browser, shipped_server):
    """Tab ⑦, attention vs attribution at 1366×768: the two heatmaps side by side for a short sentence, one above
    the other for the 10-word one, the source words apart in both."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        placed = {}
        for text in ("我爱学习。", TEN_WORDS):
            page.goto(f"{shipped_server}/?text={text}")
            page.wait_for_selector("#lab-translation", timeout=90_000)
            page.get_by_role("tab", name="Look closer").click()
            page.locator(".st-key-closer_pick button").nth(1).click()
            page.wait_for_selector(".st-key-closer_attribution_1 .main-svg", timeout=90_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)
            no_exceptions(page)
            first, second = (box(page, f".st-key-closer_attribution_{i} .main-svg") for i in (0, 1))
            placed[text] = "beside" if abs(first["y"] - second["y"]) < 1 else "below"
            for index in (0, 1):
                columns = page.eval_on_selector_all(f".st-key-closer_attribution_{index} .xtick text", """els =>
                    els.map(e => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; })""")
                for (word, _, right), (after, left, _) in zip(columns, columns[1:]):
                    assert right <= left, (text, index, word, after, right, left)
        assert placed == {"我爱学习。": "beside", TEN_WORDS: "below"}
    finally:
        context.close()


@pytest.fixture(scope="module")
def gradio_server():
    """The Gradio app on the shipped models, on a free local port."""
    import subprocess
    import sys

    from conftest import free_port, stop, wait_until_serving

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "SEQ2SEQ_LAB_MODELS_DIR": str(ROOT / "models"), "SEQ2SEQ_LAB_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "demo/gradio_app.py"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url, "the Gradio app", timeout=120)
        yield url
    finally:
        stop(process)


def test_the_gradio_heatmap_of_a_ten_word_sentence_fits_a_projector_screen(browser, gradio_server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{gradio_server}/?text={TEN_WORDS}")
        # The page's load event fills the sentence from ?text= (on_load, a server round trip); a click before
        # that translates the default example instead, whose heatmap never gets 8 rows (on a busy machine the
        # wait below then timed out). Click once the sentence is there.
        page.wait_for_function("(text) => [...document.querySelectorAll('textarea')].some(a => a.value === text)",
                               arg=TEN_WORDS, timeout=90_000)
        page.get_by_role("button", name="Translate", exact=True).click()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .ytick').length >= 8",
                               timeout=90_000)
        time.sleep(1)
        for name, selector in (("sentence", "textarea"), ("translation", ".lab-output"),
                               ("heatmap", ".js-plotly-plot .main-svg")):
            found = box(page, selector)
            assert found["y"] >= 0 and found["y"] + found["height"] <= 768, (name, found)
    finally:
        context.close()


def test_the_gradio_look_closer_tab_draws_its_views(browser, gradio_server, tmp_path):
    """Gradio's "look closer" tab after a translation: coverage first, then attention vs attribution (with
    pinyin switched on), then exposure bias with the example's reference already in its box."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{gradio_server}/?text=我爱学习。")
        page.wait_for_function("(text) => [...document.querySelectorAll('textarea')].some(a => a.value === text)",
                               arg="我爱学习。", timeout=90_000)
        page.get_by_role("button", name="Translate", exact=True).click()
        page.wait_for_selector(".lab-output", timeout=90_000)
        page.get_by_role("tab", name="Look closer").click()
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .xtick text')]"
                               ".some(t => t.textContent === '学习')", timeout=90_000)
        page.get_by_text("Decoding settings").click()
        page.get_by_label("Pinyin under Chinese words").check()
        page.get_by_text("Attention vs attribution").click()
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .xtick text')]"
                               ".some(t => t.textContent === '学习xuéxí')", timeout=90_000)
        page.wait_for_function("() => document.body.innerText.includes('Integrated Gradients')", timeout=90_000)
        page.screenshot(path=screenshot_dir(tmp_path) / "gradio_closer_attribution.png")
        page.get_by_text("Exposure bias", exact=True).click()
        page.wait_for_function("() => document.body.innerText.includes('teacher forcing')", timeout=90_000)
        reference = page.get_by_label("Reference translation")
        assert reference.input_value() == "I love studying."
        time.sleep(1)
        page.screenshot(path=screenshot_dir(tmp_path) / "gradio_closer_exposure.png")
        page.get_by_role("tab", name="Live decoding").click()             # the switch redrew the whole page
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .xtick text')]"
                               ".some(t => t.textContent === '学习xuéxí')", timeout=90_000)
        assert not texts(page, ".toast-body"), texts(page, ".toast-body")     # and raised no error
    finally:
        context.close()


def test_the_transformers_heads_in_the_browser(browser, shipped_server, tmp_path):
    """The shipped Transformer: the summary heatmap, then every head of a layer side by side and the masked
    decoder self-attention, drawn on a projector-sized page (the README's Transformer pictures)."""
    shipped = Translator.load(ROOT / "models" / "everyday_transformer.safetensors", device="cpu")
    expected = shipped.translate(SENTENCE, beam_size=5, n_best=5,
                                 **catalogue.starting_decoding(ModelInfo("everyday_transformer", ROOT / "models",
                                                                         record=shipped.record)))
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        open_app(page, f"{shipped_server}/?model=everyday_transformer&text={SENTENCE}")
        page.locator(".st-key-translate button").click()
        assert finished_player_ticks(page, "y") == expected.best.tokens     # the press's own, not the page's
        assert page.locator(".st-key-head_pick").count() == 1                  # the layer × head picker
        page.screenshot(path=screenshot_dir(tmp_path) / "transformer_live.png")
        page.locator("[data-testid=stExpander] summary").filter(has_text="Every head").first.click()
        page.wait_for_selector(".st-key-heads_grid .main-svg", timeout=60_000)
        titles = texts(page, ".st-key-heads_grid .annotation-text")
        assert [f"head {h}" for h in range(1, shipped.config.heads + 1)] == [x for x in titles if x.startswith("head")]
        page.locator(".st-key-heads_grid").scroll_into_view_if_needed()
        time.sleep(1)
        page.screenshot(path=screenshot_dir(tmp_path) / "transformer_heads.png")
        page.locator("[data-testid=stExpander] summary").filter(has_text="Self-attention").first.click()
        page.wait_for_selector(".st-key-self_decoder .main-svg", timeout=60_000)
        time.sleep(1)
        no_exceptions(page)
        page.locator(".st-key-self_decoder").screenshot(path=screenshot_dir(tmp_path) / "transformer_decoder_self.png")
    finally:
        context.close()
