"""The command line: translate / evaluate / train on tiny models; bad input → exit code 2 and a message."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seq2seq_lab import Translator
from seq2seq_lab.checkpoint import load, read_metadata
from seq2seq_lab.cli import main, text_heatmap
from seq2seq_lab.corpus import chinese_number, toy_splits
from seq2seq_lab.train import evaluate

ROOT = Path(__file__).resolve().parent.parent
CANDIDATE_LINE = re.compile(r"^\s*(\d+)\s+(-?\d+\.\d{3})\s+(-?\d+\.\d{3})\s\s(.*)$")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def candidate_lines(out: str) -> list[tuple[int, float, float, str]]:
    rows = []
    for line in out.splitlines():
        match = CANDIDATE_LINE.match(line)
        if match:
            rows.append((int(match[1]), float(match[2]), float(match[3]), match[4]))
    return rows


# --- translate --------------------------------------------------------------------------------------------


def test_translate_prints_segmentation_candidates_and_heatmap(capsys, tiny_models_dir):
    model = tiny_models_dir / "tiny_zh_en.safetensors"
    code, out, err = run_cli(capsys, "translate", "我爱学习", "--model", model, "--beam", 4, "--n-best", 3,
                             "--device", "cpu")
    assert code == 0 and err == ""
    assert "model:        tiny_zh_en (additive attention) on cpu" in out
    assert "segmentation: 我 / 爱 / 学习" in out
    assert "model tokens: ['我', '爱', '学习', '</s>']" in out
    assert "unknown:" not in out

    expected = Translator.load(model, device="cpu").translate("我爱学习", beam_size=4, n_best=3)
    rows = candidate_lines(out)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[3] for r in rows] == [c.text for c in expected.candidates]
    assert [r[1] for r in rows] == [round(c.score, 3) for c in expected.candidates]
    assert [r[2] for r in rows] == [round(c.normalized_score, 3) for c in expected.candidates]

    heatmap = out.split("attention of the best translation (rows: output, columns: source)")[1].strip("\n")
    lines = heatmap.splitlines()
    assert lines[0].split() == ["我", "爱", "学习", "</s>"]
    assert [line.split()[0] for line in lines[1:]] == expected.best.tokens


def test_translate_reports_unknown_and_split_words(capsys, tiny_models_dir):
    code, out, _ = run_cli(capsys, "translate", "我爱你😀", "--model", tiny_models_dir / "tiny_zh_en.safetensors",
                           "--beam", 2, "--device", "cpu")
    assert code == 0
    assert "unknown: ['😀']   split into characters: ['我爱你']" in out
    assert "model tokens: ['我', '爱', '你', '<unk>', '</s>']" in out


def test_translate_options_reach_the_search(capsys, tiny_models_dir):
    model = tiny_models_dir / "tiny_numbers.safetensors"
    code, out, _ = run_cli(capsys, "translate", "三千零五", "--model", model, "--beam", 3, "--n-best", 2,
                           "--length-penalty", 1.0, "--max-len", 6, "--prefix", "3", "--device", "cpu")
    assert code == 0
    expected = Translator.load(model, device="cpu").translate("三千零五", beam_size=3, n_best=2, length_penalty=1.0,
                                                              max_len=6, prefix=["3"])
    rows = candidate_lines(out)
    assert [r[3] for r in rows] == [c.text for c in expected.candidates]
    assert all(text.startswith("3") for *_, text in rows)
    assert [r[2] for r in rows] == [round(c.normalized_score, 3) for c in expected.candidates]


def test_translate_with_a_model_without_attention_prints_no_heatmap(capsys, tiny_models_dir):
    code, out, _ = run_cli(capsys, "translate", "十五", "--model", tiny_models_dir / "tiny_numbers_none.safetensors",
                           "--beam", 1, "--n-best", 1, "--device", "cpu")
    assert code == 0
    assert "(none attention)" in out
    assert "attention of the best translation" not in out
    assert len(candidate_lines(out)) == 1


@pytest.mark.parametrize("argv, needle", [
    (["translate", ""], "Please type a Chinese sentence"),
    (["translate", "   "], "Please type a Chinese sentence"),
    (["translate", "hello"], "no Chinese characters"),
    (["translate", "我" * 300], "limit is 200"),
    (["translate", "我爱学习", "--beam", "0"], "beam_size must be a whole number from 1 to 10"),
    (["translate", "我爱学习", "--max-len", "1000"], "max_len must be a whole number from 0 to 200"),
    (["translate", "我爱学习", "--prefix", "zebra"], "zebra"),
])
def test_bad_translate_input_exits_2_with_a_message(capsys, tiny_models_dir, argv, needle):
    code, out, err = run_cli(capsys, *argv, "--model", tiny_models_dir / "tiny_zh_en.safetensors", "--device", "cpu")
    assert code == 2
    assert err.startswith("error: ") and needle in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("name", ["tiny_numbers", "tiny_numbers.safetensors", "user/my_numbers"])
def test_model_by_name_as_the_apps_take_it(capsys, tiny_models_dir, tmp_path, monkeypatch, name):
    folder = tmp_path / "models"
    (folder / "user").mkdir(parents=True)
    model = tiny_models_dir / "tiny_numbers.safetensors"
    shutil.copy(model, folder / "tiny_numbers.safetensors")
    shutil.copy(model, folder / "user" / "my_numbers.safetensors")
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(folder))
    monkeypatch.chdir(tmp_path)                                          # no file of that name here
    code, by_name, err = run_cli(capsys, "translate", "三千零五", "--model", name, "--beam", 2, "--device", "cpu")
    assert code == 0 and err == ""
    _, by_path, _ = run_cli(capsys, "translate", "三千零五", "--model", model, "--beam", 2, "--device", "cpu")
    assert candidate_lines(by_name) == candidate_lines(by_path) and candidate_lines(by_name)
    code, out, _ = run_cli(capsys, "evaluate", "--model", name, "--split", "valid", "--beam", 2, "--device", "cpu")
    assert code == 0 and out.startswith(f"{Path(name).stem.removesuffix('.safetensors')} on toy:numbers valid")


@pytest.mark.parametrize("name, needle", [
    ("toy_numberz", "no model called 'toy_numberz' in "),
    ("user/toy_numbers", "no model called 'user/toy_numbers' in "),
    ("../tiny_numbers", "model file ../tiny_numbers does not exist"),
    ("no/such/dir/m.safetensors", "model file no/such/dir/m.safetensors does not exist"),
])
@pytest.mark.parametrize("command", [["translate", "三千零五"], ["evaluate"]])
def test_a_model_that_is_neither_a_file_nor_a_name_exits_2(capsys, tiny_models_dir, tmp_path, monkeypatch,
                                                            command, name, needle):
    monkeypatch.setenv("SEQ2SEQ_LAB_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *command, "--model", name, "--device", "cpu")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err and "Traceback" not in err
    if "no model called" in needle:                                      # says which names would work
        assert "tiny_numbers, tiny_numbers_none, tiny_zh_en" in err


def test_the_package_imports_from_any_folder(tmp_path, tiny_models_dir):
    """Installed by requirements.txt (`-e .`): the API and the CLI work outside the checkout, with no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", "import seq2seq_lab; from seq2seq_lab import Translator; "
                             "print(seq2seq_lab.__file__)"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(ROOT / "seq2seq_lab")     # this checkout, editable
    result = subprocess.run([sys.executable, "-m", "seq2seq_lab", "translate", "三千零五", "--model", "tiny_numbers",
                             "--beam", "1", "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "SEQ2SEQ_LAB_MODELS_DIR": str(tiny_models_dir)}, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "model:        tiny_numbers (additive attention) on cpu" in result.stdout


def test_requirements_install_the_package_itself():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines


def test_missing_or_corrupt_model_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "translate", "我爱学习", "--model", tmp_path / "absent.safetensors")
    assert code == 2 and "absent.safetensors" in err and "does not exist" in err
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    code, _, err = run_cli(capsys, "translate", "我爱学习", "--model", broken)
    assert code == 2 and "broken.safetensors is not a readable model file" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_exits_2(capsys, tiny_models_dir):
    code, _, err = run_cli(capsys, "translate", "我爱学习", "--model", tiny_models_dir / "tiny_zh_en.safetensors",
                           "--device", "cuda")
    assert code == 2 and "no usable GPU" in err


def test_module_entry_point_exits_2_without_a_traceback(tiny_models_dir):
    result = subprocess.run([sys.executable, "-m", "seq2seq_lab", "translate", "",
                             "--model", str(tiny_models_dir / "tiny_zh_en.safetensors")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Please type a Chinese sentence to translate."
    assert "Traceback" not in result.stderr


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["translate"])
    assert caught.value.code == 2
    assert "required: text" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["translate", "我", "--beam", "many"])
    assert caught.value.code == 2


# --- evaluate -------------------------------------------------------------------------------------------


def test_evaluate_json_matches_the_library(capsys, tiny_models_dir):
    model = tiny_models_dir / "tiny_numbers.safetensors"
    code, out, _ = run_cli(capsys, "evaluate", "--model", model, "--split", "valid", "--beam", 2, "--json",
                           "--device", "cpu")
    assert code == 0
    report = json.loads(out)
    valid = toy_splits("numbers")["valid"]                       # the record says corpus "toy:numbers"
    assert report["model"] == "tiny_numbers" and report["split"] == "valid" and report["device"] == "cpu"
    assert set(report) == {"model", "split", "device", "greedy", "beam2"}
    assert report["greedy"] == evaluate(Translator.load(model, device="cpu"), valid, beam_size=1)
    assert report["beam2"]["sentences"] == len(valid)
    for metrics in (report["greedy"], report["beam2"]):
        assert 0 <= metrics["bleu"] <= 100 and 0 <= metrics["chrf"] <= 100 and 0 <= metrics["exact"] <= 1


def test_evaluate_table(capsys, tiny_models_dir):
    code, out, _ = run_cli(capsys, "evaluate", "--model", tiny_models_dir / "tiny_numbers_none.safetensors",
                           "--split", "valid", "--beam", 2, "--device", "cpu")
    assert code == 0
    lines = out.strip().splitlines()
    n = len(toy_splits("numbers")["valid"])
    assert lines[0] == f"tiny_numbers_none on toy:numbers valid ({n} sentences, cpu)"
    assert re.fullmatch(r"\s+greedy\s+exact match \d+\.\d\d%", lines[1])        # a toy task: BLEU means little
    assert lines[2].split()[0] == "beam2" and "BLEU" not in out


def test_evaluate_table_of_a_sentence_model_gives_bleu_and_chrf(capsys, tiny_models_dir):
    code, out, _ = run_cli(capsys, "evaluate", "--model", tiny_models_dir / "tiny_zh_en.safetensors",
                           "--split", "valid", "--beam", 2, "--device", "cpu")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("tiny_zh_en on hsk valid (")
    assert re.fullmatch(r"\s+greedy\s+BLEU\s+\d+\.\d\d\s+chrF\s+\d+\.\d\d", lines[1])
    assert "exact" not in out


@pytest.mark.parametrize("split", ["test:tatoeba", "nonsense", "test:"])
def test_evaluate_unknown_split_is_a_friendly_error(capsys, tiny_models_dir, split):
    code, out, err = run_cli(capsys, "evaluate", "--model", tiny_models_dir / "tiny_numbers.safetensors",
                             "--split", split, "--device", "cpu")
    assert code == 2 and not out
    assert err.startswith("error: tiny_numbers has no split") and "test:toy:numbers" in err
    assert "Traceback" not in err


def test_evaluate_missing_model_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "evaluate", "--model", tmp_path / "nothing.safetensors")
    assert code == 2 and "nothing.safetensors" in err


