"""Model files: exact round trip, half precision, clear errors for bad files, atomic saves; the catalog."""

from __future__ import annotations

import json
import os

import pytest
import torch
from conftest import EXAMPLE_SENTENCES, build_translator
from numpy.testing import assert_allclose
from safetensors.torch import save_file

from seq2seq_lab import CheckpointError, LabError, Translator, catalog
from seq2seq_lab import checkpoint as ckpt
from seq2seq_lab.checkpoint import Checkpoint


def _checkpoint(attention="additive", cell="gru", **kwargs) -> Checkpoint:
    tr = build_translator(attention, cell=cell, eos_bias=2.0, **kwargs)
    return Checkpoint(tr.model, tr.src_vocab, tr.tgt_vocab,
                      {"corpus": "toy:numbers", "note": "训练记录 ✓", "history": [{"epoch": 1, "loss": 1.5}]})


def _outputs(tr: Translator):
    return [tr.translate(t, beam_size=3, n_best=3) for t in EXAMPLE_SENTENCES]


@pytest.mark.parametrize("attention, cell", [("additive", "gru"), ("none", "lstm"), ("scaled_dot", "lstm"),
                                             ("dot", "gru")])
def test_fp32_round_trip_is_exact(tmp_path, attention, cell):
    original = _checkpoint(attention, cell)
    path = ckpt.save(tmp_path / "model.safetensors", original)
    loaded = ckpt.load(path)
    assert loaded.config == original.config
    assert loaded.src_vocab.itos == original.src_vocab.itos and loaded.tgt_vocab.itos == original.tgt_vocab.itos
    assert loaded.record == original.record
    before, after = original.model.state_dict(), loaded.model.state_dict()
    assert before.keys() == after.keys()
    for name in before:
        assert torch.equal(before[name], after[name]), name
    assert not loaded.model.training
    a = _outputs(Translator(original, device="cpu"))
    b = _outputs(Translator(loaded, device="cpu"))
    for x, y in zip(a, b):
        assert [c.tokens for c in x.candidates] == [c.tokens for c in y.candidates]
        assert [c.score for c in x.candidates] == [c.score for c in y.candidates]          # bit-identical
        for cx, cy in zip(x.candidates, y.candidates):
            assert (cx.attention is None) == (cy.attention is None)
            if cx.attention is not None:
                assert (cx.attention == cy.attention).all()


def test_half_precision_is_smaller_and_close(tmp_path, toy_training):
    result = toy_training.result.checkpoint
    full = ckpt.save(tmp_path / "full.safetensors", result)
    half = ckpt.save(tmp_path / "half.safetensors", result, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded_full, loaded_half = ckpt.load(full), ckpt.load(half)
    for name, tensor in loaded_half.model.state_dict().items():
        reference = loaded_full.model.state_dict()[name]
        assert tensor.dtype == reference.dtype == torch.float32                        # loaded back as fp32
        torch.testing.assert_close(tensor, reference, rtol=1e-3, atol=1e-3)
    tr_full, tr_half = Translator(loaded_full, device="cpu"), Translator(loaded_half, device="cpu")
    texts = [p.zh for p in toy_training.splits["test"][:10]]
    for a, b in zip(tr_full.translate_batch(texts, beam_size=3), tr_half.translate_batch(texts, beam_size=3)):
        assert a.best.tokens == b.best.tokens
        assert b.best.score == pytest.approx(a.best.score, abs=0.05)
        assert_allclose(b.best.attention, a.best.attention, atol=0.02)


def test_int8_storage_quantises_large_matrices_row_by_row(tmp_path):
    tr = build_translator("additive", emb_size=64, hidden_size=256)   # RNN matrices of (768, 320) and more
    source = Checkpoint(tr.model, tr.src_vocab, tr.tgt_vocab)
    weights = {name: t for name, t in tr.model.state_dict().items()}
    path = ckpt.save(tmp_path / "int8.safetensors", source, int8=True)
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as handle:
        stored = {name: handle.get_tensor(name) for name in handle.keys()}
    quantised = [n for n, t in stored.items() if t.dtype == torch.int8]
    assert quantised and all(stored[n].numel() >= ckpt.INT8_MIN_SIZE for n in quantised)
    for name in quantised:                                       # each has its scale, one per row
        assert stored[ckpt.SCALE_PREFIX + name].shape == (stored[name].shape[0], 1)
    loaded = ckpt.load(path)
    for name, tensor in loaded.model.state_dict().items():
        reference = weights[name].float()
        if name in quantised:                                    # ≤ half a step (+ the fp16 scale rounding)
            step = reference.abs().amax(dim=1, keepdim=True) / 127
            assert ((tensor - reference).abs() <= step * 0.6 + 1e-6).all()
        else:
            torch.testing.assert_close(tensor, reference, rtol=1e-3, atol=1e-3)
    again = ckpt.save(tmp_path / "again.safetensors", loaded, int8=True)   # re-saving stored weights changes nothing
    for name, tensor in ckpt.load(again).model.state_dict().items():
        torch.testing.assert_close(tensor, loaded.model.state_dict()[name], rtol=1e-3, atol=1e-4)


def test_quantize_rows_formula():
    weight = torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.01]])
    q, scale = ckpt.quantize_rows(weight)
    assert q.dtype == torch.int8 and q[0, 1] == -127 and q[1, 0] == 127       # each row's largest |w| → ±127
    torch.testing.assert_close(scale.float().squeeze(1), torch.tensor([1.0, 2.0]) / 127, rtol=1e-3, atol=0)
    torch.testing.assert_close(q.float() * scale.float(), weight, atol=2.0 / 127 / 2 + 1e-3, rtol=0)


