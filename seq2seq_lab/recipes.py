"""The shipped models' recipes: the data, architecture and training settings of each model in models/.

``scripts/train_models.py`` trains them, the bench times them and ``scripts/measure_dictionary.py``
varies one; all of them read this table. A recipe names its data by a data spec, so its splits (and
the record of what data it was trained on) are one call to :func:`~.corpus.load_splits`.

    for recipe in recipes():
        splits = recipe.splits()
        fit(splits.train, splits.valid, recipe.arch, recipe.train, record=splits.record)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .alignment import Gold, pair_gold, toy_gold
from .corpus import TOY_TASKS, Pair, Splits, load_splits
from .train import TrainConfig

ATTENTIONS = ("additive", "none", "dot", "general", "scaled_dot")   # the variants each sentence recipe ships
# dot and general divide their scores by √H (#13): unscaled, their softmax saturated within the first epoch and
# the weight sat on the sentence's end from then on (bench/attention_collapse.py: spread ≥ 103 nats, probe
# alignment 19 % and 0 %); scaled, the spread stays near 3 and the peaks find the words.
SCORE_SCALING = {"dot": {"scaled_scores": True}, "general": {"scaled_scores": True}}

# The RNN on the HSK data alone (3.6k pairs): the shipped attention variants were these until 2026-12-03 (the README
# keeps their figures; bench/attention_collapse.py still trains them); the everyday RNNs share its architecture.
HSK_ARCH = {"cell": "gru", "emb_size": 256, "hidden_size": 256, "enc_layers": 1, "dec_layers": 1,
            "bidirectional": True, "dropout": 0.3, "lexical": True}
HSK_TRAIN = TrainConfig(epochs=30, batch_size=32, lr=2e-3, label_smoothing=0.1, char_split_prob=0.1, seed=0,
                        patience=6, probe="我爱学习")
# Their attention was also taught where to look (#13): the HSK pairs have no word alignments, but CC-CEDICT gives
# silver ones for half their English words (学生 → student; alignment.pair_gold), and guided alignment pulls the
# attention towards them. λ = 1 was chosen over 0.3 on the validation split's silver links (70.8 against 68.0 % of
# peaks right; unguided 59.0 %) and validation chrF (32.9 against 32.2; unguided 29.4): bench/silver_alignment.py.
SILVER_GUIDED = 1.0
# The everyday RNNs, one per attention variant (the variants tab compares them, beside the everyday Transformer):
# HSK + Tatoeba (~55k sentence pairs) + the HSK word → gloss dictionary (CC-CEDICT on top scored 3.5 chrF lower on
# validation after 2 epochs: bench/data_choices/). Larger batches than HSK's (more data, fewer steps per epoch);
# words and English tokens seen once become <unk>. Guided towards CC-CEDICT's silver links like the HSK ones.
# Three epochs (~12 min alone on 2 cores): the unguided additive model of ten epochs (39 min) reached validation
# chrF 33.8 after three, 33.6 after four and 36.2 after ten; five variants at three epochs and the Transformer fit
# the two hours for the whole set, where five at ten took 3 h 15 min.
EVERYDAY_ARCH = HSK_ARCH
EVERYDAY_TRAIN = TrainConfig(epochs=3, batch_size=64, lr=2e-3, label_smoothing=0.1, char_split_prob=0.1, seed=0,
                             patience=3, min_freq=2, probe="我爱学习")
# The Transformer on the everyday data (#11): d 256, 4 heads, 3 + 3 pre-norm layers. The feed-forward size is 512,
# not the paper's 4·d: on 2 cores an epoch takes ~230 s instead of ~340 s (more epochs helped more than a wider
# FFN). Warm-up, then a linear decay: a short run ends on small steps. Ten epochs (40 min alone on 2 cores) gave
# HSK test chrF 45.1 where seven gave 44.7; twelve (68 min) 45.9. The mean of the last four epochs' weights is
# tried and kept only when validation prefers it. The training step runs in bfloat16 (35 min instead of 40 on this
# AVX512-BF16 CPU, the same losses; bench/precision.py). Twelve bf16 epochs with tie_output (41 min) scored within
# the runs' spread on validation and were not adopted (README, "Shipped models"); with a moving average of the
# weights (ema_decay=0.999) validation still kept their epoch 11. On a lent H200 the recipe took 353 s (the GPU
# shared five ways), and wider models trained there for 19–21 epochs (d 384 and 512, up to 38 M parameters) reached
# Tatoeba chrF 48.4 at best against this recipe's 47.5: the data, not the width, limits them (bench/gpu-h200/).
TRANSFORMER_ARCH = {"family": "transformer", "d_model": 256, "heads": 4, "enc_layers": 3, "dec_layers": 3,
                    "ff_size": 512, "dropout": 0.1}
TRANSFORMER_TRAIN = TrainConfig(epochs=10, batch_size=64, lr=1e-3, warmup_steps=800, schedule="linear",
                                label_smoothing=0.1, char_split_prob=0.1, seed=0, min_freq=2, probe="我爱学习",
                                average_last=4, precision="bf16")
# The toy models (#13): the lexical shortcut makes the output read the attended source character itself, so the
# weight must sit on the character that produces the digit (a bidirectional state one character early already
# knows it, and without the shortcut 65 % of toy_numbers' digits were drawn one column early); attention may not
# rest on </s>, so trailing zeros look at their unit (三千 → 000 ← 千). Trained for all their epochs and kept by
# exact match, then validation loss: stopping at 99 % valid exact match left small and round numbers wrong.
# The numbers model's query also holds the digit just written ([s_{t−1}; E'[y_{t−1}]]): its zeros then move on to
# 零 instead of lingering on the unit before it (alignment 94.4 → 97.2 %); the date models align less well with it
# (dates_iso 85.5 → 77.1 %, dates_en 100 → 99.0 %), so they keep q_t = s_{t−1}.
TOY_ARCH = {"cell": "gru", "emb_size": 64, "hidden_size": 128, "bidirectional": True, "dropout": 0.1,
            "src_segmenter": "char", "attention": "additive", "lexical": True, "attend_eos": False}
TOY_QUERY = {"numbers": "state+token"}
TOY_TRAIN = TrainConfig(epochs=12, batch_size=64, lr=3e-3, label_smoothing=0.0, char_split_prob=0.0, seed=0,
                        select_on="exact", patience=4)
# toy_dates_iso still looked at a delimiter for its padding zeros (the 0 of 03 at 月, the 0 of 10 at 日: with the
# shortcut a delimiter is a cheap way to say "0", where the numeral 三 says "3"): 85.5 % of its peaks right, 0 % for
# those zeros, whatever the query or the encoder's direction. Its generator knows which character produced each
# output, so it is trained to look there too (guided alignment, λ = 0.1; Chen et al. 2016): 100 %, every date still
# right. The other two align without it and are left as they learned.
TOY_GUIDED = {"dates_iso": 0.1}


@dataclass(frozen=True)
class Recipe:
    """How ``models/<name>.safetensors`` is trained: ``fit`` on ``data``'s splits with ``arch`` and ``train``."""

    name: str                 # the model's file name, without .safetensors
    data: str                 # a data spec for corpus.load_splits: "everyday", "hsk" or "toy:<task>"
    arch: dict                # ModelConfig fields (the vocabulary sizes come from the data)
    train: TrainConfig        # batch size, learning rate, epochs, stopping rule, …
    glossary: bool = False    # HSK: the HSK glossary joins the training split

    def splits(self) -> Splits:
        """The recipe's train / valid / test splits; ``.record`` says what data they are."""
        return load_splits(self.data, glossary=self.glossary)

    def gold(self) -> Callable[[Pair], Gold]:
        """A training pair's gold alignment, for ``fit(gold=…)``: exact for the toy tasks, whose generators know
        it; silver for sentences, from a dictionary (:func:`~.alignment.pair_gold`)."""
        if not self.data.startswith("toy:"):
            return pair_gold
        task = self.data[4:]
        return lambda pair: toy_gold(task, pair.zh, pair.en)


