"""Alignment scores: the toy tasks' gold alignments, the score itself, and the shipped toy models against both
their whole input domain and the goals of issue #13 (right everywhere; attention on the producing character)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch

from seq2seq_lab import Translator
from seq2seq_lab.alignment import (
    ProbeSentence,
    covering_tokens,
    dictionary_gold,
    english_key,
    load_probe,
    number_gold,
    pair_gold,
    probe_alignment,
    probe_gold,
    score_alignment,
    silver_alignment,
    teacher_forced_attention,
    toy_alignment,
    toy_gold,
)
from seq2seq_lab.catalog import MODELS_DIR
from seq2seq_lab.checkpoint import read_metadata
from seq2seq_lab.corpus import (
    LENGTH_FLOOR,
    Pair,
    balance_lengths,
    chinese_number,
    find_leaks,
    load_splits,
    toy_domain,
    toy_splits,
)
from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
from seq2seq_lab.recipes import TOY_ARCH, recipe
from seq2seq_lab.text import tokenize_target
from seq2seq_lab.train import TrainConfig, fit, selection_key

DIGIT_NUMERALS = {str(d): set(c) for d, c in enumerate(["零", "一", "二两", "三", "四", "五", "六", "七", "八", "九"])}


def characters(zh: str, gold) -> list[str]:
    return ["".join(zh[j] for j in sorted(positions)) for positions in gold]


@pytest.mark.parametrize(("n", "expected"), [
    (3005, ["三", "零", "零", "五"]),            # the zeros inside ← 零
    (3000, ["三", "千", "千", "千"]),            # trailing zeros ← the unit
    (15, ["十", "五"]), (10, ["十", "十"]),      # 十 alone says "1"
    (20, ["二", "十"]), (20000, ["两", "万", "万", "万", "万"]),
    (20010, ["两", "零", "零", "一", "十"]), (0, ["零"]), (7, ["七"]),
])
def test_number_gold_worked_examples(n, expected):
    assert characters(chinese_number(n), number_gold(n)) == expected


def test_number_gold_points_every_digit_at_a_character_that_can_produce_it():
    """Over the whole domain: one gold position per digit, inside the numeral; a non-zero digit's is its own
    numeral (or the 十 of 十…), a zero's is 零 or a unit, and a 零 is never the gold of a non-zero digit."""
    for n in range(100_000):
        zh, gold = chinese_number(n), number_gold(n)
        assert len(gold) == len(str(n)) and all(len(g) == 1 and max(g) < len(zh) for g in gold), n
        for digit, (position,) in zip(str(n), gold):
            char = zh[position]
            if digit == "0":
                assert char in "零十百千万", n
            else:
                assert char in DIGIT_NUMERALS[digit] or (digit == "1" and char == "十"), n


def test_date_gold_worked_examples():
    zh = "二〇二四年三月五日"
    assert characters(zh, toy_gold("dates_iso", zh, "2024-03-05")) == [
        "二", "〇", "二", "四", "年", "三", "三", "月", "五", "五"]               # a padding zero ← its numeral
    zh = "二〇二四年十二月二十日"
    gold = toy_gold("dates_en", zh, "December 20, 2024")
    assert len(gold) == len(tokenize_target("December 20, 2024", "english")) and gold[2] is None   # ","
    assert characters(zh, [g for g in gold if g]) == ["十二月", "二十日", "二〇二四年"]


def test_every_date_has_one_gold_set_per_target_token():
    for zh, iso in toy_domain("dates_iso")[::97]:
        assert len(toy_gold("dates_iso", zh, iso)) == len(tokenize_target(iso, "concat")) == 10


def test_the_score_counts_peaks_on_gold_and_the_weight_there():
    gold = [{0}, {1}, None, {2, 3}]
    exact = np.eye(4)                                        # each row's weight on its own position
    assert score_alignment([exact], [gold]).as_dict() == {"argmax": 1.0, "weight": 1.0, "tokens": 3, "sentences": 1}
    shifted = np.roll(np.eye(4), 1, axis=1)                  # one column late: peaks at 1, 2, 3, 0
    assert score_alignment([shifted], [gold]).as_dict() == {"argmax": 0.0, "weight": 0.0, "tokens": 3,
                                                            "sentences": 1}
    half = np.full((4, 4), 0.25)
    assert score_alignment([half], [gold]).weight == pytest.approx((0.25 + 0.25 + 0.5) / 3)


