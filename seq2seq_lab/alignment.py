"""Does the heatmap show the right thing? Alignment scores against known word alignments.

A heatmap teaches only if its weight sits on the source token that produced each output token. For the
generated toy tasks that token is known exactly (:func:`toy_gold`); this module scores a model against it:

    argmax share   = (1/N) Σ_t [ argmax_j α_tj ∈ G_t ]       does the peak land on a right token?
    mean weight    = (1/N) Σ_t Σ_{j ∈ G_t} α_tj               how much of the weight is there?

over the N output tokens t that have a gold set G_t of source positions (punctuation that no source token
produces, such as the "," of "March 5, 2024", and ``</s>`` are not counted). The attention α is the model's
own, on the reference output (teacher forcing: the same pass as :meth:`~.translator.Translator.score`), so a
wrong translation does not make the alignment undefined. For a Transformer α is the summary the heatmap shows:
the last layer's cross-attention, averaged over its heads.

The gold alignments of the toy tasks (source positions are characters of the Chinese, 0-based):

* **numbers** (三千零五 → 3 0 0 5): a non-zero digit ← its numeral (三; 两; the 十 of 十五, which says "1");
  zeros inside the number ← the 零 that stands for them (both zeros of 3005 ← 零); trailing zeros ← the unit
  of the last non-zero digit (the three zeros of 3000 ← 千; the zero of 20 ← 十); 0 ← 零.
* **dates_iso** (二〇二四年三月五日 → 2024-03-05): each year digit ← its character; "-" ← 年, then 月; the month
  and the day as numbers (above), a padding zero ← the numeral it pads (the 0 of 03 ← 三).
* **dates_en** (→ March 5, 2024): the month name ← the month's numeral and 月; the day ← the day's numeral and
  日; the year ← its four characters and 年.

For Chinese–English the probe (``probe.tsv``, :func:`load_probe`) is 30 first-lesson sentences with the links
a teacher would draw (我=I, 老师=teacher, 北京=Beijing, 每天=every, 每天=day). A link's gold set is every source
token that overlaps its Chinese text — whatever jieba and the vocabulary made of the sentence (坐火车 as one
token, or 坐 + 火车) — and only linked English words are scored ("a", "the", "." are not).

Training sentences have no hand-drawn links, but a dictionary gives *silver* ones (:func:`dictionary_gold`):
an English word ← the source words whose CC-CEDICT senses contain it (学生 "student" → students; 去 "to go" →
went). Words no entry explains, and words three or more source words could explain, get none. Guided
alignment (``TrainConfig.guided_alignment``) can train the attention towards them, as Chen et al. (2016) did
with the alignments of a statistical aligner.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .corpus import _CEDICT_LINE, _CEDICT_NOTE, _MONTHS, Pair, hsg_asset
from .data import pad
from .text import normalize_zh, segment_zh, tokenize_target

Gold = list[set[int] | None]       # per output token: the source positions that produced it (None: not scored)


def number_gold(n: int) -> list[set[int]]:
    """For each digit of ``str(n)``, the positions in ``chinese_number(n)`` that produced it.

    Follows :func:`~.corpus.chinese_number` character by character: 3005 → 三千零五 → [{0}, {2}, {2}, {3}]."""
    if n == 0:
        return [{0}]                                           # 零 → 0
    digits, units = [int(d) for d in f"{n:05d}"], ["万", "千", "百", "十", ""]
    first = next(place for place, digit in enumerate(digits) if digit)   # leading zeros are not written
    gold: list[set[int]] = []
    position, zeros, last_unit = 0, 0, 0
    for place in range(first, 5):
        digit, unit = digits[place], units[place]
        if digit == 0:
            zeros += 1                                         # a run of zeros …
            continue
        if zeros:                                              # … inside the number is one 零
            gold += [{position}] * zeros
            position, zeros = position + 1, 0
        gold.append({position})                                # the numeral (两; or the 十 of 十五, "1")
        if not (digit == 1 and unit == "十" and place == first):
            position += 1                                      # (十五 writes no 一 before its 十)
        last_unit = position if unit else position - 1
        position += 1 if unit else 0
    return gold + [{last_unit}] * zeros                        # trailing zeros ← the last unit (三千 → 000 ← 千)


def _numeral_gold(value: int, start: int, width: int) -> list[set[int]]:
    """A month or day ``value`` written from position ``start``, as ``width`` digits (zero-padded)."""
    gold = [{start + j for j in g} for g in number_gold(value)]
    return [{start}] * (width - len(gold)) + gold          # a padding zero ← the numeral it pads


def toy_gold(task: str, zh: str, en: str) -> Gold:
    """The gold source positions of each target token of a generated toy pair (see the module docstring)."""
    if task == "numbers":
        return list(number_gold(int(en)))
    year_end, month_end = zh.index("年"), zh.index("月")
    year = list(range(year_end))
    month_start, day_start = year_end + 1, month_end + 1
    if task == "dates_iso":
        y, m, d = (int(part) for part in en.split("-"))
        return ([{j} for j in year] + [{year_end}] + _numeral_gold(m, month_start, 2) + [{month_end}]
                + _numeral_gold(d, day_start, 2))
    if task == "dates_en":
        month_name, day, _, year_text = tokenize_target(en, "english")
        assert month_name in _MONTHS and year_text.isdigit() and day.isdigit()
        day_end = zh.index("日")
        return [set(range(month_start, month_end + 1)), set(range(day_start, day_end + 1)), None,
                set(year) | {year_end}]
    raise ValueError(f"no gold alignment for toy task {task!r}")


@dataclass
class AlignmentScore:
    argmax: float        # share of scored output tokens whose attention peak lands on a gold source position
    weight: float        # mean attention weight on the gold positions
    tokens: int          # scored output tokens
    sentences: int

    def as_dict(self) -> dict:
        return {"argmax": self.argmax, "weight": self.weight, "tokens": self.tokens, "sentences": self.sentences}


@torch.inference_mode()
def teacher_forced_attention(translator, texts: Sequence[str], references: Sequence[Sequence[str]],
                             *, batch_size: int = 256) -> list[np.ndarray]:
    """The attention the heatmap would show for each reference output: (T, S) per sentence, T = the reference's
    tokens (without ``</s>``), S = the source tokens including ``</s>``."""
    tgt_vocab = translator.tgt_vocab
    out: list[np.ndarray] = []
    for begin in range(0, len(texts), batch_size):
        analyses = [translator.analyze(t) for t in texts[begin:begin + batch_size]]
        ids = [tgt_vocab.encode(list(r)) for r in references[begin:begin + batch_size]]
        src = pad([a.ids for a in analyses]).to(translator.device)                       # (B, S)
        lengths = torch.tensor([len(a.ids) for a in analyses])                           # (B,)
        tgt_in = pad([[tgt_vocab.bos_id] + x for x in ids]).to(translator.device)        # (B, T+1)
        _, summary = translator.model(src, lengths, tgt_in)       # (B, T+1, S): the heatmap's summary of each step
        summary = summary.float().cpu().numpy()
        out += [summary[i, :len(x), :len(a.ids)] for i, (a, x) in enumerate(zip(analyses, ids))]
    return out


def score_alignment(attentions: Sequence[np.ndarray], golds: Sequence[Gold]) -> AlignmentScore:
    """:class:`AlignmentScore` of attention matrices (T, S) against their gold sets."""
    hits, weights, tokens = 0, 0.0, 0
    for attention, gold in zip(attentions, golds):
        for row, positions in zip(attention, gold):
            if positions is None:
                continue
            hits += int(row.argmax()) in positions
            weights += float(row[sorted(positions)].sum())
            tokens += 1
    return AlignmentScore(hits / max(1, tokens), weights / max(1, tokens), tokens, len(attentions))


def toy_alignment(translator, task: str, pairs) -> AlignmentScore:
    """The alignment score of a toy-task model on ``pairs`` (Pair objects of that task)."""
    references = [tokenize_target(p.en, translator.config.tgt_detok) for p in pairs]
    attentions = teacher_forced_attention(translator, [p.zh for p in pairs], references)
    return score_alignment(attentions, [toy_gold(task, p.zh, p.en) for p in pairs])


# --- the Chinese–English probe ------------------------------------------------------------------------------------

PROBE_FILE = Path(__file__).with_name("probe.tsv")


@dataclass(frozen=True)
class ProbeSentence:
    zh: str
    en: str
    links: tuple[tuple[str, str], ...]    # (Chinese text, English word): 老师 → teacher


def load_probe(path: Path = PROBE_FILE) -> list[ProbeSentence]:
    sentences = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            zh, en, links = line.split("\t")
            sentences.append(ProbeSentence(normalize_zh(zh), en, tuple(tuple(link.split("=", 1))
                                                                        for link in links.split())))
    return sentences


def probe_gold(source_texts: Sequence[str], target_tokens: Sequence[str], sentence: ProbeSentence) -> Gold:
    """Gold sets over the model's source tokens (their texts tile the sentence) for each target token: a linked
    English word (matched case-blind, each occurrence once) ← the tokens overlapping its Chinese text."""
    gold: Gold = [None] * len(target_tokens)
    for chinese, english in sentence.links:
        begin = sentence.zh.index(chinese)
        tokens = tokens_within(source_texts, begin, begin + len(chinese))
        position = next(t for t, token in enumerate(target_tokens) if token.lower() == english.lower()
                        and gold[t] is None)
        gold[position] = tokens
    return gold


def probe_alignment(translator, sentences: Sequence[ProbeSentence] | None = None) -> AlignmentScore | None:
    """The alignment score of a Chinese–English model on the probe (None for a model without attention)."""
    if translator.family == "rnn" and translator.config.attention == "none":
        return None
    sentences = load_probe() if sentences is None else sentences
    references = [tokenize_target(s.en, translator.config.tgt_detok) for s in sentences]
    attentions = teacher_forced_attention(translator, [s.zh for s in sentences], references)
    golds = [probe_gold([t.text for t in translator.analyze(s.zh).tokens[:-1]], reference, s)
             for s, reference in zip(sentences, references)]
    return score_alignment(attentions, golds)


# --- silver alignments from a dictionary --------------------------------------------------------------------------

# English words a dictionary sense cannot pin down (they translate grammar, not a word) and the irregular forms
# folded onto the form a CC-CEDICT sense uses ("went" ← 去 "to go"; "me", "my" ← 我 "I").
_UNLINKED = frozenset("a an the to of 's and or".split())
_BASE_FORM = {**dict.fromkeys("am is are was were been being 're 'm".split(), "be"),
              **dict.fromkeys("has had having 've".split(), "have"), "did": "do", "does": "do", "n't": "not",
              "went": "go", "gone": "go", "goes": "go", "going": "go", "doing": "do", "ate": "eat", "eaten": "eat",
              "saw": "see", "seen": "see", "bought": "buy", "came": "come", "made": "make", "said": "say",
              "took": "take", "got": "get", "gave": "give", "thought": "think", "told": "tell", "knew": "know",
              "wrote": "write",
              "me": "i", "my": "i", "mine": "i", "us": "we", "our": "we", "him": "he", "his": "he", "her": "she",
              "them": "they", "their": "they", "your": "you", "'ll": "will", "children": "child", "men": "man",
              "women": "woman", "people": "person"}
SENSES_PER_ENTRY = 3          # a character's first senses; its later ones are rare uses that match by accident
MAX_GOLD_WORDS = 2            # an English word three source words could explain is left unlinked


def english_key(word: str) -> str | None:
    """The form an English word is looked up by, the same for a sense's word and a sentence's: lower case,
    irregular forms folded, a plural's or a verb's ending and a final e cut (students → student, liked and like
    → lik, stopped → stop, studies and studied → study); None for punctuation and grammar words."""
    word = word.lower()
    if word in _UNLINKED or not re.fullmatch(r"[a-z']+|[0-9]+", word):
        return None
    word = _BASE_FORM.get(word, word)
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us")) and len(word) > 3:
        word = word[:-1]
    for ending in ("ing", "ed"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[:-len(ending)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]                                      # stopp(ed) → stop
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


@functools.cache
def lexicon() -> dict[str, frozenset[str]]:
    """CC-CEDICT (the ``hsg`` package's copy; simplified headwords) as Chinese word → the :func:`english_key`
    of every word of its first :data:`SENSES_PER_ENTRY` senses, all entries of a headword together."""
    keys: dict[str, set[str]] = {}
    for line in hsg_asset("cedict_ts.u8").read_text(encoding="utf-8").splitlines():
        match = _CEDICT_LINE.match(line)
        if match is None:
            continue
        senses = [_CEDICT_NOTE.sub("", sense) for sense in match.group(4).split("/")[:SENSES_PER_ENTRY]]
        words = {english_key(w) for sense in senses for w in re.findall(r"[A-Za-z']+|[0-9]+", sense)}
        keys.setdefault(normalize_zh(match.group(2)), set()).update(words - {None})
    return {word: frozenset(found) for word, found in keys.items()}


def dictionary_gold(source_words: Sequence[str], target_tokens: Sequence[str],
                    entries: dict[str, frozenset[str]] | None = None) -> Gold:
    """Silver gold sets: for each target token, the source words (positions in ``source_words``) whose
    dictionary senses hold its :func:`english_key`, or the word itself (digits, Latin letters); None where no
    word or more than :data:`MAX_GOLD_WORDS` words do."""
    entries = lexicon() if entries is None else entries
    gold: Gold = []
    for token in target_tokens:
        key = english_key(token)
        words = {j for j, word in enumerate(source_words)
                 if key is not None and (key in entries.get(word, ()) or word.lower() == token.lower())}
        gold.append(words if 0 < len(words) <= MAX_GOLD_WORDS else None)
    return gold


def pair_gold(pair: Pair, segmenter: str = "jieba", tgt_style: str = "english") -> Gold:
    """:func:`dictionary_gold` of a training pair as :func:`~.data.tokenize_pairs` cuts it (a tagged pair's tag
    is word 0 and never gold); a dictionary pair (``<dict>`` 学习 → to learn) links every gloss word it can."""
    words = ([f"<{pair.tag}>"] if pair.tag else []) + segment_zh(pair.zh, mode=segmenter)
    return dictionary_gold(words, tokenize_target(pair.en, tgt_style))


def silver_alignment(translator, pairs: Sequence[Pair]) -> AlignmentScore:
    """The alignment score against :func:`pair_gold`'s silver links, e.g. on a validation split the model never
    trained on (untagged pairs). A word the model reads as pieces counts as all of them."""
    references = [tokenize_target(p.en, translator.config.tgt_detok) for p in pairs]
    attentions = teacher_forced_attention(translator, [p.zh for p in pairs], references)
    golds: list[Gold] = []
    for pair, reference in zip(pairs, references):
        words = segment_zh(pair.zh)
        covers = covering_tokens(words, [token.text for token in translator.analyze(pair.zh).tokens[:-1]])
        golds.append([None if linked is None else set().union(*(covers[w] for w in linked))
                      for linked in dictionary_gold(words, reference)])
    return score_alignment(attentions, golds)


def covering_tokens(words: Sequence[str], token_texts: Sequence[str]) -> list[set[int]]:
    """For each word, the tokens that overlap it, both tiling the same text: 今天天气 → {0, 1} of 今天 / 天气."""
    starts = np.cumsum([0, *map(len, words)])
    return [tokens_within(token_texts, starts[w], starts[w + 1]) for w in range(len(words))]


def tokens_within(token_texts: Sequence[str], begin: int, end: int) -> set[int]:
    """The tokens (their texts tile a sentence) that overlap its characters ``begin:end``."""
    starts = np.cumsum([0, *map(len, token_texts)])                 # character offset of each token
    return {j for j in range(len(token_texts)) if starts[j] < end and starts[j + 1] > begin}