# --- train -----------------------------------------------------------------------------------------------


def _numbers_tsv(path: Path, n: int = 120, bad_lines: bool = False) -> Path:
    lines = [f"{chinese_number(k)}\t{k}" for k in range(1, n + 1)]
    if bad_lines:
        lines.insert(2, "no tab on this line")
        lines.insert(5, "hello\tworld")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TINY_TRAIN = ["--emb", "16", "--hidden", "16", "--epochs", "1", "--batch-size", "16", "--dropout", "0",
              "--device", "cpu"]


def test_train_on_a_tsv_file_saves_a_working_model(capsys, tmp_path):
    data = _numbers_tsv(tmp_path / "numbers.tsv", bad_lines=True)
    out_path = tmp_path / "out" / "cli_model.safetensors"
    code, out, err = run_cli(capsys, "train", "--data", data, "--out", out_path, "--attention", "general",
                             "--cell", "lstm", *TINY_TRAIN)
    assert code == 0
    assert "numbers.tsv:3: skipped: expected 2 or 3 tab-separated columns, found 1" in err
    assert "numbers.tsv:6: skipped: no Chinese text in the first two columns" in err
    assert f"saved {out_path}" in out
    assert re.search(r"test greedy: BLEU \d+\.\d  chrF \d+\.\d\n"            # sentences (a TSV): BLEU and chrF
                     r"test beam5 : BLEU \d+\.\d  chrF \d+\.\d\n", out)
    assert "valid BLEU" in err and "exact" not in out + err
    checkpoint = load(out_path)
    assert checkpoint.config.attention == "general" and checkpoint.config.cell == "lstm"
    assert checkpoint.config.hidden_size == 16 and checkpoint.config.src_segmenter == "jieba"
    record = read_metadata(out_path)["record"]
    assert record["corpus"] == "numbers.tsv" and record["split"]["train"] == record["pairs"]["train"]
    assert set(record["test"]) == {"greedy", "beam5"}
    assert Translator(checkpoint, device="cpu").translate("三十五", beam_size=2).best.tokens


