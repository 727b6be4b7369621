"""Vocab: specials, building from counts, encode/decode, serialisation."""

from __future__ import annotations

from collections import Counter

import pytest

from seq2seq_lab.corpus import Pair
from seq2seq_lab.data import build_vocabs, source_ids, tokenize_pairs
from seq2seq_lab.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab


def test_specials_have_fixed_ids():
    v = Vocab()
    assert v.itos == [PAD, UNK, BOS, EOS] == list(SPECIALS)
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert [v.stoi[s] for s in SPECIALS] == [0, 1, 2, 3]
    assert len(v) == 4


def test_encode_decode_and_unknown_tokens():
    v = Vocab(["我", "爱"])
    assert v.encode(["我", "爱", "猫"]) == [4, 5, v.unk_id]
    assert v.decode([4, 5, 3]) == ["我", "爱", "</s>"]
    assert v.decode(v.encode(["爱", "我"])) == ["爱", "我"]
    assert "我" in v and "猫" not in v


def test_constructor_ignores_duplicates_and_specials():
    v = Vocab(["a", "b", "a", "<s>", "c"])
    assert v.itos == [*SPECIALS, "a", "b", "c"]
    assert all(v.stoi[t] == i for i, t in enumerate(v.itos))


def test_build_orders_by_frequency_then_alphabetically():
    counts = Counter({"b": 3, "a": 3, "c": 5, "d": 1, "<unk>": 9})
    v = Vocab.build(counts)
    assert v.itos[4:] == ["c", "a", "b", "d"]          # the special in the counts is not added twice
    assert Vocab.build(counts, min_freq=2).itos[4:] == ["c", "a", "b"]
    assert Vocab.build(counts, max_size=2).itos[4:] == ["c", "a"]
    assert Vocab.build(counts).itos == Vocab.build(Counter(dict(reversed(list(counts.items()))))).itos


def test_dict_round_trip():
    v = Vocab(["我", "爱", "学习"])
    w = Vocab.from_dict(v.to_dict())
    assert w.itos == v.itos and w.stoi == v.stoi


@pytest.mark.parametrize("itos", [
    ["a", "<unk>", "<s>", "</s>"],
    ["<pad>", "<unk>", "<s>", "</s>", "x", "x"],
    ["<pad>", "<s>", "<unk>", "</s>"],
    [],
])
def test_from_dict_rejects_bad_vocabularies(itos):
    with pytest.raises(ValueError, match="vocabulary must start with"):
        Vocab.from_dict({"itos": itos})


def test_build_vocabs_adds_characters_of_multi_character_words():
    examples = tokenize_pairs([Pair("1", "我爱学习", "I love studying."), Pair("2", "我爱你", "I love you.")],
                              "jieba", "english")
    src, tgt = build_vocabs(examples)
    for token in ("我", "爱", "学习", "学", "习"):
        assert token in src
    assert set(tgt.itos[4:]) == {"i", "love", "studying", "you", "."}


def test_source_ids_fall_back_to_characters_and_end_with_eos():
    src = Vocab(["我", "爱", "学", "习"])
    assert source_ids(["我", "爱", "学习"], src) == src.encode(["我", "爱", "学", "习"]) + [src.eos_id]
    assert source_ids(["猫狗"], src) == [src.unk_id, src.eos_id]       # nothing known: one <unk>
