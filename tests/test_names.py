"""People's names the model lacks: found, written in pinyin, read through a stand-in, written back (names.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import SRC_WORDS, TGT_WORDS, build_translator

from seq2seq_lab.checkpoint import Checkpoint, save
from seq2seq_lab.cli import main
from seq2seq_lab.corpus import find_leaks, load_splits
from seq2seq_lab.i18n import t
from seq2seq_lab.names import Name, find_names, is_person_name, name_pinyin, to_stand_ins, write_back
from seq2seq_lab.present import api, catalogue, live, views
from seq2seq_lab.settings import Settings
from seq2seq_lab.text import map_to_vocab, segment_zh
from seq2seq_lab.translator import Translator, detokenize

ROOT = Path(__file__).resolve().parent.parent


# --- what counts as a name ---------------------------------------------------------------------------------

@pytest.mark.parametrize("word, previous", [
    ("王芳", "叫"), ("王芳", "我"), ("李明", ""), ("王小红", "叫"), ("刘洋", "是"),
    ("张伟", "叫"), ("张伟", ""), ("张伟", ","),            # 张 counts after 叫 and where a sentence or clause opens
    ("小明", "叫"),                                          # a nickname
])
def test_names_a_class_types_are_found(word, previous):
    assert is_person_name(word, previous)


@pytest.mark.parametrize("word, previous", [
    ("张画", "画"), ("钱花", ""), ("白狗", "只"), ("汤里", ""),  # a surname that is also a word, gluing to the next
    ("汤姆", "叫"), ("王老师", ""), ("安静", "很"),              # dictionary words: not built from characters
    ("王", "姓"), ("王小红家", ""), ("马克", "叫"),             # one character, four, a dictionary name
    ("学习", "我"), ("芳王", "叫"),                             # no surname first
])
def test_words_that_only_look_like_names_are_not(word, previous):
    assert not is_person_name(word, previous)


@pytest.mark.parametrize("word, pinyin", [
    ("王芳", "Wang Fang"), ("王小红", "Wang Xiaohong"), ("小明", "Xiaoming"), ("小王", "Xiao Wang"),
    ("曾小贤", "Zeng Xiaoxian"),              # the surname's reading, not 曾经's céng
    ("吕布", "Lü Bu"),                        # ü, not pypinyin's v
])
def test_names_are_written_as_english_writes_chinese_names(word, pinyin):
    assert name_pinyin(word) == pinyin


# --- stand-ins -------------------------------------------------------------------------------------------

KNOWN = {"我", "叫", "和", "是", "朋友", "汤姆", "玛丽", "约翰", "杰克"}
TARGET = {"Tom", "Mary", "John", "Jack", "my", "name", "is"}


def test_each_name_the_vocabulary_lacks_gets_its_own_stand_in():
    found = find_names(["我", "叫", "王芳", "和", "李明", "和", "王芳"], KNOWN, TARGET)
    assert found == {"王芳": Name("王芳", "Wang Fang", "汤姆", "Tom"), "李明": Name("李明", "Li Ming", "玛丽", "Mary")}


def test_a_stand_in_already_in_the_sentence_is_not_used_again():
    found = find_names(["汤姆", "和", "王芳", "是", "朋友"], KNOWN, TARGET)
    assert found["王芳"].stand_in == "玛丽"


def test_names_the_model_knows_and_models_without_stand_ins_are_left_alone():
    assert find_names(["我", "叫", "王芳"], KNOWN | {"王芳"}, TARGET) == {}                  # the model learned it
    assert find_names(["我", "叫", "王芳"], KNOWN - {"汤姆", "玛丽", "约翰", "杰克"}, TARGET) == {}
    assert find_names(["我", "叫", "王芳"], KNOWN, TARGET - {"Tom", "Mary", "John", "Jack"}) == {}
    many = ["王芳", "李明", "刘洋", "陈静", "赵丽"]                                          # more names than stand-ins
    assert list(find_names(many, KNOWN, TARGET)) == many[:4]


def test_the_stand_in_goes_to_the_model_and_its_english_comes_back_as_the_name():
    name = Name("王芳", "Wang Fang", "汤姆", "Tom")
    tokens = map_to_vocab(["我", "叫", "王芳"], KNOWN, {"王芳": name})
    assert [(tok.text, tok.kind, tok.word, tok.model_token) for tok in tokens][-1] == ("汤姆", "name", "王芳", "汤姆")
    assert write_back(["tom", "is", "my", "friend", ".", "Tom", "'s"], [name]) == \
        ["Wang Fang", "is", "my", "friend", ".", "Wang Fang", "'s"]                     # any case: "tom" opens
    assert detokenize(["tom", "is", "here", ".", "</s>"], "english", [name]) == "Wang Fang is here."
    assert to_stand_ins(["wang", "Fang", "is", "here", ".", "Wang", "Fang", "'s", "Fang"], [name]) == \
        ["tom", "is", "here", ".", "Tom", "'s", "Fang"]                                 # the inverse, on a reference
    assert detokenize(["tom", "is", "here", "."], "english") == "Tom is here."


# --- through a model ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def named_model(tmp_path_factory) -> Path:
    """A random model whose vocabularies hold the stand-ins, saved where the apps' catalogue finds it."""
    translator = build_translator(src_words=SRC_WORDS + ("叫", "汤姆", "玛丽"),
                                  tgt_words=TGT_WORDS + ("my", "name", "Tom", "tom", "Mary"))
    folder = tmp_path_factory.mktemp("names_models")
    save(folder / "tiny_names.safetensors", Checkpoint(translator.model, translator.src_vocab, translator.tgt_vocab,
                                                       {"corpus": "random"}))
    return folder


