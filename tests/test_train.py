"""Training: the loss goes down, progress is reported, stopping works, seeds make runs repeatable."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import EXAMPLE_SENTENCES

from seq2seq_lab import Translator
from seq2seq_lab.corpus import Pair, toy_splits
from seq2seq_lab.train import (
    TrainConfig,
    average_weights,
    corpus_metrics,
    evaluate,
    fit,
    has_repeat,
    kept_weights,
    moving_average,
)

# A very small run for the tests that train themselves (well under a second each).
SMALL_ARCH = dict(emb_size=16, hidden_size=16, cell="gru", bidirectional=True, attention="dot", dropout=0.0,
                  src_segmenter="char", tgt_detok="concat")


def small_config(**overrides) -> TrainConfig:
    base = dict(epochs=1, batch_size=32, lr=1e-2, label_smoothing=0.0, char_split_prob=0.0, seed=0, device="cpu",
                max_valid=8)
    return TrainConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def small_splits():
    return toy_splits("numbers", size=200, seed=3)


def test_padding_does_not_count_in_the_loss():
    """The loss is a mean over real target tokens: batching sentences together changes nothing."""
    from torch import nn

    from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
    from seq2seq_lab.model import ModelConfig, Seq2Seq
    from seq2seq_lab.train import _loss

    pairs = [Pair("a", "三", "3"), Pair("b", "三千零五", "3005"), Pair("c", "九万九千九百九十九", "99999")]
    examples = tokenize_pairs(pairs, "char", "concat")
    src_vocab, tgt_vocab = build_vocabs(examples)
    torch.manual_seed(0)
    model = Seq2Seq(ModelConfig(len(src_vocab), len(tgt_vocab), emb_size=8, hidden_size=8, dropout=0.0)).eval()
    criterion = nn.CrossEntropyLoss(ignore_index=0)
    [together] = make_batches(examples, src_vocab, tgt_vocab, batch_size=3)
    assert (together.tgt_out == 0).any()                     # there is padding to ignore
    with torch.no_grad():
        joint, _, n_joint = _loss(model, together, criterion)
        parts = [_loss(model, b, criterion)[::2] for b in make_batches(examples, src_vocab, tgt_vocab,
                                                                         batch_size=1)]
    assert n_joint == sum(n for _, n in parts) == 1 + 4 + 5 + 3      # digits plus one </s> each
    assert float(joint) * n_joint == pytest.approx(sum(float(loss) * n for loss, n in parts), rel=1e-5)


def test_batches_group_sentences_of_similar_source_and_target_length():
    """Sorting by (source, target) length: each batch's sentences have one source length here, and
    the target lengths inside a batch rise, so little of the padded target is padding."""
    import random

    from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs

    pairs = toy_splits("numbers", size=400, seed=5)["train"]
    examples = tokenize_pairs(pairs, "char", "concat")
    src_vocab, tgt_vocab = build_vocabs(examples)
    batches = make_batches(examples, src_vocab, tgt_vocab, batch_size=16, shuffle=True, rng=random.Random(0))
    assert sorted(i for b in batches for i in b.indices) == list(range(len(examples)))   # every pair once
    for b in batches:
        keys = [(len(examples[i].src_words), len(examples[i].tgt_tokens)) for i in b.indices]
        assert keys == sorted(keys)
    filled = sum(b.n_tokens for b in batches) / sum(b.tgt_out.numel() for b in batches)
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].src_words))   # source length only
    by_source = [order[i:i + 16] for i in range(0, len(order), 16)]
    filled_by_source = (sum(len(examples[i].tgt_tokens) + 1 for c in by_source for i in c)
                        / sum(len(c) * (1 + max(len(examples[i].tgt_tokens) for i in c)) for c in by_source))
    assert filled > filled_by_source


# --- the shared toy run -------------------------------------------------------------------------------------


def test_training_lowers_the_loss(toy_training):
    history = toy_training.result.history
    assert len(history) == toy_training.config.epochs
    train_losses = [h["train_loss"] for h in history]
    valid_losses = [h["valid_loss"] for h in history]
    assert train_losses == sorted(train_losses, reverse=True), train_losses     # falls every epoch
    assert valid_losses[-1] < 0.5 * valid_losses[0]
    first_batch = next(e for e in toy_training.events if e.event == "batch")
    assert train_losses[-1] < 0.3 * first_batch.loss
    assert first_batch.loss == pytest.approx(math.log(toy_training.result.checkpoint.config.tgt_vocab_size), rel=0.3)


def test_the_trained_model_beats_chance(toy_training):
    """Not a pinned score: just that it has learnt something a random model cannot do."""
    tr = toy_training.translator
    test = toy_training.splits["test"]
    metrics = evaluate(tr, test, beam_size=1)
    assert metrics["sentences"] == len(test)
    assert metrics["chrf"] > 50
    digit_counts = [len(r.best.text) == len(p.en) for r, p in zip(tr.translate_batch([p.zh for p in test]), test)]
    assert sum(digit_counts) / len(test) > 0.5          # it has learnt how many digits a numeral has


def test_progress_events(toy_training):
    events, epochs = toy_training.events, toy_training.config.epochs
    kinds = [e.event for e in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert kinds.count("epoch") == epochs
    batches_per_epoch = events[0].batches
    assert kinds.count("batch") == epochs * batches_per_epoch
    fractions = [e.fraction for e in events if e.event == "batch"]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] == pytest.approx(1.0)
    for e in events:
        assert e.epochs == epochs and 1 <= e.epoch <= epochs
        assert e.elapsed >= 0 and e.remaining >= 0
    epoch_events = [e for e in events if e.event == "epoch"]
    for i, e in enumerate(epoch_events, start=1):
        assert e.epoch == i
        assert set(e.valid) >= {"bleu", "chrf", "exact", "loss", "sentences"}
        assert [h["epoch"] for h in e.history[:i]] == list(range(1, i + 1))
        assert e.probe is not None and e.probe.source.text == "三千零五"       # TrainConfig.probe
        assert e.probe.best.tokens
    assert events[-1].remaining == 0.0


def test_progress_history_is_a_snapshot(toy_training):
    epoch_events = [e for e in toy_training.events if e.event == "epoch"]
    assert [len(e.history) for e in epoch_events] == list(range(1, len(epoch_events) + 1))


def test_result_record(toy_training):
    result = toy_training.result
    record = result.checkpoint.record
    assert record["corpus"] == "toy:numbers"                           # the caller's record is merged in
    assert record["epochs_run"] == len(result.history) == toy_training.config.epochs
    assert record["best_epoch"] == result.best_epoch
    assert record["train_config"]["lr"] == toy_training.config.lr
    assert record["pairs"] == {"train": len(toy_training.splits["train"]), "valid": len(toy_training.splits["valid"])}
    best = result.history[result.best_epoch - 1]
    assert record["valid"]["chrf"] == best["valid_chrf"]
    assert best["valid_chrf"] == max(h["valid_chrf"] for h in result.history)   # the best epoch is kept
    assert not result.stopped
    assert not result.checkpoint.model.training


def test_returned_weights_are_the_best_epochs(small_splits):
    """With lr so high that training gets worse again, the result is the best epoch's model, not the last."""
    events = []
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=3, lr=0.5),
                 on_progress=events.append)
    chrfs = [h["valid_chrf"] for h in result.history]
    best = result.best_epoch
    assert chrfs[best - 1] == max(chrfs)
    assert best < len(chrfs) and chrfs[-1] < chrfs[best - 1], "the last epoch was the best: nothing to check"
    tr = Translator(result.checkpoint, device="cpu")
    valid = small_splits["valid"][:8]
    assert evaluate(tr, valid, beam_size=1)["chrf"] == pytest.approx(chrfs[best - 1])


