"""Dropout whose random mask is cheap on a CPU: the same inverted dropout, four masks from one random number.

Inverted dropout (Srivastava et al. 2014) zeroes each element with probability p while training and scales the
rest so that the expected output is the input:

    y_i = x_i · m_i / (1 − p),   m_i ~ Bernoulli(1 − p)   independently;   E[y_i] = x_i.

PyTorch's CPU kernel draws one Mersenne-Twister number per element (``bernoulli_``), and on the everyday
Transformer's training step that was a fifth of the time: its dropout masks cost as much as the rest of the
forward pass (bench/dropout.py). Here one 64-bit draw gives four 16-bit uniforms u ∈ {0 … 65535}, and

    m_i = [u_i ≥ k],   k = round(p · 65536),   so   P(m_i = 0) = k / 65536 = p ± 1/131072,

which is Bernoulli(1 − k/65536): the same distribution up to p rounded to 1/65536 (p = 0.1 → 0.100006), the
scale is 1 / (1 − k/65536) so E[y] = x stays exact. The draws come from torch's default generator, so
``torch.manual_seed`` makes them repeatable as before (though not the same masks as ``nn.Dropout``'s). On other
devices, and in evaluation, it is ``nn.Dropout`` itself (a GPU draws its masks in the fused kernel already).
"""

from __future__ import annotations

import torch
from torch import nn

LEVELS = 1 << 16                  # a mask element's uniform draw u ∈ {0 … 65535}


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same arguments, same state dict) with the mask drawn 16 bits an element on a CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = round(self.p * LEVELS)                                             # P(dropped) = k / 65536
        if not self.training or k in (0, LEVELS) or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-2**63, 2**63 - 1)   # 64 random bits each
        u = words.view(torch.int16)[:n].view(x.shape)                          # four u − 32768 a word
        keep = u >= k - LEVELS // 2                                            # m = [u ≥ k]
        return x * keep.to(x.dtype).mul_(LEVELS / (LEVELS - k))                # y = x ⊙ m / (1 − p)
