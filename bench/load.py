"""A class at once: N Gradio API users translating for a while, and N Streamlit sessions translating at once.

    python bench/load.py                          # both: 40 Gradio users for 60 s, 40 Streamlit sessions
    python bench/load.py --users 10 --seconds 20 --model everyday_transformer --skip-streamlit

**Streamlit** (``streamlit_client.py``): a ``streamlit run`` server on the shipped models and N websocket
sessions at once, each opening the page, typing a sentence and pressing Translate (beam 1–3, the animation at
its default speed), as browsers do; reported: page load, Translate → first live heatmap, Translate → final
frame, p50 / p95 / max, and any error or exception.

**Gradio**: starts ``demo/gradio_app.py`` on a free local port (the shipped models, CPU), then N threads each
call ``/translate`` (beam 5, n-best 5) on sentences drawn in turn from the HSK test split, back to back, until
the time is up. Reports requests, errors, and the latency p50 / p95 / max; the server's pings are the
requests themselves (each one must be answered). Each user speaks Gradio's HTTP API as ``curl`` does (``POST
/gradio_api/call/translate``, then the event's result stream): about 10 ms of client CPU a request, where
``gradio_client`` takes ~180 ms, which on these two shared cores made the 40 clients, not the server, the
bottleneck (``--client gradio_client`` measures with it). Writes ``bench/load-<machine>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
from common import ROOT, free_port, hsk_test_sentences, machine_info, machine_label, percentile


def start_gradio(models_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "SEQ2SEQ_LAB_MODELS_DIR": str(models_dir), "SEQ2SEQ_LAB_DEVICE": "cpu", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, "demo/gradio_app.py"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Gradio app exited while starting")
        try:
            urllib.request.urlopen(url, timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("the Gradio app did not start within 120 s")


def http_translate(url: str, data: list, session: str) -> list:
    """One ``/translate`` call the way ``curl`` makes it: the call, then its event's result (``event: complete``).

    ``session``: the user's session id, kept from call to call as ``gradio_client`` and a browser keep theirs
    (without one, Gradio builds a fresh session state, a copy of every component's config, for each call)."""
    call = urllib.request.Request(f"{url}gradio_api/call/translate",
                                  data=json.dumps({"data": data, "session_hash": session}).encode(),
                                  headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=600) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/translate/{event}", timeout=600) as response:
        stream = response.read().decode()
    kind, _, payload = stream.partition("\ndata: ")
    if kind.strip() != "event: complete":
        raise RuntimeError(stream[:200])
    return json.loads(payload)


def run_users(url: str, users: int, seconds: float, model: str, sentences: list[str],
              client_kind: str = "http") -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(users)

    def user(index: int) -> None:
        if client_kind == "gradio_client":
            from gradio_client import Client

            client = Client(url, verbose=False, analytics_enabled=False)
            call = lambda *data: client.predict(*data, api_name="/translate")       # noqa: E731
        else:
            call = lambda *data: http_translate(url, list(data), f"load-user-{index}")  # noqa: E731
        start.wait()
        deadline = time.monotonic() + seconds
        k = index
        while time.monotonic() < deadline:
            text = sentences[k % len(sentences)]
            k += users
            began = time.perf_counter()
            try:
                call(text, model, 5, 0.0, 0.0, 5, 0, 0, "")
                with lock:
                    latencies.append(time.perf_counter() - began)
            except Exception as error:  # counted, not fatal: the figure is how many fail
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200])

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 300)
    wall = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    return {"users": users, "seconds": seconds, "model": model, "client": client_kind, "requests": len(ms),
            "errors": len(errors), "error_examples": errors[:3], "requests_per_s": round(len(ms) / wall, 2),
            "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1) if ms else None}


def start_streamlit(models_dir: Path, script: str | Path = "demo/streamlit_app.py") -> tuple[subprocess.Popen, str]:
    """``streamlit run script`` (the app, unless another is given) from the repository, with the project's
    ``.streamlit/config.toml``, on a free port and the CPU; returns once it answers its health check."""
    port = free_port()
    env = {**os.environ, "SEQ2SEQ_LAB_MODELS_DIR": str(models_dir), "SEQ2SEQ_LAB_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
                                str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("the Streamlit app did not start within 120 s")


def run_sessions(url: str, sessions: int, sentences: list[str]) -> dict:
    import asyncio

    import streamlit_client

    # One visitor first, untimed: the server's cold start (imports, jieba's dictionary, the model) is bench/waiting's
    # figure; this one is what a class sees on a running server.
    asyncio.run(streamlit_client.classroom(url, sentences[-1:], 1))
    began = time.perf_counter()
    pages, pongs = asyncio.run(streamlit_client.watched_classroom(url, sentences, sessions))
    wall = time.perf_counter() - began
    bad = [p for p in pages if p["exceptions"] or p["errors"] or p["first_heatmap_s"] is None]

    def summary(name: str) -> dict:
        ms = [p[name] * 1000 for p in pages if p[name] is not None]
        return {"p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
                "max_ms": round(max(ms), 1) if ms else None}

    return {"sessions": sessions, "wall_s": round(wall, 1), "failed": len(bad),
            "failure_examples": [(p["exceptions"] + p["errors"])[:1] for p in bad[:3]],
            "page": summary("page_s"), "first_heatmap": summary("first_heatmap_s"), "final": summary("final_s"),
            "pong": {"pings": len(pongs), "p50_ms": round(percentile([d * 1000 for d in pongs], 50), 1),
                     "max_ms": round(max(pongs) * 1000, 1) if pongs else None}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--model", default="")
    parser.add_argument("--client", choices=("http", "gradio_client"), default="http",
                        help="how the Gradio users call /translate (default: plain HTTP, as curl does)")
    parser.add_argument("--models-dir", default=str(ROOT / "models"))
    parser.add_argument("--sessions", type=int, default=40, help="Streamlit sessions at once")
    parser.add_argument("--skip-streamlit", action="store_true")
    parser.add_argument("--skip-gradio", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sentences = [p.zh for p in hsk_test_sentences()]
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info}
    parts = [("gradio", start_gradio,
              lambda url: run_users(url, args.users, args.seconds, args.model, sentences, args.client),
              args.skip_gradio),
             ("streamlit", start_streamlit, lambda url: run_sessions(url, args.sessions, sentences),
              args.skip_streamlit)]
    for name, start, measure, skip in parts:
        if skip:
            continue
        process, url = start(Path(args.models_dir))
        try:
            result[name] = measure(url)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    out = Path(args.out) if args.out else BENCH_DIR / f"load-{machine_label(info, ['cpu'])}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "gradio" in result:
        g = result["gradio"]
        print(f"Gradio /translate, beam 5, {g['users']} users for {g['seconds']:.0f} s "
              f"({g['model'] or 'default model'}): {g['requests']} requests, {g['errors']} errors, "
              f"p50 {g['p50_ms']} ms, p95 {g['p95_ms']} ms, max {g['max_ms']} ms, {g['requests_per_s']} requests/s")
    if "streamlit" in result:
        s = result["streamlit"]
        print(f"Streamlit, {s['sessions']} sessions at once ({s['failed']} failed, {s['wall_s']} s in all): "
              + "; ".join(f"{part} p50 {s[part]['p50_ms']} ms, p95 {s[part]['p95_ms']} ms"
                          for part in ("page", "first_heatmap", "final"))
              + f"; the server answered pings in p50 {s['pong']['p50_ms']} ms, max {s['pong']['max_ms']} ms")
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main()
