"""Data-parallel training across processes: ``torch.distributed`` and DistributedDataParallel under ``torchrun``.

    torchrun --standalone --nproc_per_node 2 -m seq2seq_lab train --data toy:numbers --out models/n.safetensors

``torchrun`` starts N copies of the same program and tells each who it is through the environment
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``). :func:`start` reads them and
joins the process group: the **gloo** backend on the CPU, **NCCL** on CUDA (one GPU per process,
``cuda:LOCAL_RANK``). Without ``torchrun`` it initialises nothing and returns the single-process
:class:`Context`, and everything runs exactly as before.

How :func:`~.train.fit` splits the work (data parallelism, one global batch per step):

* every rank builds the same length-bucketed batches in the same shuffled order (same seed), and
  takes its own contiguous slice of each: :func:`shard_rows`. The slices of one batch are disjoint
  and cover it, so an epoch trains on every example exactly once, and every rank runs the same
  number of steps (no uneven last batches to wait for);
* DistributedDataParallel averages the gradients over the ranks during ``backward``. Rank r scales
  its token-mean loss by ``W · N_r / N`` (its tokens N_r of the batch's N, W ranks), so that average
  is exactly the single-process gradient of the whole batch: :func:`loss_scale`;
* the batch size is therefore the **global** batch: a recipe means the same optimiser steps for any
  number of processes, and gives the same model, up to float rounding and dropout's random masks;
* validation, progress and saving happen on rank 0 only; rank 0 broadcasts what it decided
  (learning rate, stop) to the others. A stop request on any rank stops all of them at the same
  step (:func:`any_rank`), and a rank that dies breaks the others' next collective, which raises.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# How long a collective waits for a peer that is alive but silent (a dead peer fails at once: its socket
# closes). The others wait while rank 0 validates (seconds) and, in scripts/train_models.py, while it measures
# the test splits and saves (minutes), so this is torch's own default for gloo.
COLLECTIVE_TIMEOUT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Context:
    """Who this process is in a training run."""

    rank: int = 0                 # 0 … world_size − 1; rank 0 validates, reports and saves
    local_rank: int = 0           # the rank on this machine: which GPU it drives
    world_size: int = 1           # processes training together
    backend: str | None = None    # "gloo" or "nccl"; None: a plain single process, no process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.backend is not None

    def record(self) -> dict:
        """What a training record says about the run: ``{"backend": "gloo", "world_size": 2}``, or {}."""
        return {"backend": self.backend, "world_size": self.world_size} if self.is_distributed else {}


SINGLE = Context()


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``torchrun`` (or another launcher speaking its protocol) started this process."""
    env = os.environ if environ is None else environ
    return all(env.get(name) for name in TORCHRUN_VARIABLES)


def backend_for(device: str) -> str:
    """NCCL for CUDA devices, gloo for the CPU (``device`` as the CLI takes it: auto, cpu, cuda, cuda:1)."""
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    return "nccl" if wants_cuda else "gloo"


def start(device: str = "auto", *, environ: Mapping[str, str] | None = None) -> Context:
    """Join the process group ``torchrun`` set up, or return :data:`SINGLE` when there is none.

    On CUDA each process takes the GPU of its local rank, so ``--device cuda`` (or ``auto``) means
    "my GPU" in every process; a ``cuda:K`` with an explicit index is refused (which GPU is the launcher's
    choice, by local rank)."""
    env = os.environ if environ is None else environ
    if not launched_by_torchrun(env):
        return SINGLE
    backend = backend_for(device)
    local_rank = int(env["LOCAL_RANK"])
    if backend == "nccl":
        if ":" in device:
            raise ValueError(f"under torchrun each process uses the GPU of its local rank; use --device cuda, "
                             f"not {device}")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    return Context(dist.get_rank(), local_rank, dist.get_world_size(), backend)


def stop() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def session(device: str = "auto") -> Iterator[Context]:
    """``with session(device) as ctx:`` — :func:`start`, then :func:`stop` however the block ends."""
    ctx = start(device)
    try:
        yield ctx
    finally:
        stop()


def current() -> Context:
    """This process's :class:`Context` from the process group, if one is initialised (what ``fit`` asks)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return Context(dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_world_size(), dist.get_backend())


def shard_rows(rows: int, ctx: Context) -> slice:
    """Rank r's contiguous share of a batch of ``rows`` examples: the W slices are disjoint and cover it,
    their sizes differ by at most one. ``rows`` must be at least W (every rank needs an example)."""
    start, extra = divmod(rows, ctx.world_size)
    begin = ctx.rank * start + min(ctx.rank, extra)
    return slice(begin, begin + start + (ctx.rank < extra))


def loss_scale(rank_tokens: int, batch_tokens: int, ctx: Context) -> float:
    """The factor on rank r's token-mean loss that makes DDP's gradient average equal the whole batch's:

        mean over ranks of  W·N_r/N · ∇(L_r/N_r)  =  Σ_r ∇L_r / N  =  ∇(token mean over the whole batch)

    with L_r the summed token loss of rank r's N_r tokens, N = Σ N_r. 1 for a single process. (Exact for the
    cross-entropy; a guided-alignment term, a mean over the steps with a gold set, is weighted by tokens too,
    which is exact only where every rank has the same share of such steps.)"""
    return ctx.world_size * rank_tokens / batch_tokens if ctx.is_distributed else 1.0


def any_rank(flag: bool, ctx: Context, device: torch.device) -> bool:
    """True on every rank if ``flag`` is True on any (one all-reduce of one number)."""
    if not ctx.is_distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(values: list[float], ctx: Context, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (the others' are ignored): decisions only rank 0 can take."""
    if not ctx.is_distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def total(values: list[float], ctx: Context, device: torch.device) -> list[float]:
    """The sums of ``values`` over all ranks (e.g. an epoch's training loss and token count)."""
    if not ctx.is_distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


# torch 2.13 renamed DDP's broadcast_buffers to forward_sync_buffers (the old name warns); a GPU machine's own
# torch may be older (2.11 on the lent H200, where the new name is a TypeError).
_SYNC_BUFFERS = ("forward_sync_buffers" if "forward_sync_buffers" in
                 inspect.signature(torch.nn.parallel.DistributedDataParallel.__init__).parameters
                 else "broadcast_buffers")


def wrap(model: torch.nn.Module, ctx: Context, device: torch.device) -> torch.nn.Module:
    """The module the training step calls: ``model`` itself, or DistributedDataParallel around it.

    DDP broadcasts rank 0's weights (and buffers) at construction, so every rank starts from the same model.
    The buffers (the Transformer's positional table) are constants, so they are not re-sent every step.
    ``static_graph``: every step uses the same parameters. Not always all of them (the model without
    attention never reads ``encoder.to_memory``), and DDP, told the set is fixed, learns it in the
    first step instead of searching the autograd graph for unused parameters at every step."""
    if not ctx.is_distributed:
        return model
    device_ids = [device.index if device.index is not None else ctx.local_rank] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids, static_graph=True,
                                                     **{_SYNC_BUFFERS: False})
