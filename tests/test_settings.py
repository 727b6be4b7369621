"""Runtime settings: read from the environment in one place, with safe fallbacks."""

from __future__ import annotations

from pathlib import Path

from seq2seq_lab import settings


def test_defaults_without_any_variable():
    s = settings.load({})
    assert s == settings.Settings(models_dir=settings.default_models_dir())
    assert s.device == "auto" and s.lang == "en" and s.torch_threads == 1 and s.max_trainings == 1
    assert s.script_turns == 2
    assert s.user_dir == s.models_dir / "user"


def test_every_variable_is_read(tmp_path):
    env = {"SEQ2SEQ_LAB_MODELS_DIR": str(tmp_path), "SEQ2SEQ_LAB_DEVICE": "cpu", "SEQ2SEQ_LAB_LANG": "zh",
           "SEQ2SEQ_LAB_TORCH_THREADS": "3", "SEQ2SEQ_LAB_MAX_TRAININGS": "2", "SEQ2SEQ_LAB_SCRIPT_TURNS": "5"}
    assert settings.load(env) == settings.Settings(Path(tmp_path), "cpu", "zh", 3, 2, script_turns=5)


def test_unusable_values_fall_back_to_the_defaults():
    env = {"SEQ2SEQ_LAB_LANG": "fr", "SEQ2SEQ_LAB_TORCH_THREADS": "lots", "SEQ2SEQ_LAB_MAX_TRAININGS": "-4",
           "SEQ2SEQ_LAB_MODELS_DIR": "", "SEQ2SEQ_LAB_DEVICE": ""}
    s = settings.load(env)
    assert (s.lang, s.torch_threads, s.max_trainings, s.device) == ("en", 1, 1, "auto")
    assert s.models_dir == settings.default_models_dir()


def test_the_default_models_folder_is_the_checkouts_when_there_is_one(tmp_path, monkeypatch):
    assert settings.default_models_dir() == settings.CHECKOUT_MODELS            # this test runs in a checkout
    monkeypatch.setattr(settings, "CHECKOUT_MODELS", tmp_path / "not-here")
    monkeypatch.chdir(tmp_path)
    assert settings.default_models_dir() == tmp_path / "models"


def test_nothing_else_in_the_package_reads_these_variables():
    package = Path(settings.__file__).parent
    for path in package.rglob("*.py"):
        if path.name != "settings.py":
            assert "SEQ2SEQ_LAB_" not in path.read_text(encoding="utf-8").replace("``SEQ2SEQ_LAB_", ""), path
