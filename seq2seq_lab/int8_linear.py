"""Decoding on a CPU reads the shipped int8 weights as 16-bit integers: half the bytes, the same numbers.

The shipped models store each large matrix as int8 rows with one scale per row (``checkpoint.save(int8=True)``),
so after loading, every such weight is *exactly*

    W = diag(s) · Q,   Q_ij ∈ {−127 … 127},   s_i a float16 number

and a linear layer's output is   y = x Wᵀ + b = (x Qᵀ) ⊙ s + b.

Decoding one sentence multiplies a few rows x by every weight matrix at each step, so its time goes into
reading the weights (~15 MB of float32 a Transformer step; a 256 × 256 product costs ~10 µs with the weights in
cache and ~100 µs without). Integers up to 127 are exact in float16, so Q can be kept as float16 — half the bytes
of W in float32, and no weight rounded — and multiplied by FBGEMM's fp16-weight kernel, which widens each weight
to float32 and accumulates in float32; s and b are applied after. Only float32 rounding differs from ``F.linear``
(the order of the sums, and the scale applied once per output instead of once per weight): outputs agree to
~1e-6 relatively, as two BLAS libraries would (``tests/test_int8_linear.py``; ``bench/int8_linear.py``: a greedy
or beam-5 search in about half to two thirds of the time, the same search trees).

:func:`pack` turns every ``nn.Linear`` of an *inference* model whose weight has that exact form into a
:class:`PackedLinear` (the same module, weights and ``state_dict``, one more attribute). It takes the packed path
only when nothing needs the float32 weights: in eval mode, without gradients (Integrated Gradients uses the float32
weights), for float32 inputs of 2 or more dimensions, while the weight is the same tensor, unchanged since packing
(packing is for CPU models). Anything that trains or converts the layer — ``train()``, ``.to()``, ``.half()``,
``.cuda()`` — turns it back into a plain ``nn.Linear`` first; a copy (``copy.deepcopy``) is a plain
``nn.Linear``.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

INT8_MAX = 127

# FBGEMM's fp16-weight entry points say they are deprecated (their successors live in torchao, which this project
# does not install) once per process; torch is pinned, and `available` checks that the kernel runs here.
warnings.filterwarnings("ignore", message=r"fbgemm_(pack_gemm_matrix_fp16|linear_fp16_weight_fp32_activation) is "
                        r"deprecated")


@functools.cache
def available() -> bool:
    """Whether this CPU and torch build run FBGEMM's fp16-weight kernel (x86 with AVX2; not ARM)."""
    try:
        packed = torch.fbgemm_pack_gemm_matrix_fp16(torch.ones(8, 8))
        torch.fbgemm_linear_fp16_weight_fp32_activation(torch.ones(1, 8), packed, torch.zeros(8))
        return True
    except (AttributeError, RuntimeError):
        return False


def int8_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(Q (out, in), s (out,)) with ``weight == Q · s`` row by row exactly (|Q| ≤ 127 integers), or None if the
    weight has no such form (a model trained or stored in float). A row's largest |w| is 127 · s by construction
    of ``checkpoint.quantize_rows``, so s = max_j |w_ij| / 127 recovers the stored scale exactly (127 · s is exact
    in float32, and so is its division by 127)."""
    if weight.dim() != 2 or weight.dtype != torch.float32:
        return None
    w = weight.detach()                                                             # (out, in)
    scale = w.abs().amax(dim=1) / INT8_MAX                                          # (out,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))                   # an all-zero row: Q = 0
    q = w / scale[:, None]                                                          # (out, in)
    if not (torch.equal(q, q.round()) and torch.equal(q * scale[:, None], w)):     # NaN and inf fail here too
        return None
    return q, scale


@dataclass(frozen=True)
class PackedRows:
    """Q (as float16 integers, in FBGEMM's layout), s, and which weight tensor, at which version, they were made
    from (an in-place change bumps the version; a new tensor has another address)."""

    q: torch.Tensor           # FBGEMM's packed fp16 matrix: an opaque handle, valid in this process only
    scale: torch.Tensor       # (out,) s
    zeros: torch.Tensor       # (out,) the kernel adds a bias; b is added after the scaling
    data_ptr: int
    version: int


class PackedLinear(nn.Linear):
    """``nn.Linear`` that computes y = (x Qᵀ) ⊙ s + b from packed float16 integers when it can (the module's
    docstring says when), and x Wᵀ + b otherwise. Made by :func:`pack`, never constructed directly."""

    packed: PackedRows

    def forward(self, x: torch.Tensor) -> torch.Tensor:                # (…, in) → (…, out)
        if not self.use_packed(x):
            return F.linear(x, self.weight, self.bias)
        out = torch.fbgemm_linear_fp16_weight_fp32_activation(x.contiguous(), self.packed.q, self.packed.zeros)
        if self.bias is None:                                               # (…, out) x Qᵀ
            return out.mul_(self.packed.scale)                             # ⊙ s
        return torch.addcmul(self.bias, out, self.packed.scale)            # b + (x Qᵀ) ⊙ s

    def use_packed(self, x: torch.Tensor) -> bool:
        """Whether the packed integers give this call's answer: an inference call on the CPU, on the weight they
        were made from."""
        weight = self.weight           # moved or converted, it would no longer be packed (_apply); another tensor
        return (not self.training and not torch.is_grad_enabled() and x.dim() >= 2   # has another address
                and x.dtype == torch.float32 and weight.data_ptr() == self.packed.data_ptr
                and weight._version == self.packed.version)

    def unpack(self) -> nn.Linear:
        """Back to a plain ``nn.Linear`` (the float32 weights were never changed)."""
        del self.packed
        self.__class__ = nn.Linear
        return self

    def train(self, mode: bool = True) -> nn.Module:
        if mode:                                   # training changes the weights: the packed integers would go stale
            self.unpack()
        return nn.Linear.train(self, mode)

    def _apply(self, fn, recurse: bool = True):    # .to(), .half(), .cuda(), … convert the float32 weights
        self.unpack()
        return nn.Linear._apply(self, fn, recurse)

    def __getstate__(self) -> dict:                # a copy leaves the packed handle out: it is not data
        return {name: value for name, value in self.__dict__.items() if name != "packed"}

    def __setstate__(self, state: dict) -> None:   # … and is a plain nn.Linear
        nn.Linear.__setstate__(self, state)
        self.__class__ = nn.Linear


def pack(model: nn.Module) -> int:
    """Let every linear layer of the inference model ``model`` whose weight is exact int8 rows decode from packed
    float16 integers (a CPU model loaded from a shipped file); the number of layers packed. A no-op where FBGEMM
    does not run, in training mode, and for weights made under ``torch.inference_mode`` (no version to check)."""
    if not available():
        return 0
    count = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if type(module) is not nn.Linear or module.training or weight.device.type != "cpu" or weight.is_inference():
            continue
        rows = int8_rows(weight)
        if rows is None:
            continue
        q, scale = rows
        module.__class__ = PackedLinear
        module.packed = PackedRows(torch.fbgemm_pack_gemm_matrix_fp16(q.contiguous()), scale,
                                   torch.zeros_like(scale), weight.data_ptr(), weight._version)
        count += 1
    return count


def is_packed(layer: nn.Module) -> bool:
    """Whether ``layer`` computes from packed integers (``model.step_logits`` then leaves the product to it)."""
    return isinstance(layer, PackedLinear)
