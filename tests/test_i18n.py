"""The interface strings: every key is used by some front end or the core, and nothing is left over."""

from __future__ import annotations

import re
from pathlib import Path

from seq2seq_lab.i18n import STRINGS

ROOT = Path(__file__).resolve().parent.parent
# Keys built at run time from a value: f"error.{code}", f"train.data.{data}", f"live.speed_{s}", …
DYNAMIC = ("error.", "train.data.", "live.speed_", "var.formula.", "strategy.", "fig.", "tab.", "closer.section.",
           "attn.")


def test_every_string_is_used():
    sources = [*ROOT.glob("seq2seq_lab/**/*.py"), *ROOT.glob("demo/*.py")]
    code = "\n".join(p.read_text(encoding="utf-8") for p in sources if p.name != "i18n.py")
    used = set(re.findall(r"""["']([a-z_]+\.[a-z0-9_.:]+)["']""", code))
    unused = [key for key in STRINGS if key not in used and not key.startswith(DYNAMIC)]
    assert unused == []
