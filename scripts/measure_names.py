"""What reading people's names through a stand-in (seq2seq_lab/names.py) does, measured.

    python scripts/measure_names.py            # the names set through every everyday model; test splits: default
    python scripts/measure_names.py --splits everyday_additive everyday_transformer   # test splits of these too

The names set (scripts/names.tsv, 31 names in 30 sentences written for this project) through each everyday
model, with names fed as they are and read through a stand-in: how many sentences have every name right (its
pinyin in the output) and the corpus chrF. Then the held-out test splits (HSK, Tatoeba, everyday) through the
models named by ``--splits``: how many sentences had a name read through a stand-in, and the chrF of the whole
split both ways. Decoding as the apps start (beam 5, the model's validation-chosen penalties). In between, the
stand-ins themselves: in how many of ten sentence frames (我叫{}。, {}是我的朋友。, …) each model writes each
stand-in's English exactly once (plain beam 5).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.catalog import DEFAULT_MODEL, ModelInfo
from seq2seq_lab.corpus import Pair, load_splits
from seq2seq_lab.names import STAND_INS
from seq2seq_lab.present.catalogue import starting_decoding
from seq2seq_lab.text import normalize_zh
from seq2seq_lab.train import corpus_metrics
from seq2seq_lab.translator import Translator

NAMES_FILE = ROOT / "scripts" / "names.tsv"
# Ten sentence frames for checking the stand-ins: how often a model writes the stand-in's English exactly once.
FRAMES = ("我叫{}。", "{}是我的朋友。", "她叫{}。", "{}是老师。", "这是{}。", "我和{}去学校。", "{}喜欢吃苹果。",
          "{}的妈妈很漂亮。", "你认识{}吗？", "{}今天不在家。")


def load_names_set(path: Path = NAMES_FILE) -> list[tuple[Pair, list[str]]]:
    """(pair, the names in pinyin) for each sentence of the names set."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            zh, en, names = line.split("\t")
            rows.append((Pair(f"names:{number}", normalize_zh(zh), en), names.split(";")))
    return rows


def open_both(path: Path) -> tuple[Translator, Translator, dict]:
    """The model with stand-in names (as the apps run it), without, and the decoding the apps start with."""
    with_names = Translator.load(path, device="cpu")
    without = Translator.load(path, device="cpu", names=False)
    options = {"beam_size": 5, **starting_decoding(ModelInfo(path.stem, path, record=with_names.record))}
    return with_names, without, options


def names_set(path: Path) -> None:
    with_names, without, options = open_both(path)
    rows = load_names_set()
    texts, references = [pair.zh for pair, _ in rows], [pair.en for pair, _ in rows]
    line = [f"| `{path.stem}` |"]
    for tr in (without, with_names):
        outputs = [r.best.text for r in tr.translate_batch(texts, **options)]
        right = sum(all(name in out for name in names) for out, (_, names) in zip(outputs, rows))
        line.append(f" {right} / {len(rows)} · chrF {corpus_metrics(outputs, references)['chrf']:.1f} |")
    stood_in = sum(bool(with_names.analyze(text).names) for text in texts)
    print("".join(line) + f" {stood_in} |", flush=True)


def stand_ins(path: Path) -> None:
    """For each stand-in: in how many of the ten frames the model writes its English exactly once."""
    tr = Translator.load(path, device="cpu", names=False)
    cells = []
    for zh, en in STAND_INS:
        outputs = tr.translate_batch([frame.format(zh) for frame in FRAMES], beam_size=5)
        once = sum([token.lower() for token in r.best.tokens].count(en.lower()) == 1 for r in outputs)
        cells.append(f" {once} / {len(FRAMES)} |")
    print(f"| `{path.stem}` |" + "".join(cells), flush=True)


def test_splits(path: Path) -> None:
    with_names, without, options = open_both(path)
    for split, pairs in load_splits("everyday").tests.items():
        started = time.perf_counter()
        texts, references = [p.zh for p in pairs], [p.en for p in pairs]
        plain = [r.best.text for r in without.translate_batch(texts, **options)]
        touched = [i for i, text in enumerate(texts) if with_names.analyze(text).names]
        named = list(plain)
        for i, r in zip(touched, with_names.translate_batch([texts[i] for i in touched], **options)):
            named[i] = r.best.text                     # the others read exactly what they read without names
        before, after = corpus_metrics(plain, references)["chrf"], corpus_metrics(named, references)["chrf"]
        changed = "; ".join(f"{texts[i]} → {named[i]!r} (was {plain[i]!r})" for i in touched[:8])
        print(f"| `{path.stem}` | {split} ({len(pairs):,}) | {len(touched)} | {before:.2f} | {after:.2f} | "
              f"{changed or '–'} | {time.perf_counter() - started:.0f} s |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", nargs="*", default=[DEFAULT_MODEL], help="models whose test splits to measure")
    args = parser.parse_args()
    print("| model | names as they are: all names right · chrF | through a stand-in | sentences with a stand-in |")
    print("|---|---|---|---|")
    paths = sorted((ROOT / "models").glob("everyday_*.safetensors"))
    for path in paths:
        names_set(path)
    print("\n| model | " + " | ".join(f"{zh} → {en} written once" for zh, en in STAND_INS) + " |")
    print("|---|" + "---|" * len(STAND_INS))
    for path in paths:
        stand_ins(path)
    print("\n| model | test split | sentences with a stand-in | chrF without | with | what changed | time |")
    print("|---|---|---|---|---|---|---|")
    for name in args.splits:
        test_splits(ROOT / "models" / f"{name}.safetensors")


if __name__ == "__main__":
    main()