def test_the_translator_reads_the_stand_in_and_writes_the_name_back(named_model):
    path = named_model / "tiny_names.safetensors"
    tr, alone = Translator.load(path, device="cpu"), Translator.load(path, device="cpu", names=False)
    result = tr.translate("我叫王芳", beam_size=3, prefix=["my", "name", "is", "Tom"])     # forced: the model is random
    assert result.source.names == [Name("王芳", "Wang Fang", "汤姆", "Tom")]
    assert result.src_tokens == ["我", "叫", "汤姆", "</s>"]
    for candidate in result.candidates:
        assert candidate.tokens[:4] == ["my", "name", "is", "Tom"]                 # the model's own tokens …
        assert candidate.text.startswith("My name is Wang Fang")                    # … the name in the text
        assert candidate.attention.shape == (len(candidate.tokens), 4)
    assert tr.translate_batch(["我叫王芳"], beam_size=2, prefix=["Tom"])[0].best.text.startswith("Wang Fang")
    plain = alone.translate("我叫王芳", beam_size=3, prefix=["my", "name", "is", "Tom"])
    assert plain.source.names == [] and "汤姆" not in plain.src_tokens and "Wang Fang" not in plain.best.text


def test_the_apps_show_the_name_while_stepping_and_say_what_happened(named_model):
    settings = Settings(models_dir=named_model, device="cpu")
    model = catalogue.open_model("tiny_names", settings)
    result = live.decode(model, "我叫王芳", {"beam_size": 2, "prefix": "Tom"})
    assert views.text_so_far(result, 1) == "Wang Fang …"                         # the banner while stepping
    for lang in ("en", "zh"):
        note = t("app.name_stand_in", lang, word="王芳", stand_in="汤姆", en="Tom", pinyin="Wang Fang")
        assert note in views.result_meta(result.final, lang)
    panel = views.pipeline(model, "我叫王芳", "en")[0]
    assert "王芳 → 汤姆" in panel.html and t("pipe.legend_name", "en") in panel.html
    reply = api.translate(settings, "我叫王芳", "tiny_names", beam_size=2, prefix="Tom")
    assert reply["names"] == [{"word": "王芳", "pinyin": "Wang Fang", "stand_in": "汤姆", "stand_in_en": "Tom"}]
    assert reply["candidates"][0]["text"].startswith("Wang Fang") and reply["candidates"][0]["tokens"][0] == "tom"
    without = live.decode(model, "我爱学习", {"beam_size": 2})
    assert "汤姆" not in views.result_meta(without.final, "en")