def test_balance_lengths_repeats_short_inputs_and_drops_nothing():
    pairs = toy_splits("numbers")["train"]
    balanced = balance_lengths(pairs)
    assert Counter(p.id for p in pairs) == Counter({p.id: 1 for p in pairs})                    # distinct ids
    counts = Counter(p.id for p in balanced)
    assert set(counts) == {p.id for p in pairs}
    by_length = Counter(len(p.zh) for p in balanced)
    assert min(by_length.values()) >= LENGTH_FLOOR * len(pairs)
    assert all(counts[p.id] == counts[q.id] for p in pairs for q in pairs[:50] if len(p.zh) == len(q.zh))


def test_numbers_of_every_length_are_common_in_the_toy_data():
    pairs = [p for split in toy_splits("numbers").values() for p in split]
    lengths = Counter(len(p.en) for p in pairs)
    assert lengths[1] == 10 and lengths[2] == 90                              # every one- and two-digit number
    round_numbers = [p for p in pairs if p.en.endswith("000")]
    assert len(round_numbers) > 50          # 三千, 两万, 四万五千 … (90; drawn uniformly from 0–99,999: about 5)


def test_the_domains_are_every_number_and_every_date():
    numbers = toy_domain("numbers")
    assert len(numbers) == 100_000 and numbers[3005] == ("三千零五", "3005")
    dates = dict(toy_domain("dates_en"))
    assert len(dates) == 73_049 and dates["二〇二四年二月二十九日"] == "February 29, 2024"
    assert "一九〇〇年二月二十九日" not in dates                                 # 1900 was no leap year


def test_selecting_on_exact_match_prefers_the_later_epoch_only_by_a_lower_loss():
    exact = TrainConfig(select_on="exact")
    perfect = {"exact": 1.0, "chrf": 100.0}
    assert selection_key({**perfect, "loss": 0.01}, exact) > selection_key({**perfect, "loss": 0.02}, exact)
    assert selection_key({"exact": 0.99, "chrf": 100, "loss": 0.001}, exact) < selection_key(
        {**perfect, "loss": 0.5}, exact)
    assert selection_key({"exact": 0, "chrf": 30.0, "loss": 9.0}, TrainConfig()) == (30.0,)
    with pytest.raises(ValueError, match="select_on"):
        TrainConfig(select_on="bleu")


# --- the shipped toy models ---------------------------------------------------------------------------------------

TOYS = ("numbers", "dates_iso", "dates_en")


@pytest.fixture(scope="module", params=TOYS)
def shipped_toy(request):
    path = MODELS_DIR / f"toy_{request.param}.safetensors"
    return request.param, Translator.load(path, device="cpu"), read_metadata(path)["record"]


def test_a_shipped_toy_model_is_right_on_its_whole_domain(shipped_toy):
    """The record says 100 % over the whole domain (measured by scripts/train_models.py on every input);
    here every short input, every round number and a spread sample of the rest, decoded again."""
    task, translator, record = shipped_toy
    assert record["domain"]["exact"] == 1.0 and record["domain"]["wrong"] == 0
    assert record["domain"]["inputs"] == len(toy_domain(task))
    domain = toy_domain(task)
    sample = [p for i, p in enumerate(domain) if len(p[0]) <= 3 or p[1].endswith("00") or i % 53 == 0]
    results = translator.translate_batch([zh for zh, _ in sample], beam_size=1, batch_size=1024)
    wrong = [(zh, answer, r.best.text) for (zh, answer), r in zip(sample, results) if r.best.text != answer]
    assert wrong == []


def test_a_shipped_toy_models_recorded_alignment_is_what_its_weights_give(shipped_toy):
    task, translator, record = shipped_toy
    score = toy_alignment(translator, task, load_splits(f"toy:{task}")["test"])
    assert record["alignment"]["data"] == "test"
    assert score.argmax == pytest.approx(record["alignment"]["argmax"], abs=0.005)     # (stored in fp16)
    assert score.weight == pytest.approx(record["alignment"]["weight"], abs=0.01)


@pytest.mark.parametrize("task", TOYS)
def test_the_toy_models_look_at_the_character_they_translate(task):
    """#13's goal, ≥ 95 % of output tokens with the attention peak on the producing character."""
    translator = Translator.load(MODELS_DIR / f"toy_{task}.safetensors", device="cpu")
    assert toy_alignment(translator, task, load_splits(f"toy:{task}")["test"]).argmax >= 0.95


