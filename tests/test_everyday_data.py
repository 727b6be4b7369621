"""The everyday corpus: Tatoeba and CC-CEDICT loaders, traditional → simplified, dedup, no leak, splits."""

from __future__ import annotations

import pytest

from seq2seq_lab.corpus import (
    EVERYDAY_FILE,
    HSK_ATTRIBUTION,
    LENGTH_FLOOR,
    TOY_TASKS,
    Pair,
    balance_lengths,
    cedict_sense,
    everyday_splits,
    find_leaks,
    hsg_asset,
    load_cedict,
    load_everyday,
    load_hsk,
    load_splits,
    load_tatoeba,
    pronoun_key,
    recorded_splits,
    remove_leaks,
    sentence_key,
    split_of,
    split_pairs,
    to_simplified,
    toy_splits,
)
from seq2seq_lab.errors import CorpusError
from seq2seq_lab.text import has_chinese

# A slice in the packaged file's format: zh_id, Chinese, en_id, English.
TATOEBA_SLICE = [
    "1\t我們試試看！\t1276\tLet's try something.",
    "1\t我們試試看！\t413788\tLet's do it.",
    "900\t我们试试看！\t1276\tLet's try something.",         # the same pair entered in simplified script
    "901\t我们试试看！\t5\tLet's give it a try.",              # … with a translation of its own
    "2\t他是学生。\t7\tHe is a student.",
    "3\t這是什麼？\t8\tWhat is 这个?",                          # half-translated English
    "4\t好。\t9\t...",                                          # no English letters
    "not a line",
    "5\t" + "長" * 130 + "\t10\tA very long sentence.",
]


def test_to_simplified_converts_traditional_and_leaves_simplified_alone():
    assert to_simplified("我們試試看！") == "我们试试看！"
    assert to_simplified("這是什麼？後來") == "这是什么？后来"
    assert to_simplified("我爱学习") == "我爱学习"
    assert to_simplified("Tom 3") == "Tom 3"


def test_load_tatoeba_cleans_converts_and_accounts_for_every_line():
    report = load_tatoeba(TATOEBA_SLICE)
    pairs = [(p.id, p.zh, p.en) for p in report.pairs]
    assert pairs == [("tatoeba:1", "我们试试看!", "Let's try something."),
                     ("tatoeba:1", "我们试试看!", "Let's do it."),
                     ("tatoeba:1", "我们试试看!", "Let's give it a try."),      # id of the first sentence
                     ("tatoeba:2", "他是学生。", "He is a student.")]
    assert report.changed["traditional → simplified"] == 2
    assert sum(report.dropped.values()) + len(report.pairs) == len(TATOEBA_SLICE)
    assert report.dropped["English contains Chinese characters"] == 1
    assert report.dropped["no English translation"] == 1
    assert report.dropped["malformed line"] == 1 and report.errors[0][0] == 8
    assert report.dropped["longer than 120 characters"] == 1
    assert report.dropped["repeated pair (same sentence in both scripts, or listed twice)"] == 1


@pytest.fixture(scope="module")
def tatoeba():
    return load_tatoeba()