def test_scoring_the_translation_shown_scores_what_the_model_wrote(named_model):
    tr = Translator.load(named_model / "tiny_names.safetensors", device="cpu")
    result = tr.translate("我叫王芳", beam_size=2, prefix=["my", "name", "is", "Tom"])
    written = [token for token in result.best.tokens if token != "</s>"]
    shown = write_back(written, result.source.names)                      # the words the apps show
    assert shown[:4] == ["my", "name", "is", "Wang Fang"]
    assert tr.score("我叫王芳", " ".join(shown)) == pytest.approx(tr.score("我叫王芳", written), abs=1e-5)
    assert tr.score("我叫王芳", "My name is Wang Fang.") == pytest.approx(tr.score("我叫王芳", "My name is Tom."))


def test_the_exposure_view_asks_the_model_about_the_stand_in_it_read(named_model):
    from seq2seq_lab.explain import exposure_bias

    tr = Translator.load(named_model / "tiny_names.safetensors", device="cpu")
    view = exposure_bias(tr, "我叫王芳", "My name is Wang Fang.")
    assert view.reference[:4] == ["my", "name", "is", "Tom"] and view.unknown == []
    assert view.teacher_forced_score == pytest.approx(tr.score("我叫王芳", ["my", "name", "is", "Tom", "."]), abs=1e-5)


def test_the_cli_says_which_name_it_read_through_a_stand_in_and_can_leave_names_alone(named_model, capsys):
    model = str(named_model / "tiny_names.safetensors")
    assert main(["translate", "我叫王芳", "--model", model, "--prefix", "Tom"]) == 0
    out = capsys.readouterr().out
    assert "王芳 read as the stand-in 汤姆" in out and "Wang Fang" in out
    assert main(["translate", "我叫王芳", "--model", model, "--prefix", "Tom", "--no-names"]) == 0
    out = capsys.readouterr().out
    assert "stand-in" not in out and "Wang Fang" not in out


def test_training_validates_the_model_alone(monkeypatch):
    """Validation measures what the model learned: no stand-in names, so a recipe gives the same model as before."""
    from seq2seq_lab import translator as translator_module
    from seq2seq_lab.corpus import Pair
    from seq2seq_lab.train import TrainConfig, fit

    def refuse(*args, **kwargs):
        raise AssertionError("validation looked for names")
    monkeypatch.setattr(translator_module, "find_names", refuse)
    pairs = [Pair(f"p{i}", zh, en) for i, (zh, en) in enumerate(
        [("我叫汤姆。", "My name is Tom."), ("我叫王芳。", "My name is Wang Fang."),
         ("汤姆是我的朋友。", "Tom is my friend.")])]
    result = fit(pairs * 4, pairs, {"emb_size": 8, "hidden_size": 8},
                 TrainConfig(epochs=1, batch_size=4, device="cpu"))
    assert result.history and result.history[0]["epoch"] == 1


# --- the names set -----------------------------------------------------------------------------------------

def test_the_names_set_is_held_out_from_training():
    sys.path.insert(0, str(ROOT / "scripts"))
    from measure_names import load_names_set

    rows = load_names_set()
    assert len(rows) == 30 and sum(len(found) for _, found in rows) == 31
    held = [pair for pair, _ in rows]
    assert find_leaks(load_splits("everyday").train, held) == []
    for pair, found in rows:                                    # every name is in its reference as written
        assert all(name in pair.en for name in found), pair
        assert segment_zh(pair.zh)                              # and the sentence is Chinese text
