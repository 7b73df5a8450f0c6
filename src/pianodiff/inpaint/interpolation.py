"""Interpolation guidance: the original pianodiff project's own extension method.

Before denoising step i (i = 0 at the noisiest level) the known region of x_t becomes

    (1 − λ_i) · q_sample(known, t_i) + λ_i · x_t[known]

with λ rising from 0 to 1 and λ = 1 at the last step: early on the known audio is pasted
as in replacement; towards the end the model's own sample takes over, so the known region
of the output is the model's harmonised version of the context, not the context itself
(``keeps_known_exactly`` is False).

λ schedules (``schedule``), each evaluated on S levels:
    original   λ(x) = ((0.3704·e)^(0.5·x) − 1)^4 for x = 0..199 on the original T = 200,
               rescaled to S levels by evaluating it at x_i = i · 199 / (S − 1)
    linear     λ_i = i / (S − 1)
    cosine     λ_i = (1 − cos(π · i / (S − 1))) / 2
    power      λ_i = (i / (S − 1))^power
Whatever the schedule, λ is clamped to [0, 1] and the last step gets λ = 1.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.inpaint.base import InpaintContext, Inpainter, paste_known

ORIGINAL_T = 200
ORIGINAL_BASE = 0.3704 * math.e


def _original(x: torch.Tensor) -> torch.Tensor:
    return (ORIGINAL_BASE ** (0.5 * x) - 1.0) ** 4


def lambda_schedule(name: str, num_levels: int, power: float = 2.0) -> torch.Tensor:
    """λ_i for denoising steps i = 0..S−1 (i = 0 is the noisiest), shape (S,), float64."""
    if num_levels < 1:
        raise ValueError("num_levels must be >= 1")
    span = max(num_levels - 1, 1)
    u = torch.arange(num_levels, dtype=torch.float64) / span  # 0 … 1
    if name == "original":
        lam = _original(u * (ORIGINAL_T - 1))
    elif name == "linear":
        lam = u
    elif name == "cosine":
        lam = (1.0 - torch.cos(math.pi * u)) / 2.0
    elif name == "power":
        lam = u**power
    else:
        raise ValueError(
            f"unknown lambda schedule '{name}'; choose original, linear, cosine or power"
        )
    lam = lam.clamp(0.0, 1.0)
    lam[-1] = 1.0
    return lam


class Interpolation(Inpainter):
    """Blend the re-noised known audio into the current sample with a rising λ.

    Args:
        schedule: the λ schedule's name (see module docstring); "original" by default.
        power: exponent of the "power" schedule.
    """

    name = "interpolation"

    def __init__(self, schedule: str = "original", power: float = 2.0):
        lambda_schedule(schedule, 2, power)  # fail early on an unknown name
        self.schedule = schedule
        self.power = float(power)
        self._cache: dict[int, torch.Tensor] = {}

    def lambdas(self, plan: SamplingPlan) -> torch.Tensor:
        """λ per denoising step for ``plan``, shape (S,)."""
        s = plan.num_levels
        if s not in self._cache:
            self._cache[s] = lambda_schedule(self.schedule, s, self.power)
        return self._cache[s]

    def lambda_at(self, level: int, plan: SamplingPlan) -> float:
        """λ of the denoising step taken at ``level`` (step index i = S − level)."""
        return float(self.lambdas(plan)[plan.num_levels - level])

    def prepare(self, x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
        if not ctx.has_known:
            return x_t
        lam = self.lambda_at(level, ctx.plan)
        pasted = paste_known(x_t, level, ctx)  # q_sample(known) inside, x_t outside
        # Inside the mask: (1 − λ)·q_sample(known, t) + λ·x_t; outside: x_t unchanged.
        return (1.0 - lam) * pasted + lam * x_t

    def describe(self, level: int, ctx: InpaintContext) -> dict[str, float]:
        if level < 1:
            return {}
        return {"lambda": self.lambda_at(level, ctx.plan)}

    def effective_params(self, plan: SamplingPlan) -> dict[str, Any]:
        """The λ of each denoising step on ``plan`` (the schedule rescaled to its length)."""
        return {"lambdas": [round(float(v), 6) for v in self.lambdas(plan)]}