def test_train_on_a_toy_task_prints_exact_match_not_bleu(capsys, tmp_path):
    out_path = tmp_path / "toy.safetensors"
    code, out, err = run_cli(capsys, "train", "--data", "toy:numbers", "--out", out_path, *TINY_TRAIN)
    assert code == 0
    assert re.search(r"test greedy: exact match \d+\.\d%\ntest beam5 : exact match \d+\.\d%\n", out)
    assert re.search(r"valid exact match \d+\.\d%", err)                   # the progress bar's last line
    assert "BLEU" not in out + err and "chrF" not in out + err
    assert read_metadata(out_path)["record"]["corpus"] == "toy:numbers"


@pytest.mark.parametrize("argv, needle", [
    (["--data", "toy:poetry"], "unknown toy task"),
])
def test_bad_training_data_exits_2(capsys, tmp_path, argv, needle):
    code, _, err = run_cli(capsys, "train", *argv, "--out", tmp_path / "x.safetensors", *TINY_TRAIN)
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "x.safetensors").exists()


def test_non_utf8_training_file_exits_2(capsys, tmp_path):
    data = tmp_path / "gbk.tsv"
    data.write_bytes("三\t3\n五\t5\n".encode("gbk"))
    code, _, err = run_cli(capsys, "train", "--data", data, "--out", tmp_path / "x.safetensors", *TINY_TRAIN)
    assert code == 2 and "gbk.tsv is not UTF-8" in err