def data_arch(spec: str) -> dict:
    """The ModelConfig fields a data spec fixes: a toy task is read character by character, and its
    targets are joined its own way (digits without spaces, dates as English)."""
    if spec.startswith("toy:") and spec[4:] in TOY_TASKS:
        return {"src_segmenter": "char", "tgt_detok": TOY_TASKS[spec[4:]].tgt_detok}
    return {}


def recipes() -> list[Recipe]:
    """Every shipped model's recipe, in training order: the everyday models (the RNN variants, the Transformer),
    the toy ones."""
    return [*(Recipe(f"everyday_{attention}", "everyday",
                     {**EVERYDAY_ARCH, "attention": attention, **SCORE_SCALING.get(attention, {})},
                     replace(EVERYDAY_TRAIN, guided_alignment=0.0 if attention == "none" else SILVER_GUIDED))
              for attention in ATTENTIONS),
            Recipe("everyday_transformer", "everyday", TRANSFORMER_ARCH, TRANSFORMER_TRAIN),
            *(Recipe(f"toy_{task}", f"toy:{task}",
                     {**TOY_ARCH, **data_arch(f"toy:{task}"), "query": TOY_QUERY.get(task, "state")},
                     replace(TOY_TRAIN, guided_alignment=TOY_GUIDED.get(task, 0.0)))
              for task in TOY_TASKS)]


def recipe(name: str) -> Recipe:
    """The recipe of one shipped model, by name (``"everyday_additive"``, ``"toy_numbers"``, …)."""
    for candidate in recipes():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no recipe named {name!r}; the shipped models are {', '.join(r.name for r in recipes())}")
