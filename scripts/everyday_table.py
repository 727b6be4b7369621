"""The everyday set, sentence by sentence, through one model: the README's table.

    python scripts/everyday_table.py                        # the default model
    python scripts/everyday_table.py --model models/hsk_additive.safetensors

Decodes the held-out everyday sentences (corpus.load_everyday) with beam 5 and the settings a
visitor of the apps starts with (the model's validation-chosen penalties and n-gram blocking, where
its file records them; ``--plain``: no penalties), and prints a
Markdown table: Chinese, reference, output, sentence chrF; then corpus chrF / BLEU. The last
column ("acceptable?") is for a person to fill in: whether a teacher would accept the output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sacrebleu

from seq2seq_lab.catalog import DEFAULT_MODEL, ModelInfo
from seq2seq_lab.corpus import load_everyday
from seq2seq_lab.present.catalogue import NO_PENALTIES, starting_decoding
from seq2seq_lab.text import tokenize_target
from seq2seq_lab.train import corpus_metrics, has_repeat
from seq2seq_lab.translator import Translator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / f"{DEFAULT_MODEL}.safetensors"))
    parser.add_argument("--plain", action="store_true", help="no penalties, no n-gram blocking")
    args = parser.parse_args()
    path = Path(args.model)
    tr = Translator.load(path, device="cpu")
    info = ModelInfo(path.stem, path, record=tr.record)
    options = {"beam_size": 5, **(dict(NO_PENALTIES) if args.plain else starting_decoding(info))}
    pairs = load_everyday()
    results = tr.translate_batch([p.zh for p in pairs], **options)
    print(f"{Path(args.model).stem}, beam 5, α={options['length_penalty']}, β={options['coverage_penalty']}, "
          f"no repeated {options['no_repeat_ngram_size']}-grams\n")
    print("| # | topic | Chinese | reference | model output | chrF | acceptable? |")
    print("|---|---|---|---|---|---|---|")
    for i, (pair, r) in enumerate(zip(pairs, results), start=1):
        chrf = sacrebleu.sentence_chrf(r.best.text, [pair.en]).score
        flag = " (repeats)" if has_repeat(r.best.tokens, reference=tokenize_target(pair.en, "english")) else ""
        print(f"| {i} | {pair.id.split(':')[1]} | {pair.zh} | {pair.en} | {r.best.text}{flag} | {chrf:.0f} | |")
    m = corpus_metrics([r.best.text for r in results], [p.en for p in pairs])
    print(f"\ncorpus chrF {m['chrf']:.1f}, BLEU {m['bleu']:.1f}, exact {m['exact']:.1%} ({len(pairs)} sentences)")


if __name__ == "__main__":
    main()
