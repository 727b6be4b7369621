"""Corpora: HSK cleaning and its deterministic split, the TSV parser, the generated toy tasks."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import pytest

from seq2seq_lab.corpus import (
    SPLITS,
    TOY_TASKS,
    Pair,
    chinese_number,
    load_hsk,
    parse_tsv,
    split_of,
    split_pairs,
    toy_splits,
)
from seq2seq_lab.errors import CorpusError, LabError
from seq2seq_lab.text import has_chinese

# --- HSK ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsk():
    return load_hsk()


@pytest.fixture(scope="module")
def hsk_raw():
    from hsk_sentences_audio import load_sentences
    return load_sentences()


def test_hsk_report_accounts_for_every_record(hsk, hsk_raw):
    assert len(hsk.pairs) + sum(hsk.dropped.values()) == len(hsk_raw)
    assert len(hsk.pairs) > 4000
    assert all(count > 0 for count in hsk.dropped.values())


def test_hsk_dropped_counts_match_the_raw_records(hsk, hsk_raw):
    english = [" ".join(r.get("translation", {}).get("en", "").split()) for r in hsk_raw]
    with_chinese = sum(1 for en in english if en and re.search("[A-Za-z]", en) and has_chinese(en))
    assert hsk.dropped.get("English contains Chinese characters", 0) == with_chinese
    without_english = sum(1 for en in english if not re.search("[A-Za-z]", en))
    assert hsk.dropped.get("no English translation", 0) == without_english


def test_hsk_pairs_are_clean(hsk):
    ids = [p.id for p in hsk.pairs]
    chinese = [p.zh for p in hsk.pairs]
    assert len(set(ids)) == len(ids)
    assert len(set(chinese)) == len(chinese), "a Chinese sentence is kept twice"
    for pair in hsk.pairs:
        assert has_chinese(pair.zh)
        assert re.search("[A-Za-z]", pair.en) and not has_chinese(pair.en), pair
        assert pair.en == pair.en.strip() and "  " not in pair.en
        assert not re.search(r"[(\[][^)\]]*[)\]]", pair.en), f"bracketed note left in {pair}"


def test_hsk_changed_count_is_the_number_of_notes_removed(hsk, hsk_raw):
    kept = {p.id for p in hsk.pairs}
    with_notes = sum(1 for r in hsk_raw if r["id"] in kept
                     and re.search(r"[(\[][^)\]]*[)\]]", r["translation"]["en"]))
    assert hsk.changed.get("bracketed note removed", 0) == with_notes


def test_hsk_drops_placeholder_translations(hsk):
    placeholders = [p for p in hsk.pairs if re.fullmatch(r"placeholder(-\w+)?", p.en.strip().lower())]
    assert placeholders == []


def test_hsk_split_is_deterministic_disjoint_and_complete(hsk):
    first, second = split_pairs(hsk.pairs), split_pairs(list(reversed(hsk.pairs)))
    assert set(first) == set(SPLITS)
    for name in SPLITS:
        assert {p.id for p in first[name]} == {p.id for p in second[name]}
    ids = [{p.id for p in first[name]} for name in SPLITS]
    chinese = [{p.zh for p in first[name]} for name in SPLITS]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not ids[a] & ids[b]
            assert not chinese[a] & chinese[b], "a sentence is in two splits"
    assert sum(len(s) for s in first.values()) == len(hsk.pairs)
    n = len(hsk.pairs)
    assert abs(len(first["test"]) / n - 0.10) < 0.03
    assert abs(len(first["valid"]) / n - 0.05) < 0.02


def test_split_of_does_not_depend_on_the_interpreter(hsk):
    """A record's split comes from SHA-1 of its id: a new process with another hash seed agrees."""
    ids = [p.id for p in hsk.pairs[:500]]
    code = ("import json, sys; from seq2seq_lab.corpus import split_of; "
            "print(json.dumps([split_of(i) for i in json.loads(sys.stdin.read())]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True,
                         env=env, cwd=os.path.dirname(os.path.dirname(__file__)), check=True, timeout=60)
    assert json.loads(out.stdout) == [split_of(i) for i in ids]