def test_average_weights_is_the_elementwise_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "steps": torch.tensor(4)}
    mean = average_weights([a, b])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0]))
    assert mean["steps"].item() == 4                       # an integer buffer is the last epoch's, not averaged


def test_average_last_averages_the_last_epochs_and_keeps_the_average_only_if_validation_says_so(small_splits):
    """The record says which epochs were averaged and what the average scored; the returned weights are the
    average exactly when its validation key beats the best epoch's, and they score what the record says."""
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=4, average_last=3))
    record = result.checkpoint.record
    averaged = record["averaged"]
    assert averaged["epochs"] == [2, 3, 4]
    best_chrf = max(h["valid_chrf"] for h in result.history)
    assert averaged["kept"] == (averaged["chrf"] > best_chrf)
    valid = small_splits["valid"][:8]
    chrf = evaluate(Translator(result.checkpoint, device="cpu"), valid, beam_size=1)["chrf"]
    assert chrf == pytest.approx(averaged["chrf"] if averaged["kept"] else best_chrf)
    assert record["valid"]["chrf"] == pytest.approx(chrf)
    assert kept_weights(record) == ("the average of epochs 2–4" if averaged["kept"] else f"epoch {result.best_epoch}")
    plain = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=4))
    assert "averaged" not in plain.checkpoint.record
    with pytest.raises(ValueError, match="average_last"):
        TrainConfig(average_last=-1)


