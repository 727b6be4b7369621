"""People's names the model cannot know: found, written in pinyin, and read through a stand-in.

A word-level model knows only the names its training data had: 王芳 (not in the everyday models'
vocabulary) reaches it as the characters 王 / 芳, and it writes "My name is Hopkins." Names are what a
class types first (我叫王芳。), so a name the vocabulary lacks goes to the model as a **stand-in** it
knows well — 汤姆, which it writes as "Tom" — and the stand-in's English is written back as the
name's pinyin, the way Chinese names are written in English (Wang Fang):

    我 / 叫 / 王芳 / 。  →  model reads  我 / 叫 / 汤姆 / 。  →  writes  my name is Tom .
                                                       →  shown  "My name is Wang Fang."

The model's own tokens stay what it computed (the heatmap's rows and columns show "Tom" and 汤姆);
only the text shown as the translation has the name back. This is the placeholder trick of
phrase-based and early neural MT systems for names and numbers, without retraining.

What counts as a person's name (:func:`is_person_name`), all four:

1. jieba did not find the word in its dictionary but built it from characters (its HMM), 2 or 3
   characters long — established words and names (汤姆, 王老师, 安静) are dictionary words, and jieba
   tags many of them ``nr`` wrongly: of the 32 such words in the training sentences that the default
   model lacks, about a quarter are Chinese personal names (胡锦涛, 姚明), the rest 邱吉尔, 卢浮宫, 陶醉, 杨梅;
2. jieba's tagger calls it a person's name (``nr``);
3. it starts with one of the hundred commonest Chinese surnames (:data:`SURNAMES`), or it is a
   nickname 小 + one character (小明 → Xiaoming, 小王 → Xiao Wang);
4. for a surname that is also an everyday word starting a phrase (张 a measure word, 钱 money, 白
   white, …: :data:`WORDLIKE_SURNAMES`), only right after 叫 ("is called"): 他叫张伟 is a name,
   画张画 and 钱花完了 are not — or, for 张, which as a measure word never opens a sentence, at the
   start of a sentence or clause (张伟是我的朋友。).

The translator uses a stand-in only for a name its model's vocabulary lacks: a name the model was
trained on (何塞 → Jose) is left to it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

# The hundred commonest Chinese surnames (China's 2019 household register), commonest first.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
# Surnames that are also common words at the start of a phrase (a measure word, money, soup, white, horse, week,
# to wear, towards, tall, gold, …): jieba's HMM glues them to the next character (张画, 钱花, 汤里, 白狗), so they
# count only after 叫. Found by listing every candidate name in the 60k training sentences (#8).
WORDLIKE_SURNAMES = set("张钱汤白马熊周戴宋向高金石方夏龙江毛万于余叶田史雷黄林陆程段孔武严莫任付韩")
NAMING_WORDS = {"叫", "叫做", "名叫"}        # X 叫 <name>: "is called"
OPENING_SURNAMES = set("张")                 # never a word at the start of a sentence or clause
CLAUSE_BREAKS = set(",.!?;:，。！？；：、\"“”")   # what may stand before a clause's first word
NICKNAME = "小"
# Surnames that pypinyin reads with a word's sound, not the surname's (曾经 céng, the surname Zēng).
SURNAME_READINGS = {"曾": "zeng", "覃": "qin"}
# Names every everyday model knows and writes back reliably (scripts/measure_names.py: each comes out exactly once in
# 9–10 of 10 sentence frames for every model with attention), tried in this order; one per distinct name.
STAND_INS = (("汤姆", "Tom"), ("玛丽", "Mary"), ("约翰", "John"), ("杰克", "Jack"))
NAME_TAGS = {"nr", "nrfg", "nrt"}            # jieba's tags for a person's name

_lock = threading.Lock()
_tagger = None


@dataclass(frozen=True)
class Name:
    """A person's name in the input, the stand-in the model reads instead, and how it is written back."""

    word: str              # 王芳, as jieba cut it
    pinyin: str            # "Wang Fang", what the translation shows
    stand_in: str          # 汤姆, what the model reads
    stand_in_en: str       # "Tom", what the model writes for it (any case: "tom" at a sentence's start)

    def to_dict(self) -> dict:
        return asdict(self)