def test_split_of_percentages():
    ids = [f"record-{i}" for i in range(4000)]
    assert {split_of(i, test_percent=0, valid_percent=0) for i in ids} == {"train"}
    assert {split_of(i, test_percent=100) for i in ids} == {"test"}
    share = sum(split_of(i, test_percent=30, valid_percent=20) == "valid" for i in ids) / len(ids)
    assert abs(share - 0.20) < 0.03


# --- TSV -----------------------------------------------------------------------------------------

TATOEBA = ("Hi.\t嗨。\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #4576163 (Ethan_lin)\n"
           "I love you.\t我爱你。\tCC-BY 2.0 (France) Attribution: tatoeba.org #1434 (awael) & #332374 (fucongcong)\n")


def test_tsv_english_first_and_chinese_first_give_the_same_pairs():
    en_first = parse_tsv("I love you.\t我爱你。\nHe is a student.\t他是学生。\n", name="a.tsv")
    zh_first = parse_tsv("我爱你。\tI love you.\n他是学生。\tHe is a student.\n", name="a.tsv")
    expected = [("我爱你。", "I love you."), ("他是学生。", "He is a student.")]
    assert [(p.zh, p.en) for p in en_first.pairs] == expected
    assert [(p.zh, p.en) for p in zh_first.pairs] == expected
    assert en_first.errors == zh_first.errors == []


def test_tsv_tatoeba_three_column_format():
    report = parse_tsv(TATOEBA.encode("utf-8"), name="cmn.txt")
    assert [(p.zh, p.en) for p in report.pairs] == [("嗨。", "Hi."), ("我爱你。", "I love you.")]
    assert [p.id for p in report.pairs] == ["cmn.txt:1", "cmn.txt:2"]
    assert report.errors == []


def test_tsv_bad_lines_are_reported_by_line_number():
    text = "\n".join([
        "# a comment",                                  # 1: skipped silently
        "I love you.\t我爱你。",                         # 2: good
        "",                                             # 3: blank, skipped silently
        "only one column",                              # 4
        "a\tb\tc\td",                                   # 5: four columns
        "我爱你。\t我爱你。",                             # 6: both Chinese
        "hello\tworld",                                 # 7: no Chinese
        "我爱你。\t!!!",                                  # 8: English without letters
        "他是学生。\t" + "x" * 201,                       # 9: too long
        "He is a student.\t他是学生。",                   # 10: good
        "I love you.\t我爱你。",                         # 11: duplicate of line 2
    ])
    report = parse_tsv(text, name="mixed.tsv")
    assert [(p.id, p.zh, p.en) for p in report.pairs] == [("mixed.tsv:2", "我爱你。", "I love you."),
                                                         ("mixed.tsv:10", "他是学生。", "He is a student.")]
    assert [line for line, _ in report.errors] == [4, 5, 6, 7, 8, 9]
    messages = dict(report.errors)
    assert "found 1" in messages[4] and "found 4" in messages[5]
    assert "both columns contain Chinese" in messages[6]
    assert "no Chinese" in messages[7]
    assert "no letters" in messages[8]
    assert "longer than 200" in messages[9]
    assert report.dropped == {"duplicate pair": 1}


def test_tsv_handles_bom_crlf_and_full_width_chinese():
    data = "\ufeffI love you.\t我爱你，\r\nHe is a student.\t他是学生。\r\n".encode("utf-8")
    report = parse_tsv(data, name="windows.tsv")
    assert [(p.zh, p.en) for p in report.pairs] == [("我爱你,", "I love you."), ("他是学生。", "He is a student.")]


def test_tsv_too_large_is_a_corpus_error_before_decoding():
    with pytest.raises(CorpusError) as caught:
        parse_tsv(b"x" * 2001, name="big.tsv", max_bytes=2000)
    assert caught.value.code == "too_large"
    assert "big.tsv" in caught.value.message
    assert isinstance(caught.value, LabError)


def test_tsv_not_utf8_is_a_corpus_error():
    data = "I love you.\t我爱你。\n".encode("gbk")
    with pytest.raises(CorpusError) as caught:
        parse_tsv(data, name="gbk.tsv")
    assert caught.value.code == "not_utf8"
    assert "gbk.tsv" in caught.value.message and "UTF-8" in caught.value.message


