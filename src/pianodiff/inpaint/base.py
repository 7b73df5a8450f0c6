"""The Inpainter interface: how a strategy walks the noise levels and treats the known region.

An inpainter owns exactly the inpainting decisions of a reverse process; the sampler loop
(``diffusion/sampler.py``) owns the maths of stepping and calls these hooks:

    walk(plan)                    the levels to visit, S … 0 (may go back up: RePaint)
    prepare(x_t, level, ctx)      before a denoising step at ``level``: edit the known region
    predict(denoiser, x_t, level, ctx) -> (ε̂, x̂0)   the model's estimate (guidance overrides)
    finish(x0, ctx)               after the last step
    describe(level, ctx)          the strategy's own per-step parameters (e.g. λ) for logs
    effective_params(plan)        the parameters the walk on ``plan`` really uses (sidecars)

Contract (tested for every registered inpainter): output shape equals the mask's; the same
generator seed gives the same output; ``nfe(plan)`` equals the network evaluations actually
made; an empty mask means unconditional sampling; any plan (ddpm, fast, ddim) works.
Inpainters hold no I/O and no Lightning.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.process import eps_from_x0, x0_from_eps


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


@dataclass
class InpaintContext:
    """What an inpainter may read while sampling.

    Attributes:
        known: (B, T) the known audio (values outside the mask are ignored).
        mask: (B, T) 1.0 where audio is known, 0.0 where it is generated.
        plan: the sampling plan being walked.
        generator: the random generator every noise draw uses (seeded determinism).
        clip_x0: clamp x̂0 to [−1, 1] (and make ε̂ consistent with it).
    """

    known: torch.Tensor
    mask: torch.Tensor
    plan: SamplingPlan
    generator: torch.Generator | None = None
    clip_x0: bool = True

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like ``like``, drawn from the context's generator."""
        return torch.randn(
            like.shape, generator=self.generator, device=like.device, dtype=like.dtype
        )

    def alpha_bar(self, level: int) -> float:
        return float(self.plan.alpha_bar[level])

    @property
    def has_known(self) -> bool:
        return bool(self.mask.any())


def model_estimate(
    denoiser: Denoiser,
    x_t: torch.Tensor,
    level: int,
    ctx: InpaintContext,
    conditioned: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One network evaluation at ``level``: returns (ε̂, x̂0), both (B, T).

    ``conditioned`` also hands the known audio and its mask to the network (a
    context-conditioned net; ``inpaint/conditioned.py``).
    """
    alpha_bar = ctx.alpha_bar(level)
    context = {"known": ctx.known, "mask": ctx.mask} if conditioned else {}
    eps = denoiser(x_t, float(ctx.plan.net_steps[level]), **context)
    x0 = x0_from_eps(x_t, alpha_bar, eps)
    if ctx.clip_x0:
        # Clamping x̂0 and re-deriving ε̂ keeps the step consistent (DDIM's clip_sample).
        x0 = x0.clamp(-1.0, 1.0)
        eps = eps_from_x0(x_t, alpha_bar, x0)
    return eps, x0


class Inpainter(ABC):  # noqa: B024 - every hook has a sensible default
    """Base class; the defaults describe plain unconditional sampling."""

    name: ClassVar[str] = "base"
    forwards_per_step: ClassVar[int] = 1
    """Network forward evaluations per denoising step."""
    backwards_per_step: ClassVar[int] = 0
    """Backward passes through the network per denoising step (guidance)."""

    def walk(self, plan: SamplingPlan) -> list[int]:
        """Levels to visit, starting at S and ending at 0, moving ±1 each step."""
        return plan.descending()

    def nfe(self, plan: SamplingPlan) -> int:
        """Network forward evaluations of one run over ``plan`` (closed form of the walk)."""
        walk = self.walk(plan)
        downs = sum(1 for a, b in zip(walk, walk[1:]) if b == a - 1)
        return downs * self.forwards_per_step

    def cost_in_forwards(self, plan: SamplingPlan) -> float:
        """Cost of one run in forward-pass equivalents (a backward pass counts as two)."""
        per_step = self.forwards_per_step + 2 * self.backwards_per_step
        return self.nfe(plan) / self.forwards_per_step * per_step

    def prepare(self, x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
        return x_t

    def predict(
        self, denoiser: Denoiser, x_t: torch.Tensor, level: int, ctx: InpaintContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return model_estimate(denoiser, x_t, level, ctx)

    def finish(self, x0: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
        return x0

    def describe(self, level: int, ctx: InpaintContext) -> dict[str, float]:
        return {}

    def effective_params(self, plan: SamplingPlan) -> dict[str, Any]:
        """The parameters the walk over ``plan`` actually runs with, where they differ from
        (or are derived from) the configured ones: what a sidecar must record."""
        return {}

    @property
    def keeps_known_exactly(self) -> bool:
        """True when the final output equals the known audio inside the mask."""
        return False
