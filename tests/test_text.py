"""Chinese segmentation with sub-word and character fallback, English tokenisation and detokenisation."""

from __future__ import annotations

import pytest

from seq2seq_lab.text import (
    SourceToken,
    detokenize_en,
    detokenize_target,
    fallback_pieces,
    has_chinese,
    map_to_vocab,
    normalize_zh,
    segment_zh,
    tokenize_en,
    tokenize_target,
)
from seq2seq_lab.vocab import Vocab

# --- Chinese ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("我爱学习", ["我", "爱", "学习"]),
    ("我爱学习。", ["我", "爱", "学习", "。"]),
    ("我 爱\t学习", ["我", "爱", "学习"]),             # whitespace never becomes a token
    ("我　爱　学习", ["我", "爱", "学习"]),             # ideographic spaces (U+3000) too
    ("他是谁?", ["他", "是", "谁", "?"]),
    ("我们都爱我们的国家。", ["我们", "都", "爱", "我们", "的", "国家", "。"]),
])
def test_segment_zh_worked_examples(text, words):
    assert segment_zh(text) == words


def test_segment_zh_char_mode_gives_single_characters_without_spaces():
    assert segment_zh("二〇二四年三月五日", mode="char") == list("二〇二四年三月五日")
    assert segment_zh("三千 零五", mode="char") == ["三", "千", "零", "五"]
    assert segment_zh("三千零五") != segment_zh("三千零五", mode="char")   # jieba mode gives words


def test_segment_zh_normalises_full_width_forms():
    assert segment_zh("我有１０本书，") == segment_zh("我有10本书,")
    assert "，" not in segment_zh("你好，世界", mode="char")


def test_segment_zh_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown segmentation mode"):
        segment_zh("我爱学习", mode="bpe")


@pytest.mark.parametrize("text, expected", [
    ("Ａ１，", "A1,"),
    ("  我   爱\n\n学习  ", "我 爱 学习"),
    ("ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"),
])
def test_normalize_zh(text, expected):
    assert normalize_zh(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("我", True), ("hello 我", True), ("〇", True), ("學習", True), ("㐀", True),
    ("hello", False), ("", False), ("😀", False), ("。,!", False), ("１２３", False), ("こんにちは", False),
])
def test_has_chinese(text, expected):
    assert has_chinese(text) is expected


# --- the character fallback ---------------------------------------------------------------

VOCAB = Vocab(["我", "爱", "学", "习", "中文"])


def test_map_to_vocab_keeps_known_words_whole():
    tokens = map_to_vocab(["我", "爱", "中文"], VOCAB)
    assert tokens == [SourceToken("我", "word", "我"), SourceToken("爱", "word", "爱"),
                      SourceToken("中文", "word", "中文")]
    assert [t.model_token for t in tokens] == ["我", "爱", "中文"]


def test_map_to_vocab_splits_an_oov_word_with_known_characters():
    tokens = map_to_vocab(["我", "爱", "学习"], VOCAB)
    assert tokens[2:] == [SourceToken("学", "char", "学习"), SourceToken("习", "char", "学习")]
    assert [t.model_token for t in tokens] == ["我", "爱", "学", "习"]


def test_map_to_vocab_marks_unknown_characters_of_a_split_word_as_unk_one_each():
    tokens = map_to_vocab(["学生们"], VOCAB)        # 学 known, 生 and 们 not
    assert [(t.text, t.kind, t.word) for t in tokens] == [("学", "char", "学生们"), ("生", "unk", "学生们"),
                                                          ("们", "unk", "学生们")]
    assert [t.model_token for t in tokens] == ["学", "<unk>", "<unk>"]


@pytest.mark.parametrize("word", ["龘", "猫狗", "😀"])
def test_map_to_vocab_fully_unknown_word_is_one_unk(word):
    tokens = map_to_vocab([word], VOCAB)
    assert tokens == [SourceToken(word, "unk", word)]
    assert tokens[0].model_token == "<unk>"


SUB_VOCAB = Vocab(["今天", "天气", "今", "天", "气", "手机", "新", "手", "机", "电脑", "课", "好"])


@pytest.mark.parametrize("word, pieces", [
    ("今天天气", ["今天", "天气"]),        # two known words, not four characters
    ("新手机", ["新", "手机"]),            # a known character, then the longest known sub-word
    ("电脑课", ["电脑", "课"]),
    ("好天气", ["好", "天气"]),
    ("天气", ["天", "气"]),               # the word itself never counts as its own piece
    ("猫手机", ["猫", "手机"]),            # an unknown character stays a one-character piece
])
def test_fallback_pieces_take_the_longest_known_sub_words(word, pieces):
    assert fallback_pieces(word, SUB_VOCAB) == pieces
    assert "".join(pieces) == word


def test_map_to_vocab_uses_known_sub_words_before_characters():
    tokens = map_to_vocab(["今天天气", "很", "新手机"], SUB_VOCAB)
    assert [(t.text, t.kind, t.word) for t in tokens] == [
        ("今天", "sub", "今天天气"), ("天气", "sub", "今天天气"), ("很", "unk", "很"),
        ("新", "char", "新手机"), ("手机", "sub", "新手机")]