def test_moving_average_weighs_each_step_by_one_minus_d_times_d_to_its_age():
    """θ̄ ← d·θ̄ + (1 − d)·θ: the first update copies θ, the next ones follow the formula (a tied weight once)."""
    model = torch.nn.Linear(1, 1, bias=False)
    ema = moving_average(model, 0.9)
    for value in (1.0, 3.0, 5.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update_parameters(model)
    assert ema.module.weight.item() == pytest.approx(0.9 * (0.9 * 1.0 + 0.1 * 3.0) + 0.1 * 5.0)
    assert model.weight.item() == 5.0                       # the model itself is left as it is


def test_ema_decay_tries_the_moving_average_at_the_end_and_keeps_it_only_if_validation_says_so(small_splits):
    """The record says what the moving average scored; it follows the training (a moving average that was never
    updated would be the untrained model); the returned weights are it exactly when validation ranks it above
    every epoch and the epochs' average, and they score what the record says."""
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH,
                 small_config(epochs=3, ema_decay=0.9, average_last=2))
    record = result.checkpoint.record
    ema, averaged = record["ema"], record["averaged"]
    assert ema["decay"] == 0.9
    assert ema["loss"] < result.history[0]["valid_loss"]     # it holds trained weights, not the initial ones
    best_chrf = max(h["valid_chrf"] for h in result.history)
    assert ema["kept"] == (ema["chrf"] > max(best_chrf, averaged["chrf"]))
    assert not (ema["kept"] and averaged["kept"])
    kept = ema if ema["kept"] else averaged if averaged["kept"] else None
    chrf = evaluate(Translator(result.checkpoint, device="cpu"), small_splits["valid"][:8], beam_size=1)["chrf"]
    assert chrf == pytest.approx(kept["chrf"] if kept else best_chrf)
    assert record["valid"]["chrf"] == pytest.approx(chrf)
    if ema["kept"]:
        assert kept_weights(record) == "the moving average of the weights (d = 0.9)"
    assert "ema" not in fit(small_splits["train"], small_splits["valid"], SMALL_ARCH,
                            small_config(epochs=1)).checkpoint.record
    for wrong in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="ema_decay"):
            TrainConfig(ema_decay=wrong)


def test_kept_weights_names_the_moving_average():
    assert kept_weights({"best_epoch": 12, "ema": {"decay": 0.999, "kept": True}}) == \
        "the moving average of the weights (d = 0.999)"
    assert kept_weights({"best_epoch": 12, "ema": {"decay": 0.999, "kept": False}}) == "epoch 12"


