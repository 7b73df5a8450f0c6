"""The network as the reverse loop sees it: ε̂ = net(x_t, step), counting evaluations."""

from __future__ import annotations

import torch


class Denoiser:
    """The network as the sampler sees it: ε̂ = net(x_t, step), counting evaluations.

    Args:
        net: an ε-network taking (x_t (B, T), step (B,)) and returning ε̂ (B, T).
        autocast_dtype: e.g. torch.bfloat16 to run the network under autocast; None for fp32.
    """

    def __init__(self, net: torch.nn.Module, autocast_dtype: torch.dtype | None = None):
        self.net = net
        self.autocast_dtype = autocast_dtype
        self.nfe = 0

    def __call__(self, x_t: torch.Tensor, net_step: float, **context: torch.Tensor) -> torch.Tensor:
        """x_t (B, T), a scalar step [, known/mask (B, T) for a context-conditioned net]
        -> ε̂ (B, T) in float32."""
        self.nfe += 1
        step = torch.full((x_t.shape[0],), float(net_step), device=x_t.device)
        if self.autocast_dtype is None:
            return self.net(x_t, step, **context).float()
        with torch.autocast(x_t.device.type, dtype=self.autocast_dtype):
            return self.net(x_t, step, **context).float()
