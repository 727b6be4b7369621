"""Print the README's table of shipped models from their own metadata (so the README stays true).

    python scripts/models_table.py

"test" is each model's first test set: HSK's for the HSK and everyday models (so the figures compare
across corpora), the held-out split of a toy task; the everyday models also record Tatoeba's test split and
the everyday set. A toy model also records exact match over its whole input domain and its alignment score
(``seq2seq_lab/alignment.py``: the share of output tokens whose attention peak is on the source character that
produced them / the mean weight there, on its test split).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq_lab.catalog import list_models
from seq2seq_lab.present.catalogue import attention_name


def fmt(metrics: dict | None, exact: bool) -> str:
    if not metrics:
        return "–"
    return f"{metrics['exact'] * 100:.1f}% exact" if exact else f"{metrics['bleu']:.1f} / {metrics['chrf']:.1f}"


def main() -> None:
    print("| model | data | attention | test greedy | test beam 5 | beam 5, α/β chosen on valid | "
          "other test sets, beam 5 | alignment: peak on the right token / weight there | train time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for info in list_models(ROOT / "models"):
        if not info.ok:
            continue
        record, test = info.record, info.test_metrics
        toy = info.corpus.startswith("toy:")
        decoding = record.get("decoding", {})
        blocked = decoding.get("no_repeat_ngram_size", 0)
        tuned = (f"{fmt(test.get('beam5_tuned'), toy)} (α={decoding['length_penalty']}, "
                 f"β={decoding['coverage_penalty']}{f', no repeated {blocked}-grams' if blocked else ''})"
                 if decoding else "–")
        others = record.get("tests", {}) if isinstance(record.get("tests"), dict) else {}
        other = "; ".join(f"{name} {fmt(figures.get('beam5'), toy)}" for name, figures in others.items()) or "–"
        if "domain" in record:
            other = (f"whole domain, greedy: {record['domain']['exact'] * 100:.1f}% exact "
                     f"({record['domain']['inputs']:,} inputs)")
        alignment = record.get("alignment")
        aligned = f"{alignment['argmax'] * 100:.1f}% / {alignment['weight']:.2f}" if alignment else "–"
        size = info.path.stat().st_size / 1e6
        print(f"| `{info.name}` ({size:.1f} MB) | {info.corpus} | {attention_name(info)} | "
              f"{fmt(test.get('greedy'), toy)} | "
              f"{fmt(test.get('beam5'), toy)} | {tuned} | {other} | {aligned} | {record.get('train_seconds', '?')} s, "
              f"{record.get('epochs_run', '?')} epochs |")


if __name__ == "__main__":
    main()