def _pos_tagger():
    """jieba's part-of-speech tagger over the shared tokenizer (its tables load once, on the first name)."""
    global _tagger
    import jieba.posseg

    from .text import jieba_tokenizer
    with _lock:
        if _tagger is None:
            _tagger = jieba.posseg.POSTokenizer(jieba_tokenizer())
    return _tagger


def is_person_name(word: str, previous: str = "") -> bool:
    """True if ``word`` (one jieba word, after the word ``previous``; "" at the start) is a person's name jieba
    built from characters."""
    if not 2 <= len(word) <= 3:
        return False
    nickname = word[0] == NICKNAME and len(word) == 2
    opening = not previous or previous in CLAUSE_BREAKS
    if not nickname and (word[0] not in SURNAMES or (
            word[0] in WORDLIKE_SURNAMES and previous not in NAMING_WORDS
            and not (opening and word[0] in OPENING_SURNAMES))):
        return False
    tagger = _pos_tagger()
    if tagger.tokenizer.FREQ.get(word):          # a dictionary word (汤姆, 王老师, 张开): not built by the HMM
        return False
    tags = tagger.lcut(word)
    return len(tags) == 1 and tags[0].flag in NAME_TAGS


def name_pinyin(word: str) -> str:
    """A name as English writes it: surname, space, given name in one word (王小红 → Wang Xiaohong);
    a nickname in one word (小明 → Xiaoming), or two when it is 小 + a surname (小王 → Xiao Wang)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(word, style=Style.NORMAL, v_to_u=True)         # 吕 → lü, not lv
    if word[0] in SURNAME_READINGS:
        syllables[0] = SURNAME_READINGS[word[0]]
    if word[0] == NICKNAME and word[1] not in SURNAMES:
        return "".join(syllables).capitalize()
    return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"


def find_names(words: list[str], known, target_known) -> dict[str, Name]:
    """The names among ``words`` that the source vocabulary (``known``) lacks, each with its own stand-in:
    a name the model knows, which the target vocabulary (``target_known``) can write, and which the sentence
    does not already use. Names beyond the stand-ins, and all names when none is usable, go to the model as
    they are."""
    found: dict[str, Name] = {}
    free = [(zh, en) for zh, en in STAND_INS if zh in known and en in target_known and zh not in words]
    for i, word in enumerate(words):
        if word in found or word in known or not free or not is_person_name(word, words[i - 1] if i else ""):
            continue
        zh, en = free.pop(0)
        found[word] = Name(word, name_pinyin(word), zh, en)
    return found


def write_back(tokens: list[str], names) -> list[str]:
    """The output tokens with each stand-in's English replaced by its name's pinyin ("tom" → "Wang Fang")."""
    pinyin = {name.stand_in_en.lower(): name.pinyin for name in names}
    return [pinyin.get(token.lower(), token) for token in tokens]


def to_stand_ins(tokens: list[str], names) -> list[str]:
    """The inverse of :func:`write_back` on tokenised English: each name's pinyin (any case: "wang" opens a
    sentence) becomes its stand-in's English, so a reference is compared with what the model read
    (my name is Wang Fang . → my name is Tom .)."""
    out, i = [], 0
    spelled = [(name.pinyin.lower().split(), name.stand_in_en) for name in names]
    while i < len(tokens):
        for words, stand_in in spelled:
            if [token.lower() for token in tokens[i:i + len(words)]] == words:
                out.append(stand_in.lower() if tokens[i][:1].islower() else stand_in)   # "wang" opened a sentence
                i += len(words)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out