def test_the_packaged_tatoeba_file_is_read_whole_and_simplified(tatoeba):
    lines = hsg_asset("tatoeba.tsv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 56_578
    assert len(tatoeba.pairs) + sum(tatoeba.dropped.values()) == len(lines)
    assert len(tatoeba.pairs) > 55_000
    assert tatoeba.changed["traditional → simplified"] > 20_000
    for pair in tatoeba.pairs:
        assert to_simplified(pair.zh) == pair.zh, pair
        assert has_chinese(pair.zh) and not has_chinese(pair.en)


def test_hsg_pickle_is_never_loaded():
    with pytest.raises(ValueError, match="pickle"):
        hsg_asset("ccedict.pickle")
    with pytest.raises(CorpusError):
        hsg_asset("no_such_file.tsv")


CEDICT_SLICE = [
    "# CC-CEDICT",
    "學習 学习 [xue2 xi2] /to learn/to study/",
    "個 个 [ge4] /CL:個|个[ge4]/individual/",
    "王 王 [Wang2] /surname Wang/king/",
    "龢 和 [he2] /old variant of 和[he2]/",
    "電腦 电脑 [dian4 nao3] /computer (CL:臺|台[tai2])/",
    "這 这 [zhe4] /this/these/",
    "broken line",
    "3Q 3Q [san1 Q] /thank you/",
]


def test_cedict_takes_the_first_plain_sense():
    assert cedict_sense(["CL:個|个[ge4]", "individual"]) == "individual"
    assert cedict_sense(["surname Wang", "king"]) == "king"
    assert cedict_sense(["computer (CL:臺|台[tai2])"]) == "computer"
    assert cedict_sense(["old variant of 和[he2]"]) is None
    assert cedict_sense(["a sense with far too many words in it"]) is None


def test_load_cedict_slice():
    report = load_cedict(CEDICT_SLICE)
    assert [(p.id, p.zh, p.en, p.tag) for p in report.pairs] == [
        ("cedict:学习", "学习", "to learn", "dict"), ("cedict:个", "个", "individual", "dict"),
        ("cedict:王", "王", "king", "dict"), ("cedict:电脑", "电脑", "computer", "dict"),
        ("cedict:这", "这", "this", "dict")]
    assert report.dropped["malformed line"] == 1
    assert report.dropped["headword without Chinese characters"] == 1
    assert report.dropped["no short plain-English sense"] == 1
    only = load_cedict(CEDICT_SLICE, words={"电脑"})
    assert [p.zh for p in only.pairs] == ["电脑"]


def test_the_packaged_cedict_is_read_as_text():
    report = load_cedict(words={"学习", "老师", "火车站"})
    assert {p.zh: p.en for p in report.pairs} == {"学习": "to learn", "老师": "teacher",
                                                   "火车站": "train station"}


# --- near-duplicates and leaks --------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [("你好！", "你好。"), ("我們走吧", "我们走吧!"), ("Tom 来了。", "tom来了")])
def test_sentence_key_ignores_punctuation_script_and_case(a, b):
    assert sentence_key(a) == sentence_key(b)


def test_pronoun_key():
    assert pronoun_key(sentence_key("我爱你。")) == pronoun_key(sentence_key("他爱她!")) == "○爱○"
    assert pronoun_key(sentence_key("我们饿了")) == pronoun_key(sentence_key("您饿了"))
    assert pronoun_key(sentence_key("我爱你")) != pronoun_key(sentence_key("我恨你"))


def pairs(*chinese, tag=""):
    return [Pair(f"t{i}", zh, "x", tag=tag) for i, zh in enumerate(chinese)]


def test_remove_leaks_drops_each_kind_of_near_duplicate_and_says_why():
    held = pairs("他很喜欢学习中文。", "谢谢。", "我爱你。")
    train = pairs("他很喜欢学习中文!",          # punctuation
                  "她爱你",                    # a pronoun
                  "喜欢学习中文",               # contained in a held-out sentence
                  "我知道他很喜欢学习中文。",     # contains one
                  "学习中文",                  # contained, four characters: still a leak
                  "中文",                      # too short to count as containment
                  "我爱学习。")                 # unrelated
    kept, dropped = remove_leaks(train, held)
    assert [p.zh for p in kept] == ["中文", "我爱学习。"]
    assert dropped == {"same as a held-out sentence but for punctuation": 1,
                       "same as a held-out sentence but for a pronoun": 1,
                       "contained in a held-out sentence": 2, "contains a held-out sentence": 1}
    assert [p.zh for p in find_leaks(train, held)] == [p.zh for p in train if p not in kept]


def test_dictionary_words_are_not_sentences_but_an_exact_copy_is_a_leak():
    held = pairs("我很喜欢学习中文。", "谢谢。")
    kept, _ = remove_leaks(pairs("学习中文", "谢谢", "学习", tag="dict"), held)
    assert [p.zh for p in kept] == ["学习中文", "学习"]


@pytest.fixture(scope="module")
def everyday():
    return everyday_splits()


def test_everyday_keeps_the_hsk_test_split_exactly(everyday):
    assert everyday.tests["hsk"] == split_pairs(load_hsk().pairs)["test"]
    assert everyday["test"] == everyday.tests["hsk"]
    assert [p.id for p in everyday.tests["hsk"]][:3] == [p.id for p in split_pairs(load_hsk().pairs)["test"]][:3]


def test_everyday_has_no_leak_into_training(everyday):
    held = everyday.valid + [p for test in everyday.tests.values() for p in test]
    assert find_leaks(everyday.train, held) == []
    train_keys = {sentence_key(p.zh) for p in everyday.train}
    assert not train_keys & {sentence_key(p.zh) for p in held}
    held_ids = {p.id for p in held}
    assert not {p.id for p in everyday.train if p.id.startswith("tatoeba:")} & held_ids


def test_the_leak_check_would_catch_the_raw_union(everyday, tatoeba):
    """Without remove_leaks, Tatoeba's training share repeats held-out sentences (so the check above can fail)."""
    raw_train = [p for p in tatoeba.pairs if split_of(p.id, test_percent=4, valid_percent=2) == "train"]
    held = [p for test in everyday.tests.values() for p in test]
    assert len(find_leaks(raw_train, held)) > 100


def test_everyday_sizes_and_report(everyday):
    report = everyday.report
    assert 50_000 < report["train"]["sentences"] < 56_000
    assert report["train"]["dictionary"] > 3_000            # the HSK glossary (the default dictionary)
    assert 1_800 < len(everyday.tests["tatoeba"]) < 2_400
    assert len(everyday.tests["everyday"]) == len(load_everyday()) >= 40
    assert sum(report["leaks removed from training"].values()) > 0
    assert len({p.zh for p in everyday.tests["tatoeba"]}) == len(everyday.tests["tatoeba"])   # one per sentence
    first = everyday.valid[:400]                   # what fit() decodes each epoch: both corpora, interleaved
    assert 150 < sum(p.id.startswith("tatoeba:") for p in first) < 250


def test_tatoeba_split_is_keyed_on_the_sentence_id(tatoeba):
    by_id: dict[str, set[str]] = {}
    for pair in tatoeba.pairs:
        by_id.setdefault(pair.id, set()).add(split_of(pair.id, test_percent=4, valid_percent=2))
    assert all(len(splits) == 1 for splits in by_id.values())     # all translations of a sentence together


@pytest.mark.slow
def test_everyday_splits_are_deterministic():
    a = everyday_splits(dictionary="none")
    b = everyday_splits(dictionary="none")
    assert a.train == b.train and a.valid == b.valid and a.tests == b.tests
    assert not any(p.tag for p in a.train)


def test_everyday_set_file():
    pairs_ = load_everyday()
    assert len(pairs_) >= 40 and len({p.zh for p in pairs_}) == len(pairs_)
    assert {p.id.split(":")[1] for p in pairs_} == {"greetings", "family", "school", "time", "weather", "food",
                                                    "travel"}
    assert EVERYDAY_FILE.parent.name == "seq2seq_lab"      # ships inside the package


def test_load_splits_specs():
    hsk = load_splits("hsk")
    assert hsk["test"] == split_pairs(load_hsk().pairs)["test"]
    toy = load_splits("toy:numbers")
    assert toy.train and toy["test"]
    with pytest.raises(CorpusError):
        load_splits("nope")


def test_load_splits_records_the_data_it_returns():
    hsk = load_splits("hsk")
    sentences = split_pairs(load_hsk().pairs)
    assert hsk.train == sentences["train"] and hsk.valid == sentences["valid"]
    assert hsk.record == {"corpus": "hsk", "attribution": HSK_ATTRIBUTION, "cleaning": dict(load_hsk().dropped),
                          "split": {name: len(pairs) for name, pairs in sentences.items()}}
    toy = load_splits("toy:dates_en")
    distinct = toy_splits("dates_en")
    assert list(toy.tests) == ["toy:dates_en"]
    assert toy.train == balance_lengths(distinct["train"]) and toy.valid == distinct["valid"]
    assert toy.record == {"corpus": "toy:dates_en", "task": TOY_TASKS["dates_en"].title,
                          "split": {"train": len(distinct["train"]), "valid": len(toy.valid), "test": len(toy["test"])},
                          "length_floor": LENGTH_FLOOR, "train_examples": len(toy.train)}


def test_load_splits_adds_the_hsk_glossary_to_training_only():
    plain, with_glossary = load_splits("hsk"), load_splits("hsk", glossary=True)
    extra = with_glossary.train[len(plain.train):]
    assert with_glossary.train[:len(plain.train)] == plain.train and extra
    assert all(p.tag == "dict" and p.id.startswith("gloss:") for p in extra)
    assert with_glossary.valid == plain.valid and with_glossary.tests == plain.tests
    assert with_glossary.record["glossary_pairs"] == len(extra)
    assert with_glossary.record["split"] == plain.record["split"]           # the sentences, as the shipped records
    assert list(with_glossary.record) == ["corpus", "attribution", "cleaning", "glossary_pairs", "split"]
    with pytest.raises(ValueError):
        load_splits("toy:numbers", glossary=True)


def test_load_splits_of_a_files_pairs_goes_by_its_name():
    pairs_ = [Pair(f"line{i}", f"我有{i}本书", f"I have {i} books.") for i in range(200)]
    splits = load_splits("tsv:books.tsv", pairs=pairs_)
    by_hash = split_pairs(pairs_)
    assert splits.train == by_hash["train"] and splits.valid == by_hash["valid"] and splits["test"] == by_hash["test"]
    assert splits.record == {"corpus": "tsv:books.tsv",
                             "split": {name: len(part) for name, part in by_hash.items()}}


def test_recorded_splits_rebuild_the_data_a_record_names():
    shipped_hsk = {"corpus": "hsk", "glossary_pairs": 1}
    assert recorded_splits(shipped_hsk).train == load_splits("hsk", glossary=True).train
    assert recorded_splits({"corpus": "toy:numbers"}).record["corpus"] == "toy:numbers"
    for from_a_file in ({"corpus": "numbers.tsv"}, {"corpus": "tsv:upload"}, {}):
        assert recorded_splits(from_a_file).record == load_splits("hsk").record
