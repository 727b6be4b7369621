"""The bench's goals and its results as a console table and as the Markdown block of bench/README.md."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from common import (
    BENCH_DIR,
    CN2EN_VERSION,
    GOAL_BEAM_OVER_GREEDY,
    GOAL_PROBE_ALIGNMENT,
    GOAL_TOY_ALIGNMENT,
    GOAL_TOY_EXACT,
    GOAL_TRAIN_SPEEDUP,
    README,
)


def goals(results: dict) -> list[dict]:
    out = []
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            continue
        s = inf["systems"]
        ours = s["ours_greedy"]["median_ms"]
        out.append({"goal": f"[{device}] our greedy (with step records) no slower than the tutorial reference",
                    "measured": f"{ours:.2f} vs {s['reference_greedy']['median_ms']:.2f} ms",
                    "met": ours <= s["reference_greedy"]["median_ms"]})
        if "cn2en_greedy" in s:
            out.append({"goal": f"[{device}] our greedy (with step records) no slower than cn2en",
                        "measured": f"{ours:.2f} vs {s['cn2en_greedy']['median_ms']:.2f} ms",
                        "met": ours <= s["cn2en_greedy"]["median_ms"]})
        beam_ratio = inf["ratios"]["ours_beam5_vs_ours_greedy"]["ratio_of_medians"]
        out.append({"goal": f"[{device}] our beam 5 ≤ {GOAL_BEAM_OVER_GREEDY}× our greedy",
                    "measured": f"{beam_ratio:.2f}×", "met": beam_ratio <= GOAL_BEAM_OVER_GREEDY})
    for device, tr in results.get("training", {}).items():
        if "speedup" in tr:
            out.append({"goal": f"[{device}] batched training ≥ {GOAL_TRAIN_SPEEDUP:.0f}× the tutorial loop "
                                f"(target tokens/s)",
                        "measured": f"{tr['speedup']:.1f}×", "met": tr["speedup"] >= GOAL_TRAIN_SPEEDUP})
    for task, toy in results.get("toy", {}).items():
        if isinstance(toy, dict) and "reached_95" in toy:
            out.append({"goal": f"toy {task} reaches {GOAL_TOY_EXACT:.0%} exact match",
                        "measured": f"{toy['seconds']} s" if toy["reached_95"] else
                        f"not reached ({toy['valid_exact']:.1%} after {toy['epochs_run']} epochs)",
                        "met": toy["reached_95"]})
    for name, score in results.get("alignment", {}).items():
        goal = GOAL_TOY_ALIGNMENT if score["data"] == "test" else GOAL_PROBE_ALIGNMENT
        out.append({"goal": f"{name}: attention peak on the right token ≥ {goal:.0%} ({score['data']})",
                    "measured": f"{score['argmax']:.1%}", "met": score["argmax"] >= goal})
    return out


LABELS = {"ours_greedy": "ours greedy (steps: attention + alternatives)",
          "ours_greedy_translate": "ours greedy (translate)",
          "reference_greedy": "tutorial reference greedy",
          "cn2en_greedy": f"cn2en {CN2EN_VERSION} greedy (PyPI peer)",
          "ours_beam5": "ours beam 5 (steps)",
          "ours_beam5_translate": "ours beam 5 (translate)",
          "reference_beam5": "tutorial reference beam 5"}


def _one_decimal(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def render_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"### {results['machine_label']}",
             "",
             (f"{m['cpu']}, {m['cpu_count']} CPUs, {m.get('memory_gib', '?')} GiB, torch {m['torch']} "
             f"({m['torch_threads']} threads), Python {m['python']}; GPU: {m['gpu'] or 'none'}. "
             f"Run {results['date']}{' (quick smoke run)' if results['quick'] else ''}; load average at start "
             f"{m.get('load_average_start')}, at end {m.get('load_average_end')}."),
             f"Command: `{results['command']}`", ""]
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            lines += [f"**Inference on {device}:** {inf.get('skipped') or inf.get('error')}", ""]
            continue
        lines += [(f"**Inference on {inf['device']}** — {inf['sentences']} HSK test sentences, model "
                  f"`{inf['model']}`, median of {inf['runs']} runs per sentence, jieba included"), "",
                  "| decoder | median ms | p95 ms | ms / step | CPU ms | chrF |", "|---|---:|---:|---:|---:|---:|"]
        for name, s in inf["systems"].items():
            lines.append(f"| {LABELS.get(name, name)} | {s['median_ms']:.2f} | {s['p95_ms']:.2f} | "
                         f"{s.get('per_step_median_ms', float('nan')):.3f} | {s['cpu_median_ms']:.2f} | "
                         f"{s['chrf']:.1f} |")
        b = inf["batched"]
        lines += ["", (f"Batched `translate_batch` (64 per batch): greedy {b['beam1']['sentences_per_s']} sentences/s, "
                      f"beam 5 {b['beam5']['sentences_per_s']} sentences/s. Reference greedy output identical to ours "
                      f"for {inf['agreement']['reference_greedy_equals_ours']:.0%} of sentences, beam 5 for "
                      f"{inf['agreement']['reference_beam5_equals_ours']:.0%}.")]
        weights = inf.get("weights_per_step_mb", {})
        if weights:
            lines += ["", "Decoder weights read per greedy step: " + ", ".join(
                f"{'ours' if who == 'ours' else who} {mb:.1f} MB" for who, mb in weights.items()) + "."]
        if inf.get("matvec_probe"):
            lines += ["", "Matrix–vector product (4873×256, fp32) while cycling through a working set of weights: "
                      + ", ".join(f"{r['working_set_mb']:.0f} MB → {r['us_per_matvec']:.0f} µs "
                                  f"({r['gb_per_s']:.0f} GB/s)" for r in inf["matvec_probe"]) + "."]
        for note in inf.get("notes", {}).values():
            lines.append(f"Note: {note}")
        lines.append("")
    for device, tr in results.get("training", {}).items():
        if "speedup" not in tr:
            lines += [f"**Training on {device}:** {tr.get('skipped') or tr.get('error')}", ""]
            continue
        lines += [(f"**Training on {device}** ({tr['model']} recipe on {tr['corpus']}, batch {tr['batch_size']}): "
                  f"{tr['ours_tokens_per_s']:.0f} target tokens/s vs {tr['tutorial_tokens_per_s']:.0f} for the "
                  f"tutorial batch-of-one loop (plain Adam, as the tutorial) → **{tr['speedup']:.1f}×**"
                  + (f" (median of the {tr['runs']} runs' own ratios: {tr['speedup_median_of_run_ratios']:.1f}×)"
                     if "speedup_median_of_run_ratios" in tr else "")
                  + (f"; {tr['tutorial_fused_adam_tokens_per_s']:.0f} tokens/s when the tutorial loop also uses our "
                     f"fused Adam → {tr['speedup_vs_tutorial_fused_adam']:.1f}×"
                     if "speedup_vs_tutorial_fused_adam" in tr else "") + "."), ""]
    ttq = results.get("time_to_quality", {})
    if ttq.get("record"):
        r = ttq["record"]
        lines += [(f"**Time to quality ({r['model']}, from its training record):** shipped test chrF "
                  f"{_one_decimal(r.get('test_chrf_greedy'))} (greedy) / "
                  f"{_one_decimal(r.get('test_chrf_beam5'))} (beam 5) "
                  f"are the weights of "
                  f"{r.get('weights', 'epoch ' + str(r.get('best_epoch')))}, reached after "
                  f"{r.get('seconds_to_shipped_weights')} s of a "
                  f"{r.get('train_seconds_total')} s run ({r.get('epochs_run')} epochs)."), ""]
    if ttq.get("live"):
        live = ttq["live"]
        shipped = _one_decimal(live["shipped_test_chrf_greedy"])
        if live["reached"]:
            outcome = (f"reached test chrF ≥ {shipped} − {live['tolerance']} (greedy) after "
                       f"**{live['seconds_to_shipped_chrf']} s** of training, at epoch {live['epoch_reached']}")
        else:
            outcome = (f"did **not** reach the shipped test chrF {shipped} in {live['epochs']} epochs "
                       f"(best {_one_decimal(live['best_test_chrf_greedy'])})")
        lines += [(f"**Time to quality, live re-run of the recipe on {live['device']}:** {outcome}; test chrF by "
                   "epoch: " + ", ".join(f"{p['test_chrf_greedy']:.1f}" for p in live["curve"]) + "."), ""]
    if results.get("toy"):
        lines += ["| toy task | time to 95 % exact (s) | epochs | test exact |", "|---|---:|---:|---:|"]
        for task, toy in results["toy"].items():
            if isinstance(toy, dict) and "reached_95" in toy:
                lines.append(f"| {task} | {toy['seconds'] if toy['reached_95'] else 'not reached'} | "
                             f"{toy['epochs'] or toy['epochs_run']} | {toy['test_exact']:.3f} |")
        lines.append("")
    app = results.get("app", {})
    if app:
        if "browser" in app and "first_heatmap_s" in app["browser"]:
            b = app["browser"]
            lines.append(f"**App:** server up in {b['server_ready_s']} s, page ready {b['page_ready_s']} s, first "
                         f"heatmap {b['first_heatmap_s']} s after `streamlit run`; click → first heatmap "
                         f"{b['interaction_median_ms']} ms, click → animation finished {b['done_median_ms']} ms "
                         f"(medians of {len(b['first_heatmap_ms'])}).")
        else:
            lines.append(f"**App (browser):** {json.dumps(app.get('browser', app))}")
        server = app.get("server", {})
        if "translate_median_ms" in server:
            lines.append(f"Server time per translate interaction (AppTest rerun): {server['translate_median_ms']} ms "
                         f"(first run, model load included: {server['first_run_s']} s).")
        elif server:
            lines.append(f"**App (server):** {json.dumps(server)}")
        lines.append("")
    if results.get("memory"):
        mem = results["memory"]
        lines.append("**Peak resident memory (fresh process):** " + ", ".join(
            f"{k} {v['peak_rss_mb']} MiB" if "peak_rss_mb" in v else f"{k}: {v.get('error') or v.get('skipped')}"
            for k, v in mem.items()) + ".")
        lines.append("")
    lines += ["| goal | measured | met |", "|---|---|---|"]
    for g in results.get("goals", []):
        lines.append(f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def render_table(results: dict) -> str:
    """The console table (plain text)."""
    lines = [f"bench: {results['machine_label']}  ({results['date']})"]
    for device, inf in results.get("inference", {}).items():
        if "systems" not in inf:
            lines.append(f"inference [{device}]: {inf.get('skipped') or inf.get('error')}")
            continue
        lines.append(f"\ninference [{inf['device']}] {inf['sentences']} sentences × {inf['runs']} runs")
        lines.append(f"  {'decoder':48} {'median ms':>10} {'p95 ms':>9} {'ms/step':>8} {'CPU ms':>8} {'chrF':>6}")
        for name, s in inf["systems"].items():
            lines.append(f"  {LABELS.get(name, name):48} {s['median_ms']:10.2f} {s['p95_ms']:9.2f} "
                         f"{s.get('per_step_median_ms', float('nan')):8.3f} {s['cpu_median_ms']:8.2f} {s['chrf']:6.1f}")
        b = inf["batched"]
        lines.append(f"  batched greedy {b['beam1']['sentences_per_s']} sent/s, beam 5 "
                     f"{b['beam5']['sentences_per_s']} sent/s")
        for note in inf.get("notes", {}).values():
            lines.append(f"  note: {note}")
    for device, tr in results.get("training", {}).items():
        if "speedup" in tr:
            lines.append(f"\ntraining [{device}] ours {tr['ours_tokens_per_s']:.0f} tok/s, tutorial "
                         f"{tr['tutorial_tokens_per_s']:.0f} tok/s → {tr['speedup']:.1f}×"
                         + (f" (tutorial with fused Adam {tr['tutorial_fused_adam_tokens_per_s']:.0f} tok/s → "
                            f"{tr['speedup_vs_tutorial_fused_adam']:.1f}×)" if "speedup_vs_tutorial_fused_adam" in tr
                            else ""))
        else:
            lines.append(f"\ntraining [{device}]: {tr.get('skipped') or tr.get('error')}")
    for task, toy in results.get("toy", {}).items():
        if isinstance(toy, dict) and "reached_95" in toy:
            lines.append(f"toy {task}: " + (f"95% exact in {toy['seconds']} s (epoch {toy['epochs']})"
                                            if toy["reached_95"] else f"not reached ({toy['valid_exact']:.1%})"))
    if results.get("app"):
        lines.append(f"\napp: {json.dumps(results['app'])}")
    if results.get("memory"):
        lines.append("memory: " + json.dumps(results["memory"]))
    lines.append("\ngoals:")
    for g in results.get("goals", []):
        lines.append(f"  [{'met' if g['met'] else 'MISSED'}] {g['goal']}: {g['measured']}")
    return "\n".join(lines)


BEGIN, END = "<!-- bench:figures:begin -->", "<!-- bench:figures:end -->"


def update_readme(readme: Path = README, bench_dir: Path = BENCH_DIR) -> bool:
    """Rewrite the figures block of bench/README.md from every bench/results-*.json."""
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    blocks = []
    for path in sorted(bench_dir.glob("results-*.json")):
        with contextlib.suppress(ValueError, KeyError, OSError):
            blocks.append(f"From `bench/{path.name}`:\n\n" + render_markdown(json.loads(path.read_text())))
    body = "\n".join(blocks) or "No full run has been recorded yet.\n"
    head, rest = text.split(BEGIN, 1)
    readme.write_text(f"{head}{BEGIN}\n{body}{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    return True
