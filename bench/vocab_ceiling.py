"""The most chrF a model's English vocabulary allows on each of its test sets.

    python bench/vocab_ceiling.py                         # the default model → bench/vocab_ceiling.json
    python bench/vocab_ceiling.py --model everyday_additive
    python bench/vocab_ceiling.py --min-freq 1            # a vocabulary of every English token in its training split

No search can write a word its target vocabulary lacks. Deleting those words from each test reference and scoring
what is left against the reference itself (sacrebleu chrF, detokenised as the models' outputs are) gives the score
of a model that is right about everything else: the ceiling the vocabulary puts on any model that uses it. The
round trip (tokenise, detokenise, nothing deleted) is printed beside it, so the ceiling is not a detokenisation loss.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sacrebleu

from seq2seq_lab import checkpoint
from seq2seq_lab.catalog import DEFAULT_MODEL
from seq2seq_lab.corpus import recorded_splits
from seq2seq_lab.text import tokenize_target
from seq2seq_lab.translator import detokenize
from seq2seq_lab.vocab import Vocab


def ceiling(vocab, references: list[str], style: str = "english") -> dict:
    """chrF of the references with the out-of-vocabulary tokens deleted, and of the plain round trip."""
    tokenized = [tokenize_target(ref, style) for ref in references]
    kept = [detokenize([tok for tok in toks if tok in vocab], style) for toks in tokenized]
    round_trip = [detokenize(toks, style) for toks in tokenized]
    missing = sum(tok not in vocab for toks in tokenized for tok in toks)
    return {"sentences": len(references),
            "sentences_with_missing_words": sum(any(tok not in vocab for tok in toks) for toks in tokenized),
            "tokens_missing": round(missing / max(1, sum(map(len, tokenized))), 4),
            "chrf_ceiling": round(sacrebleu.corpus_chrf(kept, [references]).score, 2),
            "chrf_round_trip": round(sacrebleu.corpus_chrf(round_trip, [references]).score, 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--min-freq", type=int, default=0,
                        help="instead of the model's vocabulary, every English token seen this often in its training "
                             "split (0: the model's own)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    ckpt = checkpoint.load(ROOT / "models" / f"{args.model}.safetensors")
    splits = recorded_splits(ckpt.record)
    vocab = ckpt.tgt_vocab
    if args.min_freq:
        style = ckpt.config.tgt_detok
        counts = Counter(tok for pair in splits.train for tok in tokenize_target(pair.en, style))
        vocab = Vocab.build(counts, min_freq=args.min_freq)
    source = f"tokens seen {args.min_freq}+ times in its training split" if args.min_freq else "its own vocabulary"
    result = {"model": args.model, "vocabulary": source, "target_vocab": len(vocab),
              "tests": {name: ceiling(vocab, [p.en for p in pairs]) for name, pairs in splits.tests.items()}}
    print(f"{args.model}, {len(vocab):,} English tokens ({source}):")
    for name, figures in result["tests"].items():
        print(f"{name:9} {figures['sentences']:5} sentences, {figures['sentences_with_missing_words']} with a word "
              f"outside the vocabulary ({figures['tokens_missing']:.1%} of tokens): chrF ceiling "
              f"{figures['chrf_ceiling']:.1f} (round trip {figures['chrf_round_trip']:.1f})")
    out = args.out or ROOT / "bench" / f"vocab_ceiling{f'-min{args.min_freq}' if args.min_freq else ''}.json"
    Path(out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


if __name__ == "__main__":
    main()
