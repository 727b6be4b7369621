"""Decoding on a CPU reads the shipped int8 weights as 16-bit integers: half the bytes, the same numbers.

The shipped models store each large matrix as int8 rows with one scale per row (``checkpoint.save(int8=True)``),
so after loading, every such weight is *exactly*

    W = diag(s) · Q,   Q_ij ∈ {−127 … 127},   s_i a float16 number

and a linear layer's output is   y = x Wᵀ + b = (x Qᵀ) ⊙ s + b.

Decoding one sentence multiplies a few rows x by every weight matrix at each step, so its time goes into
reading the weights (~15 MB of fp32 a Transformer step; a 256 × 256 product costs ~10 µs with the weights in
cache and ~100 µs without). Integers up to 127 are exact in float16, so Q can be kept as float16 — half the bytes
of W in float32, and nothing rounded — and multiplied by FBGEMM's fp16-weight kernel, which widens each weight to
float32 and accumulates in float32. Only the order of the float32 additions differs from ``F.linear``: outputs
agree to ~1e-6 relatively, as two BLAS libraries would (``tests/test_packed.py``; ``bench/packed.py``: a greedy or
beam-5 search in about half the time).

:func:`pack` swaps the class of every ``nn.Linear`` whose weight has that exact form to :class:`PackedLinear`
(the same module, weights and ``state_dict``; one more buffer-like attribute). It takes the packed path only when
nothing needs the float32 weights: on the CPU, without gradients (Integrated Gradients and training use the
float32 weights), for float32 inputs, and while the weight is unchanged since packing (an in-place update, such
as an optimiser step or ``load_state_dict``, bumps the tensor's version). Elsewhere it is ``nn.Linear``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

INT8_MAX = 127

# The fp16-weight entry points print a deprecation warning (their successors live in torchao, which this project
# does not install); torch is pinned, and `available` checks that the kernel runs here.
warnings.filterwarnings("ignore", message=r"fbgemm_\w+ is deprecated")


def _fbgemm_runs() -> bool:
    """Whether this CPU and torch build have FBGEMM's fp16-weight kernel (x86 with AVX2; not ARM)."""
    try:
        packed = torch.fbgemm_pack_gemm_matrix_fp16(torch.ones(8, 8))
        torch.fbgemm_linear_fp16_weight_fp32_activation(torch.ones(1, 8), packed, torch.zeros(8))
        return True
    except (AttributeError, RuntimeError):
        return False


available = _fbgemm_runs()


def int8_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(Q, s) with ``weight == Q · s`` row by row exactly (|Q| ≤ 127 integers), or None if the weight has no
    such form (a model trained or stored in float). A row's largest |w| is 127 · s by construction of
    ``checkpoint.quantize_rows``, so s = max_j |w_ij| / 127 recovers the stored scale exactly."""
    if weight.dim() != 2 or weight.dtype != torch.float32:
        return None
    w = weight.detach()
    scale = w.abs().amax(dim=1) / INT8_MAX                                          # (rows,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))                   # an all-zero row: Q = 0
    q = w / scale[:, None]
    if not (torch.equal(q, q.round()) and torch.equal(q * scale[:, None], w)):
        return None
    return q, scale


@dataclass(frozen=True)
class PackedRows:
    """Q (as float16, in FBGEMM's layout), s, and the weight's version when it was packed."""

    q: torch.Tensor           # FBGEMM's packed fp16 matrix: an opaque handle
    scale: torch.Tensor       # (out,) s
    zeros: torch.Tensor       # (out,) the kernel adds a bias; b is added after the scaling
    version: int


class PackedLinear(nn.Linear):
    """``nn.Linear`` that computes y = (x Qᵀ) ⊙ s + b from the packed float16 integers when it can (see the
    module's docstring), and x Wᵀ + b otherwise. Made by :func:`pack`, never constructed directly."""

    packed: PackedRows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_packed(x):
            return F.linear(x, self.weight, self.bias)
        out = torch.fbgemm_linear_fp16_weight_fp32_activation(x.contiguous(), self.packed.q, self.packed.zeros)
        return out.mul_(self.packed.scale) if self.bias is None else torch.addcmul(self.bias, out, self.packed.scale)

    def use_packed(self, x: torch.Tensor) -> bool:
        return (not torch.is_grad_enabled() and x.dtype == torch.float32 and x.device.type == "cpu"
                and self.weight.device.type == "cpu" and self.weight._version == self.packed.version)


def pack(model: nn.Module) -> int:
    """Let every linear layer of ``model`` whose weight is exact int8 rows decode from packed float16 integers
    (a CPU model loaded from a shipped file); the number of layers packed. A no-op where FBGEMM does not run."""
    if not available:
        return 0
    count = 0
    for module in model.modules():
        if type(module) is not nn.Linear or module.weight.device.type != "cpu":
            continue
        rows = int8_rows(module.weight)
        if rows is None:
            continue
        q, scale = rows
        module.__class__ = PackedLinear
        module.packed = PackedRows(torch.fbgemm_pack_gemm_matrix_fp16(q.contiguous()), scale,
                                   torch.zeros_like(scale), module.weight._version)
        count += 1
    return count


def is_packed(layer: nn.Module) -> bool:
    return isinstance(layer, PackedLinear)
