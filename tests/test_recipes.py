"""The shipped-model recipes: each shipped model is what its recipe trains (architecture, settings, data)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from seq2seq_lab.catalog import VARIANT_MODELS
from seq2seq_lab.checkpoint import read_metadata
from seq2seq_lab.corpus import DATA_SPECS
from seq2seq_lab.recipes import SILVER_GUIDED, data_arch, recipe, recipes
from seq2seq_lab.train import TrainConfig

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SHIPPED = [r for r in recipes() if (MODELS_DIR / f"{r.name}.safetensors").is_file()]


def test_every_shipped_model_has_a_recipe():
    names = {r.name for r in recipes()}
    assert len(names) == len(recipes())
    assert {p.stem for p in MODELS_DIR.glob("*.safetensors")} <= names
    assert all(r.data in DATA_SPECS for r in recipes())
    assert not recipe("everyday_additive").glossary          # the everyday data has its own dictionary
    with pytest.raises(KeyError):
        recipe("hsk_lstm")
    assert recipe("everyday_transformer").arch["family"] == "transformer"


def test_the_attention_variants_compare_like_with_like():
    """The variants tab's models: one data spec; the RNNs differ in their attention (and its scaling) only."""
    rnns = [recipe(name) for attention, name in VARIANT_MODELS.items() if attention != "multi_head"]
    assert {r.data for r in rnns} == {recipe(VARIANT_MODELS["multi_head"]).data} == {"everyday"}
    assert [r.arch["attention"] for r in rnns] == [a for a in VARIANT_MODELS if a != "multi_head"]
    scoring = ("attention", "scaled_scores")
    assert len({tuple(sorted((k, v) for k, v in r.arch.items() if k not in scoring)) for r in rnns}) == 1
    assert len({repr(replace(r.train, guided_alignment=0.0)) for r in rnns}) == 1    # none has nothing to guide
    assert {r.train.guided_alignment for r in rnns if r.arch["attention"] != "none"} == {SILVER_GUIDED}


def test_toy_recipes_read_characters_and_join_targets_their_way():
    assert recipe("toy_numbers").arch["src_segmenter"] == "char" and recipe("toy_numbers").arch["tgt_detok"] == "concat"
    assert data_arch("toy:dates_en") == {"src_segmenter": "char", "tgt_detok": "english"}
    assert data_arch("hsk") == data_arch("everyday") == data_arch("toy:poetry") == {}


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda r: r.name)
def test_the_shipped_model_is_what_its_recipe_trains(shipped):
    """Same architecture, training settings and data record as the file says: rebuilding it with
    scripts/train_models.py trains the same recipe on the same data."""
    meta = read_metadata(MODELS_DIR / f"{shipped.name}.safetensors")
    record = meta["record"]
    assert {k: meta["config"][k] for k in shipped.arch} == shipped.arch
    # A file written before a TrainConfig field existed was trained with that field's default.
    assert TrainConfig(**record["train_config"]) == shipped.train
    splits = shipped.splits()
    assert {k: record[k] for k in splits.record} == json.loads(json.dumps(splits.record))
    assert [k for k in record if k in splits.record] == list(splits.record)      # in the same order
    assert record["pairs"]["train"] == len(splits.train)
