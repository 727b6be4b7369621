"""The live player's frames: built as plotly Figures, or as plotly's JSON form (specs), side by side (#12).

    python bench/player_frames.py              # writes bench/player_frames-<machine>.json
    python bench/player_frames.py --rounds 4

The Streamlit player (``demo/streamlit_player.py``) sends every decoding step's heatmap and next-word bars as
JSON. This times what the server does for them, per sentence, for the app's first 24 examples × beams 1, 3, 5
on the default model (one thread, CPU time): the frames' figures built (``views.heatmap`` and
``views.next_word_bars``, their cache emptied first, as for a sentence nobody translated before) and written
as JSON, the way it was (a ``go.Figure`` each, written from its data) and the way it is (``as_spec=True``,
``figures.spec_json``). The two ways alternate, round after round; both must write the same JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(BENCH_DIR), str(BENCH_DIR.parent)) if p not in sys.path]

# isort: split
import torch
from common import machine_info, write_record

from seq2seq_lab import catalog, figures, settings
from seq2seq_lab.present import catalogue, heads, live, views


def figure_json(fig) -> str:
    """A Figure's JSON without its template, as the player wrote it before it took specs."""
    layout = {key: value for key, value in fig._layout.items() if key != "template"}
    return json.dumps({"data": fig._data, "layout": layout}, cls=figures.PlotlyJSONEncoder)


def frames_of(model, texts: list[str]) -> list[tuple[list[str], list[live.Frame]]]:
    runs = []
    for beam in (1, 3, 5):
        for text in texts:
            decoding = live.LiveDecoding(model, text, {"beam_size": beam, "n_best": beam})
            runs.append((decoding.src_tokens, list(decoding)))
    return runs


def write_frames(runs, as_spec: bool) -> tuple[float, list[str]]:
    """CPU seconds to build and write every frame's heatmap and bars; the JSON written."""
    views.HEATMAPS.clear()
    written = []
    started = time.process_time()
    for src_tokens, frames in runs:
        for frame in frames:
            rows = heads.frame_rows(frame, None, None)
            heat = views.heatmap(src_tokens, frame.tokens, rows, "en", highlight_row=frame.step - 1,
                                 as_spec=as_spec)
            bars = views.next_word_bars(frame, "en", as_spec=as_spec) if frame.alternatives else None
            for drawn in (heat, bars):
                if drawn is not None:
                    written.append(figures.spec_json(drawn)[0] if as_spec else figure_json(drawn))
    return time.process_time() - started, written


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times through the sentences each way")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = catalogue.open_model(catalog.DEFAULT_MODEL, settings.load())
    texts = list(catalogue.examples_for("everyday"))[:24]
    runs = frames_of(model, texts)
    sentences = len(runs)
    ms: dict[str, list[float]] = {"figure": [], "spec": []}
    write_frames(runs, True)                                   # warm up: imports, templates
    for _ in range(args.rounds):
        for way in ("figure", "spec"):
            seconds, written = write_frames(runs, way == "spec")
            ms[way].append(seconds * 1000 / sentences)
            if way == "figure":
                before = written
            elif [json.loads(text) for text in written] != [json.loads(text) for text in before]:
                raise SystemExit("the specs' JSON differs from the figures'")
    info = machine_info(["cpu"])
    median = {way: round(statistics.median(values), 2) for way, values in ms.items()}
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": info,
              "model": catalog.DEFAULT_MODEL, "sentences": sentences,
              "frames": sum(len(frames) for _, frames in runs), "ms_per_sentence_median": median,
              "ratio": round(median["spec"] / median["figure"], 3),
              "ms_per_sentence": {way: [round(v, 2) for v in values] for way, values in ms.items()}}
    write_record(result, "player_frames", args.out, print_without=("machine",))
    return result


if __name__ == "__main__":
    main()
