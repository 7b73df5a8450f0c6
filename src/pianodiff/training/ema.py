"""Exponential moving average of a network's weights, with a warm-up of the decay.

At update n the decay is min(decay, (1 + n) / (10 + n)) (the TensorFlow ExponentialMoving-
Average ``num_updates`` rule): early updates follow the network closely, so the average is
useful after a few hundred steps instead of the ~1/(1 − decay) a fixed decay needs.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class EMA(nn.Module):
    """A frozen copy of ``net`` whose parameters track ``net``'s by an exponential average.

    It is a sub-module of the LightningModule, so it moves with it between devices and its
    weights and update count are saved in (and restored from) every checkpoint.

    Args:
        net: the network to average (copied at construction).
        decay: the final decay (e.g. 0.999).
        warmup: use the (1 + n) / (10 + n) warm-up of the decay.
    """

    def __init__(self, net: nn.Module, decay: float = 0.999, warmup: bool = True):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay the next update uses."""
        n = int(self.num_updates)
        return min(self.decay, (1.0 + n) / (10.0 + n)) if self.warmup else self.decay

    def skip_warmup(self) -> None:
        """Treat the weights held now as a mature average (a warm start's EMA weights): later
        updates use the full decay, where a restarted warm-up would replace them with the new
        run's raw weights within a few dozen steps."""
        if self.warmup and self.decay > 0.1:
            # The first n with (1 + n) / (10 + n) >= decay.
            n = math.ceil((10.0 * self.decay - 1.0) / (1.0 - self.decay))
            self.num_updates.fill_(max(int(self.num_updates), n))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """ema ← d · ema + (1 − d) · net for every parameter; buffers are copied."""
        d = self.current_decay()
        ema_params = list(self.net.parameters())
        params = [p.detach().to(e.dtype) for p, e in zip(net.parameters(), ema_params)]
        torch._foreach_lerp_(ema_params, params, 1.0 - d)
        for e, b in zip(self.net.buffers(), net.buffers()):
            e.copy_(b)
        self.num_updates += 1

    def train(self, mode: bool = True) -> EMA:
        # The averaged copy is always in eval mode; Lightning's .train() must not flip it.
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, *args, **kwargs):
        return self.net(*args, **kwargs)