def test_translator_reports_sub_word_fallback(make_translator):
    """jieba gives 今天天气 as one word; a model that knows 今天 and 天气 sees those, and says so."""
    tr = make_translator(src_words=("今天", "天气", "今", "天", "气", "很", "好"))
    r = tr.translate("今天天气很好", beam_size=1)
    assert r.source.words == ["今天天气", "很", "好"]
    assert [(t.text, t.kind) for t in r.source.tokens] == [("今天", "sub"), ("天气", "sub"), ("很", "word"),
                                                         ("好", "word"), ("</s>", "word")]
    assert r.src_tokens == ["今天", "天气", "很", "好", "</s>"]
    assert r.source.split_words == ["今天天气"] and r.source.unknown == []


def test_training_fallback_practice_feeds_a_known_word_as_its_pieces():
    """source_ids with char_split_prob=1 feeds every known compound as it would be fed if unknown."""
    import random

    from seq2seq_lab.data import source_ids

    vocab = Vocab(["今天天气", "今天", "天气", "今", "天", "气", "很"])
    plain = source_ids(["今天天气", "很"], vocab)
    practice = source_ids(["今天天气", "很"], vocab, rng=random.Random(0), char_split_prob=1.0)
    assert vocab.decode(plain) == ["今天天气", "很", "</s>"]
    assert vocab.decode(practice) == ["今天", "天气", "很", "</s>"]


def test_source_token_to_dict():
    assert SourceToken("学", "char", "学习").to_dict() == {"text": "学", "kind": "char", "word": "学习"}


# --- English -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, tokens", [
    ("It's 5.", ["it", "'s", "5", "."]),
    ("I love studying.", ["i", "love", "studying", "."]),
    ("Hello, world!", ["hello", ",", "world", "!"]),
    ("It costs $5 (five dollars).", ["it", "costs", "$", "5", "(", "five", "dollars", ")", "."]),
    ("I'm here; you're there.", ["i", "'m", "here", ";", "you", "'re", "there", "."]),
    ("A well-known 3.14 100%", ["a", "well-known", "3.14", "100", "%"]),
    ("It’s “fine”.", ["it", "'s", '"', "fine", '"', "."]),     # curly quotes are normalised
    ("ＡＢＣ", ["ABC"]),   # NFKC; an acronym keeps its capitals
])
def test_tokenize_en_worked_examples(text, tokens):
    assert tokenize_en(text) == tokens


@pytest.mark.parametrize("tokens, text", [
    (["i", "love", "studying", "."], "I love studying."),
    (["it", "'s", "5", "."], "It's 5."),
    (["what", "?", "I", "think", "I", "can", "."], "What? I think I can."),     # sentence case after "?"
    (["hello", ",", "world", "!", "how", "are", "you", "?"], "Hello, world! How are you?"),
    (["it", "costs", "$", "5", "(", "five", "dollars", ")", "."], "It costs $5 (five dollars)."),
    (["i", "'m", "fine", ";", "you", "'re", "not", ":", "100", "%"], "I'm fine; you're not: 100%"),
    ([], ""),
    ([".", "."], ".."),
    (['"', "what", "time", "is", "it", "?", '"', "it", "'s", "late", ".", '"'],    # a quote opened, closed, opened
     '"What time is it?" It\'s late. "'),
    (["the", "students", "'", "books"], "The students ' books"),            # a lone ' is not taken for a quote
])
def test_detokenize_en_worked_examples(tokens, text):
    assert detokenize_en(tokens) == text


@pytest.mark.parametrize("text", [
    "It's 5.", "I love studying.", "He is a student.", "Are you hungry? I am.", "Tom's book costs $5 (five dollars).",
    "We meet at 3.30, then go home!", "I'm tired; you're not.",
    '"What time is it?" "It is ten-thirty."', 'He said "hi" to me.', 'I said, "Go!"',   # quotes lean inwards
])
def test_english_round_trips_through_tokens(text):
    assert detokenize_en(tokenize_en(text)) == text


@pytest.mark.parametrize("text", [
    "I don't know.", "He isn't here, and they can't come.", "It's 5 o'clock.", "Prepare your résumé at the café.",
    "This county has 100,000 households.",
])
def test_english_round_trip_of_contractions_and_words_with_marks(text):
    assert detokenize_en(tokenize_en(text)) == text


def test_contractions_are_split_into_word_and_clitic():
    tokens = tokenize_en("I don't know.")
    # Whatever the split, the clitic must be one token the detokeniser glues back.
    assert "'" not in tokens, f"a lone apostrophe token: {tokens}"


def test_target_styles():
    assert tokenize_target("2024-03-05", "concat") == list("2024-03-05")
    assert detokenize_target(list("2024-03-05"), "concat") == "2024-03-05"
    assert tokenize_target("March 5, 2024", "english") == ["march", "5", ",", "2024"]
    assert detokenize_target(["march", "5", ",", "2024"], "english") == "March 5, 2024"