@pytest.mark.parametrize("text", ["", "\n\n# only comments\n", "hello\tworld\n", "我\t你\n"])
def test_tsv_without_any_usable_line_is_a_corpus_error(text):
    with pytest.raises(CorpusError) as caught:
        parse_tsv(text, name="empty.tsv")
    assert caught.value.code == "no_pairs"
    assert "empty.tsv" in caught.value.message
    if text.strip().replace("# only comments", ""):
        assert "line 1" in caught.value.message


def test_tsv_stops_at_max_pairs():
    text = "".join(f"Number {i}.\t数字{i}。\n" for i in range(10))
    report = parse_tsv(text, name="n.tsv", max_pairs=4)
    assert len(report.pairs) == 4
    assert report.dropped == {"lines after the first 4 pairs": 1}


# --- toy tasks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, chinese", [
    (0, "零"), (5, "五"), (10, "十"), (15, "十五"), (20, "二十"), (99, "九十九"), (100, "一百"), (101, "一百零一"),
    (110, "一百一十"), (1010, "一千零一十"), (2000, "两千"), (3005, "三千零五"), (10001, "一万零一"),
    (20000, "两万"), (20710, "两万零七百一十"), (99999, "九万九千九百九十九"),
])
def test_chinese_number_worked_examples(n, chinese):
    assert chinese_number(n) == chinese


@pytest.mark.parametrize("n", [-1, 100_000])
def test_chinese_number_range(n):
    with pytest.raises(ValueError):
        chinese_number(n)


def test_chinese_number_is_one_to_one():
    names = [chinese_number(n) for n in range(100_000)]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("task", sorted(TOY_TASKS))
def test_toy_splits_are_deterministic_disjoint_and_sized(task):
    first, second = toy_splits(task, size=600), toy_splits(task, size=600)
    assert first == second
    assert toy_splits(task, size=600, seed=99) != first
    sources = [{p.zh for p in first[name]} for name in SPLITS]
    assert sum(len(s) for s in sources) == 600
    assert not (sources[0] & sources[1]) and not (sources[0] & sources[2]) and not (sources[1] & sources[2])
    ids = [p.id for name in SPLITS for p in first[name]]
    assert len(set(ids)) == len(ids)
    assert len(first["test"]) > 30 and len(first["valid"]) > 10


def test_toy_splits_unknown_task():
    with pytest.raises(CorpusError) as caught:
        toy_splits("poetry")
    assert caught.value.code == "unknown_task" and "numbers" in caught.value.message


_NUMBER_OF = {chinese_number(n): n for n in range(1, 32)}
_YEAR_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")}


def _parse_chinese_date(text: str) -> dt.date:
    match = re.fullmatch(r"([〇一二三四五六七八九]{4})年(.+)月(.+)日", text)
    assert match, text
    year = int("".join(_YEAR_DIGIT[c] for c in match.group(1)))
    return dt.date(year, _NUMBER_OF[match.group(2)], _NUMBER_OF[match.group(3)])


def test_toy_numbers_pairs_are_correct():
    for pair in (p for split in toy_splits("numbers", size=500).values() for p in split):
        assert chinese_number(int(pair.en)) == pair.zh


def test_toy_dates_pairs_are_real_dates_that_match():
    for pair in (p for split in toy_splits("dates_iso", size=300).values() for p in split):
        assert _parse_chinese_date(pair.zh) == dt.date.fromisoformat(pair.en)
    for pair in (p for split in toy_splits("dates_en", size=300).values() for p in split):
        assert _parse_chinese_date(pair.zh) == dt.datetime.strptime(pair.en, "%B %d, %Y").date()


def test_toy_task_examples_are_well_formed():
    numbers = {chinese_number(n) for n in range(100_000)}
    assert all(example in numbers for example in TOY_TASKS["numbers"].examples)
    assert _parse_chinese_date("二〇二四年三月五日") == dt.date(2024, 3, 5)
    for task in ("dates_iso", "dates_en"):
        for example in TOY_TASKS[task].examples:
            _parse_chinese_date(example)


def test_pair_is_immutable():
    pair = Pair("x", "我", "I")
    with pytest.raises(AttributeError):
        pair.zh = "你"   # type: ignore[misc]
