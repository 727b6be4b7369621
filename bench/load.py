"""A class at once on the Gradio API: N users translating with beam 5 for a while, latency per request.

    python bench/load.py                          # 40 users, 60 s, the default model
    python bench/load.py --users 10 --seconds 20 --model everyday_transformer

Starts ``demo/gradio_app.py`` on a free local port (the shipped models, CPU), then N threads each run a
``gradio_client.Client`` that calls ``/translate`` (beam 5, n-best 5) on sentences drawn in turn from the
HSK test split, back to back, until the time is up. Reports requests, errors, and the latency p50 / p95 /
max; the server's pings are the requests themselves (each one must be answered). Writes
``bench/load-<machine>.json``.
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


def run_users(url: str, users: int, seconds: float, model: str, sentences: list[str]) -> dict:
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(users)

    def user(index: int) -> None:
        client = Client(url, verbose=False, analytics_enabled=False)
        start.wait()
        deadline = time.monotonic() + seconds
        k = index
        while time.monotonic() < deadline:
            text = sentences[k % len(sentences)]
            k += users
            began = time.perf_counter()
            try:
                client.predict(text, model, 5, 0.0, 0.0, 5, 0, 0, "", api_name="/translate")
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
    return {"users": users, "seconds": seconds, "model": model, "requests": len(ms), "errors": len(errors),
            "error_examples": errors[:3], "requests_per_s": round(len(ms) / wall, 2),
            "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1) if ms else None}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--model", default="")
    parser.add_argument("--models-dir", default=str(ROOT / "models"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sentences = [p.zh for p in hsk_test_sentences()]
    process, url = start_gradio(Path(args.models_dir))
    try:
        result = run_users(url, args.users, args.seconds, args.model, sentences)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    info = machine_info(["cpu"])
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info, "gradio": result}
    out = Path(args.out) if args.out else BENCH_DIR / f"load-{machine_label(info, ['cpu'])}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    g = result["gradio"]
    print(f"Gradio /translate, beam 5, {g['users']} users for {g['seconds']:.0f} s ({g['model'] or 'default model'}): "
          f"{g['requests']} requests, {g['errors']} errors, p50 {g['p50_ms']} ms, p95 {g['p95_ms']} ms, "
          f"max {g['max_ms']} ms, {g['requests_per_s']} requests/s\nwritten: {out}")
    return result


if __name__ == "__main__":
    main()