@pytest.mark.parametrize("family", ["rnn", "transformer"])
def test_a_bf16_step_multiplies_in_bfloat16_and_updates_float32_weights(family):
    """precision "bf16": the step's linear layers compute in bfloat16 (autocast), the loss is a finite float32,
    and the weights the optimiser updates stay float32; without it every product is float32."""
    from torch import nn

    from seq2seq_lab.data import build_vocabs, make_batches, tokenize_pairs
    from seq2seq_lab.models import build_model, config_for
    from seq2seq_lab.train import PRECISIONS, make_criterion, make_optimizer, train_step

    pairs = [Pair(str(i), zh, en) for i, (zh, en) in enumerate([("三千零五", "3005"), ("九十九", "99"), ("十", "10")])]
    examples = tokenize_pairs(pairs, "char", "concat")
    src_vocab, tgt_vocab = build_vocabs(examples)
    arch = ({"family": "transformer", "d_model": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ff_size": 32}
            if family == "transformer" else {"emb_size": 16, "hidden_size": 16})
    [batch] = make_batches(examples, src_vocab, tgt_vocab, batch_size=3)
    for precision, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        torch.manual_seed(0)
        model = build_model(config_for({**arch, "src_segmenter": "char", "tgt_detok": "concat"},
                                       src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab)))
        seen = set()
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.register_forward_hook(lambda _m, _i, out, seen=seen: seen.add(out.dtype))
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        optimizer = make_optimizer(model, 1e-2)
        loss, n_tokens = train_step(model, batch, optimizer, make_criterion(0.0), clip=1.0,
                                    autocast=PRECISIONS[precision])
        assert seen == {dtype}, precision
        assert math.isfinite(loss) and n_tokens == batch.n_tokens
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert any(not torch.equal(p, before[name]) for name, p in model.named_parameters())


def test_fit_trains_in_the_precision_it_is_given_and_records_it(small_splits, monkeypatch):
    """fit passes TrainConfig.precision to every training step (validation stays float32), records it, and
    refuses a precision it does not know."""
    import seq2seq_lab.train as train_module

    used, real_step = [], train_module.train_step

    def spy(*args, **kwargs):
        used.append(kwargs.get("autocast"))
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", spy)
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(precision="bf16"))
    assert used and set(used) == {torch.bfloat16}
    assert result.checkpoint.record["train_config"]["precision"] == "bf16"
    assert result.history[0]["valid_chrf"] >= 0 and math.isfinite(result.history[0]["valid_loss"])
    used.clear()
    fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config())
    assert set(used) == {None}
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16'"):
        TrainConfig(precision="fp16")


def test_a_kept_average_is_what_the_result_holds_and_records(small_splits, monkeypatch):
    """Validation made to rank the average first: the result holds exactly the mean of the last epochs' weights,
    its record's valid figures are the average's, and best_epoch is the last averaged epoch."""
    import seq2seq_lab.train as train_module

    states = []
    real_validate = train_module._validate

    def validate(model, *args):
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_validate(model, *args)

    real_key, calls = train_module.selection_key, []

    def key(metrics, config):
        calls.append(1)
        return (math.inf,) if len(calls) == 5 else real_key(metrics, config)   # the 5th: the average (4 epochs)

    monkeypatch.setattr(train_module, "_validate", validate)
    monkeypatch.setattr(train_module, "selection_key", key)
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=4, average_last=2))
    record = result.checkpoint.record
    assert record["averaged"]["kept"] and record["averaged"]["epochs"] == [3, 4] and result.best_epoch == 4
    assert kept_weights(record) == "the average of epochs 3–4"
    mean = average_weights(states[2:4])
    for name, tensor in result.checkpoint.model.state_dict().items():
        assert torch.allclose(tensor, mean[name]), name
    assert record["valid"]["chrf"] == record["averaged"]["chrf"]
    chrf = evaluate(Translator(result.checkpoint, device="cpu"), small_splits["valid"][:8], beam_size=1)["chrf"]
    assert chrf == pytest.approx(record["averaged"]["chrf"])


# --- stopping --------------------------------------------------------------------------------------------


def test_should_stop_mid_run_returns_a_usable_model(small_splits):
    calls = {"n": 0}
    stop_after = 9                           # 168 training pairs / 32 = 6 batches per epoch: stop in epoch 2

    def should_stop():
        calls["n"] += 1
        return calls["n"] > stop_after

    events = []
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=5),
                 on_progress=events.append, should_stop=should_stop)
    assert result.stopped
    assert len(result.history) == 1 and result.best_epoch == 1         # epoch 2 never finished
    assert sum(e.event == "batch" for e in events) == stop_after
    assert events[-1].event == "done"
    assert result.checkpoint.record["stopped"] is True
    r = Translator(result.checkpoint, device="cpu").translate("三千零五", beam_size=2)
    assert r.best.tokens


