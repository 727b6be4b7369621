"""The benchmark code path (bench/run.py), run tiny: the reference decoder agrees with ours, the results
file has its structure, the README block is regenerated. Nothing here asserts a timing."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import sacrebleu
import torch

from seq2seq_lab import Translator
from seq2seq_lab.checkpoint import Checkpoint, read_metadata, save
from seq2seq_lab.corpus import toy_splits
from seq2seq_lab.data import build_vocabs, tokenize_pairs
from seq2seq_lab.model import ModelConfig, Seq2Seq
from seq2seq_lab.recipes import recipe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))                # a folder of scripts, not a package

# isort: split
import common
import inference
import reference
import report
import run
import training

pytestmark = pytest.mark.slow          # runs the bench's code paths and worker processes

SOURCES = ["三千零五", "两万零七百一十", "九十九", "一百", "五万四千三百二十一", "零"]


@pytest.fixture(scope="module")
def vocabs():
    examples = tokenize_pairs(toy_splits("numbers", size=600)["train"], "char", "concat")
    return build_vocabs(examples)


def make_translator(vocabs, *, seed: int, **arch) -> Translator:
    """A seeded, untrained model: its outputs are arbitrary but fixed, which is all agreement needs."""
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(seed)
    config = ModelConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), emb_size=16, hidden_size=32,
                         src_segmenter="char", tgt_detok="concat", dropout=0.0, **arch)
    return Translator(Checkpoint(Seq2Seq(config), src_vocab, tgt_vocab), device="cpu")


ARCHES = [{"cell": "gru", "attention": "additive", "lexical": True},
          {"cell": "lstm", "attention": "none", "bidirectional": False},
          {"cell": "gru", "attention": "scaled_dot", "dec_layers": 2}, {"cell": "lstm", "attention": "general"}]


@pytest.mark.parametrize("arch", ARCHES, ids=lambda a: f"{a['cell']}-{a['attention']}")
def test_reference_greedy_equals_ours(vocabs, arch):
    tr = make_translator(vocabs, seed=3, **arch)
    for text in SOURCES:
        ours = tr.translate(text, beam_size=1)
        ref = reference.greedy_decode(tr.model, tr.analyze(text).ids)
        assert tr.tgt_vocab.decode(ref.ids) == ours.best.tokens
        assert ref.score == pytest.approx(ours.best.score, abs=1e-4)
        if ours.best.attention is not None:
            assert torch.allclose(torch.stack(ref.attention), torch.from_numpy(ours.best.attention), atol=1e-5)


@pytest.mark.parametrize("arch", ARCHES[:2], ids=lambda a: f"{a['cell']}-{a['attention']}")
def test_reference_beam_agrees_with_ours(vocabs, arch):
    """Where the search ends by finishing hypotheses, both find the same best one. An untrained model often runs
    to max_len instead, with many near-equal scores on the way; there the two searches (ours batched, the
    tutorial's one beam at a time) may keep different near-tied beams, and ours must be at least as good."""
    tr = make_translator(vocabs, seed=5, **arch)
    finished = 0
    for text in SOURCES:
        ours = tr.translate(text, beam_size=5)
        ref = reference.beam_decode(tr.model, tr.analyze(text).ids, beam_size=5)
        assert ours.best.score >= ref.score - 1e-4
        if ref.ids[-1] == tr.tgt_vocab.eos_id:
            finished += 1
            assert ref.score == pytest.approx(ours.best.score, abs=1e-4)
            assert tr.tgt_vocab.decode(ref.ids) == ours.best.tokens
        else:
            assert len(ref.ids) == len(ours.best.tokens)                  # both cut off at the same max_len


def test_reference_training_loop_learns(vocabs):
    """The tutorial loop used as the throughput baseline really trains: the loss on its pairs drops."""
    tr = make_translator(vocabs, seed=1, cell="gru", attention="additive", lexical=True)
    chosen = toy_splits("numbers", size=600)["train"][:8]
    pairs = [(tr.analyze(p.zh).ids, tr.tgt_vocab.encode(list(p.en))) for p in chosen]

    def nll() -> float:
        tr.model.eval()
        return -sum(tr.score(p.zh, list(p.en)) for p in chosen)

    before = nll()
    optimizer = torch.optim.Adam(tr.model.parameters(), lr=1e-2)
    tokens = sum(reference.train_sentences(tr.model, pairs, optimizer) for _ in range(5))
    assert tokens == 5 * sum(len(p.en) + 1 for p in chosen)
    assert nll() < 0.8 * before


def test_percentile_worked_example():
    assert common.percentile([1, 2, 3, 4, 5], 50) == 3
    assert common.percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert common.percentile([10.0], 95) == 10.0


@pytest.fixture(scope="module")
def tiny_model(vocabs, tmp_path_factory):
    tr = make_translator(vocabs, seed=0, cell="gru", attention="additive")
    record = {"corpus": "toy:numbers", "train_config": {"batch_size": 16, "lr": 1e-3, "label_smoothing": 0.0}}
    return save(tmp_path_factory.mktemp("bench") / "tiny.safetensors", Checkpoint(tr.model, *vocabs, record))


@pytest.mark.slow
def test_quick_bench_writes_results(tiny_model, tmp_path, capsys):
    out = tmp_path / "results-test.json"
    code = run.main(["--quick", "--skip-app", "--skip-memory", "--skip-toy", "--skip-cn2en", "--device", "cpu",
                       "--sentences", "3", "--model", str(tiny_model), "--out", str(out), "--machine", "test"])
    assert code == 0
    results = json.loads(out.read_text())
    assert results["machine_label"] == "test" and results["quick"] is True
    inference = results["inference"]["cpu"]
    assert set(inference["systems"]) == {"ours_greedy", "ours_greedy_translate", "reference_greedy", "ours_beam5",
                                         "ours_beam5_translate", "reference_beam5"}
    for summary in inference["systems"].values():
        assert summary["sentences"] == 3
        assert {"median_ms", "p95_ms", "per_step_median_ms", "chrf"} <= set(summary)
    assert inference["agreement"]["reference_greedy_equals_ours"] == 1.0
    assert inference["notes"]["cn2en"].startswith("skipped")
    assert 0 < inference["weights_per_step_mb"]["ours"] and [r["working_set_mb"] for r in
                                                             inference["matvec_probe"]] == sorted(
        r["working_set_mb"] for r in inference["matvec_probe"])
    training = results["training"]["cpu"]
    assert training["corpus"] == "toy:numbers" and training["batch_size"] == 16
    assert training["ours_tokens_per_s"] > 0 and training["tutorial_tokens_per_s"] > 0
    assert training["tutorial_fused_adam_tokens_per_s"] > 0 and training["speedup_median_of_run_ratios"] > 0
    assert {g["goal"].split("]")[0] for g in results["goals"] if g["goal"].startswith("[")} == {"[cpu"}
    # where each shipped model's attention peaks (#13), from its file, checked against the goals
    assert set(results["alignment"]) == {p.stem for p in (ROOT / "models").glob("*.safetensors")
                                         if read_metadata(p)["record"].get("alignment")}
    alignment_goals = [g for g in results["goals"] if "attention peak on the right token" in g["goal"]]
    assert len(alignment_goals) == len(results["alignment"]) > 0
    assert all(isinstance(g["met"], bool) for g in results["goals"])
    printed = capsys.readouterr().out
    assert "tutorial reference greedy" in printed and str(out) in printed

    readme = tmp_path / "README.md"
    readme.write_text(f"# Bench\n\n{report.BEGIN}\nold figures\n{report.END}\n\ntail\n", encoding="utf-8")
    assert report.update_readme(readme, tmp_path)
    text = readme.read_text(encoding="utf-8")
    assert "old figures" not in text and "### test" in text and "tutorial reference beam 5" in text
    assert text.endswith("tail\n")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the record made when there is no GPU")
def test_cuda_without_gpu_is_recorded_not_fatal(tiny_model, tmp_path):
    out = tmp_path / "r.json"
    code = run.main(["--quick", "--skip-app", "--skip-memory", "--skip-toy", "--skip-train", "--skip-cn2en",
                       "--device", "cuda", "--model", str(tiny_model), "--out", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    assert "no GPU available" in results["inference"]["cuda"]["skipped"]
    assert "no GPU available" in results["training"]["cuda"]["skipped"]


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert run.main(["--quick", "--model", str(tmp_path / "nope.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_time_to_quality_rerun_stops_once_the_shipped_chrf_is_reached(vocabs, tmp_path):
    """The live re-run trains the recorded recipe, decodes the test split after every epoch, and
    stops at the first epoch whose test chrF reaches the shipped figure (minus the tolerance)."""
    tr = make_translator(vocabs, seed=0, cell="gru", attention="additive")
    arch_record = {"corpus": "toy:numbers", "best_epoch": 1, "test": {"greedy": {"chrf": 0.0}},
                   "train_config": {"epochs": 3, "batch_size": 256, "lr": 1e-2, "label_smoothing": 0.0,
                                    "max_valid": 20}}
    path = save(tmp_path / "ttq.safetensors", Checkpoint(tr.model, *vocabs, arch_record))
    live = training.time_to_quality_live(path, torch.device("cpu"))
    assert live["epochs"] == 1 and live["epoch_reached"] == 1     # chrF ≥ 0 − 0.5 after epoch 1: stop there
    assert live["reached"] is True and live["seconds_to_shipped_chrf"] > 0
    assert live["curve"][0]["test_chrf_greedy"] >= 0.0

    unreachable = save(tmp_path / "ttq2.safetensors", Checkpoint(tr.model, *vocabs, {
        **arch_record, "test": {"greedy": {"chrf": 101.0}}}))                 # chrF is at most 100
    live = training.time_to_quality_live(unreachable, torch.device("cpu"))
    assert live["reached"] is False and live["seconds_to_shipped_chrf"] is None
    assert [p["epoch"] for p in live["curve"]] == [1, 2, 3]                 # the whole recipe ran
    assert "did **not** reach" in report.render_markdown({**_minimal_results(), "time_to_quality": {"live": live}})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_quick_bench_on_cpu_and_gpu(tiny_model, tmp_path):
    out = tmp_path / "gpu.json"
    assert run.main(["--quick", "--skip-app", "--skip-memory", "--skip-toy", "--skip-cn2en", "--device", "cpu,cuda",
                       "--sentences", "2", "--model", str(tiny_model), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results["inference"]) == {"cpu", "cuda"} and set(results["training"]) == {"cpu", "cuda"}
    assert results["inference"]["cuda"]["device"].startswith("cuda")
    assert results["inference"]["cuda"]["agreement"]["reference_greedy_equals_ours"] == 1.0


def test_systems_are_timed_in_a_fresh_order_per_sentence():
    """Each system runs once per sentence, and no system always follows the same one
    (a fixed predecessor evicts its weights from the cache every time: a biased timing)."""
    names = ["a", "b", "c", "d", "e", "f", "g"]
    orders = inference.run_orders(names, 60, seed=0)
    assert len(orders) == 60 and all(sorted(order) == names for order in orders)
    for name in names:
        before = {order[order.index(name) - 1] for order in orders if order.index(name) > 0}
        assert len(before) >= 4, (name, before)
    assert inference.run_orders(names, 5, seed=0) == orders[:5]          # seeded: a re-run times the same orders


def test_weights_per_step_counts_every_decoder_weight_but_the_embedding_table():
    config = ModelConfig(src_vocab_size=50, tgt_vocab_size=70, emb_size=8, hidden_size=16, attention="additive")
    decoder = Seq2Seq(config).decoder
    expected = sum(p.numel() for name, p in decoder.named_parameters() if not name.startswith("embedding"))
    assert inference.weights_per_step_bytes(decoder) == expected * 4
    assert decoder.embedding.weight.numel() > 0                        # there was a table to leave out


def _minimal_results() -> dict:
    """The fields every rendered report needs (machine and run), with nothing measured."""
    return {"machine_label": "test", "date": "2026-01-01T00:00:00+00:00", "quick": True, "command": "bench",
            "machine": {"cpu": "CPU", "cpu_count": 2, "torch": "2.13.0", "torch_threads": 1, "python": "3.11",
                        "gpu": None}}


def test_the_bench_is_one_command_from_the_repository():
    done = subprocess.run([sys.executable, "bench/run.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python bench/run.py") and "--time-to-quality" in done.stdout


def test_a_memory_worker_runs_in_a_fresh_process(tiny_model):
    out = run.run_worker(["--worker", "memory-baseline", "--model", str(tiny_model), "--device", "cpu"], timeout=120)
    assert out.get("peak_rss_mb", 0) > 0, out


def test_the_package_imports_no_bench_no_script_and_no_browser():
    """The core stands alone: the bench and the scripts import it, never the other way round."""
    forbidden = {"bench", "scripts", "train_models", "playwright", "subprocess", "common", "reference", "run"}
    for path in (ROOT / "seq2seq_lab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not {name.split(".")[0] for name in names} & forbidden, (path.name, names)


@pytest.mark.slow
def test_toy_timing_trains_the_shipped_toy_recipe():
    settings = replace(common.QUICK, toy_tasks=("numbers",), toy_max_pairs=64, toy_max_epochs=1)
    out = training.bench_toy(torch.device("cpu"), settings)["numbers"]
    assert out["train_pairs"] == 64 and out["epochs_run"] == 1
    assert out["batch_size"] == recipe("toy_numbers").train.batch_size
    assert 0.0 <= out["test_exact"] <= 1.0 and isinstance(out["reached_95"], bool)


def test_progress_lines_say_where_the_running_part_is(capsys):
    progress = run.Progress(every=0.05)
    err = ""
    with progress.part("inference on cpu"):
        common.at("run 1/3, sentence 2/5")
        deadline = time.monotonic() + 30                   # the watcher's line, however busy the machine is
        while "so far" not in err and time.monotonic() < deadline:
            time.sleep(0.05)
            err += capsys.readouterr().err
    lines = (err + capsys.readouterr().err).splitlines()
    assert lines[0].endswith("inference on cpu")
    assert any("inference on cpu: run 1/3, sentence 2/5, " in line and "so far" in line for line in lines[1:-1])
    assert lines[-1].endswith(f"done in {progress.part_seconds['inference on cpu']:.1f} s")


@pytest.mark.slow
def test_quick_families_bench_compares_the_transformer_with_the_rnn(vocabs, tiny_model, tmp_path, capsys):
    """bench/families.py: both models decode the same sentences and train on their recipes, in one run."""
    import families

    from seq2seq_lab.transformer import Transformer, TransformerConfig

    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(0)
    config = TransformerConfig(len(src_vocab), len(tgt_vocab), d_model=16, heads=2, enc_layers=1, dec_layers=1,
                               ff_size=32, dropout=0.0, src_segmenter="char", tgt_detok="concat")
    record = {"corpus": "toy:numbers", "train_config": {"batch_size": 8, "lr": 1e-3, "warmup_steps": 4}}
    save(tmp_path / "tiny_t.safetensors", Checkpoint(Transformer(config), src_vocab, tgt_vocab, record))
    (tmp_path / "tiny.safetensors").write_bytes(tiny_model.read_bytes())
    out = tmp_path / "families.json"
    results = families.main(["--quick", "--device", "cpu", "--models-dir", str(tmp_path), "--rnn", "tiny",
                             "--transformer", "tiny_t", "--out", str(out)])
    assert json.loads(out.read_text()) == results
    decoding = results["decoding"]["cpu"]
    assert set(decoding["systems"]) == {f"{m} {b} {k}" for m in ("tiny", "tiny_t") for b in ("greedy", "beam5")
                                        for k in ("steps", "translate")}
    assert all(s["median_ms"] > 0 for s in decoding["systems"].values())
    assert set(decoding["transformer_over_rnn"]) == {"greedy steps", "greedy translate", "beam5 steps",
                                                     "beam5 translate"}
    training = results["training"]["cpu"]
    assert training["batch_size"] == {"tiny": 16, "tiny_t": 8}
    assert all(rate > 0 for rate in training["tokens_per_s"].values()) and training["transformer_over_rnn"] > 0
    assert "tiny_t beam5 steps" in capsys.readouterr().out


@pytest.mark.slow
def test_the_load_bench_runs_gradio_users_and_streamlit_sessions(app_models_dir, tmp_path):
    import load

    out = tmp_path / "load.json"
    result = load.main(["--users", "2", "--seconds", "2", "--sessions", "3", "--models-dir", str(app_models_dir),
                        "--out", str(out)])
    gradio = json.loads(out.read_text())["gradio"]
    assert gradio == result["gradio"] and gradio["users"] == 2 and gradio["client"] == "http"
    assert gradio["requests"] >= 2 and gradio["errors"] == 0, gradio["error_examples"]
    assert 0 < gradio["p50_ms"] <= gradio["p95_ms"] <= gradio["max_ms"]
    streamlit = result["streamlit"]
    assert streamlit["sessions"] == 3 and streamlit["failed"] == 0, streamlit["failure_examples"]
    for part in ("page", "first_heatmap", "final"):
        assert 0 < streamlit[part]["p50_ms"] <= streamlit[part]["p95_ms"] <= streamlit[part]["max_ms"]
    assert streamlit["first_heatmap"]["max_ms"] <= streamlit["final"]["max_ms"]
    assert streamlit["pong"]["pings"] >= 1 and 0 < streamlit["pong"]["p50_ms"] <= streamlit["pong"]["max_ms"]


def test_quick_data_parallel_bench_times_one_and_two_processes_on_the_same_recipe(tmp_path, capsys):
    """bench/data_parallel.py: the shipped recipe through the real loop in 1×1, 1×2 and 2×1 (torchrun) processes."""
    import data_parallel

    out = tmp_path / "dp.json"
    results = data_parallel.main(["--quick", "--recipes", "everyday_additive", "--out", str(out)])
    assert json.loads(out.read_text()) == results
    r = results["recipes"]["everyday_additive"]
    assert set(r["median"]) == {"cpu 1×1", "cpu 1×2", "cpu 2×1"}
    for runs in r["runs"].values():
        assert [run["steps"] for run in runs] == [results["steps"] - results["warmup"]] * results["runs"]
        assert all(run["tokens_per_s"] > 0 and run["seconds"] > 0 for run in runs)
    assert r["ratios"]["2x1_over_1x1"] == pytest.approx(r["median"]["cpu 2×1"] / r["median"]["cpu 1×1"])
    assert "everyday_additive" in capsys.readouterr().out


def test_quick_precision_bench_trains_fp32_and_bf16_copies_of_one_recipe(tmp_path, capsys):
    """bench/precision.py: the recipe's model in both precisions on the same batches; ratios from its own figures."""
    import precision

    out = tmp_path / "precision.json"
    results = precision.main(["--quick", "--recipes", "everyday_transformer", "--out", str(out)])
    assert json.loads(out.read_text()) == results
    r = results["recipes"]["everyday_transformer"]
    assert r["arch"] == recipe("everyday_transformer").arch
    assert set(r["runs"]) == {"fp32", "bf16"} and all(len(v) == results["rounds"] == 2 for v in r["runs"].values())
    assert all(x > 0 for v in r["runs"].values() for x in v)
    assert r["bf16_over_fp32"] == pytest.approx(r["tokens_per_s"]["bf16"] / r["tokens_per_s"]["fp32"], abs=1e-3)
    assert all(0 < loss < 20 for loss in r["last_round_loss"].values())
    assert "everyday_transformer" in capsys.readouterr().out


def test_the_vocabulary_ceiling_deletes_exactly_the_words_no_search_could_write():
    """bench/vocab_ceiling.py: a vocabulary with every word scores the round trip; without one, that word is gone."""
    import vocab_ceiling

    from seq2seq_lab.vocab import Vocab

    references = ["He is my teacher.", "I love my cat."]
    whole = Vocab(["he", "is", "my", "teacher", ".", "i", "love", "cat"])
    full = vocab_ceiling.ceiling(whole, references)
    assert full["chrf_ceiling"] == full["chrf_round_trip"] == 100.0 and full["tokens_missing"] == 0
    no_cat = vocab_ceiling.ceiling(Vocab(["he", "is", "my", "teacher", ".", "i", "love"]), references)
    assert no_cat["sentences_with_missing_words"] == 1 and no_cat["tokens_missing"] == pytest.approx(1 / 10)
    assert no_cat["chrf_ceiling"] < 100.0
    assert no_cat["chrf_ceiling"] == pytest.approx(
        sacrebleu.corpus_chrf(["He is my teacher.", "I love my."], [references]).score, abs=0.01)
