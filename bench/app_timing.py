"""The Streamlit app: start → first heatmap in headless Chromium, and server time per translate interaction.

``bench_app`` starts ``streamlit run`` on a free port and drives the page with Playwright and Debian's
Chromium; ``app_server_worker`` (run in a fresh process by ``run.py``) times a *Translate* click with
``streamlit.testing.v1.AppTest``. Both report what stopped them (no Playwright, no Chromium, an app
error) instead of failing the bench.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, ROOT, Settings, free_port, shown  # bench/ (on sys.path: see common.py)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

_HEATMAP_SIGNATURES_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(gd => gd.getBoundingClientRect().height > 0)
  .filter(gd => (gd.data || []).some(t => t.type === 'heatmap') || gd.querySelector('.heatmaplayer image, g.hm'))
  .map(gd => JSON.stringify([(gd.data || []).filter(t => t.type === 'heatmap').map(t => [t.x, t.y]),
                             gd.layout && gd.layout.xaxis && gd.layout.xaxis.ticktext]))
"""


def bench_app(app: Path, sentences: list[str], settings: Settings) -> dict:
    """Start `streamlit run`, drive it in headless Chromium: start → first heatmap, click → heatmap."""
    import urllib.request

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        return {"skipped": f"playwright is not installed ({error})"}
    if not app.is_file():
        return {"skipped": f"{shown(app)} does not exist yet"}
    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing (apt-get install chromium)"}
    port = free_port()
    log_path = BENCH_DIR / "tmp" / "streamlit.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    result: dict = {"app": shown(app), "port": port}
    with open(log_path, "w") as log:
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = started + 120
            while time.perf_counter() < deadline:
                if server.poll() is not None:
                    return {**result, "error": f"streamlit exited with {server.returncode}; see {log_path}"}
                with contextlib.suppress(OSError), \
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
                time.sleep(0.1)
            else:
                return {**result, "error": "the server did not answer within 120 s"}
            result["server_ready_s"] = round(time.perf_counter() - started, 3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    result.update(_drive_app(browser, f"http://127.0.0.1:{port}/", sentences, started, settings))
                finally:
                    browser.close()
        except Exception as error:
            result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return result


def _first_visible(page, selectors: list[str]):
    """The first selector that matches something on the page (apps differ; be tolerant)."""
    for selector in selectors:
        locator = page.locator(selector).first
        if locator.count():
            return locator
    return page.locator(selectors[-1]).first


def _drive_app(browser, url: str, sentences: list[str], started: float, settings: Settings) -> dict:
    """Type a sentence, press translate, wait for a heatmap that was not there before; repeat."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator("[data-testid='stMain'] input[type='text'], [data-testid='stMain'] textarea, "
                 "input[type='text'], textarea").first.wait_for(state="visible")
    _wait_idle(page)
    out = {"page_ready_s": round(time.perf_counter() - started, 3), "first_heatmap_ms": [], "done_ms": []}
    box = _first_visible(page, [".st-key-src_text input", ".st-key-src_text textarea",
                                "[data-testid='stMain'] textarea", "[data-testid='stMain'] input[type='text']",
                                "textarea, input[type='text']"])
    button = _first_visible(page, [".st-key-translate button", "[data-testid='stMain'] button:has-text('Translate')",
                                   "[data-testid='stMain'] button:has-text('翻译')", "button:has-text('Translate')"])
    for i, sentence in enumerate(sentences[:max(1, settings.app_interactions)]):
        box.fill(sentence)
        box.press("Control+Enter" if box.evaluate("el => el.tagName") == "TEXTAREA" else "Enter")
        _wait_idle(page)
        before = sorted(set(page.evaluate(_HEATMAP_SIGNATURES_JS)))
        clicked = time.perf_counter()
        button.click()
        page.wait_for_function(f"(before) => ({_HEATMAP_SIGNATURES_JS})().some(s => !before.includes(s))",
                               arg=before, polling=50)
        shown_at = time.perf_counter()
        _wait_idle(page)
        done_at = time.perf_counter()
        out["first_heatmap_ms"].append(round((shown_at - clicked) * 1000, 1))
        out["done_ms"].append(round((done_at - clicked) * 1000, 1))
        if i == 0:
            out["first_heatmap_s"] = round(shown_at - started, 3)
    out["interaction_median_ms"] = round(statistics.median(out["first_heatmap_ms"]), 1)
    out["done_median_ms"] = round(statistics.median(out["done_ms"]), 1)
    return out


def _wait_idle(page, timeout_s: float = 120) -> None:
    """Wait until Streamlit's "running" indicator has come and gone (or never came)."""
    with contextlib.suppress(Exception):
        page.locator("[data-testid='stStatusWidget']").wait_for(state="visible", timeout=300)
    with contextlib.suppress(Exception):
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=timeout_s * 1000)


def _by_key_or_label(widgets, key: str, label: str | None = None):
    widgets = list(widgets)
    for widget in widgets:
        if getattr(widget, "key", None) == key:
            return widget
    if label:
        for widget in widgets:
            if re.search(label, str(getattr(widget, "label", "")), re.IGNORECASE):
                return widget
    return widgets[0] if widgets else None


def app_server_worker(app: Path, sentences: list[str]) -> dict:
    """Server-side time of one translate interaction: Streamlit's AppTest rerun of the script.

    The app animates decoding (a pause between steps, 0.35 s by default); the speed is set to
    "instant" when the app has that control, so the figure is compute and drawing only.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app), default_timeout=300)
    started = time.perf_counter()
    at.run()
    out = {"first_run_s": round(time.perf_counter() - started, 3), "translate_ms": []}
    if at.exception:
        return {**out, "error": f"the app raised: {at.exception[0].value}"}
    speed = _by_key_or_label(at.select_slider, "speed")
    if speed is not None and getattr(speed, "key", None) == "speed":
        with contextlib.suppress(Exception):
            speed.set_value("instant").run()
            out["animation"] = "instant"
    for sentence in sentences:
        box = _by_key_or_label(list(at.text_input) + list(at.text_area), "src_text")
        button = _by_key_or_label(at.button, "translate", r"translate|翻译")
        if box is None or button is None:
            return {**out, "error": "no text box or translate button found in the app"}
        box.input(sentence).run()
        button = _by_key_or_label(at.button, "translate", r"translate|翻译")
        started = time.perf_counter()
        button.click().run()
        out["translate_ms"].append(round((time.perf_counter() - started) * 1000, 1))
        if at.exception:
            return {**out, "error": f"the app raised: {at.exception[0].value}"}
    out["translate_median_ms"] = round(statistics.median(out["translate_ms"]), 1)
    return out