def test_should_stop_before_the_first_batch_still_returns_a_model(small_splits):
    events = []
    result = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=3),
                 on_progress=events.append, should_stop=lambda: True)
    assert result.stopped
    assert [e.event for e in events] == ["epoch", "done"]
    assert len(result.history) == 1
    r = Translator(result.checkpoint, device="cpu").translate("三千零五", beam_size=2, max_len=5)
    assert r.best.tokens


def test_stop_at_exact_and_patience(small_splits):
    reached = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH,
                  small_config(epochs=4, stop_at_exact=0.0))
    assert len(reached.history) == 1
    impatient = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH,
                    small_config(epochs=6, lr=0.5, patience=1))
    assert len(impatient.history) < 6
    assert len(impatient.history) - impatient.best_epoch == 1


# --- repeatability ------------------------------------------------------------------------------------------------


def test_same_seed_same_model(small_splits):
    config = small_config(epochs=2, char_split_prob=0.0)
    a = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, config)
    b = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, config)
    c = fit(small_splits["train"], small_splits["valid"], SMALL_ARCH, small_config(epochs=2, seed=1))
    state_a, state_b, state_c = (r.checkpoint.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert not all(torch.equal(state_a[k], state_c[k]) for k in state_a)


def test_same_seed_same_model_with_jieba_and_char_split_practice():
    pairs = [Pair(str(i), zh, en) for i, (zh, en) in enumerate([
        ("我爱学习", "I love studying."), ("我爱你", "I love you."), ("他学习中文", "He studies Chinese."),
        ("你好", "Hello."), ("我们学习", "We study."), ("他爱中文", "He loves Chinese.")] * 4)]
    arch = {**SMALL_ARCH, "src_segmenter": "jieba", "tgt_detok": "english"}
    config = small_config(epochs=2, batch_size=8, char_split_prob=0.5)
    a = fit(pairs, pairs[:4], arch, config)
    b = fit(pairs, pairs[:4], arch, config)
    assert a.checkpoint.src_vocab.itos == b.checkpoint.src_vocab.itos
    assert "学" in a.checkpoint.src_vocab and "学习" in a.checkpoint.src_vocab      # characters of words too
    assert all(torch.equal(x, y) for x, y in zip(a.checkpoint.model.state_dict().values(),
                                                 b.checkpoint.model.state_dict().values()))


def test_empty_validation_set_is_allowed(small_splits):
    result = fit(small_splits["train"][:40], [], SMALL_ARCH, small_config())
    assert result.history[0]["valid_chrf"] == 0.0
    assert Translator(result.checkpoint, device="cpu").translate("五", max_len=3).best.tokens


def test_no_training_pairs_is_a_corpus_error(small_splits):
    from seq2seq_lab.errors import CorpusError
    with pytest.raises(CorpusError):
        fit([], small_splits["valid"], SMALL_ARCH, small_config())


# --- metrics ------------------------------------------------------------------------------------------------------


def test_corpus_metrics():
    refs = ["I love you.", "He is a student."]
    perfect = corpus_metrics(refs, refs)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    assert perfect["exact"] == 1.0
    half = corpus_metrics(["I love you.", "She was a teacher."], refs)
    assert half["exact"] == 0.5 and 0 < half["chrf"] < 100
    assert corpus_metrics([], []) == {"bleu": 0.0, "chrf": 0.0, "exact": 0.0}


def test_evaluate_scores_the_translations_it_makes(toy_training):
    tr = toy_training.translator
    pairs = toy_training.splits["valid"][:20]
    metrics = evaluate(tr, pairs, beam_size=3)
    hypotheses = [r.best.text for r in tr.translate_batch([p.zh for p in pairs], beam_size=3)]
    expected = corpus_metrics(hypotheses, [p.en for p in pairs])
    assert metrics == {**expected, "sentences": 20}          # digits: no repeat figures ("0 0" is no repeat)


@pytest.mark.parametrize("tokens, repeats", [
    (["i", "is", "a", "student", "student", "."], True),            # a word twice in a row
    (["we", "go", "and", "we", "read", "."], False),               # a grammar word twice, not in a row: fine
    (["i", "love", "learn", "to", "learn", "."], True),             # a content word twice, apart
    (["i", "'m", "a", "students", "student", "."], True),           # … in two forms
    (["she", "studies", "what", "he", "studied", "."], True),
    (["i", "think", "you", "know", "what", "i", "know", "."], True),
    (["i", "like", "tea", "as", "much", "as", "you", "like", "coffee", "."], False),   # "like", "as": grammar too
    (["i", "have", "2", "cats", "and", "2", "dogs", "."], False),   # nor is a number
    (["to", "meet", "you", "to", "meet", "."], True),               # a bigram twice
    (["the", "cat", "saw", "the", "dog", "."], False),
    (["no", ",", "no", "!"], False),                                # punctuation is not a word
    (["no", "no", "</s>"], True),
    ([".", ".", "</s>"], False),
])
def test_has_repeat(tokens, repeats):
    assert has_repeat(tokens) is repeats


def test_has_repeat_allows_what_the_reference_says_twice():
    output = "i saw him , and he saw me .".split()
    assert has_repeat(output)
    assert not has_repeat(output, reference="I saw him, and he saw me too .".split())
    assert has_repeat("i saw him , he saw me , i saw you .".split(), reference="I saw him and he saw me .".split())
    assert has_repeat("saw saw him".split(), reference="saw saw him".split()) is True    # in a row: never allowed


def test_evaluate_counts_repeated_outputs_as_wrong(make_translator):
    """chrf_repeats_wrong is the chrF of the outputs with every repeating one replaced by nothing."""
    tr = make_translator("additive", eos_bias=-2.0)            # long outputs from a random model repeat words
    pairs = [Pair(f"p{i}", zh, "I love studying Chinese .") for i, zh in enumerate(EXAMPLE_SENTENCES)]
    metrics = evaluate(tr, pairs, beam_size=2, max_len=12)
    results = tr.translate_batch([p.zh for p in pairs], beam_size=2, max_len=12)
    flags = [has_repeat(r.best.tokens, reference=p.en.split()) for r, p in zip(results, pairs)]
    assert any(flags), "the random model should repeat itself somewhere"
    assert metrics["repeats"] == sum(flags) / len(flags)
    kept = ["" if flag else r.best.text for r, flag in zip(results, flags)]
    assert metrics["chrf_repeats_wrong"] == pytest.approx(corpus_metrics(kept, [p.en for p in pairs])["chrf"])
    assert metrics["chrf_repeats_wrong"] <= metrics["chrf"]


FAULTS_PER_BATCH = textwrap.dedent("""
    import resource, sys, torch
    from seq2seq_lab.data import Batch
    from seq2seq_lab.model import ModelConfig, Seq2Seq
    from seq2seq_lab.train import keep_freed_memory, make_criterion, make_optimizer, train_step

    torch.set_num_threads(1)
    if sys.argv[1] == "keep":
        assert keep_freed_memory() and keep_freed_memory()            # idempotent
    torch.manual_seed(0)
    # The default recipe's sizes: its embedding gradients and (N, V) logits are megabytes each.
    model = Seq2Seq(ModelConfig(src_vocab_size=6000, tgt_vocab_size=4000, emb_size=256, hidden_size=256,
                                lexical=True))
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(13):
        src, tgt = torch.randint(4, 6000, (32, 12), generator=g), torch.randint(4, 4000, (32, 13), generator=g)
        batches.append(Batch(src, torch.full((32,), 12), tgt[:, :-1], tgt[:, 1:], [], list(range(32))))
    optimizer, criterion = make_optimizer(model, 1e-3), make_criterion(0.1)
    for batch in batches[:3]:                                          # warm-up: first touches are expected
        train_step(model, batch, optimizer, criterion, clip=1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for batch in batches[3:]:
        train_step(model, batch, optimizer, criterion, clip=1.0)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_keep_freed_memory_stops_training_steps_from_page_faulting():
    """With glibc's defaults every training step page-faults its large tensors back in from the
    kernel; after keep_freed_memory() (which fit calls) it reuses them. Each case runs in a fresh
    process, since the setting is process-wide."""
    def faults_per_batch(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", FAULTS_PER_BATCH, mode], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent.parent)
        return int(run.stdout.split()[-1])

    default, kept = faults_per_batch("default"), faults_per_batch("keep")
    assert default > 1000                       # seen: 2,800–4,800 minor faults a batch
    assert kept * 2 < default                   # seen: 0–900