def test_the_iso_date_models_padding_zeros_look_at_the_numeral_they_pad():
    """What guided alignment fixed (#13): the 0 of 03 looked at 月, of 10 at 日 (0 % of those zeros right)."""
    translator = Translator.load(MODELS_DIR / "toy_dates_iso.safetensors", device="cpu")
    [attention] = teacher_forced_attention(translator, ["二〇二四年三月十日"], [list("2024-03-10")])
    peaks = "".join("二〇二四年三月十日"[j] for j in attention.argmax(axis=1))
    assert peaks == "二〇二四年三三月十十"          # 0 ← 三 (pads 3), 3 ← 三, - ← 月, 1 ← 十, 0 ← 十 (trailing)


# --- guided alignment ---------------------------------------------------------------------------------------------


def test_alignment_loss_is_the_negative_log_weight_on_the_gold_tokens():
    from seq2seq_lab.train import alignment_loss

    attention = torch.tensor([[[0.7, 0.2, 0.1], [0.5, 0.5, 0.0], [0.1, 0.1, 0.8]]])     # (B=1, T=3, S=3)
    mask = torch.tensor([[[1.0, 0, 0], [0, 1, 1], [0, 0, 0]]])                            # step 3: no gold
    expected = -(math.log(0.7) + math.log(0.5)) / 2
    assert alignment_loss(attention, mask).item() == pytest.approx(expected)
    perfect = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [0.2, 0.3, 0.5]]])
    assert alignment_loss(perfect, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert alignment_loss(attention, torch.zeros_like(mask)).item() == 0.0        # no gold anywhere: no term


def test_gold_mask_marks_each_steps_gold_positions_of_its_own_example():
    from seq2seq_lab.train import gold_mask

    pairs = [Pair("a", "三", "3"), Pair("b", "三千零五", "3005")]
    examples = tokenize_pairs(pairs, "char", "concat")
    src_vocab, tgt_vocab = build_vocabs(examples)
    [batch] = make_batches(examples, src_vocab, tgt_vocab, batch_size=2)
    golds = [toy_gold("numbers", p.zh, p.en) for p in pairs]
    mask = gold_mask(golds, batch)
    assert mask.shape == (2, 5, 5)                                  # 4 digits + </s>; 4 characters + </s>
    row = batch.indices.index(1)                                    # 3005 ← 三 / 零 / 零 / 五
    assert mask[row].nonzero().tolist() == [[0, 0], [1, 2], [2, 2], [3, 3]]
    assert mask[batch.indices.index(0)].nonzero().tolist() == [[0, 0]]


def test_gold_mask_covers_every_piece_of_a_word_fed_as_pieces():
    """Gold sets count words; a word fed as its characters (training's char_split_prob) is all of them."""
    import random

    from seq2seq_lab.train import gold_mask

    pairs = [Pair("a", "我爱学习。", "I love studying.")]
    examples = tokenize_pairs(pairs, "jieba")                           # 我 / 爱 / 学习 / 。
    src_vocab, tgt_vocab = build_vocabs(examples)
    golds = [[{0}, {1}, {2}, None]]                                   # i ← 我, love ← 爱, studying ← 学习
    [whole] = make_batches(examples, src_vocab, tgt_vocab, batch_size=1)
    assert gold_mask(golds, whole)[0].nonzero().tolist() == [[0, 0], [1, 1], [2, 2]]
    [pieces] = make_batches(examples, src_vocab, tgt_vocab, batch_size=1, shuffle=True, rng=random.Random(0),
                            char_split_prob=1.0)                      # 我 / 爱 / 学 / 习 / 。
    assert pieces.src[0].tolist() == src_vocab.encode(["我", "爱", "学", "习", "。"]) + [src_vocab.eos_id]
    assert pieces.word_starts == [[0, 1, 2, 4, 5, 6]]
    assert gold_mask(golds, pieces)[0].nonzero().tolist() == [[0, 0], [1, 1], [2, 2], [2, 3]]


def test_english_key_folds_the_forms_a_dictionary_sense_does_not_write():
    words = ["students", "went", "my", "going", "class", "cities", "studied", "thing", "things"]
    assert [english_key(w) for w in words] == ["student", "go", "i", "go", "class", "city", "study", "thing",
                                               "thing"]
    for forms in (["like", "liked", "likes", "liking"], ["stop", "stopped", "stopping"], ["watch", "watches"],
                  ["Beijing", "beijing"]):
        assert len({english_key(w) for w in forms}) == 1, forms
    assert [english_key(w) for w in ["the", "a", "to", ".", "，", "n't", "3"]] == [None, None, None, None, None,
                                                                                  "not", "3"]


def test_dictionary_gold_links_what_an_entry_explains_and_nothing_ambiguous():
    entries = {"我": frozenset({"i"}), "学生": frozenset({"student"}), "是": frozenset({"be"}),
               "好": frozenset({"good"}), "很": frozenset({"very", "good"}), "非常": frozenset({"very", "good"})}
    assert dictionary_gold(["我", "是", "学生", "。"], ["i", "am", "a", "student", "."], entries) \
        == [{0}, {1}, None, {2}, None]
    assert dictionary_gold(["好", "很", "非常", "3"], ["good", "very", "3"], entries) \
        == [None, {1, 2}, {3}]                                           # three words say "good": unlinked
    assert dictionary_gold(["他"], ["he"], entries) == [None]                  # no entry: no link


def test_a_training_pairs_silver_gold_comes_from_cc_cedict_and_skips_the_tag():
    assert pair_gold(Pair("s", "我是学生。", "I am a student.")) == [{0}, {1}, None, {2}, None]
    assert pair_gold(Pair("s", "他们昨天去了北京。", "They went to Beijing yesterday.")) \
        == [{0}, {2}, None, {4}, {1}, None]
    assert pair_gold(Pair("g", "学习", "to learn", tag="dict")) == [None, {1}]     # <dict> 学习 → to learn
    assert recipe("everyday_additive").gold() is pair_gold


def test_silver_alignment_scores_the_attention_against_the_dictionary_links():
    assert covering_tokens(["今天天气", "很", "好"], ["今天", "天气", "很", "好"]) == [{0, 1}, {2}, {3}]
    translator = Translator.load(MODELS_DIR / "everyday_additive.safetensors", device="cpu")
    pairs = [Pair("a", "我是学生。", "I am a student."),
             Pair("b", "他们昨天去了北京。", "They went to Beijing yesterday.")]
    references = [tokenize_target(p.en, "english") for p in pairs]
    assert [[t.text for t in translator.analyze(p.zh).tokens[:-1]] for p in pairs] == [
        ["我", "是", "学生", "。"], ["他们", "昨天", "去", "了", "北京", "。"]]          # one token a word here
    expected = score_alignment(teacher_forced_attention(translator, [p.zh for p in pairs], references),
                               [pair_gold(p) for p in pairs])
    assert silver_alignment(translator, pairs) == expected and expected.tokens == 3 + 4


def test_guided_alignment_moves_the_attention_to_the_gold_tokens():
    """The same small run with and without the alignment term: with it, the peaks find the producing character."""
    splits = toy_splits("dates_iso", size=300, seed=1)
    arch = {**TOY_ARCH, "src_segmenter": "char", "tgt_detok": "concat", "emb_size": 16, "hidden_size": 24}
    config = TrainConfig(epochs=6, batch_size=32, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                         device="cpu", max_valid=8)
    gold = recipe("toy_dates_iso").gold()
    plain = fit(splits["train"], splits["valid"], arch, config)
    guided = fit(splits["train"], splits["valid"], arch, replace(config, guided_alignment=1.0), gold=gold)
    scores = [toy_alignment(Translator(r.checkpoint, device="cpu"), "dates_iso", splits["test"]).argmax
              for r in (plain, guided)]
    assert scores[1] > 0.85 and scores[1] > scores[0] + 0.3, scores     # (here 0.91 against 0.34)
    with pytest.raises(ValueError, match="gold"):
        fit(splits["train"], splits["valid"], arch, replace(config, guided_alignment=1.0))


def test_guided_alignment_moves_a_transformers_heatmap_too():
    """For a Transformer the guided attention is the heatmap's (the last layer's heads averaged)."""
    splits = toy_splits("dates_iso", size=300, seed=1)
    arch = {"family": "transformer", "d_model": 32, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ff_size": 64,
            "dropout": 0.0, "src_segmenter": "char", "tgt_detok": "concat"}
    config = TrainConfig(epochs=6, batch_size=32, lr=3e-3, warmup_steps=20, schedule="linear", label_smoothing=0.0,
                         char_split_prob=0.0, seed=0, device="cpu", max_valid=8)
    gold = recipe("toy_dates_iso").gold()
    plain = fit(splits["train"], splits["valid"], arch, config)
    guided = fit(splits["train"], splits["valid"], arch, replace(config, guided_alignment=1.0), gold=gold)
    scores = [toy_alignment(Translator(r.checkpoint, device="cpu"), "dates_iso", splits["test"]).weight
              for r in (plain, guided)]
    assert scores[1] > scores[0] + 0.3, scores                         # (here 0.51 against 0.12)


def test_teacher_forced_attention_is_the_heatmap_of_the_reference(shipped_toy):
    """The attention scored is the one the app draws: decoding 三千零五 greedily gives the same rows."""
    task, translator, _ = shipped_toy
    zh = {"numbers": "三千零五"}.get(task, "二〇二四年三月五日")
    result = translator.translate(zh, beam_size=1)
    (forced,) = teacher_forced_attention(translator, [zh], [result.best.tokens[:-1]])
    np.testing.assert_allclose(forced, result.best.attention[:-1], atol=1e-5)



# --- the Chinese–English probe ------------------------------------------------------------------------------------


def test_every_probe_link_is_in_its_sentence_and_its_reference():
    probe = load_probe()
    assert len(probe) == 30 and sum(len(s.links) for s in probe) >= 100
    for sentence in probe:
        reference = [t.lower() for t in tokenize_target(sentence.en, "english")]
        words = [english.lower() for _, english in sentence.links]
        assert all(chinese in sentence.zh for chinese, _ in sentence.links), sentence
        assert all(reference.count(w) >= words.count(w) for w in words), sentence


def test_no_probe_sentence_is_in_the_shipped_models_training_data():
    probe = [Pair(f"probe:{i}", s.zh, s.en) for i, s in enumerate(load_probe())]
    training = load_splits("everyday").train + load_splits("hsk", glossary=True).train
    assert find_leaks(training, probe) == []


def test_a_probe_link_covers_whatever_tokens_its_chinese_became():
    sentence = ProbeSentence("他坐火车去南京。", "He takes the train to Nanjing.",
                             (("他", "He"), ("火车", "train"), ("南京", "Nanjing")))
    reference = tokenize_target(sentence.en, "english")            # he takes the train to Nanjing .
    whole = probe_gold(["他", "坐火车", "去", "南京", "。"], reference, sentence)
    assert whole == [{0}, None, None, {1}, None, {3}, None]         # 坐火车 is one token: train ← it
    split = probe_gold(["他", "坐", "火车", "去", "南京", "。"], reference, sentence)
    assert split == [{0}, None, None, {2}, None, {4}, None]


# On the first 300 validation sentences (1,020 silver links) the guided RNNs put 67 % of their peaks on a linked word,
# the Transformer 69 %, the unguided ten-epoch everyday_additive shipped before them 27 %.
SILVER_FLOOR = 0.6
SENTENCE_MODELS = ("everyday_additive", "everyday_dot", "everyday_general", "everyday_scaled_dot",
                   "everyday_transformer")


@pytest.mark.parametrize("name", SENTENCE_MODELS)
def test_a_sentence_models_recorded_probe_alignment_is_what_its_weights_give(name):
    path = MODELS_DIR / f"{name}.safetensors"
    recorded = read_metadata(path)["record"]["alignment"]
    score = probe_alignment(Translator.load(path, device="cpu"))
    assert recorded["data"] == "probe" and recorded["tokens"] == score.tokens
    assert score.argmax == pytest.approx(recorded["argmax"], abs=1e-6)
    assert score.weight == pytest.approx(recorded["weight"], abs=1e-4)


@pytest.mark.parametrize("name", SENTENCE_MODELS[:4])
def test_the_rnn_variants_attention_was_guided_and_follows_the_dictionary_on_unseen_sentences(name):
    """Trained with the dictionary's silver links (λ = 1): on the validation split, which they never trained on,
    most of their peaks land on a linked word (the unguided ten-epoch everyday_additive: 27 %)."""
    path = MODELS_DIR / f"{name}.safetensors"
    assert read_metadata(path)["record"]["train_config"]["guided_alignment"] == recipe(name).train.guided_alignment > 0
    score = silver_alignment(Translator.load(path, device="cpu"), load_splits("everyday")["valid"][:300])
    assert score.tokens > 500 and score.argmax >= SILVER_FLOOR, score


def test_every_sentence_model_with_attention_meets_the_probe_goal_and_the_one_without_has_no_score():
    """#13's goal (≥ 80 % on the probe) for every shipped sentence model with attention; everyday_none has nothing
    to score."""
    for name in SENTENCE_MODELS:
        assert probe_alignment(Translator.load(MODELS_DIR / f"{name}.safetensors", device="cpu")).argmax >= 0.8, name
    assert probe_alignment(Translator.load(MODELS_DIR / "everyday_none.safetensors", device="cpu")) is None