def test_unknown_attention_exits_2(capsys, tmp_path):
    data = _numbers_tsv(tmp_path / "numbers.tsv", n=30)
    with pytest.raises(SystemExit) as exited:                            # argparse rejects the choice
        run_cli(capsys, "train", "--data", data, "--out", tmp_path / "x.safetensors", "--attention", "luong",
                *TINY_TRAIN)
    assert exited.value.code == 2 and "luong" in capsys.readouterr().err


def test_missing_training_file_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--data", tmp_path / "missing.tsv", "--out", tmp_path / "x.safetensors",
                           *TINY_TRAIN)
    assert code == 2 and "missing.tsv" in err


# --- the text heatmap --------------------------------------------------------------------------------------


def test_text_heatmap_shades():
    text = text_heatmap(["a", "b"], ["我", "爱"], [[1.0, 0.0], [0.5, 0.5]])
    header, row_a, row_b = text.splitlines()
    assert header.split() == ["我", "爱"]
    assert row_a.startswith("a") and "██" in row_a and "▓" not in row_a
    assert row_b.startswith("b") and row_b.count("▒▒") == 2


def test_train_a_transformer_from_the_command_line(capsys, tmp_path):
    out_path = tmp_path / "t.safetensors"
    code, out, _ = run_cli(capsys, "train", "--data", "toy:numbers", "--out", out_path, "--family", "transformer",
                           "--hidden", "32", "--heads", "4", "--ff", "64", "--layers", "1", "--warmup", "10",
                           "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--precision", "bf16")
    assert code == 0, out
    meta = read_metadata(out_path)
    assert meta["config"]["family"] == "transformer" and meta["config"]["heads"] == 4
    assert meta["config"]["d_model"] == 32 and meta["record"]["train_config"]["warmup_steps"] == 10
    assert meta["record"]["train_config"]["precision"] == "bf16"
    code, out, _ = run_cli(capsys, "translate", "三十五", "--model", out_path, "--beam", "2", "--device", "cpu")
    assert code == 0 and "multi_head" in out


