"""Text in and out of the model: Chinese segmentation and English (de)tokenisation.

Chinese is NFKC-normalised and cut into words with jieba's accurate mode
(我爱学习 → 我 / 爱 / 学习). A word the model's vocabulary lacks falls back to the
longest known sub-words, then characters (今天天气 → 今天 / 天气; see :func:`map_to_vocab`),
so a rare compound still reaches the model; a person's name it lacks goes in as a stand-in name it
knows (王芳 → 汤姆, :mod:`.names`); every source token records how it was obtained.

English is split into words, contractions and punctuation for training, with each
sentence's first word lower-cased and every other word's case kept ("It's Beijing." →
it 's Beijing .), and glued back together for display.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass

import jieba

from .vocab import UNK

# CJK Unified Ideographs (+ extension A and compatibility ideographs).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff〇]")
_SPACES = re.compile(r"\s+")
_EN_TOKEN = re.compile(r"""
      o'clock
    | [^\W_]+(?=n't\b)            # do|n't, ca|n't
    | n't\b | '(?:s|re|ve|ll|d|m)\b
    | \d+(?:[.,:]\d+)+            # 100,000  3.5  10:30
    | [^\W_]+(?:-[^\W_]+)*         # words (any script), hyphenated words
    | \S                           # any other symbol
""", re.IGNORECASE | re.VERBOSE)
_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", "%", ")", "]", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}
_NO_SPACE_AFTER = {"(", "[", "$"}
_QUOTE = '"'     # a straight double quote opens or closes by its order (a lone ' is as often "students' books")

_jieba_lock = threading.Lock()
_jieba: jieba.Tokenizer | None = None


def has_chinese(text: str) -> bool:
    """True if ``text`` contains at least one Chinese character."""
    return bool(_CJK.search(text))


def normalize_zh(text: str) -> str:
    """NFKC-normalise (full-width Ａ１，→ A1,) and collapse runs of whitespace."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def jieba_tokenizer() -> jieba.Tokenizer:
    """One shared jieba tokenizer, built once (its dictionary load takes ~1 s)."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            jieba.setLogLevel(logging.WARNING)  # jieba logs its cache building; the core stays quiet
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _jieba = tokenizer
    return _jieba


def segment_zh(text: str, *, mode: str = "jieba") -> list[str]:
    """Cut normalised Chinese text into tokens.

    ``mode="jieba"`` gives words (accurate mode, HMM for unseen words);
    ``mode="char"`` gives single characters (used by the generated toy tasks).
    Whitespace never becomes a token.
    """
    text = normalize_zh(text)
    if mode == "char":
        return [ch for ch in text if not ch.isspace()]
    if mode != "jieba":
        raise ValueError(f"unknown segmentation mode {mode!r}; use 'jieba' or 'char'")
    return [word for word in jieba_tokenizer().lcut(text, cut_all=False, HMM=True) if word.strip()]


@dataclass(frozen=True)
class SourceToken:
    """One token as the model sees it, and how it was obtained.

    ``kind`` is ``"word"`` (a jieba word in the vocabulary), ``"sub"`` (a known sub-word of a
    word the vocabulary lacks: 天气 of 今天天气), ``"char"`` (a known character of such a word),
    ``"name"`` (a person's name the vocabulary lacks, read as a stand-in name it knows: 汤姆 for
    王芳; :mod:`.names`) or ``"unk"`` (nothing of it is known; the model sees ``<unk>``). ``word``
    is the jieba word it came from.
    """

    text: str
    kind: str
    word: str

    @property
    def model_token(self) -> str:
        return UNK if self.kind == "unk" else self.text

    def to_dict(self) -> dict:
        return asdict(self)


def fallback_pieces(word: str, known) -> list[str]:
    """Cut a word the vocabulary lacks into the longest known pieces, left to right.

    At each position take the longest known sub-word of two or more characters, else one
    character: 今天天气 → 今天 / 天气, 新手机 → 新 / 手机, 电脑课 → 电脑 / 课. The word itself
    never counts as a piece, so a training word fed "as if unknown" (``data.source_ids``)
    also gets cut.
    """
    pieces, i = [], 0
    while i < len(word):
        for j in range(len(word), i + 1, -1):              # longest first, at least two characters
            if j - i < len(word) and word[i:j] in known:
                pieces.append(word[i:j])
                i = j
                break
        else:
            pieces.append(word[i])
            i += 1
    return pieces


def map_to_vocab(words: list[str], known, names: dict | None = None) -> list[SourceToken]:
    """Map segmented words onto a vocabulary (``known`` supports ``in``).

    A known word stays whole; a name in ``names`` (word → :class:`.names.Name`) becomes its
    stand-in. An unknown word of several characters is cut into known sub-words and characters
    (:func:`fallback_pieces`); an unknown character becomes ``<unk>`` (one per character, so
    the heatmap still shows every character). A word with nothing known in it becomes a
    single ``<unk>``.
    """
    tokens: list[SourceToken] = []
    for word in words:
        if word in known:
            tokens.append(SourceToken(word, "word", word))
            continue
        if names and word in names:
            tokens.append(SourceToken(names[word].stand_in, "name", word))
            continue
        pieces = fallback_pieces(word, known) if len(word) > 1 else [word]
        if len(pieces) > 1 and any(piece in known for piece in pieces):
            tokens.extend(SourceToken(piece, ("sub" if len(piece) > 1 else "char") if piece in known else "unk",
                                      word) for piece in pieces)
        else:
            tokens.append(SourceToken(word, "unk", word))
    return tokens


def tokenize_en(text: str) -> list[str]:
    """Split English into words, contractions and punctuation ("Don't go." → do n't go .).

    Case is kept, so names stay names ("Beijing"), except that each sentence's first
    word is lower-cased ("He" → "he", "I" → "i"): its capital says nothing about the
    word, and :func:`detokenize_en` puts it back (the two mirror each other).
    """
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    text = text.replace("“", '"').replace("”", '"')
    tokens = _EN_TOKEN.findall(text)
    sentence_start = True
    for i, token in enumerate(tokens):
        if sentence_start and token[:1].isalpha():
            if not (len(token) > 1 and token.isupper()):                 # keep acronyms: "DVD"
                tokens[i] = token.lower()
            sentence_start = False
        elif token in {".", "!", "?"}:
            sentence_start = True
    return tokens


def tokenize_target(text: str, style: str) -> list[str]:
    """Target tokens: English words (``"english"``) or single characters (``"concat"``, e.g. 2024-03-05)."""
    if style == "concat":
        return [ch for ch in text if not ch.isspace()]
    return tokenize_en(text)


def detokenize_target(tokens: list[str], style: str) -> str:
    """The inverse of :func:`tokenize_target` (for English: readable, not necessarily identical)."""
    return "".join(tokens) if style == "concat" else detokenize_en(tokens)


def detokenize_en(tokens: list[str]) -> str:
    """Glue tokens into a readable sentence: punctuation attached, sentence case, and double quotes paired
    (``" what ? "`` → ``"What?"``: an opening quote leans on the word after it, a closing one on the word before)."""
    pieces: list[str] = []
    capitalize_next = True
    quoting = False                         # a double quote is open
    glue_next = True                        # no space before the next token: at the start, after "(", an opening "
    for token in tokens:
        word = token
        if capitalize_next and word[:1].isalpha():
            word = word[0].upper() + word[1:]
            capitalize_next = False
        closing = token == _QUOTE and quoting
        if not (glue_next or token in _NO_SPACE_BEFORE or closing):
            pieces.append(" ")
        pieces.append(word)
        if token == _QUOTE:
            quoting = not quoting
        glue_next = token in _NO_SPACE_AFTER or (token == _QUOTE and quoting)
        if token in {".", "!", "?"}:
            capitalize_next = True
    return "".join(pieces)
