"""Command line: ``python -m seq2seq_lab translate|train|evaluate``.

    python -m seq2seq_lab translate "我爱学习" --beam 5
    python -m seq2seq_lab translate "三千零五" --model toy_numbers        # a name in the models folder, or a file
    python -m seq2seq_lab train --data toy:numbers --epochs 5 --out models/my_numbers.safetensors
    python -m seq2seq_lab evaluate --model models/everyday_additive.safetensors --split test:tatoeba
    torchrun --standalone --nproc_per_node 2 -m seq2seq_lab train --data toy:numbers --out models/n.safetensors

The benchmarks are not part of the package: ``python bench/run.py`` (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from . import settings
from .attention import ATTENTION_TYPES
from .catalog import DEFAULT_MODEL, SUFFIX, available_models, model_path
from .errors import CheckpointError, LabError


def _model_path(value: str | None) -> Path:
    """``--model``: a model file, or a model's name in the models folder as the apps' picker knows it
    (``toy_numbers``, ``user/my_dates``); the default model when it is not given."""
    models_dir = settings.load().models_dir
    if not value:
        return models_dir / f"{DEFAULT_MODEL}{SUFFIX}"
    if Path(value).is_file():
        return Path(value)
    try:
        return model_path(value, models_dir)             # refuses names that leave the folder
    except CheckpointError as error:
        if error.code != "missing":                      # not a name (it has a folder in it): a path to a file
            raise CheckpointError("missing", f"model file {value} does not exist", path=value) from None
    names = ", ".join(sorted(available_models(models_dir)[0])) or "none"
    raise CheckpointError("missing", f"there is no model file {value!r} and no model called {value!r} in "
                          f"{models_dir} (models there: {names})", path=value)


def figures_text(metrics: dict, corpus: str, digits: int = 1) -> str:
    """The figure that fits the task: exact match for a toy task (BLEU on a one-token output like "3005"
    means little), BLEU and chrF for sentences."""
    if corpus.startswith("toy:"):
        return f"exact match {metrics['exact']:.{digits}%}"
    return f"BLEU {metrics['bleu']:.{digits}f}  chrF {metrics['chrf']:.{digits}f}"


def text_heatmap(row_labels: list[str], col_labels: list[str], weights) -> str:
    """Attention as text: one row per output token, shades ' ░▒▓█' for 0–1."""
    shades = " ░▒▓█"
    width = max(len(c) for c in col_labels) + 1
    rows = ["".ljust(12) + "".join(c.ljust(width) for c in col_labels)]
    for label, row in zip(row_labels, weights):
        cells = "".join((shades[min(4, int(w * 5))] * 2).ljust(width) for w in row)
        rows.append(label[:11].ljust(12) + cells)
    return "\n".join(rows)


def cmd_translate(args) -> int:
    from .translator import Translator

    tr = Translator.load(_model_path(args.model), device=args.device, names=not args.no_names)
    r = tr.translate(args.text, beam_size=args.beam, n_best=args.n_best, length_penalty=args.length_penalty,
                     coverage_penalty=args.coverage_penalty, max_len=args.max_len,
                     no_repeat_ngram_size=args.no_repeat_ngram, prefix=args.prefix.split() if args.prefix else ())
    print(f"model:        {tr.name} ({tr.attention_type} attention) on {r.device}")
    print(f"segmentation: {' / '.join(r.source.words)}")
    if r.source.unknown or r.source.split_words:
        print(f"unknown: {r.source.unknown}   split into characters: {r.source.split_words}")
    for name in r.source.names:
        print(f"name:         {name.word} read as the stand-in {name.stand_in} (\"{name.stand_in_en}\"), "
              f"written back as {name.pinyin}")
    print(f"model tokens: {r.src_tokens}")
    print(f"\n{'#':>2}  {'log-prob':>9}  {'score':>9}  translation")
    for i, c in enumerate(r.candidates, start=1):
        print(f"{i:>2}  {c.score:9.3f}  {c.normalized_score:9.3f}  {c.text}")
    if r.best.attention is not None:
        print("\nattention of the best translation (rows: output, columns: source)\n")
        print(text_heatmap(r.best.tokens, r.src_tokens, r.best.attention))
    return 0


def _data(spec: str):
    """'hsk', 'everyday', 'toy:<task>' or a TSV path → (corpus.Splits, the ModelConfig fields the data fixes)."""
    from .corpus import DATA_SPECS, load_splits, parse_tsv
    from .recipes import data_arch

    if spec in DATA_SPECS or spec.startswith("toy:"):
        return load_splits(spec), data_arch(spec)
    path = Path(spec)
    report = parse_tsv(path.read_bytes(), name=path.name)
    for line, problem in report.errors[:10]:
        print(f"{path.name}:{line}: skipped: {problem}", file=sys.stderr)
    return load_splits(path.name, pairs=report.pairs), {}


@contextmanager
def stop_requests():
    """While training: Ctrl-C or SIGTERM (what ``torchrun`` sends its workers when it stops) asks the training
    to stop after the current batch, keeping the best weights so far, instead of killing it mid-step.
    Yields the callable ``fit`` polls; the previous handlers come back afterwards."""
    requested: list[int] = []

    def handler(signum, frame):
        requested.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(requested)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_train(args) -> int:
    from . import distributed
    from .errors import InputError, TrainingError

    try:
        ctx = distributed.start(args.device)        # a no-op without torchrun
    except ValueError as error:                     # cuda:1 under torchrun: the launcher picks each rank's GPU
        raise InputError("bad_training_option", str(error)) from None
    try:
        return _train(args, ctx)
    except RuntimeError as error:                   # (torch.distributed.DistError is one)
        if not ctx.is_distributed:
            raise
        # A collective failed: another rank died or was stopped (gloo: "Connection reset by peer"), so this one
        # cannot go on either. One line here; torchrun's own summary names the rank that failed first.
        reason = str(error).strip().splitlines()[0][:300]
        raise TrainingError("peer_failed", f"rank {ctx.rank}: training stopped, another training process failed "
                                           f"or left ({reason})") from None
    finally:
        distributed.stop()


def _train(args, ctx) -> int:
    """``train`` in one process of ``ctx`` (all of it, or one rank of a torchrun job: rank 0 checks the output
    path, reports, measures the test splits and saves; the others only train)."""
    from tqdm import tqdm

    from .checkpoint import check_writable, save
    from .errors import InputError
    from .models import config_for
    from .train import TrainConfig, fit, kept_weights, record_test_figures, test_figures
    from .translator import Translator, resolve_device

    arch: dict = {}
    if args.family == "transformer":      # --hidden is d_model; --layers counts encoder and decoder layers each
        arch.update(family="transformer", d_model=args.hidden, heads=args.heads, ff_size=args.ff,
                    enc_layers=args.layers, dec_layers=args.layers, dropout=args.dropout)
    else:
        arch.update(cell=args.cell, attention=args.attention, emb_size=args.emb, hidden_size=args.hidden,
                    enc_layers=args.layers, dec_layers=args.layers, bidirectional=not args.unidirectional,
                    dropout=args.dropout)
    try:
        config_for(arch, src_vocab_size=8, tgt_vocab_size=8)     # the architecture's own checks
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                             device=args.device, teacher_forcing=args.teacher_forcing,
                             label_smoothing=args.label_smoothing, min_freq=args.min_freq,
                             warmup_steps=args.warmup, schedule="linear" if args.family == "transformer" else "plateau",
                             precision=args.precision)
        if args.family == "transformer" and args.teacher_forcing != 1.0:
            raise ValueError("the Transformer trains with teacher forcing only (--teacher-forcing 1)")
        if args.batch_size < ctx.world_size:
            raise ValueError(f"--batch-size {args.batch_size} is the global batch, split over {ctx.world_size} "
                             f"processes: it must be at least {ctx.world_size}")
    except ValueError as error:                     # nonsense settings: refused before any data is read
        raise InputError("bad_training_option", str(error)) from None
    resolve_device(args.device)
    if ctx.is_main:
        check_writable(args.out)                    # not only after the whole training
    splits, data_fixed = _data(args.data)
    arch.update(data_fixed)
    bar = tqdm(total=1.0, unit="run", mininterval=0.5, bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}",
               disable=not ctx.is_main)

    corpus = splits.record.get("corpus", args.data)

    def on_progress(p):
        bar.n = round(p.fraction, 4)
        post = f"epoch {p.epoch}/{p.epochs} loss {p.loss:.3f}"
        if p.valid:
            post += f" | valid {figures_text(p.valid, corpus)}"
        bar.set_postfix_str(post, refresh=False)
        bar.update(0)                              # redraws at most every mininterval

    with stop_requests() as should_stop:
        result = fit(splits.train, splits.valid, arch, config, on_progress=on_progress, should_stop=should_stop,
                     record=splits.record)
    bar.close()
    if not ctx.is_main:
        return 0
    if result.stopped:                              # asked to stop: save at once, skip the test splits
        out = save(args.out, result.checkpoint)
        print(f"stopped on request: saved the best epoch so far ({result.best_epoch}) to {out}; test figures "
              f"skipped (python -m seq2seq_lab evaluate --model {out})")
        return 0
    tr = Translator(result.checkpoint, device=args.device, names=False)    # recorded: the model alone
    figures = test_figures(tr, splits.tests)
    record_test_figures(result.checkpoint.record, figures)
    out = save(args.out, result.checkpoint)
    processes = f", {ctx.world_size} processes ({ctx.backend})" if ctx.is_distributed else ""
    print(f"saved {out}  ({kept_weights(result.checkpoint.record)}, {result.elapsed:.0f} s{processes})")
    for test_set, by_decoding in figures.items():
        label = "" if len(figures) == 1 else f" {test_set}"
        for name, m in by_decoding.items():
            print(f"test{label} {name:6}: {figures_text(m, corpus)}")
    return 0


def cmd_evaluate(args) -> int:
    from .checkpoint import read_metadata
    from .corpus import recorded_splits
    from .errors import CorpusError
    from .train import evaluate
    from .translator import Translator

    path = _model_path(args.model)
    record = read_metadata(path).get("record", {})
    corpus = record.get("corpus", "hsk")
    splits = recorded_splits(record)
    if args.split not in ("train", "valid", "test") and not (args.split.startswith("test:")
                                                             and args.split[5:] in splits.tests):
        raise CorpusError("unknown_split", f"{path.stem} has no split {args.split!r}; choose train, valid, test "
                          f"or {', '.join('test:' + name for name in splits.tests)}")
    tr = Translator.load(path, device=args.device, names=not args.no_names)
    out = {"model": path.stem, "split": args.split, "device": tr.device_label}
    for name, beam in (("greedy", 1), (f"beam{args.beam}", args.beam)):
        out[name] = evaluate(tr, splits[args.split], beam_size=beam, length_penalty=args.length_penalty)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{path.stem} on {corpus} {args.split} ({out['greedy']['sentences']} sentences, {tr.device_label})")
        for name, m in out.items():
            if isinstance(m, dict):
                print(f"  {name:8} {figures_text(m, corpus, digits=2)}")
    return 0


MODEL_HELP = (f"a .safetensors file, or a model's name in the models folder: toy_numbers, user/my_dates "
              f"(default: {DEFAULT_MODEL})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seq2seq_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("translate", help="translate one sentence and show the attention")
    p.add_argument("text")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--n-best", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=0.0)
    p.add_argument("--coverage-penalty", type=float, default=0.0)
    p.add_argument("--max-len", type=int)
    p.add_argument("--no-repeat-ngram", type=int, default=0)
    p.add_argument("--prefix", help="force the output to start with these words")
    p.add_argument("--no-names", action="store_true",
                   help="feed people's names the model lacks as they are (no stand-in name, no pinyin)")
    p.add_argument("--device", default=settings.load().device)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("train", help="train a model and save it")
    p.add_argument("--data", default="hsk",
                   help="'everyday' (HSK + Tatoeba + dictionary, ~69k pairs), 'hsk', "
                        "'toy:numbers|dates_iso|dates_en' or a TSV file")
    p.add_argument("--out", required=True)
    p.add_argument("--family", default="rnn", choices=["rnn", "transformer"])
    p.add_argument("--cell", default="gru", choices=["gru", "lstm"])
    p.add_argument("--attention", default="additive", choices=list(ATTENTION_TYPES))
    p.add_argument("--emb", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--heads", type=int, default=4, help="Transformer: attention heads (--hidden is d_model)")
    p.add_argument("--ff", type=int, default=512, help="Transformer: feed-forward inner size")
    p.add_argument("--warmup", type=int, default=0, help="learning-rate warm-up steps (a Transformer wants some)")
    p.add_argument("--unidirectional", action="store_true")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--teacher-forcing", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--min-freq", type=int, default=1, help="rarer words and English tokens become <unk>")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="fp32",
                   help="fp32 (default) or bf16: training steps in bfloat16 (~1.4x faster with AVX512-BF16)")
    p.add_argument("--device", default=settings.load().device)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="BLEU/chrF (exact match for a toy task) of a model on its corpus, "
                                        "greedy and beam")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--split", default="test",
                   help="train, valid, test (the first test set: HSK's for the everyday models) or "
                        "test:<name> (test:tatoeba, test:everyday)")
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=0.0)
    p.add_argument("--no-names", action="store_true",
                   help="feed people's names the model lacks as they are (no stand-in name, no pinyin)")
    p.add_argument("--device", default=settings.load().device)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