@pytest.mark.parametrize("argv, needle", [
    (["translate", "我", "--device", "foo"], "'foo' is not a device"),
    (["translate", "我", "--device", "mps"], "not a device this lab runs on"),
    (["train", "--hidden", "0"], "hidden_size must be 1–4096"),
    (["train", "--batch-size", "0"], "batch_size must be ≥ 1"),
    (["train", "--dropout", "2"], "dropout must be in [0, 1)"),
    (["train", "--lr", "nan"], "lr must be in (0, 1]"),
    (["train", "--lr", "0"], "lr must be in (0, 1]"),
    (["train", "--epochs", "0"], "epochs must be ≥ 1"),
    (["train", "--layers", "9"], "1–4 layers"),
    (["train", "--teacher-forcing", "1.5"], "teacher_forcing must be in [0, 1]"),
    (["train", "--family", "transformer", "--hidden", "30", "--heads", "4"], "multiple of heads"),
    (["train", "--family", "transformer", "--heads", "0"], "heads"),
    (["train", "--family", "transformer", "--teacher-forcing", "0.5"], "teacher forcing only"),
    (["train", "--device", "foo"], "'foo' is not a device"),
    (["train", "--precision", "fp16"], "precision must be 'fp32' or 'bf16', got 'fp16'"),
])
def test_nonsense_options_are_one_readable_line_before_any_work(capsys, tmp_path, argv, needle):
    """No traceback, exit 2, and for training: refused before any data is read or anything is trained."""
    if argv[0] == "train":
        argv = [*argv, "--data", "toy:numbers", "--out", str(tmp_path / "m.safetensors")]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert err.count("\n") == 1 and not (tmp_path / "m.safetensors").exists()


def test_an_unwritable_output_is_refused_before_training(capsys, tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    code, _, err = run_cli(capsys, "train", "--data", "toy:numbers", "--out", str(folder))
    assert code == 2 and "is a folder" in err
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, out, err = run_cli(capsys, "train", "--data", "toy:numbers", "--out", str(blocked / "m.safetensors"),
                             "--epochs", "30")
    assert code == 2 and "cannot write" in err and "epoch" not in out + err.split("cannot write")[0]