def test_metadata_is_readable_without_the_weights(tmp_path):
    path = ckpt.save(tmp_path / "m.safetensors", _checkpoint())
    meta = ckpt.read_metadata(path)
    assert meta["format"] == ckpt.FORMAT
    assert meta["config"]["attention"] == "additive"
    assert meta["record"]["note"] == "训练记录 ✓"
    assert meta["src_vocab"]["itos"][:4] == ["<pad>", "<unk>", "<s>", "</s>"]


def test_save_creates_missing_folders(tmp_path):
    path = ckpt.save(tmp_path / "a" / "b" / "m.safetensors", _checkpoint())
    assert path.is_file() and ckpt.load(path).config.attention == "additive"


# --- bad files ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    path = ckpt.save(tmp_path_factory.mktemp("good") / "good.safetensors", _checkpoint())
    return path.read_bytes()


def _metadata(good_bytes, tmp_path) -> dict:
    path = tmp_path / "source.safetensors"
    path.write_bytes(good_bytes)
    return ckpt.read_metadata(path)


def _bad_files(good_bytes, tmp_path) -> dict:
    """name → (writer, expected code)."""
    meta = _metadata(good_bytes, tmp_path)
    weights = {"w": torch.zeros(3)}
    return {
        "truncated": (lambda p: p.write_bytes(good_bytes[:len(good_bytes) // 2]), "corrupt"),
        "truncated_by_one_byte": (lambda p: p.write_bytes(good_bytes[:-1]), "corrupt"),
        "header_only": (lambda p: p.write_bytes(good_bytes[:6]), "corrupt"),
        "empty": (lambda p: p.write_bytes(b""), "corrupt"),
        "random_bytes": (lambda p: p.write_bytes(os.urandom(4096)), "corrupt"),
        "text": (lambda p: p.write_text("this is not a model\n" * 20), "corrupt"),
        "foreign_safetensors": (lambda p: save_file(weights, str(p)), "foreign"),
        "foreign_metadata": (lambda p: save_file(weights, str(p), metadata={"framework": "pt"}), "foreign"),
        "other_format": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "format": "seq2seq_lab/99"})}), "foreign"),
        "bad_json": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: "{not json"}), "corrupt"),
        "wrong_weights": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(meta)}),
                          "incompatible"),
        "bad_config": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "config": {**meta["config"], "attention": "luong"}})}), "incompatible"),
        "bad_vocab": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "src_vocab": {"itos": ["a", "b"]}})}), "incompatible"),
        "config_a_list": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "config": [1, 2]})}), "corrupt"),
        "record_a_string": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "record": "x"})}), "corrupt"),
        "vocab_a_number": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "tgt_vocab": 3})}), "corrupt"),
        "unknown_family": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "config": {**meta["config"], "family": "lstm-transformer-9000"}})}), "incompatible"),
        "vocab_size_not_the_vocabs": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "config": {**meta["config"], "src_vocab_size": 10**9}})}), "incompatible"),
        "huge_config_tiny_file": (lambda p: save_file(weights, str(p), metadata={ckpt.META_KEY: json.dumps(
            {**meta, "config": {**meta["config"], "emb_size": 4096, "hidden_size": 4096}})}), "incompatible"),
        "huge_header": (lambda p: p.write_bytes((10**9).to_bytes(8, "little") + b"{" * 100), "corrupt"),
    }


