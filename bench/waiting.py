"""How long a class waits: the Streamlit app's three waiting times, in headless Chromium.

    python bench/waiting.py                 # ≈ 2 min; writes bench/waiting-<machine>.json
    python bench/waiting.py --runs 3        # fewer repetitions

1. **Cold start → first heatmap**: from ``streamlit run`` to the first visitor's heatmap on screen (the
   browser opens the page as soon as the server answers its health check).
2. **New visitor → first heatmap** on a running server: a fresh browser context (a new session) opens the
   page; the time until the default sentence's heatmap is on screen. Median over ``--runs`` visitors.
3. **Click at "instant" → final heatmap**: the speed set to "instant", a new sentence typed, Translate
   clicked; the time until the heatmap shows that sentence's finished translation and the page is idle.
   Median over ``--runs`` sentences (each one new to the server, so no cache helps).

Goals (issue #10, on a quiet 2-core machine): 1 ≤ 10 s, 2 ≤ 2 s, 3 ≤ 0.5 s. Each figure is the wall time
a person would see; the server, the model and the browser all count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(ROOT)]

from common import free_port, machine_info, machine_label  # bench/ is a folder of scripts, not a package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
GOALS_S = {"cold_start_s": 10.0, "new_visitor_s": 2.0, "instant_click_s": 0.5}
# Short everyday sentences the default model knows, none of them the first visit's default sentence.
SENTENCES = ["你好！", "我叫李明。", "欢迎来北京。", "我想去上海。", "图书馆在哪儿？", "火车站在哪儿？",
             "我家有四口人。", "她是我们的中文老师。", "我每天七点起床。", "我爱学习中文。"]

# The live heatmap's rows (output tokens) as drawn: they change when a new translation is on screen.
_LIVE_ROWS_JS = """
() => { const gd = document.querySelector('.st-key-live_heat .js-plotly-plot');
        return gd && gd.layout && gd.layout.yaxis ? JSON.stringify([gd.layout.xaxis.ticktext, gd.layout.yaxis.ticktext])
                                                    : null; }
"""


def wait_for_health(url: str, deadline: float) -> None:
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not answer in time")


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Until Streamlit's "Running…" sign is gone (it shows while the script runs)."""
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stStatusWidget'] img, "
                           "[data-testid='stStatusWidget'] svg\")", timeout=timeout_ms, polling=20)


def first_heatmap(page, started: float) -> float:
    page.wait_for_function(f"() => ({_LIVE_ROWS_JS})() !== null", timeout=120_000, polling=20)
    return time.perf_counter() - started


def measure(runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "demo/streamlit_app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    result: dict = {"goals_s": GOALS_S, "runs": runs}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_health(url, started + 120)
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.goto(url)
            result["cold_start_s"] = round(first_heatmap(page, started), 3)
            wait_idle(page)
            context.close()

            visits = []
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                page = context.new_page()
                opened = time.perf_counter()
                page.goto(url)
                visits.append(first_heatmap(page, opened))
                wait_idle(page)
                context.close()
            result["new_visitor_runs_s"] = [round(v, 3) for v in visits]
            result["new_visitor_s"] = round(statistics.median(visits), 3)

            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.goto(url)
            first_heatmap(page, time.perf_counter())
            wait_idle(page)
            page.locator(".st-key-speed input[type='range']").focus()
            page.keyboard.press("End")                               # the last speed: "instant"
            wait_idle(page)
            clicks = []
            for sentence in SENTENCES[:runs]:
                box = page.locator(".st-key-src_text input")
                box.fill(sentence)
                box.blur()
                wait_idle(page)
                before = page.evaluate(_LIVE_ROWS_JS)
                clicked = time.perf_counter()
                page.locator(".st-key-translate button").click()
                page.wait_for_function(f"(before) => {{ const now = ({_LIVE_ROWS_JS})(); "
                                       f"return now !== null && now !== before; }}", arg=before, timeout=60_000,
                                       polling=10)
                wait_idle(page)
                clicks.append(time.perf_counter() - clicked)
            result["instant_click_runs_s"] = [round(c, 3) for c in clicks]
            result["instant_click_s"] = round(statistics.median(clicks), 3)
            context.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
            browser.close()
    result["met"] = {name: result[name] <= goal for name, goal in GOALS_S.items()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="visitors and clicks to time (median)")
    parser.add_argument("--out", type=Path, help="where to write the JSON (default bench/waiting-<machine>.json)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    info = machine_info(["cpu"])
    result = {"machine": info, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              **measure(max(1, args.runs))}
    out = args.out or BENCH_DIR / f"waiting-{machine_label(info, ['cpu'])}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, goal in GOALS_S.items():
        print(f"{name:16s} {result[name]:7.3f} s   goal ≤ {goal:g} s   {'met' if result['met'][name] else 'MISSED'}")
    print(f"→ {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