BAD_NAMES = ["truncated", "truncated_by_one_byte", "header_only", "empty", "random_bytes", "text",
             "foreign_safetensors", "foreign_metadata", "other_format", "bad_json", "wrong_weights", "bad_config",
             "bad_vocab", "config_a_list", "record_a_string", "vocab_a_number", "unknown_family",
             "vocab_size_not_the_vocabs", "huge_config_tiny_file", "huge_header"]


@pytest.mark.parametrize("kind", BAD_NAMES)
def test_bad_files_give_a_checkpoint_error_naming_the_file(tmp_path, good_bytes, kind):
    write, code = _bad_files(good_bytes, tmp_path)[kind]
    path = tmp_path / f"{kind}.safetensors"
    write(path)
    for load in (ckpt.load, lambda p: Translator.load(p, device="cpu")):
        with pytest.raises(CheckpointError) as caught:
            load(path)
        assert caught.value.code == code
        assert path.name in caught.value.message
        assert caught.value.details["path"] == str(path)
        assert isinstance(caught.value, LabError)


def test_a_config_is_checked_against_the_stored_weights_before_its_model_is_allocated(tmp_path, good_bytes,
                                                                                     monkeypatch):
    """A hostile config (a 4096-wide model in a file of a few bytes) is refused having built the model only on
    torch's "meta" device, which allocates nothing: a file cannot make the server allocate gigabytes."""
    write, _ = _bad_files(good_bytes, tmp_path)["huge_config_tiny_file"]
    path = tmp_path / "huge.safetensors"
    write(path)
    devices = []
    real = ckpt.build_model

    def watched(config):
        devices.append(torch.empty(0).device.type)          # the default device the model is built on
        return real(config)

    monkeypatch.setattr(ckpt, "build_model", watched)
    with pytest.raises(CheckpointError, match="do not match the config"):
        ckpt.load(path)
    assert devices == ["meta"]
    good = tmp_path / "good.safetensors"
    good.write_bytes(good_bytes)
    devices.clear()
    ckpt.load(good)
    assert devices == ["meta", "cpu"]                        # a good file: checked, then built for real


@pytest.mark.parametrize("metadata", ["[1, 2]", "null", "3", '"a string"'])
def test_metadata_that_is_not_a_json_object_is_a_checkpoint_error(tmp_path, metadata):
    path = tmp_path / "odd.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={ckpt.META_KEY: metadata})
    with pytest.raises(CheckpointError):
        ckpt.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as caught:
        ckpt.load(tmp_path / "nowhere.safetensors")
    assert caught.value.code == "missing" and "nowhere.safetensors" in caught.value.message


# --- atomic saves ----------------------------------------------------------------------------------------------


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = ckpt.save(tmp_path / "model.safetensors", _checkpoint("additive"))
    old = path.read_bytes()
    real_save_file = ckpt.save_file

    def half_written_then_crash(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as handle:         # the disk fills up half-way through
            handle.truncate(os.path.getsize(filename) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save_file", half_written_then_crash)
    with pytest.raises(OSError):
        ckpt.save(path, _checkpoint("dot"))
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    monkeypatch.undo()
    assert ckpt.load(path).config.attention == "additive"


def test_save_replaces_an_existing_file(tmp_path):
    path = ckpt.save(tmp_path / "model.safetensors", _checkpoint("additive"))
    ckpt.save(path, _checkpoint("general"))
    assert ckpt.load(path).config.attention == "general"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


# --- the catalog ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "..", ".", "", "a/b", "../models/x", "/etc/passwd", "a\\b", "..\\x",
                                  "~/x"])
def test_resolve_model_refuses_names_that_leave_the_folder(tmp_path, name):
    (tmp_path / "x.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError) as caught:
        catalog.resolve_model(name, tmp_path / "models")
    assert caught.value.code in ("bad_name", "missing")
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        assert caught.value.code == "bad_name"


def test_resolve_model_refuses_a_nul_byte(tmp_path):
    with pytest.raises(CheckpointError):
        catalog.resolve_model("a\x00b", tmp_path)


def test_resolve_model_finds_models_with_or_without_suffix(tiny_models_dir):
    path = catalog.resolve_model("tiny_numbers", tiny_models_dir)
    assert path == (tiny_models_dir / "tiny_numbers.safetensors").resolve()
    assert catalog.resolve_model("tiny_numbers.safetensors", tiny_models_dir) == path
    with pytest.raises(CheckpointError) as caught:
        catalog.resolve_model("tiny_letters", tiny_models_dir)
    assert caught.value.code == "missing" and "tiny_letters" in caught.value.message


def test_list_models_reads_metadata_and_lists_broken_files_last(tmp_path, tiny_models_dir):
    for source in tiny_models_dir.glob("*.safetensors"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    ckpt.save(tmp_path / f"{catalog.DEFAULT_MODEL}.safetensors", _checkpoint())
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 100)
    save_file({"w": torch.zeros(1)}, str(tmp_path / "alien.safetensors"))
    (tmp_path / "notes.txt").write_text("not a model")

    infos = catalog.list_models(tmp_path)
    names = [info.name for info in infos]
    assert names == [catalog.DEFAULT_MODEL, "tiny_numbers", "tiny_numbers_none", "tiny_zh_en", "alien", "broken"]
    by_name = {info.name: info for info in infos}
    assert all(by_name[n].ok and by_name[n].error is None for n in names[:4])
    assert by_name["tiny_numbers"].attention == "additive" and by_name["tiny_numbers_none"].attention == "none"
    assert by_name["tiny_numbers"].corpus == "toy:numbers"
    assert by_name["broken"].error.code == "corrupt" and not by_name["broken"].ok
    assert by_name["alien"].error.code == "foreign"
    assert by_name["broken"].attention == "?" and by_name["broken"].test_metrics == {}


@pytest.mark.parametrize("name, expected", [("my model!", "my_model"), ("../../etc", "etc"), ("a" * 100, "a" * 48),
                                            ("hsk-dot_2", "hsk-dot_2"), ("  spaced  out ", "spaced_out")])
def test_sanitize_name(name, expected):
    assert catalog.sanitize_name(name) == expected


@pytest.mark.parametrize("name", ["", "   ", "../..", "!!!"])
def test_sanitize_name_rejects_names_without_letters(name):
    with pytest.raises(CheckpointError) as caught:
        catalog.sanitize_name(name)
    assert caught.value.code == "bad_name"


def test_model_info_reports_attribution_and_chrf_per_test_set(tmp_path):
    """The model card's data line and per-test-set figures come from the record, and bad values are ignored."""
    from seq2seq_lab.catalog import ModelInfo

    record = {"corpus": "everyday", "attribution": "HSK … Tatoeba (CC BY 2.0 FR) …",
              "test": {"greedy": {"chrf": 40.0}, "beam5": {"chrf": 41.5}},
              "tests": {"tatoeba": {"beam5": {"chrf": 48.25}}, "everyday": {"beam5": {"chrf": "n/a"}}}}
    info = ModelInfo("everyday_additive", tmp_path / "x.safetensors", {}, record)
    assert info.attribution.startswith("HSK")
    assert info.test_set_chrf() == {"hsk": 41.5, "tatoeba": 48.25}
    odd = ModelInfo("odd", tmp_path / "y.safetensors", {}, {"corpus": "toy:numbers", "attribution": ["x"],
                                                             "tests": "broken"})
    assert odd.attribution == "" and odd.test_set_chrf() == {}
